"""The guard under PyTorch (convguard.torch) on the CPU: an unchanged model trains under the seed's
quirks, its convolutions routed around the hangs, with the fault-free run's results."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SEED_QUIRKS = os.path.join(REPO, "quirks", "rx5600xt-rocm57.json")
ALL_DIRS_QUIRKS = os.path.join(REPO, "quirks", "guard-all-dirs.json")

# Tiles and chunks change only the order of the f32 sums (each output is the same products), and
# the CPU route computes in f32 too: the results may differ by a few units of rounding per
# reduction, which batch norm can amplify by its 1/std. 1e-4 normwise is ~1000 ulps of f32.
BOUND = 1e-4


def build_dir():
    d = os.environ.get("CONVGUARD_BUILD_DIR", os.path.join(REPO, "build"))
    for f in ("libconvguard_torch_guard.so", "convguard-torch-worker"):
        if not os.path.exists(os.path.join(d, f)):
            pytest.skip(f"{f} is not built in {d} (the torch engine needs PyTorch at configure time)")
    return d


def guarded(tmp_path, model, *extra, timeout=900):
    env = dict(os.environ, CONVGUARD_BUILD_DIR=build_dir(),
               PYTHONPATH=os.path.join(REPO, "python") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, os.path.join(HERE, "guarded_training.py"), model,
                           str(tmp_path / "card.profile.json"), *extra],
                          capture_output=True, text=True, env=env, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def profile_probes(tmp_path):
    with open(tmp_path / "card.profile.json") as f:
        return json.load(f)["probes"]


def routed(result, kind):
    return [r for r in result["routes"] if r["route"] == kind]


def test_a_model_whose_44x44_convolutions_hang_trains_anyway_with_the_fault_free_results(tmp_path):
    result, stderr = guarded(tmp_path, "small", "--quirks", SEED_QUIRKS)
    assert result["error"] is None
    assert len(result["diffs"]) == result["tensors"] == 6  # output, a.w, a.b, b.w, c.w, c.b
    assert max(result["diffs"]) <= BOUND, result["diffs"]
    # The two 3x3 forwards at 44x44 hang natively: they ran as tiles; the rest ran natively.
    tiles = routed(result, "tiles")
    assert sorted(r["problem"].split()[-1][:20] for r in tiles) == [
        "g1mb2ic3ih44iw44oc8o", "g1mb2ic8ih44iw44oc8o"], result["routes"]
    assert all("hang" in r["text"] for r in tiles)
    assert routed(result, "native")
    assert result["after"] == []  # out of the block, PyTorch's own kernels are back
    # Learned in isolated workers: each of the 8 problems once, and one tile problem per hang.
    assert len(profile_probes(tmp_path)) == 10


def test_a_second_run_needs_no_learning_from_the_profile_the_first_one_saved(tmp_path):
    guarded(tmp_path, "small", "--quirks", SEED_QUIRKS)
    learned = profile_probes(tmp_path)
    result, _ = guarded(tmp_path, "small", "--quirks", SEED_QUIRKS)
    assert max(result["diffs"]) <= BOUND
    assert len(routed(result, "tiles")) == 2
    assert profile_probes(tmp_path) == learned


def test_resnet18_forward_and_backward_complete_under_the_seeds_quirks(tmp_path):
    pytest.importorskip("torchvision")
    # 176x176 input: layer1's 3x3 convolutions and layer2's first see 44x44 maps.
    result, _ = guarded(tmp_path, "resnet18", "--quirks", SEED_QUIRKS, "--input", "2x3x176x176")
    assert result["error"] is None
    assert max(result["diffs"]) <= BOUND, result["diffs"]
    assert len(routed(result, "tiles")) == 2


def test_torch_compile_calls_are_routed_too(tmp_path):
    result, _ = guarded(tmp_path, "small", "--quirks", SEED_QUIRKS, "--compile")
    assert result["error"] is None
    assert max(result["diffs"]) <= BOUND
    assert len(routed(result, "tiles")) == 2


@pytest.mark.parametrize("when", ["in_the_step", "on_entering_the_block_given_the_model"])
def test_a_problem_with_no_safe_route_raises_naming_it_and_nothing_hangs(tmp_path, when):
    quirks = tmp_path / "all-3x3-hang.json"
    quirks.write_text(json.dumps({"name": "all-3x3", "rules": [
        {"when": {"dir": ["FWD_D", "FWD_B"], "kh": 3}, "effect": "hang"}]}))
    prelearn = ["--prelearn"] if when != "in_the_step" else []
    result, _ = guarded(tmp_path, "small", "--quirks", str(quirks), "--no-cpu", *prelearn)
    assert result["error"] is not None
    assert result["at_entry"] == bool(prelearn)
    assert ("convguard refuses" if not prelearn else "refused") in result["error"]
    assert "ic3ih44iw44oc8" in result["error"]


def test_a_batch_too_large_to_run_whole_is_learned_as_chunks_with_the_fault_free_results(tmp_path):
    # Three or more images hang at every size, so tiles (gathered into the batch) hang too.
    quirks = tmp_path / "batch-3x3-hang.json"
    quirks.write_text(json.dumps({"name": "batch-3x3", "rules": [
        {"when": {"dir": ["FWD_D", "FWD_B"], "kh": 3, "mb": [3, None]}, "effect": "hang"}]}))
    result, _ = guarded(tmp_path, "small", "--quirks", str(quirks), "--input", "4x3x12x12")
    assert result["error"] is None
    assert max(result["diffs"]) <= BOUND, result["diffs"]
    chunks = routed(result, "split_batch")
    assert len(chunks) == 2, result["routes"]
    assert all("mb <= 2: ok" in r["text"] for r in chunks)
    assert not routed(result, "cpu")


def test_a_model_given_to_the_guard_is_routed_whole_before_its_first_step(tmp_path):
    result, _ = guarded(tmp_path, "small", "--quirks", SEED_QUIRKS, "--prelearn")
    assert result["error"] is None
    assert max(result["diffs"]) <= BOUND, result["diffs"]
    # Every problem of the step (forward and backward) was routed on entering the block, from a
    # recording on fake tensors; the step itself learned nothing new.
    key = lambda r: (r["dir"], r["problem"])  # noqa: E731
    before = {key(r) for r in result["before"]}
    during = {key(r) for r in result["routes"] if r["route"] != "unguarded"}
    assert before == during, (before ^ during)
    assert {"FWD_D", "BWD_D"} <= {d for d, _ in before}, before
    assert len(routed({"routes": result["before"]}, "tiles")) == 2
    assert all(r["calls"] == 0 for r in result["before"])


def test_a_model_that_cannot_run_on_fake_tensors_is_refused_on_entry_and_nothing_stays_installed(tmp_path):
    import torch

    os.environ["CONVGUARD_BUILD_DIR"] = build_dir()
    import convguard.torch as cg

    class NeedsData(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            y = self.a(x)
            return y if y.detach().sum().item() > -1e30 else -y

    model = NeedsData()
    with pytest.raises(cg.GuardError, match="cannot record NeedsData on fake tensors"):
        with cg.guard(tmp_path / "p.json", learn=True, device="cpu", model=model,
                      inputs=torch.randn(1, 3, 8, 8)):
            pass
    assert cg.routes() == []  # uninstalled


def test_every_direction_of_a_strided_and_an_unstrided_convolution_runs_as_tiles_with_the_fault_free_gradients(tmp_path):
    # Every 3x3 convolution hangs at 44 and up, in every direction: at stride 1 backward data
    # cuts the input gradient into blocks; at stride 2 it adds the windows' gradients back.
    result, _ = guarded(tmp_path, "strided", "--quirks", ALL_DIRS_QUIRKS, "--input", "2x3x96x96", "--no-cpu")
    assert result["error"] is None, result["error"]
    tiled = [(r["dir"], r["problem"].split()[-1]) for r in routed(result, "tiles")]
    assert len(tiled) == len(result["routes"]) == 8, result["routes"]  # 3 forwards, 3 weights, 2 data
    strides = sorted(p[p.index("sh"):p.index("sw")] for d, p in tiled if d == "BWD_D")
    assert strides == ["sh1", "sh2"], tiled  # the first layer's input needs no gradient
    assert max(result["diffs"]) <= BOUND, result
