"""Hamming-weight-conserving QCBM: step time and memory in the C(n, k) subspace (issue 14).

Circuit: ``Givens(n, k, layers=4, topology="brick")`` (real RBS rotations on neighbouring
qubits, 4 x (n - 1) gates). Measured: ``jit(value_and_grad(NLL))`` of 256 samples drawn from
the model, float32, compile time (lower + compile) apart from the median step time
(``block_until_ready``), for

* ``fused``: jqgen's subspace kernel (``ConservingQCBM()``, the default engine);
* ``tensorcircuit``: TensorCircuit-NG's ``U1Circuit`` scanned over layers
  (``ConservingQCBM(engine="tensorcircuit")``), at k = 4 and n <= 28 (its compile takes
  10-25 s; above 30 qubits its int64 bit masks need ``jax_enable_x64``);
* ``full_statevector``: ``jqgen.QCBM(HardwareEfficient(n, 4))`` on all ``2**n`` amplitudes
  (the same NLL through dense probabilities), where it fits (n <= 20 here);

memory: amplitudes (``C(n, k)`` against ``2**n``), bytes of one state, and the planned bytes
of a training step (:func:`jqgen.qcbm.subspace_bytes`).

    python benchmarks/conserving_qcbm_bench.py --json benchmarks/results/conserving_qcbm_cpu.json
    python benchmarks/conserving_qcbm_bench.py --quick    # smoke test, n = 8 and 12 (writes nothing)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _env  # noqa: E402

import jqgen  # noqa: E402
from jqgen.qcbm import QCBM, ConservingQCBM, Givens, HardwareEfficient, subspace_bytes  # noqa: E402

FULL = {"n": (16, 20, 24, 28, 32), "k": (4, 6, 8), "tc_k": (4,), "full_max_n": 20, "layers": 4, "min_time": 0.5}
QUICK = {"n": (8, 12), "k": (2, 4), "tc_k": (2,), "full_max_n": 12, "layers": 2, "min_time": 0.05}
NUM_DATA = 256


def timed(fn, args, repeats: int, min_time: float) -> dict:
    """Compile time and the median of at least ``repeats`` step times (``min_time`` s total,
    at most 3 steps when one takes over a second)."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    t = time.perf_counter()
    jax.block_until_ready(compiled(*args))  # warm-up
    first = time.perf_counter() - t
    if first > 1.0:
        repeats, min_time = 2, 0.0
    times = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t)
        if len(times) >= 20 * repeats:
            break
    return {"compile_s": round(compile_s, 3), "step_ms": round(1e3 * statistics.median(times), 3),
            "repeats": len(times)}


def nll_step(model, data):
    return jax.value_and_grad(lambda p: -jnp.mean(model.log_prob(p, data)))


def cell(n: int, k: int, cfg: dict, repeats: int) -> dict:
    a = Givens(n, k, cfg["layers"])
    fused = ConservingQCBM(a)
    params = fused.init(jax.random.key(0))
    data = fused.sample(params, jax.random.key(1), NUM_DATA)
    d = a.subspace_size
    row: dict = {"n": n, "k": k, "amplitudes": d, "state_bytes": d * 4, "planned_step_bytes": subspace_bytes(a),
                 "full_amplitudes": 2**n, "full_state_bytes": 2**n * 8, "amplitude_ratio": round(2**n / d, 1)}
    row["fused"] = timed(nll_step(fused, data), (params,), repeats, cfg["min_time"])
    row["fused"]["nll"] = round(float(nll_step(fused, data)(params)[0]), 5)
    if k in cfg["tc_k"] and n > 30:  # U1Circuit's bit masks need int64 (jax_enable_x64) above 30 qubits
        row["tensorcircuit"] = "skipped: U1Circuit needs jax_enable_x64 for n > 30 (the benchmark runs float32)"
    elif k in cfg["tc_k"]:
        tc = ConservingQCBM(a, engine="tensorcircuit")
        row["tensorcircuit"] = timed(nll_step(tc, data), (params,), repeats, cfg["min_time"])
        row["tensorcircuit"]["nll"] = round(float(nll_step(tc, data)(params)[0]), 5)
        row["tc_over_fused_step"] = round(row["tensorcircuit"]["step_ms"] / row["fused"]["step_ms"], 1)
        row["tc_over_fused_compile"] = round(row["tensorcircuit"]["compile_s"] / row["fused"]["compile_s"], 1)
    if n <= cfg["full_max_n"]:
        full = QCBM(HardwareEfficient(n, cfg["layers"]))
        fp = full.init(jax.random.key(0))
        row["full_statevector"] = timed(nll_step(full, data), (fp,), repeats, cfg["min_time"])
        row["full_over_fused_step"] = round(row["full_statevector"]["step_ms"] / row["fused"]["step_ms"], 1)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="smoke test (n = 8, 12; k = 2, 4); writes nothing unless "
                    "--json is given")
    args = ap.parse_args()
    cfg = QUICK if args.quick else FULL
    repeats = min(args.repeats, 3) if args.quick else args.repeats
    env = _env.environment()
    other = _env.OtherCPU().start()
    t_all = time.perf_counter()
    rows = []
    for n in cfg["n"]:
        for k in cfg["k"]:
            if math.comb(n, k) > 2**31 - 1:
                continue
            rows.append(cell(n, k, cfg, repeats))
            print(json.dumps(rows[-1]), flush=True)
    out = {"benchmark": "conserving_qcbm", "quick": args.quick, "sizes": cfg,
           "circuit": f"Givens(n, k, layers={cfg['layers']}, topology='brick'), float32",
           "step": f"jit(value_and_grad(mean NLL of {NUM_DATA} model samples))",
           "full_statevector_circuit": f"QCBM(HardwareEfficient(n, {cfg['layers']})), same NLL via 2**n probs",
           "rows": rows, "total_s": round(time.perf_counter() - t_all, 1), "environment": env,
           "other_processes_cpu_s": other.stop()}
    text = json.dumps(out, indent=2)
    if args.json:
        _env.write_text(args.json, text)
    print(f"total {out['total_s']} s")


if __name__ == "__main__":
    main()
