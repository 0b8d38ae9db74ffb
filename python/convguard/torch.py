"""Guard an unchanged PyTorch model: every convolution, forward and backward, is routed to a path
a safety profile proves safe (the original kernel, another knob, exact spatial tiles on the device,
batch or group chunks, or the CPU), or refused with an exception that names the problem and the
evidence.

    import convguard.torch as cg
    with cg.guard("card.profile.json", learn=True):
        loss = model(x).sum(); loss.backward()
    print(cg.routes())

or, with no code change at all: CONVGUARD_PROFILE=card.profile.json CONVGUARD_LEARN=1 python train.py

The guard lives in a C++ library (libconvguard_torch_guard.so) that overrides aten::convolution and
aten::convolution_backward at PyTorch's dispatcher for one device (CUDA, which ROCm builds use too,
or the CPU); leaving the block restores PyTorch's own kernels. With learn=True a problem the
profile does not know is first probed in an isolated worker (convguard-torch-worker), never in
this process, and the profile file is updated atomically.
"""

from __future__ import annotations

import ctypes
import glob
import json
import os
import shutil
from typing import Any

import torch

_LIB_NAME = "libconvguard_torch_guard.so"
_lib = None


def _here() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def _build_dirs() -> list[str]:
    """Build folders of a source checkout, for a convguard that was built but not installed."""
    dirs = [os.environ.get("CONVGUARD_BUILD_DIR", "")]
    repo = os.path.dirname(os.path.dirname(_here()))
    dirs += [os.path.join(repo, "build")]
    return [d for d in dirs if d]


def _find(name: str, env: str, on_path: bool) -> str:
    if os.environ.get(env):
        return os.environ[env]
    candidates = [os.path.join(_here(), name)] + [os.path.join(d, name) for d in _build_dirs()]
    for c in candidates:
        if os.path.exists(c):
            return c
    if on_path and shutil.which(name):
        return shutil.which(name)
    raise FileNotFoundError(f"convguard: cannot find {name} (set {env}, or build convguard)")


def _library():
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(_find(_LIB_NAME, "CONVGUARD_TORCH_GUARD", False), mode=ctypes.RTLD_GLOBAL)
        lib.convguard_torch_guard_install.restype = ctypes.c_char_p
        lib.convguard_torch_guard_install.argtypes = [ctypes.c_char_p]
        lib.convguard_torch_guard_routes.restype = ctypes.c_char_p
        lib.convguard_torch_guard_uninstall.restype = None
        _lib = lib
    return _lib


class GuardError(RuntimeError):
    """The guard could not start: the message names the option or the profile's problem."""


class guard:
    """Routes every convolution on `device` ("cuda" or "cpu"; default: cuda where PyTorch sees a
    GPU) through the profile at `profile` while the block runs.

    learn: probe problems the profile does not know (isolated) before they run here.
    quirks: a quirk file applied to the native path, so that a test or a demo can show a model
        whose convolutions hang train anyway (the learner's workers see the same quirks).
    cpu: allow the CPU as the last resort (else such problems are refused).
    force: accept a profile made for another fingerprint.
    timeout_exec: learning probes' execute deadline in seconds (default: convguard's cost model).
    """

    def __init__(self, profile: str | os.PathLike, *, learn: bool = False, quirks: str | None = None,
                 device: str | None = None, cpu: bool = True, force: bool = False,
                 timeout_exec: float | None = None, seed: int = 0):
        self.options: dict[str, Any] = {
            "profile": os.fspath(profile),
            "learn": bool(learn),
            "force": bool(force),
            "cpu_route": bool(cpu),
            "device": device or ("cuda" if torch.cuda.is_available() else "cpu"),
            "seed": int(seed),
        }
        if quirks:
            self.options["quirks"] = os.fspath(quirks)
        if timeout_exec:
            self.options["timeout_exec"] = float(timeout_exec)
        if learn:
            self.options["worker"] = _find("convguard-torch-worker", "CONVGUARD_TORCH_WORKER", True)

    def __enter__(self) -> "guard":
        err = _library().convguard_torch_guard_install(json.dumps(self.options).encode())
        if err:
            raise GuardError(err.decode(errors="replace"))
        return self

    def __exit__(self, *exc) -> None:
        _library().convguard_torch_guard_uninstall()


def routes() -> list[dict]:
    """What went where: one entry per problem seen (problem key, direction, route, knob, the
    evidence as text, whether it was learned, calls), and the calls left unguarded, with why."""
    if _lib is None:
        return []
    return json.loads(_lib.convguard_torch_guard_routes().decode()) or []


def format_routes(entries: list[dict] | None = None) -> str:
    """routes() as an aligned table."""
    entries = routes() if entries is None else entries
    lines = []
    for e in entries:
        lines.append(f"{e.get('calls', 0):>5}x  {e.get('route', ''):<12} {e.get('problem', '')}\n"
                     f"        {e.get('text', '')}")
    return "\n".join(lines)
