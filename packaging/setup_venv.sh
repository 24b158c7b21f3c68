#!/usr/bin/env bash
# Create .venv at the repository root and install Ptycho Studio with its test tools.
# Machines with an NVIDIA GPU get the CUDA build of torch from the version range in
# pyproject.toml; machines without one get the CPU build (torch==2.13.0), which is
# much smaller. Set PTYCHO_TORCH to force a torch requirement, e.g. "torch==2.14.1".
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $($python --version 2>&1)"
    "$python" -m venv .venv
fi

if [ -n "${PTYCHO_TORCH:-}" ]; then
    torch_req="$PTYCHO_TORCH"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    torch_req=""          # GPU: let the range in pyproject.toml pick a CUDA build
else
    torch_req="torch==2.13.0"   # no GPU: the CPU build
fi

echo "Installing Ptycho Studio into .venv ${torch_req:+(with $torch_req)}"
.venv/bin/python -m pip install --quiet --upgrade pip
if ! .venv/bin/python -m pip install --quiet $torch_req -e ".[test]"; then
    if [ -n "$torch_req" ]; then
        echo "The CPU build $torch_req is not available here; installing torch from the range instead"
        .venv/bin/python -m pip install --quiet -e ".[test]"
    else
        exit 1
    fi
fi
.venv/bin/python -m pip check >/dev/null || echo "warning: pip check reports conflicts (run .venv/bin/pip check)"
