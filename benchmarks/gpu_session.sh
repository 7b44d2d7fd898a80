#!/usr/bin/env bash
# The GPU figures issues 17 and 20 ask for, as one short script for a lent device (15 minutes
# of device time in all): run from the repository root, with `pip install -e ".[cuda,bench]"`
# done. Each step has its own time limit, so one slow step cannot eat the budget; results go
# to $OUT (or benchmarks/results) named by the device.
set -u
OUT=${OUT:-benchmarks/results}
DEV=$(python -c "import jax; print(jax.devices()[0].device_kind.replace(' ', '_').lower())")
mkdir -p "$OUT"
jqgen info --json > "$OUT/info_$DEV.json"
# issue 17 / 20: QCBM step, compile and effective bandwidth vs HBM copy at n = 24..30 (jqgen only)
timeout 240 python benchmarks/qcbm_bench.py --jqgen-only --no-extras --n 24 26 28 30 --layers 4 8 \
    --json "$OUT/qcbm_bench_$DEV.json"
# issue 20: seconds per sweep loop on MNIST-1k at D_max = 100, 300, 1000 (target: 1000 under 200 s)
timeout 300 python benchmarks/sweep_dmax.py --budget 200 --json "$OUT/sweep_dmax_$DEV.json"
# issue 20: 64 QCBMs in one experiment on the device (no forced host devices: both arms use the one GPU)
XLA_FLAGS= JAX_PLATFORMS=cuda timeout 120 python benchmarks/experiment_overhead.py --json "$OUT/experiment_overhead_$DEV.json"
