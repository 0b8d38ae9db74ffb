#!/usr/bin/env bash
# Makes sure there is a python3 that imports PyTorch, for the torch engine, `convguard scan`
# and their tests, and prints the folder to put first on PATH (nothing when python3 on PATH
# has torch already: the user's own PyTorch is the one convguard must probe).
#
# Where python3 has no torch, a virtual environment ($CONVGUARD_VENV, default .venv) gets the
# pinned torch and torchvision from PyPI. PyPI's Linux wheel is the CUDA build (with its nvidia-*
# wheels, about 4 GB); it runs on the CPU where there is no GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
torch_version=2.11.0
torchvision_version=0.26.0
venv=${CONVGUARD_VENV:-.venv}

if python3 -c 'import torch' 2>/dev/null; then
  exit 0
fi
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  echo "python_env.sh: installing torch==$torch_version torchvision==$torchvision_version into $venv" >&2
  "$venv/bin/python3" -m pip install -q --disable-pip-version-check \
    "torch==$torch_version" "torchvision==$torchvision_version" >&2
  touch "$venv/.complete"
fi
cd "$venv/bin" && pwd
