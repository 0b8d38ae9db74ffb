"""The torch engine through convguard's isolated workers: the seed's quirks classified through the
torch worker program, and a stored probe's PyTorch repro script piped into python3."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def convguard_binary():
    path = os.path.join(os.environ.get("CONVGUARD_BUILD_DIR", "build"), "convguard")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no convguard binary at {path} (build it, or set CONVGUARD_BUILD_DIR)")
    if not os.access(os.path.join(os.path.dirname(path), "convguard-torch-worker"), os.X_OK):
        pytest.skip("this build has no torch engine (convguard-torch-worker)")
    return path


def run(args, **kw):
    env = dict(os.environ, CONVGUARD_PYTHON=sys.executable)
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, **kw)


def test_sim_over_torch_in_isolated_workers_calls_the_seeds_44x44_a_hang_and_42x42_ok():
    cg = convguard_binary()
    done = run([cg, "probe", "--engine", "sim", "--base", "torch", "--quirks",
                os.path.join(REPO, "quirks", "rx5600xt-rocm57.json"), "--dir", "FWD_D", "--json",
                "mb1ic16ih42oc32kh3ph1", "mb1ic16ih44oc32kh3ph1", "mb1ic16ih42oc32kh3ph1"])
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [(r["outcome"], r["phase"]) for r in rows] == \
        [("ok", "verify"), ("hang", "execute"), ("ok", "verify")], done.stderr
    assert rows[1]["worker_pid"] != rows[2]["worker_pid"], "the hung worker was replaced"


def test_a_stored_probes_torch_script_piped_into_python_reproduces_its_verdict(tmp_path):
    cg, db = convguard_binary(), str(tmp_path / "runs.db")
    done = run([cg, "sweep", "--db", db, "--engine", "torch", "--dir", "BWD_W", "mb2ic4ih9oc6kh3ph1"])
    assert done.returncode == 0, done.stderr
    report = run([cg, "report", "--db", db, "--format", "json"]).stdout
    rows = [json.loads(line) for line in report.splitlines() if line.startswith("{")]
    assert len(rows) == 1 and rows[0]["outcome"] == "ok", report
    script = run([cg, "repro", "--db", db, "--probe", str(rows[0]["id"]), "--as", "torch"])
    assert script.returncode == 0, script.stderr
    ran = run([sys.executable], input=script.stdout)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "verdict ok" in ran.stdout and "reproduced" in ran.stdout, ran.stdout
