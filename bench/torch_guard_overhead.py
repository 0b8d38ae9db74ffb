"""What the guard under PyTorch adds to one convolution call whose route is cached: a 1x1 convolution
of one element, called N times unguarded and guarded (its profile proves it safe), alternating
rounds side by side in one process. Prints a markdown table.

    python3 bench/torch_guard_overhead.py [--device cpu|cuda] [--calls 20000] [--rounds 5]
"""

import argparse
import os
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

import convguard.torch as cg


def loop(x, w, n, sync):
    sync()
    t0 = time.perf_counter()
    for _ in range(n):
        F.conv2d(x, w)
    sync()
    return (time.perf_counter() - t0) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    x = torch.randn(1, 1, 1, 1, device=args.device)
    w = torch.randn(1, 1, 1, 1, device=args.device)
    profile = os.path.join(tempfile.mkdtemp(), "overhead.profile.json")
    with cg.guard(profile, learn=True, device=args.device):
        F.conv2d(x, w)  # learned once, in an isolated worker
    rows = []
    for _ in range(args.rounds):
        base = loop(x, w, args.calls, sync)
        with cg.guard(profile, device=args.device):
            guarded = loop(x, w, args.calls, sync)
        rows.append((base, guarded))
    print(f"\n## cached route: 1x1 convolution of one element on {args.device}, {args.calls} calls a round\n")
    print("| round | unguarded us/call | guarded us/call | guarded / unguarded | added us/call |")
    print("|---|---|---|---|---|")
    for i, (b, g) in enumerate(rows):
        print(f"| {i + 1} | {b * 1e6:.2f} | {g * 1e6:.2f} | {g / b:.2f} | {(g - b) * 1e6:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
