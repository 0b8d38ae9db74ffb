"""Tiles on the device against the native kernel, under PyTorch: the problems of bench/guard_bench.cc,
each made to hang natively at full size (quirks/guard-all-dirs.json: 3x3 maps of 44 and up), so
the guard learns exact tiles of at most 42x42 and runs them; timed against the same call
unguarded, rounds alternating in one process. Also the cost of learning each problem (its first
guarded call: the isolated probes of the full size and of the tile sizes tried). Prints a table.

    python3 bench/torch_tiles_bench.py [--mb 8] [--calls 20] [--rounds 5] [--profile P]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import torch

import convguard.torch as cg

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (direction, ic, oc, ih): 3x3, padding 1, as bench/guard_bench.cc.
PROBLEMS = [("FWD_D", 64, 64, 56), ("FWD_D", 128, 128, 56), ("FWD_D", 32, 32, 64),
            ("FWD_D", 64, 64, 112), ("BWD_D", 64, 64, 56), ("BWD_W", 64, 64, 56)]


def call_for(direction, mb, ic, oc, ih, dtype, device):
    """A function running the one aten call of `direction` (what autograd would call)."""
    x = torch.randn(mb, ic, ih, ih, device=device, dtype=dtype)
    w = torch.randn(oc, ic, 3, 3, device=device, dtype=dtype)
    dy = torch.randn(mb, oc, ih, ih, device=device, dtype=dtype)
    conv = torch.ops.aten.convolution
    bwd = torch.ops.aten.convolution_backward
    args = ([1, 1], [1, 1], [1, 1], False, [0, 0], 1)
    if direction == "FWD_D":
        return lambda: conv(x, w, None, *args)
    mask = [True, False, False] if direction == "BWD_D" else [False, True, False]
    return lambda: bwd(dy, x, w, None, *args, mask)


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn, calls, device):
    sync(device)
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    sync(device)
    return (time.perf_counter() - t0) / calls


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=8)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--device", default="cuda", help="cpu: a smoke run of this script")
    ap.add_argument("--profile", default=os.path.join(tempfile.mkdtemp(), "tiles.profile.json"))
    args = ap.parse_args()
    quirks = os.path.join(REPO, "quirks", "guard-all-dirs.json")
    dtype = getattr(torch, args.dtype)
    rows = []
    for direction, ic, oc, ih in PROBLEMS:
        fn = call_for(direction, args.mb, ic, oc, ih, dtype, args.device)
        fn()  # the native kernel's first call (plan, module load) outside every clock
        t0 = time.perf_counter()
        with cg.guard(args.profile, learn=True, quirks=quirks, device=args.device):
            fn()
            sync(args.device)
            learn_s = time.perf_counter() - t0
            route = next((r for r in cg.routes() if r["dir"] == direction and f"ih{ih}" in r["problem"]
                          and f"ic{ic}" in r["problem"]), {})
        native, tiled = [], []
        for _ in range(args.rounds):
            native.append(timed(fn, args.calls, args.device))
            with cg.guard(args.profile, quirks=quirks, device=args.device):
                tiled.append(timed(fn, args.calls, args.device))
        n, t = statistics.median(native), statistics.median(tiled)
        rows.append((f"{direction} mb{args.mb}ic{ic}ih{ih}oc{oc}kh3ph1", route.get("route", "?"),
                     route.get("text", "")[:60], n, t, learn_s))
        print(f"{rows[-1][0]}: {rows[-1][1]} native {n * 1e3:.3f} ms guarded {t * 1e3:.3f} ms "
              f"learned in {learn_s:.2f} s", file=sys.stderr, flush=True)
    where = torch.cuda.get_device_name() if args.device == "cuda" else "the CPU"
    print(f"\n## tiles on the device against native, {where}, {args.dtype}, "
          f"median of {args.rounds} rounds of {args.calls} calls\n")
    print("| problem | route | native ms | guarded ms | native / guarded | learned in s |")
    print("|---|---|---|---|---|---|")
    for name, route, text, n, t, learn_s in rows:
        print(f"| {name} | {route} {text} | {n * 1e3:.3f} | {t * 1e3:.3f} | {n / t:.3f} | {learn_s:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
