"""The guard under PyTorch on a GPU: what it costs a training step, what learning costs, and what
the seed's quirks cost when it routes around them. Prints a markdown table.

    python3 bench/torch_guard_bench.py --profile /tmp/r50.profile.json [--steps 20] [--mb 32]

Rows (each a ResNet-50 training step, mb 32, 224x224, timed over --steps after 3 warm-up steps;
every mode in this one process, side by side: --rounds alternate unguarded and guarded, medians):
  unguarded f32 / bf16 autocast      PyTorch as is
  guarded f32 / bf16 autocast        every convolution through the guard, its profile proving
                                     every problem safe (learned first, in isolated workers)
  cudnn.enabled = False              the blunt workaround users reach for today
  guarded + seed quirks              the rx5600xt-rocm57 quirks injected on the native path (3x3
                                     forwards with maps of 44 and up hang): the guard tiles them
Also: learning cost per unknown problem, the decision cost per call (a 1x1 convolution, guarded
minus unguarded), and whether the quirked run matched the fault-free one (normwise).
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torchvision

import convguard.torch as cg

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(text):
    print(text, file=sys.stderr, flush=True)


def make(mb, seed=0):
    torch.manual_seed(seed)
    model = torchvision.models.resnet50(weights=None).cuda()
    x = torch.randn(mb, 3, 224, 224, device="cuda")
    y = torch.randint(0, 1000, (mb,), device="cuda")
    return model, x, y


def step(model, x, y, bf16):
    model.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
        loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss


def timed(model, x, y, bf16, steps):
    for _ in range(3):
        step(model, x, y, bf16)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step(model, x, y, bf16)
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def grads(model):
    return [p.grad.detach().double().clone() for p in model.parameters() if p.grad is not None]


def normwise(a, b):
    num = sum(float((u - v).norm() ** 2) for u, v in zip(a, b)) ** 0.5
    den = sum(float(v.norm() ** 2) for v in b) ** 0.5
    return num / den


def decision_cost(profile, n=20000):
    x = torch.randn(1, 1, 1, 1, device="cuda")
    w = torch.randn(1, 1, 1, 1, device="cuda")
    F = torch.nn.functional
    def loop():
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(n):
            F.conv2d(x, w)
        torch.cuda.synchronize()
        return (time.perf_counter() - t0) / n
    loop()
    base = loop()
    with cg.guard(profile, learn=True):
        loop()
        guarded = loop()
    return base, guarded


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--mb", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3, help="alternating unguarded/guarded rounds")
    args = ap.parse_args()
    rows = []
    model, x, y = make(args.mb)
    timed(model, x, y, False, 1)  # cuDNN's first plans outside every clock
    timed(model, x, y, True, 1)

    # Learning: a fresh profile, every problem probed in isolation before it runs here.
    if os.path.exists(args.profile):
        os.remove(args.profile)
    t0 = time.perf_counter()
    with cg.guard(args.profile, learn=True):
        step(model, x, y, False)
        torch.cuda.synchronize()
        log(f"learned the f32 step: {sum(1 for r in cg.routes() if r.get('problem'))} problems, "
            f"{time.perf_counter() - t0:.1f} s")
        step(model, x, y, True)
        torch.cuda.synchronize()
        n_learned = sum(1 for r in cg.routes() if r.get("problem"))
    t_learn = time.perf_counter() - t0
    log(f"learned both steps: {n_learned} problems, {t_learn:.1f} s")

    # Side by side: rounds alternate unguarded and guarded, and which comes first (ABBA), so
    # neither side always follows the other; the median of each is kept.
    times = {k: [] for k in ("f32", "bf16", "g_f32", "g_bf16")}
    kinds = {}

    def unguarded():
        times["f32"].append(timed(model, x, y, False, args.steps))
        times["bf16"].append(timed(model, x, y, True, args.steps))

    def guarded():
        with cg.guard(args.profile):
            times["g_f32"].append(timed(model, x, y, False, args.steps))
            times["g_bf16"].append(timed(model, x, y, True, args.steps))
            kinds.clear()
            for r in cg.routes():
                kinds[r["route"]] = kinds.get(r["route"], 0) + 1

    for i in range(args.rounds):
        for part in ((unguarded, guarded) if i % 2 == 0 else (guarded, unguarded)):
            part()
    t_f32, t_bf16, g_f32, g_bf16 = (statistics.median(times[k]) for k in ("f32", "bf16", "g_f32", "g_bf16"))
    rows += [("unguarded f32", t_f32, 1.0), ("unguarded bf16 autocast", t_bf16, 1.0),
             ("guarded f32 (profile proves all)", g_f32, t_f32 / g_f32),
             ("guarded bf16 autocast", g_bf16, t_bf16 / g_bf16)]
    log(f"rounds (s/step): {times}; routes {kinds}")

    torch.backends.cudnn.enabled = False
    t_off = timed(model, x, y, False, max(3, args.steps // 4))
    torch.backends.cudnn.enabled = True
    rows.append(("cudnn.enabled = False f32", t_off, t_f32 / t_off))
    log(f"cudnn.enabled = False: {t_off:.4f} s/step")

    # The seed's quirks on the native path: a fresh profile learned under them.
    quirked = args.profile + ".quirks.json"
    if os.path.exists(quirked):
        os.remove(quirked)
    quirks = os.path.join(REPO, "quirks", "rx5600xt-rocm57.json")
    m1, x1, y1 = make(args.mb, seed=3)
    step(m1, x1, y1, False)
    expected = grads(m1)
    # Two fault-free runs of the same step: the floor under the guarded run's difference
    # (nondeterministic kernels; batch norm amplifies every change in the sums' order).
    m2, x2, y2 = make(args.mb, seed=3)
    step(m2, x2, y2, False)
    noise = normwise(grads(m2), expected)
    del m2, x2, y2
    t0 = time.perf_counter()
    with cg.guard(quirked, learn=True, quirks=quirks):
        step(m1, x1, y1, False)
        t_qlearn = time.perf_counter() - t0
        got = grads(m1)
        q_time = timed(m1, x1, y1, False, args.steps)
        q_routes = cg.routes()
    diff = normwise(got, expected)
    log(f"seed quirks: learned in {t_qlearn:.1f} s, {q_time:.4f} s/step, grads normwise {diff:.2e}"
        f" (two fault-free runs: {noise:.2e})")
    rows.append(("guarded + seed quirks f32", q_time, t_f32 / q_time))

    base, guarded = decision_cost(args.profile)
    print(f"\n## ResNet-50 training step on {torch.cuda.get_device_name()}, mb {args.mb}, torch {torch.__version__}\n")
    print("| mode | s/step | unguarded f32 (or bf16) / this |")
    print("|---|---|---|")
    for name, t, ratio in rows:
        print(f"| {name} | {t:.4f} | {ratio:.3f} |")
    print(f"\nlearning: {n_learned} problems learned in {t_learn:.1f} s "
          f"({t_learn / max(1, n_learned):.3f} s per unknown problem, two steps' worth); routes {kinds}")
    tiles = [r for r in q_routes if r["route"] == "tiles"]
    print(f"seed quirks: learned in {t_qlearn:.1f} s; {len(tiles)} problems tiled; grads normwise vs fault-free "
          f"{diff:.2e} (two fault-free runs: {noise:.2e})")
    for r in tiles[:6]:
        print(f"  - {r['dir']} {r['problem'].split()[-1]}: {r['text'][:150]}")
    print(f"decision cost: 1x1 conv {base * 1e6:.2f} us unguarded, {guarded * 1e6:.2f} us guarded "
          f"(+{(guarded - base) * 1e6:.2f} us per call)")
    json.dump({"rows": rows, "learned": n_learned, "t_learn": t_learn, "diff": diff, "noise": noise},
              open(args.profile + ".bench.json", "w"))


if __name__ == "__main__":
    sys.exit(main())
