"""Which cuDNN engine PyTorch's convolution runs, and whether a cuDNN errata file moves it.

    CUDNN_ERRATA_JSON_FILE=e.json python3 bench/errata_torch.py LOG N,C,H,W K,C,R,S PAD [...]

Runs one forward convolution per shape pair on the GPU (heuristics, no benchmark mode), with
cuDNN frontend's log written to LOG, then prints one line per shape: the execution plan tags the
frontend checked against the errata file (blocked or passed, in order), the first tag that
passed (the plan PyTorch ran), and whether the result matches the CPU's. The log is read, not
guessed: PyTorch checks each candidate plan with cudnn_frontend::check_errata, which logs
"Verifying TAG. Blocking." or "Verifying TAG. Passed." when CUDNN_FRONTEND_LOG_INFO is set.
"""

import os
import re
import sys


def main():
    log = sys.argv[1]
    os.environ["CUDNN_FRONTEND_LOG_INFO"] = "1"
    os.environ["CUDNN_FRONTEND_LOG_FILE"] = log
    import torch  # after the variables: the frontend reads them once

    torch.backends.cudnn.benchmark = False
    args = sys.argv[2:]
    for i in range(0, len(args), 3):
        xs, ws, pad = [int(v) for v in args[i].split(",")], [int(v) for v in args[i + 1].split(",")], int(args[i + 2])
        start = os.path.getsize(log) if os.path.exists(log) else 0
        torch.manual_seed(0)
        x, w = torch.randn(*xs), torch.randn(*ws)
        got = torch.nn.functional.conv2d(x.cuda(), w.cuda(), padding=pad).cpu()
        torch.cuda.synchronize()
        want = torch.nn.functional.conv2d(x.double(), w.double(), padding=pad).float()
        err = float((got - want).norm() / want.norm())
        with open(log, errors="replace") as f:
            f.seek(start)
            text = f.read()
        checks = re.findall(r"Verifying (\S+?)\.\s*(Blocking|Passed)", text)
        ran = next((t for t, v in checks if v == "Passed"), "none logged")
        blocked = [t for t, v in checks if v == "Blocking"]
        print(f"x {args[i]} w {args[i + 1]} pad {pad}: ran {ran}; blocked {len(blocked)} "
              f"{blocked[:4]}; {len(checks)} plans checked; normwise error vs CPU {err:.2e}", flush=True)


if __name__ == "__main__":
    main()
