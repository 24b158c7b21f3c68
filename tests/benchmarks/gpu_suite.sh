#!/usr/bin/env bash
# Everything a GPU machine can tell us, in under 8 minutes: GPU tests, training and
# inference throughput, inference at 1e4/1e5 patterns (time, host and GPU memory), and
# reconstruction quality after a short GPU training. Prints a summary table last.
# Usage: bash tests/benchmarks/gpu_suite.sh [OUTDIR]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:-gpu-results}
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
log() { echo "== $* ($(date +%T))"; }

log "machine"
nvidia-smi -L
"$py" -c "import torch, lightning; print('torch', torch.__version__, 'lightning', lightning.__version__)"

log "GPU tests"
timeout 100 "$py" -m pytest -q -p no:cacheprovider tests/engine/test_gpu.py \
    tests/engine/test_stitching.py 2>&1 | tail -5 | tee "$out/tests.txt"

log "training and inference throughput"
: > "$out/throughput.jsonl"
for cfg in "64 1" "64 2" "128 1" "128 2"; do
    set -- $cfg
    timeout 70 "$py" tests/benchmarks/throughput.py --device cuda --N "$1" --gridsize "$2" \
        --batch 256 --steps 30 --warmup 5 --train-patterns 4096 --infer-patterns 20000 \
        --infer-batch 4096 | tee -a "$out/throughput.jsonl"
done

log "inference at scale"
timeout 120 "$py" tests/benchmarks/scale.py --device cuda --sizes 10000,100000 --batch 4096 \
    --workdir /tmp/ptycho-scale | tee "$out/scale.jsonl"

log "quality after a short GPU training"
: > "$out/quality.jsonl"
for photons in 1e6 1e4; do
    timeout 110 "$py" tests/benchmarks/quality.py --device gpu --photons "$photons" \
        --minutes 1.0 --stages 5,15,30,60,100 --preset "full quality (GPU)" \
        --set training.compile=off --set training.batch_size=64 --set training.early_stop_patience=0 | tee -a "$out/quality.jsonl"
done

log "summary"
"$py" tests/benchmarks/summarize.py "$out"/*.jsonl
