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
        lib.convguard_torch_guard_learn.restype = ctypes.c_char_p
        lib.convguard_torch_guard_learn.argtypes = [ctypes.c_char_p]
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
    model, inputs: route every convolution of model(*inputs) (and, with train, of its backward)
        when the block is entered, before the first real step: see learn().
    """

    def __init__(self, profile: str | os.PathLike, *, learn: bool = False, quirks: str | None = None,
                 device: str | None = None, cpu: bool = True, force: bool = False,
                 timeout_exec: float | None = None, seed: int = 0, model: Any = None,
                 inputs: Any = None, train: bool = True, autocast: Any = None):
        if (model is None) != (inputs is None):
            raise GuardError("convguard: model and inputs go together (the inputs of one step)")
        self._prelearn = (model, inputs, train, autocast) if model is not None else None
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
        if self._prelearn:
            model, inputs, train, autocast = self._prelearn
            try:
                learn(model, inputs, train=train, autocast=autocast)
            except BaseException:
                self.__exit__()
                raise
        return self

    def __exit__(self, *exc) -> None:
        _library().convguard_torch_guard_uninstall()


def learn(model, inputs, *, train: bool = True, autocast: Any = None) -> list[dict]:
    """Routes every convolution that model(*inputs) runs (with `train`, also those of the backward
    of its output's sum) before the first real step, under the installed guard: the calls are
    recorded on fake tensors (sizes and strides, no data: nothing runs on the device), and the
    guard plans each problem, probing in isolated workers those its profile does not know (when
    it was opened with learn=True). Nothing is learned in the middle of training then, and a
    problem the profile refuses raises here, before any work is lost. `inputs`: one step's
    inputs (a tensor or a tuple); `autocast`: the dtype of the torch.autocast region the training
    loop runs the forward in (e.g. torch.bfloat16). Returns the routes of the recorded problems."""
    from convguard import scan

    inputs = inputs if isinstance(inputs, (tuple, list)) else (inputs,)
    try:
        keys = scan.problem_keys(scan.record_fake(model, inputs, train, autocast))
    except Exception as e:  # the model's code needs data (a branch on a value, a call out)
        raise GuardError(f"convguard: cannot record {type(model).__name__} on fake tensors "
                         f"({type(e).__name__}: {e}); leave model= out, and each convolution is "
                         "learned when it first runs") from e
    if not keys:
        return []
    reply = json.loads(_library().convguard_torch_guard_learn(json.dumps(keys).encode()).decode())
    if "error" in reply:
        raise GuardError(reply["error"])
    wanted = set(keys)
    return [r for r in routes() if r.get("problem") in wanted]


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
