#!/usr/bin/env python3
"""Tables of issue 14's measurement from the JSON lines of bench/numerics_gpu.sh sweep.

  bench/numerics_table.py DIR [--repro-lines FILE] [--repro-results FILE]

DIR holds <list>.jsonl (and device.txt). Prints markdown: outcomes before (the old
per-class tolerances, recomputed from max_rel_err) and after (the bounds of bounds.h),
the distribution of err/bound per class and data type, and the distinct findings
(outcome x algorithm x data type) with their repro lines. --repro-lines writes the
cudnn_repro argument lines of the findings to FILE; --repro-results reads the device's
repro.txt and adds whether each reproduced.
"""
import json
import math
import os
import re
import sys

LISTS = ("resnet50", "awkward", "mobilenet_v1")
REJUDGE = "--as-measured" not in sys.argv


def old_tolerance(dt, cls):
    # fill.cc before issue 14: elementwise against max(|ref|, 1).
    ulp = {"f32": 0.0, "f16": 2 ** -10, "bf16": 2 ** -7}[dt]
    if cls in ("", "exact"):
        return ulp
    if cls == "reduced":
        return max(4e-3, 4 * ulp)
    if cls.startswith("winograd"):
        return max(1e-4, 4 * ulp)
    return max(1e-3, 4 * ulp)


def old_outcome(r):
    """The verdict the old tolerances give (ok/wrong results only)."""
    if r["outcome"] not in ("ok", "wrong", "error") or not r.get("err_class"):
        return r["outcome"]
    msg = r.get("message", "")
    if r["outcome"] == "wrong" and ("all-zero" in msg or "nonfinite" in msg or " nan" in msg.lower()):
        return "wrong"
    if r["outcome"] == "error" and "independent double-precision" in msg:
        return "wrong"
    if r["outcome"] == "error":
        return "error"
    return "wrong" if r.get("max_rel_err", 0) > old_tolerance(r["dt"], r["err_class"]) else "ok"


def rejudge(r):
    """The verdict of the bounds as committed, for results measured before the TF32-precision
    rule (bounds.cc: reduced f32 results carry 11 bits). With the fills, reduced f32's only
    term is then 2 u_tf32 max(|y|,1), so max_rel_err decides exactly."""
    if r.get("err_class") == "reduced" and r["dt"] == "f32" and r["outcome"] in ("ok", "wrong"):
        msg = r.get("message", "")
        if "all-zero" in msg or "nonfinite" in msg:
            return r
        r = dict(r)
        r["err_ratio"] = r.get("max_rel_err", 0) / 2 ** -10
        r["outcome"] = "ok" if r["err_ratio"] <= 1 else "wrong"
        r["inexact"] = r.get("max_rel_err", 0) > 2 ** -23
    return r


def load(d):
    rows = []
    for name in LISTS:
        path = os.path.join(d, name + ".jsonl")
        if not os.path.exists(path):
            continue
        for line in open(path):
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if "outcome" in j and "problem" in j:
                j["list"] = name
                rows.append(rejudge(j) if REJUDGE else j)
    return rows


def quantile(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))]


def algo_of(r):
    return r.get("impl") or r["algo"]


def descriptor(problem):
    return problem.split()[-1]


def flops(problem):
    f = dict((k, int(v)) for k, v in re.findall(r"([a-z]+)(\d+)", descriptor(problem)))
    return f.get("mb", 1) * f.get("oc", 1) * f.get("oh", 1) * f.get("ow", 1) * f.get("ic", 1) // max(
        f.get("g", 1), 1) * f.get("kh", 1) * f.get("kw", 1)


def coefficients(msg, dt):
    m = re.search(r"bound 2u max\(\|y\|,1\) \+ ([0-9.e+-]+) M \+ ([0-9.e+-]+)(?:, normwise ([0-9.e+-]+) \|\|M\|\|)?(?:, u 2\^-(\d+))?", msg)
    if not m:
        return ""
    out = ""
    if float(m.group(1)) > 0:
        out += f" --bound-m {m.group(1)}"
    if float(m.group(2)) > 0:
        out += f" --bound-abs {m.group(2)}"
    if m.group(3):
        out += f" --normwise {m.group(3)}"
    if m.group(4):
        out += f" --unit-bits {m.group(4)}"
    elif "exceed the reduced bound" in msg and dt == "f32":
        out += " --unit-bits 11"  # messages from before the bound named its u
    return out


def failure_matches(outcome, message, res):
    """Whether cudnn_repro failed as convguard saw: an error with the same cuDNN status, a crash
    in execution (cuDNN wraps the CUDA error: EXECUTION_FAILED*) or by a signal, a hang killed."""
    if outcome == "error":
        status = re.search(r"CUDNN_STATUS_[A-Z_]+", message)
        return bool(status) and status.group(0) in res
    if outcome == "crash":
        return "EXECUTION_FAILED" in res or "signal" in res or "killed" in res
    if outcome == "hang":
        return "killed" in res
    return False


def repro_args(r):
    algo = algo_of(r)
    if algo == "default":
        return None
    return f"{r['dir']} {r['dt']} {algo} {descriptor(r['problem'])}{coefficients(r.get('message', ''), r['dt'])}"


def main():
    d = sys.argv[1]
    args = sys.argv[2:]
    lines_out = args[args.index("--repro-lines") + 1] if "--repro-lines" in args else None
    results_in = args[args.index("--repro-results") + 1] if "--repro-results" in args else None
    rows = load(d)
    device = open(os.path.join(d, "device.txt")).read().strip() if os.path.exists(os.path.join(d, "device.txt")) else "?"
    print(f"device: {device}\n")
    print("## Outcomes before (old tolerances) and after (bounds)\n")
    print("| list | probes | wrong before | wrong after | error after | ok, inexact | ok, exact |")
    print("|---|---|---|---|---|---|---|")
    tot = [0] * 6
    for name in LISTS + ("all",):
        rs = [r for r in rows if name == "all" or r["list"] == name]
        if not rs:
            continue
        v = [len(rs), sum(old_outcome(r) == "wrong" for r in rs), sum(r["outcome"] == "wrong" for r in rs),
             sum(r["outcome"] == "error" for r in rs),
             sum(r["outcome"] == "ok" and r.get("inexact", False) for r in rs),
             sum(r["outcome"] == "ok" and r.get("err_class") and not r.get("inexact", False) for r in rs)]
        print(f"| {name} | " + " | ".join(str(x) for x in v) + " |")
    print("\n## Normalised error (err/bound) per class and data type, ok and wrong results\n")
    print("| class | dt | results | exact | inexact ok | wrong | p50 | p90 | p99 | max | max rel err |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    groups = {}
    for r in rows:
        if r["outcome"] in ("ok", "wrong") and r.get("err_class"):
            groups.setdefault((r["err_class"], r["dt"]), []).append(r)
    for (cls, dt), rs in sorted(groups.items()):
        nz = [r.get("err_ratio", 0) for r in rs if r.get("err_ratio", 0) > 0]
        fmt = lambda x: "-" if math.isnan(x) else f"{x:.2g}"
        print(f"| {cls} | {dt} | {len(rs)} | {sum(r.get('err_ratio', 0) == 0 for r in rs)} | "
              f"{sum(r['outcome'] == 'ok' and r.get('inexact', False) for r in rs)} | "
              f"{sum(r['outcome'] == 'wrong' for r in rs)} | {fmt(quantile(nz, .5))} | {fmt(quantile(nz, .9))} | "
              f"{fmt(quantile(nz, .99))} | {fmt(max(nz) if nz else float('nan'))} | "
              f"{fmt(max(r.get('max_rel_err', 0) for r in rs))} |")
    print("\n## Findings: distinct outcome x algorithm x data type\n")
    findings = {}
    for r in rows:
        if r["outcome"] in ("ok", "unsupported"):
            continue
        findings.setdefault((r["outcome"], algo_of(r), r["dt"]), []).append(r)
    reproduced = {}
    if results_in and os.path.exists(results_in):
        for line in open(results_in):
            if " => " in line:
                a, b = line.rstrip("\n").split(" => ", 1)
                d, t, al = a.split()[:3]
                reproduced.setdefault((d, t, al), []).append((a.strip(), b.strip()))
    repro_lines = []
    print("| outcome | algorithm | dt | probes | class | example (smallest) | message | cudnn_repro | reproduced |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (outcome, algo, dt), rs in sorted(findings.items()):
        ex = min(rs, key=lambda r: flops(r["problem"]))
        args_line = repro_args(ex)
        # The line run for this finding: the same problem, else one of the same kind of
        # outcome (the repro lines came from all three lists' smallest examples).
        runs = reproduced.get((ex["dir"], dt, algo), [])
        same = [x for x in runs if x[0] == args_line] or [
            x for x in runs if x[1].startswith("status=ok") == (outcome == "wrong")]
        ran, res = same[0] if same else (None, "")
        args_line = ran or args_line
        if args_line:
            repro_lines.append(args_line)
        verdict = ""
        if res:
            if outcome == "wrong":
                verdict = "yes" if "verdict=wrong" in res else "no"
            elif res.startswith("status=ok"):
                verdict = "no (ran clean)"
            else:
                verdict = "yes" if failure_matches(outcome, ex.get("message", ""), res) else "no (failed otherwise)"
            verdict += f": `{res[:160]}`"
        msg = ex.get("message", "").replace("|", "/")[:160]
        print(f"| {outcome} | {algo} | {dt} | {len(rs)} | {ex.get('err_class', '')} | "
              f"`{ex['dir']} {descriptor(ex['problem'])}` | {msg} | `{args_line or '-'}` | {verdict} |")
    if lines_out:
        with open(lines_out, "w") as f:
            f.write("\n".join(repro_lines) + "\n")


if __name__ == "__main__":
    main()
