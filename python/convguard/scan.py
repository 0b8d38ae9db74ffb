"""Lists every distinct convolution a PyTorch model runs, as a benchdnn batch file.

    python3 -m convguard.scan --torch torchvision:resnet50 --input 8x3x224x224 -o resnet50.txt
    python3 -m convguard.scan --torch my_model.py:build --train -o model.txt

The recorder sits at the dispatcher (a TorchDispatchMode): it sees `aten.convolution` and
`aten.convolution_backward` whether they came from `nn.Conv*` modules, `torch.nn.functional`, or
code that `torch.compile` generated. Each call is named after the innermost module running when it
was issued. The model runs on fake tensors (sizes and strides, no data, no kernel), so a scan costs
no device time and cannot hang on a broken card; a model whose code needs data runs for real, and
the batch file's header says which (`--real` asks for a real run). Problems convguard cannot probe (transposed, 3-D, other data types) are listed as
refused comments, by name, never dropped.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import os
import sys
from collections import OrderedDict
from typing import Any, Callable, Iterable, Sequence

EXIT_USAGE = 2
EXIT_HARNESS = 3

_DTYPES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}


class UsageError(Exception):
    """Bad input: the message names the option and the value; the command exits 2."""


@dataclasses.dataclass(frozen=True)
class Conv:
    """One convolution call as benchdnn describes it (2-D; a 1-D one as ih=kh=1)."""

    direction: str  # FWD_D, FWD_B, BWD_D, BWD_W, BWD_WB
    dt: str  # f32, f16, bf16
    layout: str  # nchw or nhwc (benchdnn's abx / axb)
    desc: str  # g..mb..ic..ih..iw..oc..oh..ow..kh..kw..sh..sw..ph..pw..dh..dw.. (no name)


@dataclasses.dataclass
class Seen:
    name: str
    count: int = 0
    others: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Refused:
    name: str
    why: str
    count: int = 0


# --- what one call is ---------------------------------------------------------------------------


def _dt_name(dtype) -> str | None:
    import torch

    return {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16"}.get(dtype)


def _layout(t) -> str:
    import torch

    if t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last):
        return "nhwc"
    return "nchw"


def _pair(v: Sequence[int], spatial: int) -> tuple[int, int]:
    v = list(v)
    if len(v) == 1:
        v = v * spatial
    return (1, v[0]) if spatial == 1 else (v[0], v[1])


def describe(inp_shape, wei_shape, stride, padding, dilation, groups) -> str:
    """The benchdnn descriptor of a 2-D (or 1-D) convolution; dilation in benchdnn's terms (0 = dense)."""
    spatial = len(inp_shape) - 2
    mb, ic = inp_shape[0], inp_shape[1]
    ih, iw = (1, inp_shape[2]) if spatial == 1 else (inp_shape[2], inp_shape[3])
    oc = wei_shape[0]
    kh, kw = (1, wei_shape[2]) if spatial == 1 else (wei_shape[2], wei_shape[3])
    sh, sw = _pair(stride, spatial)
    ph, pw = _pair(padding, spatial) if spatial == 2 else (0, _pair(padding, 1)[1])
    dh, dw = _pair(dilation, spatial)
    oh = (ih + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (iw + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return (
        f"g{groups}mb{mb}ic{ic}ih{ih}iw{iw}oc{oc}oh{oh}ow{ow}kh{kh}kw{kw}"
        f"sh{sh}sw{sw}ph{ph}pw{pw}dh{dh - 1}dw{dw - 1}"
    )


def _refusal(inp, transposed: bool) -> str | None:
    if transposed:
        return "transposed convolution"
    if inp.dim() not in (3, 4):
        return f"{inp.dim() - 2}-D convolution"
    if _dt_name(inp.dtype) is None:
        return f"data type {str(inp.dtype).replace('torch.', '')}"
    return None


# --- the recorder -------------------------------------------------------------------------------


class Recording:
    """What a scan saw, in first-seen order."""

    def __init__(self) -> None:
        self.convs: "OrderedDict[Conv, Seen]" = OrderedDict()
        self.refused: "OrderedDict[tuple, Refused]" = OrderedDict()
        self.calls = 0
        self.how = "ran for real"  # or "recorded on fake tensors"

    def add(self, conv: Conv, name: str) -> None:
        self.calls += 1
        seen = self.convs.setdefault(conv, Seen(name))
        seen.count += 1
        if name != seen.name and name not in seen.others:
            seen.others.append(name)

    def refuse(self, key: tuple, name: str, why: str) -> None:
        self.calls += 1
        r = self.refused.setdefault(key, Refused(name, why))
        r.count += 1


class _ModuleStack:
    """The qualified names of the modules whose forward is running, innermost last."""

    def __init__(self, model) -> None:
        import torch

        self.names = {id(m): n for n, m in model.named_modules()}
        self.root = type(model).__name__
        self.stack: list[str] = []
        self._handles = [
            torch.nn.modules.module.register_module_forward_pre_hook(self._enter),
            torch.nn.modules.module.register_module_forward_hook(self._leave),
        ]

    def _enter(self, module, _args):
        self.stack.append(self.names.get(id(module)) or self.root)

    def _leave(self, _module, _args, _out):
        if self.stack:
            self.stack.pop()

    def current(self) -> str:
        return self.stack[-1] if self.stack else self.root

    def close(self) -> None:
        for h in self._handles:
            h.remove()


def _make_mode(recording: Recording, modules: _ModuleStack):
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    aten = torch.ops.aten
    # Backward calls run outside any module's forward: they take the name of the forward call
    # with the same problem.
    forward_names: dict[tuple, str] = {}

    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is aten.convolution.default:
                self._forward(*args, **kwargs)
            elif func is aten.convolution_backward.default:
                self._backward(*args, **kwargs)
            return func(*args, **kwargs)

        def _forward(self, inp, wei, bias, stride, padding, dilation, transposed, output_padding, groups):
            name = modules.current()
            key = (tuple(inp.shape), tuple(wei.shape), tuple(stride), tuple(padding), tuple(dilation),
                   bool(transposed), groups, inp.dtype)
            forward_names.setdefault(key, name)
            why = _refusal(inp, transposed)
            if why:
                recording.refuse(key + ("forward",), name, why)
                return
            d = describe(inp.shape, wei.shape, stride, padding, dilation, groups)
            direction = "FWD_B" if bias is not None else "FWD_D"
            recording.add(Conv(direction, _dt_name(inp.dtype), _layout(inp), d), name)

        def _backward(self, grad_out, inp, wei, bias_sizes, stride, padding, dilation, transposed,
                      output_padding, groups, output_mask):
            key = (tuple(inp.shape), tuple(wei.shape), tuple(stride), tuple(padding), tuple(dilation),
                   bool(transposed), groups, inp.dtype)
            name = forward_names.get(key, modules.current())
            why = _refusal(inp, transposed)
            if why:
                recording.refuse(key + ("backward",), name, why)
                return
            d = describe(inp.shape, wei.shape, stride, padding, dilation, groups)
            dt, layout = _dt_name(inp.dtype), _layout(grad_out)
            if output_mask[0]:
                recording.add(Conv("BWD_D", dt, layout, d), name)
            if output_mask[1]:
                direction = "BWD_WB" if output_mask[2] else "BWD_W"
                recording.add(Conv(direction, dt, layout, d), name)

    return Recorder()


def _run_step(model, inputs: Sequence[Any], train: bool, autocast=None) -> None:
    """model(*inputs), and with `train` one backward of the sum of its floating outputs."""
    import contextlib

    import torch
    from torch.utils._pytree import tree_leaves

    device = next((t.device.type for t in tree_leaves(inputs) if isinstance(t, torch.Tensor)), "cpu")
    cast = torch.autocast(device, dtype=autocast) if autocast is not None else contextlib.nullcontext()
    with cast:
        out = model(*inputs)
    if train:
        leaves = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor) and t.requires_grad]
        if not leaves:
            raise UsageError("--train: the model's outputs carry no gradient")
        sum(t.float().sum() for t in leaves).backward()


def _record_with(model, train: bool, run_step: Callable[[], None]) -> Recording:
    """run_step() under the recorder, with model's train/eval mode set to `train` and then
    restored."""
    import torch

    recording = Recording()
    modules = _ModuleStack(model)
    was_training = model.training
    try:
        model.train(train)
        with torch.set_grad_enabled(train), _make_mode(recording, modules):
            run_step()
    finally:
        modules.close()
        model.train(was_training)
    return recording


def record(model, inputs: Sequence[Any], train: bool) -> Recording:
    """Runs model(*inputs) once (and with `train` one backward of the sum of its floating outputs)
    under the recorder."""
    return _record_with(model, train, lambda: _run_step(model, inputs, train))


def record_fake(model, inputs: Sequence[Any], train: bool, autocast=None) -> Recording:
    """What record() sees, without running a single convolution: the parameters, buffers and
    inputs become fake tensors (sizes, strides, data types and devices, no data), so recording
    costs no device time and cannot hang on a broken card. The model's own tensors are left as
    they were (its parameters get no gradients, its buffers no updates). `autocast`: the dtype of
    a torch.autocast region around the forward (e.g. torch.bfloat16), as the training loop has
    it."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.func import functional_call
    from torch.utils._pytree import tree_map

    fake_mode = FakeTensorMode()

    def fake(t):
        if not isinstance(t, torch.Tensor):
            return t
        f = fake_mode.from_tensor(t.detach())
        return f.requires_grad_(t.requires_grad) if f.is_floating_point() else f

    state = {n: fake(t) for n, t in list(model.named_parameters()) + list(model.named_buffers())}
    fake_inputs = tuple(tree_map(fake, list(inputs)))

    def stateless(*xs):
        return functional_call(model, state, xs)

    with fake_mode:
        recording = _record_with(model, train, lambda: _run_step(stateless, fake_inputs, train, autocast))
    recording.how = "recorded on fake tensors"
    return recording


def record_cheaply(model, inputs: Sequence[Any], train: bool) -> Recording:
    """record_fake(), or record() where the model's code needs real data (a branch on a
    tensor's value, a call out of PyTorch): the recording says which and why."""
    try:
        return record_fake(model, inputs, train)
    except UsageError:
        raise
    except Exception as e:  # the model needs data: run it
        recording = record(model, inputs, train)
        recording.how = f"ran for real (fake tensors failed: {type(e).__name__}: {str(e)[:120]})"
        return recording


def problem_keys(recording: Recording) -> list[str]:
    """The recorded convolutions as convguard's problem keys ("--dir=FWD_D --dt=f32 g1mb...")."""
    keys = []
    for conv in recording.convs:
        tags = " --stag=axb --dtag=axb" if conv.layout == "nhwc" else ""
        keys.append(f"--dir={conv.direction} --dt={conv.dt}{tags} {conv.desc}")
    return keys


# --- loading the model --------------------------------------------------------------------------


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(x) for x in text.lower().split("x"))
    except ValueError:
        dims = ()
    if not dims or any(d <= 0 for d in dims):
        raise UsageError(f"--input: expected sizes such as 8x3x224x224, got {text!r}")
    return dims


def _load_function(spec: str) -> Callable:
    path, _, func = spec.rpartition(":")
    if not os.path.isfile(path):
        raise UsageError(f"--torch: no such file {path!r} (expected FILE.py:FUNCTION)")
    module_spec = importlib.util.spec_from_file_location("_convguard_scanned_model", path)
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    module_spec.loader.exec_module(module)
    if not callable(getattr(module, func, None)):
        raise UsageError(f"--torch: {path!r} has no function {func!r}")
    return getattr(module, func)


def load(spec: str, input_shape: tuple[int, ...] | None):
    """(model, inputs) from `torchvision:NAME` (random weights; inputs of --input's shape) or
    `FILE.py:FUNCTION` (the function returns the model and its example inputs)."""
    import torch

    kind, _, rest = spec.partition(":")
    if kind == "torchvision":
        try:
            import torchvision
        except ImportError as e:
            raise UsageError(f"--torch {spec}: torchvision is not installed ({e})") from None
        try:
            model = torchvision.models.get_model(rest, weights=None)
        except (ValueError, KeyError):
            raise UsageError(f"--torch: torchvision has no model {rest!r}") from None
        return model, (torch.randn(*(input_shape or (1, 3, 224, 224))),)
    if spec.endswith(".py") or ".py:" in spec:
        made = _load_function(spec if ":" in spec.rpartition(".py")[2] else spec + ":build")()
        if not (isinstance(made, tuple) and len(made) == 2):
            raise UsageError(f"--torch {spec}: the function must return (model, inputs)")
        model, inputs = made
        if input_shape is not None:
            inputs = torch.randn(*input_shape)
        return model, inputs if isinstance(inputs, (tuple, list)) else (inputs,)
    raise UsageError(f"--torch: expected torchvision:NAME or FILE.py:FUNCTION, got {spec!r}")


def _convert(model, inputs, device: str, dt: str, channels_last: bool):
    import torch

    dtype = getattr(torch, _DTYPES[dt])
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device=device, dtype=dtype)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)

    def conv(t):
        if not isinstance(t, torch.Tensor):
            return t
        t = t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype)
        return t.contiguous(memory_format=fmt) if t.dim() == 4 else t

    return model, tuple(conv(t) for t in inputs)


# --- the batch file -----------------------------------------------------------------------------


def _quote(name: str) -> str:
    # benchdnn's n"..." has no escapes: keep names printable and free of quotes.
    return "".join(c if c.isprintable() and c != '"' else "_" for c in name) or "_"


def batch_lines(recording: Recording, header: Iterable[str]) -> list[str]:
    lines = [f"# {h}" for h in header]
    lines.append(
        f"# {len(recording.convs)} distinct convolutions from {recording.calls} calls"
        f"; {len(recording.refused)} refused"
    )
    groups: "OrderedDict[tuple, list]" = OrderedDict()
    for conv, seen in recording.convs.items():
        groups.setdefault((conv.direction, conv.dt, conv.layout), []).append((conv, seen))
    for (direction, dt, layout), items in groups.items():
        tag = "axb" if layout == "nhwc" else "abx"
        lines += ["", f"--reset --dir={direction} --dt={dt} --stag={tag}"]
        for conv, seen in items:
            also = f"; also {', '.join(seen.others[:3])}" + (" ..." if len(seen.others) > 3 else "") if seen.others else ""
            lines.append(f'{conv.desc}n"{_quote(seen.name)}"  # ran {seen.count}x{also}')
    if recording.refused:
        lines += ["", "# not probed: convguard refuses these"]
        for key, r in recording.refused.items():
            inp, wei, direction = key[0], key[1], key[-1]
            shape = "x".join(map(str, inp))
            lines.append(f'# refused {direction} n"{_quote(r.name)}": {r.why}, input {shape}, '
                         f'weight {"x".join(map(str, wei))}; ran {r.count}x')
    return lines


# --- the command --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="convguard scan", description=__doc__.split("\n\n")[0])
    p.add_argument("--torch", required=True, metavar="SPEC",
                   help="torchvision:NAME, or FILE.py:FUNCTION returning (model, inputs)")
    p.add_argument("--input", metavar="SHAPE", help="input sizes, e.g. 8x3x224x224 (torchvision: default 1x3x224x224)")
    p.add_argument("--train", action="store_true", help="also run one backward (BWD_D, BWD_W/BWD_WB)")
    p.add_argument("--dt", default="f32", choices=sorted(_DTYPES), help="cast the model and inputs (default f32)")
    p.add_argument("--channels-last", action="store_true", help="run in channels_last (nhwc) memory format")
    p.add_argument("--device", default="cpu", help="where to run the scan (default cpu; shapes do not depend on it)")
    p.add_argument("--real", action="store_true",
                   help="run the model for real (default: record on fake tensors, which run no kernel, "
                        "and run for real only where the model needs data)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the batch file here (default stdout)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        import torch
    except ImportError as e:
        print(f"convguard scan: python3 cannot import torch ({e})", file=sys.stderr)
        return EXIT_USAGE
    try:
        shape = parse_shape(args.input) if args.input else None
        model, inputs = load(args.torch, shape)
        model, inputs = _convert(model, inputs, args.device, args.dt, args.channels_last)
        recording = (record if args.real else record_cheaply)(model, inputs, args.train)
    except UsageError as e:
        print(f"convguard scan: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # the user's model failed: say so, without a traceback
        print(f"convguard scan: {args.torch} failed to run: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_HARNESS
    passes = "forward+backward" if args.train else "forward"
    shape_text = "x".join(map(str, inputs[0].shape)) if inputs and hasattr(inputs[0], "shape") else "?"
    header = [
        f"convguard scan --torch {args.torch}: input {shape_text}, {args.dt}"
        f"{', channels_last' if args.channels_last else ''}, {passes}",
        f"torch {torch.__version__} on {args.device}, {recording.how}",
    ]
    text = "\n".join(batch_lines(recording, header)) + "\n"
    if args.output:
        tmp = args.output + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args.output)
        print(f"convguard scan: {len(recording.convs)} distinct convolutions "
              f"({recording.calls} calls, {len(recording.refused)} refused) -> {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
