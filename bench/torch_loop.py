"""The baseline for `convguard probe --engine torch`: the same convolutions in a plain PyTorch loop
in one process, as a user would time them.

    python3 bench/torch_loop.py BATCH_FILE [--device cuda] [--check]

Reads descriptors of the form mb1ic{IC}ih{IH}oc{OC}kh{K}ph{P} (one a line, as the benchmark writes
them), runs F.conv2d on each with fresh random tensors and synchronises after each, and prints
`loop N convolutions S s R per s`. --check also compares each result with the CPU's (what
convguard's verification does), to show what checking costs a loop.
"""

import argparse
import re
import sys
import time

import torch
import torch.nn.functional as F

DESC = re.compile(r"mb(\d+)ic(\d+)ih(\d+)oc(\d+)kh(\d+)ph(\d+)")


def problems(path):
    for line in open(path):
        m = DESC.search(line)
        if m:
            yield tuple(int(v) for v in m.groups())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("batch")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    todo = list(problems(args.batch))
    dev = torch.device(args.device)
    torch.zeros(1, device=dev)  # context up before the clock starts, as convguard's init phase
    t0 = time.perf_counter()
    worst = 0.0
    for mb, ic, ih, oc, k, p in todo:
        x = torch.randn(mb, ic, ih, ih, device=dev)
        w = torch.randn(oc, ic, k, k, device=dev)
        y = F.conv2d(x, w, padding=p)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if args.check:
            ref = F.conv2d(x.cpu().double(), w.cpu().double(), padding=p)
            worst = max(worst, float((y.cpu().double() - ref).abs().max()))
    dt = time.perf_counter() - t0
    tag = "loop+check" if args.check else "loop"
    print(f"{tag} {len(todo)} convolutions {dt:.3f} s {len(todo) / dt:.1f} per s"
          + (f" worst_abs_err {worst:.3g}" if args.check else ""))


if __name__ == "__main__":
    sys.exit(main())
