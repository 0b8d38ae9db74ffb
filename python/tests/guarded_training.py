"""One training step of a model, unguarded and fault-free, then guarded under a quirk file; prints
one JSON line with the normwise differences and the routes. Run by test_torch_guard.py in its own
process, so that a guard that fails to route around a hang cannot hang the test runner.

    python3 guarded_training.py MODEL PROFILE [--quirks FILE] [--compile] [--no-cpu] [--input NxCxHxW]
                                [--device cuda] [--no-tf32] [--prelearn]
"""

import argparse
import json
import sys

import torch
import torch.nn as nn

import convguard.torch as cg


class Small(nn.Module):
    """Two 3x3 convolutions at 44x44 and a strided 1x1: what the seed's card hangs on."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.c = nn.Conv2d(8, 4, 1, stride=2)

    def forward(self, x):
        return self.c(torch.relu(self.b(torch.relu(self.a(x)))))


def strided():
    """3x3 convolutions at stride 1 and 2: backward data of each takes its own tiles."""
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1),
                         nn.ReLU(), nn.Conv2d(8, 4, 3, padding=1))


def build(name):
    torch.manual_seed(0)
    if name == "small":
        return Small()
    if name == "strided":
        return strided()
    import torchvision

    return torchvision.models.get_model(name, weights=None)


def step(model, x):
    model.zero_grad(set_to_none=True)
    out = model(x)
    out.float().pow(2).mean().backward()
    return [out.detach().clone()] + [p.grad.detach().clone() for p in model.parameters() if p.grad is not None]


def normwise(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("profile")
    ap.add_argument("--quirks")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--no-cpu", action="store_true")
    ap.add_argument("--input", default="2x3x44x44")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--prelearn", action="store_true", help="cg.guard(model=, inputs=): route every conv first")
    ap.add_argument("--no-tf32", action="store_true", help="f32 convolutions and matmuls in IEEE f32 on the GPU")
    args = ap.parse_args()
    if args.no_tf32:
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    shape = [int(v) for v in args.input.split("x")]
    model = build(args.model).to(args.device)
    torch.manual_seed(1)
    x = torch.randn(*shape, device=args.device)
    run = torch.compile(model) if args.compile else model
    expected = step(run, x)
    # The same step again, unguarded: how far two fault-free runs differ here (nondeterministic
    # GPU kernels, TF32), the floor under any comparison with the guarded run.
    noise = [normwise(a, e) for a, e in zip(step(run, x), expected)]
    prelearn = dict(model=run, inputs=(x,)) if args.prelearn else {}
    got, error, before, routes, entered = None, None, [], [], False
    try:
        with cg.guard(args.profile, learn=True, quirks=args.quirks, device=args.device,
                      cpu=not args.no_cpu, **prelearn):
            entered = True
            before = cg.routes()
            try:
                got = step(run, x)
            except RuntimeError as e:
                error = str(e)
            routes = cg.routes()
    except cg.GuardError as e:  # entering the block: a pre-learned problem is refused
        if entered:
            raise
        error = str(e)
    diffs = [normwise(g, e) for g, e in zip(got, expected)] if got else []
    print(json.dumps({"diffs": diffs, "noise": noise, "tensors": len(expected),
                      "names": ["output"] + [n for n, p in model.named_parameters() if p.grad is not None], "routes": routes, "error": error,
                      "at_entry": not entered, "before": before, "after": cg.routes()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
