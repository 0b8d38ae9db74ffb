"""Tiles on the device against the native kernel, under PyTorch: the problems of bench/guard_bench.cc,
each made to hang natively at full size (quirks/guard-all-dirs.json: 3x3 maps of 44 and up), so
the guard learns exact tiles of at most 42x42 and runs them; timed against the same call
unguarded, rounds alternating in one process. Also the cost of learning each problem (its first
guarded call: the isolated probes of the full size and of the tile sizes tried; the first
problem's also starts the learner's worker). Prints a table.

Guarded calls run with the quirks injected (each library call the tiles make is checked against
the quirk file, as in the tests): the learned profile's fingerprint names the quirk file, and
without it the same profile knows none of these problems (on 2026-12-02 a `force`d open routed
them to the CPU). Each round opens a new guard, whose first call of a problem plans the route
from the profile: that call is timed apart (its own column), the steady state after it is the
guarded time. --trace adds each problem's device time per call, native against guarded (what the tiles
cost the GPU itself, apart from launching them), and the first problem's profiler table.

    python3 bench/torch_tiles_bench.py [--mb 8] [--calls 20] [--rounds 5] [--profile P] [--trace]
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
    ap.add_argument("--trace", action="store_true")
    args = ap.parse_args()
    quirks = os.path.join(REPO, "quirks", "guard-all-dirs.json")
    dtype = getattr(torch, args.dtype)
    calls = {f"{d} mb{args.mb}ic{ic}ih{ih}oc{oc}kh3ph1": call_for(d, args.mb, ic, oc, ih, dtype, args.device)
             for d, ic, oc, ih in PROBLEMS}
    for fn in calls.values():
        fn()  # the native kernel's first call (plan, module load) outside every clock
    # Learning, one problem at a time: its first guarded call probes it (and its tiles) isolated.
    learned, routes = {}, {}
    with cg.guard(args.profile, learn=True, quirks=quirks, device=args.device):
        for name, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            sync(args.device)
            learned[name] = time.perf_counter() - t0
            print(f"{name}: learned in {learned[name]:.2f} s", file=sys.stderr, flush=True)
        for r in cg.routes():
            d, desc = r["dir"], r["problem"].split()[-1]
            for name in calls:
                n = name.split()[1]
                if name.startswith(d + " ") and all(f in desc for f in (n[n.index("ic"):n.index("ih")], n[n.index("ih"):n.index("oc")] + "iw")):
                    routes[name] = r
    # Side by side: every problem natively, then every problem guarded (one guard per round:
    # opening a guard loads the profile and starts the device engine).
    # A guard's first call of a problem plans its route from the profile (once per process
    # and problem, as in training): timed apart from the steady state.
    native = {n: [] for n in calls}
    tiled = {n: [] for n in calls}
    first = {n: [] for n in calls}
    for _ in range(args.rounds):
        for n, fn in calls.items():
            native[n].append(timed(fn, args.calls, args.device))
        with cg.guard(args.profile, quirks=quirks, device=args.device):
            for n, fn in calls.items():
                first[n].append(timed(fn, 1, args.device))
                tiled[n].append(timed(fn, args.calls, args.device))
    med = statistics.median
    where = torch.cuda.get_device_name() if args.device == "cuda" else "the CPU"
    print(f"\n## tiles on the device against native, {where}, mb {args.mb}, {args.dtype}, "
          f"median of {args.rounds} rounds of {args.calls} calls\n")
    print("| problem | route | native ms | guarded ms | native / guarded | a guard's first call ms | learned in s |")
    print("|---|---|---|---|---|---|---|")
    for n in calls:
        r = routes.get(n, {})
        a, b = med(native[n]), med(tiled[n])
        print(f"| {n} | {r.get('route', '?')} {r.get('text', '')[:60]} | {a * 1e3:.3f} | {b * 1e3:.3f} | "
              f"{a / b:.3f} | {med(first[n]) * 1e3:.2f} | {learned[n]:.2f} |")
    if args.trace:
        trace(calls, args, quirks)


def device_profile(fn, args):
    """PyTorch's profiler over args.calls calls: (device us per call, kernel launches per call, profile)."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])
    with profile(activities=acts) as prof:
        timed(fn, args.calls, args.device)
    events = prof.key_averages()
    # The kernels' own rows: an operator's row repeats the device time of what it launched.
    device_us = sum(e.self_device_time_total for e in events if e.device_type == DeviceType.CUDA)
    launches = sum(e.count for e in events if "LaunchKernel" in e.key)
    return device_us / args.calls, launches / args.calls, prof


def trace(calls, args, quirks):
    """The device's own time per call, native against guarded (what the tiles cost the GPU,
    apart from the host's cost of launching them), and the first problem's profiler table."""
    native = {n: device_profile(fn, args) for n, fn in calls.items()}
    guarded = {}
    with cg.guard(args.profile, quirks=quirks, device=args.device):
        for n, fn in calls.items():
            fn()  # the route, planned outside the trace
            guarded[n] = device_profile(fn, args)
    print(f"\n## device time per call (PyTorch's profiler, {args.calls} calls), native against guarded\n")
    print("| problem | native us | guarded us | native / guarded | kernels native | kernels guarded |")
    print("|---|---|---|---|---|---|")
    for n in calls:
        (a, ka, _), (b, kb, _) = native[n], guarded[n]
        ratio = f"{a / b:.3f}" if b else "-"
        print(f"| {n} | {a:.1f} | {b:.1f} | {ratio} | {ka:.1f} | {kb:.1f} |")
    first = next(iter(calls))
    print(f"\n### {first}: {args.calls} guarded calls, by self CPU time\n")
    print(guarded[first][2].key_averages().table(sort_by="self_cpu_time_total", row_limit=14))


if __name__ == "__main__":
    sys.exit(main())
