"""convguard scan: every convolution a model runs, named after its module, in a batch file that
convguard itself reads back."""

import os
import re
import subprocess
import sys
from collections import Counter

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from convguard import scan  # noqa: E402

LINE = re.compile(r'^(?P<desc>g\d+mb\S+?)n"(?P<name>[^"]*)"\s+# ran (?P<count>\d+)x')


def parse(text):
    """{(dir, dt, stag, desc): (name, count)} from a batch file, and its refused comments."""
    entries, refused, knobs = {}, [], {}
    for line in text.splitlines():
        if line.startswith("--reset"):
            knobs = dict(w[2:].split("=", 1) for w in line.split()[1:])
        elif line.startswith("# refused "):
            refused.append(line)
        elif (m := LINE.match(line)):
            key = (knobs["dir"], knobs["dt"], knobs["stag"], m["desc"])
            assert key not in entries, f"listed twice: {key}"
            entries[key] = (m["name"], int(m["count"]))
    return entries, refused


def scan_text(model, inputs, train=False):
    rec = scan.record(model, inputs, train)
    return "\n".join(scan.batch_lines(rec, ["test"])) + "\n"


def hooked_forward_convs(model, inputs):
    """What nn.Conv2d forward hooks see: {(dir, desc): calls}, computed from the modules'
    attributes and the hooked tensors, independently of the dispatcher recorder."""
    seen = Counter()

    def hook(m, args, out):
        n, c, h, w = args[0].shape
        kh, kw = m.kernel_size
        desc = (f"g{m.groups}mb{n}ic{c}ih{h}iw{w}oc{m.out_channels}oh{out.shape[2]}ow{out.shape[3]}"
                f"kh{kh}kw{kw}sh{m.stride[0]}sw{m.stride[1]}ph{m.padding[0]}pw{m.padding[1]}"
                f"dh{m.dilation[0] - 1}dw{m.dilation[1] - 1}")
        seen[("FWD_B" if m.bias is not None else "FWD_D", desc)] += 1

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(*inputs)
    for h in handles:
        h.remove()
    return seen


def test_resnet18_lists_exactly_the_convolutions_its_conv2d_modules_run():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18(weights=None).eval()
    x = (torch.randn(2, 3, 64, 64),)
    expected = hooked_forward_convs(model, x)
    entries, refused = parse(scan_text(model, x))
    got = Counter({(d, desc): count for (d, _, _, desc), (_, count) in entries.items()})
    assert got == expected
    assert sum(expected.values()) == 20  # resnet18 has 20 Conv2d modules, each run once
    assert refused == []


def test_training_adds_backward_data_except_where_the_input_needs_no_gradient():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18(weights=None)
    entries, _ = parse(scan_text(model, (torch.randn(2, 3, 64, 64),), train=True))
    by_dir = Counter(d for (d, _, _, _) in entries)
    assert by_dir["FWD_D"] == by_dir["BWD_W"]
    assert by_dir["BWD_D"] == by_dir["FWD_D"] - 1  # the stem's input is data, not a variable
    stem = [k for k, (name, _) in entries.items() if name == "conv1"]
    assert sorted(k[0] for k in stem) == ["BWD_W", "FWD_D"]


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 4, 3, 3))
        self.b = nn.Parameter(torch.randn(8))

    def forward(self, x):
        return F.conv2d(x, self.w, self.b, padding=2, dilation=2, groups=2)


class Functional(nn.Module):
    """Convolutions through torch.nn.functional, a 1-D one, and two convguard cannot probe."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Parameter(torch.randn(8, 3, 3, 5))
        self.block = Block()
        self.line = nn.Conv1d(8, 4, 3, stride=2)
        self.up = nn.ConvTranspose2d(8, 8, 2, stride=2)
        self.vol = nn.Conv3d(1, 2, 3)

    def forward(self, x):
        x = F.conv2d(x, self.stem, stride=(2, 1), padding=(1, 2))
        x = self.block(x)
        y = self.line(x.flatten(2))
        z = self.up(x)
        v = self.vol(z.unsqueeze(1))
        return y.sum() + z.sum() + v.sum()


def test_functional_calls_are_named_after_the_module_that_made_them():
    entries, refused = parse(scan_text(Functional(), (torch.randn(2, 3, 16, 16),)))
    names = {desc: name for (_, _, _, desc), (name, _) in entries.items()}
    assert names == {
        "g1mb2ic3ih16iw16oc8oh8ow16kh3kw5sh2sw1ph1pw2dh0dw0": "Functional",
        "g2mb2ic8ih8iw16oc8oh8ow16kh3kw3sh1sw1ph2pw2dh1dw1": "block",
        "g1mb2ic8ih1iw128oc4oh1ow63kh1kw3sh1sw2ph0pw0dh0dw0": "line",
    }
    assert len(refused) == 2
    assert any('n"up": transposed convolution' in r for r in refused)
    assert any('n"vol": 3-D convolution' in r for r in refused)


def test_channels_last_and_half_precision_are_recorded_as_layout_and_data_type():
    model = nn.Conv2d(4, 4, 3).to(dtype=torch.bfloat16, memory_format=torch.channels_last)
    x = torch.randn(1, 4, 8, 8, dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
    entries, _ = parse(scan_text(model, (x,)))
    assert [(d, dt, stag) for (d, dt, stag, _) in entries] == [("FWD_B", "bf16", "axb")]


def test_a_bad_input_shape_is_refused_naming_the_option():
    with pytest.raises(scan.UsageError, match="--input.*8xx3"):
        scan.parse_shape("8xx3")


def convguard_binary():
    path = os.path.join(os.environ.get("CONVGUARD_BUILD_DIR", "build"), "convguard")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no convguard binary at {path} (build it, or set CONVGUARD_BUILD_DIR)")
    return path


def test_convguard_scan_writes_a_batch_file_that_convguard_probes(tmp_path):
    pytest.importorskip("torchvision")
    cg, out = convguard_binary(), tmp_path / "resnet18.txt"
    env = dict(os.environ, CONVGUARD_PYTHON=sys.executable)
    subprocess.run([cg, "scan", "--torch", "torchvision:resnet18", "--input", "2x3x32x32", "--train",
                    "-o", str(out)], check=True, env=env, timeout=300)
    entries, _ = parse(out.read_text())
    done = subprocess.run([cg, "run", "--engine", "onednn", "--batch", str(out), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == len(entries)


def test_convguard_scan_of_a_missing_model_file_exits_2_naming_it(tmp_path):
    cg = convguard_binary()
    env = dict(os.environ, CONVGUARD_PYTHON=sys.executable)
    done = subprocess.run([cg, "scan", "--torch", str(tmp_path / "nope.py:build")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert "nope.py" in done.stderr


def test_a_scan_on_fake_tensors_lists_what_a_real_run_lists_and_leaves_the_model_untouched():
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    x = torch.randn(2, 3, 64, 64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fake = scan.record_cheaply(model, (x,), True)
    assert fake.how == "recorded on fake tensors"
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    real = scan.record(model, (x,), True)
    assert scan.problem_keys(fake) == scan.problem_keys(real)
    assert {c: s.count for c, s in fake.convs.items()} == {c: s.count for c, s in real.convs.items()}


class BranchesOnData(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        y = self.a(x)
        return self.b(y) if float(y.sum()) > -1e30 else y


def test_a_model_that_needs_data_is_run_for_real_and_the_scan_says_so():
    rec = scan.record_cheaply(BranchesOnData(), (torch.randn(1, 3, 8, 8),), False)
    assert rec.how.startswith("ran for real (fake tensors failed"), rec.how
    assert len(rec.convs) == 2


def test_convguard_scan_of_a_model_file_lists_its_convolutions_with_their_counts(tmp_path):
    cg = convguard_binary()
    model_file = tmp_path / "my_model.py"
    model_file.write_text(
        "import torch\n"
        "import torch.nn.functional as F\n\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.stem = torch.nn.Conv2d(3, 8, 3, padding=1)\n"
        "        self.w = torch.nn.Parameter(torch.randn(8, 8, 3, 3))\n"
        "    def forward(self, x):\n"
        "        x = self.stem(x)\n"
        "        for _ in range(3):\n"
        "            x = F.conv2d(x, self.w, padding=1)\n"
        "        return x\n\n"
        "def build():\n"
        "    return Net(), (torch.randn(2, 3, 16, 16),)\n")
    out = tmp_path / "model.txt"
    env = dict(os.environ, CONVGUARD_PYTHON=sys.executable)
    done = subprocess.run([cg, "scan", "--torch", f"{model_file}:build", "-o", str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    entries, refused = parse(out.read_text())
    counts = sorted((key[0], count) for key, (_, count) in entries.items())
    # The stem (with bias) once; the functional 8->8 convolution three times, one entry.
    assert counts == [("FWD_B", 1), ("FWD_D", 3)], out.read_text()
    assert not refused
