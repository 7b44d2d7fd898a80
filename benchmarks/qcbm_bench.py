"""QCBM speed: jqgen against the same circuit written with TensorCircuit, in one run.

Circuit (issue 4): Liu & Wang's ansatz with a CNOT line, 4 blocks, i.e. RX RZ on every
qubit, then 4 x (CNOT line; RZ RX RZ on every qubit). It contains the issue's "4 layers of
RX/RZ plus a CNOT line" plus one more rotation layer and RZ per qubit. Measured:
``jit(value_and_grad(KL(target || p)))`` with a fixed random target, compile time
(lower + compile) apart from the median step time (``block_until_ready``):

* ``tc_plain``: the circuit as one ``tc.Circuit`` of named gates, unrolled in Python;
* ``tc_scan``: TensorCircuit with ``lax.scan`` over blocks (``QCBM(engine="tensorcircuit")``);
* ``jqgen``: jqgen's fused executor (``QCBM()``, the default).

Also: jqgen step time at n = 16 and 20 (TensorCircuit's scan path beside it), ``vmap`` of 64
models at n = 10 against one model, and sampling throughput at n = 20.

    python benchmarks/qcbm_bench.py --json results/qcbm_bench_cpu.json
    python benchmarks/qcbm_bench.py --quick    # smoke test: n = 4 and 6, 8 vmapped models, 1e4 shots (writes nothing)
"""

from __future__ import annotations

import argparse
import json
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
from jqgen.distributions import kl_divergence  # noqa: E402
from jqgen.qcbm import QCBM, LiuWang  # noqa: E402


#: sizes of the full run and of ``--quick``: main comparison, larger jqgen sizes, vmap (n, models), sampling (n, shots)
FULL = {"main_n": 12, "larger": (16, 20), "vmap": (10, 64), "sampling": (20, 1_000_000), "min_time": 1.0}
QUICK = {"main_n": 4, "larger": (6,), "vmap": (4, 8), "sampling": (8, 10_000), "min_time": 0.05}


def timed(fn, args, repeats: int, min_time: float = 1.0) -> dict:
    """Compile time and the median of ``repeats`` step times (at least ``min_time`` s total)."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(*args))  # warm-up
    times = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t)
        if len(times) > 20 * repeats:
            break
    return {"compile_s": round(compile_s, 3), "step_ms": round(1e3 * statistics.median(times), 4), "repeats": len(times)}


def target(n: int) -> jax.Array:
    return jnp.asarray(np.random.default_rng(0).dirichlet(np.ones(2**n)), jnp.float32)


def loss_fns(n: int, layers: int, with_tc: bool = True):
    ansatz = LiuWang(n, layers)
    t = target(n)
    fused = QCBM(ansatz)

    def kl_of(model):
        return jax.value_and_grad(lambda p: kl_divergence(t, model.probs(p)))

    def plain(p):
        psi = jqgen.qcbm.circuit_from_ops(n, jqgen.qcbm.ops(ansatz, p), jnp.float32).state()
        return kl_divergence(t, jnp.real(psi) ** 2 + jnp.imag(psi) ** 2)

    fns = {"jqgen": kl_of(fused)}
    if with_tc:
        fns.update(tc_scan=kl_of(QCBM(ansatz, engine="tensorcircuit")), tc_plain=jax.value_and_grad(plain))
    return fused.init(jax.random.key(0)), fns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--skip-plain", action="store_true", help="skip the slow-compiling plain TensorCircuit path")
    ap.add_argument("--plain-16", action="store_true", help="also time plain TensorCircuit at n = 16 (compiles ~150 s)")
    ap.add_argument("--jqgen-only", action="store_true", help="no TensorCircuit paths (e.g. a GPU machine without it)")
    ap.add_argument("--quick", action="store_true", help="smoke test: small sizes (n = 4 and 6), 5 repeats; writes "
                    "nothing unless --json is given")
    args = ap.parse_args()
    cfg = QUICK if args.quick else FULL
    if args.quick:
        args.repeats = min(args.repeats, 5)
    min_time = cfg["min_time"]
    tc = not args.jqgen_only
    env = _env.environment()
    other = _env.OtherCPU().start()
    out: dict = {"benchmark": "qcbm", "circuit": "LiuWang(n, 4): RX RZ, then 4 x (CNOT line; RZ RX RZ)",
                 "loss": "jit(value_and_grad(KL(target || p))), float32", "quick": args.quick, "sizes": cfg}

    n_main = cfg["main_n"]
    params, fns = loss_fns(n_main, 4, tc)
    main_rows = {}
    for name in ("jqgen",) + ((("tc_scan",) + (() if args.skip_plain else ("tc_plain",))) if tc else ()):
        main_rows[name] = timed(fns[name], (params,), args.repeats, min_time)
        print(f"n={n_main} {name:>8}: {main_rows[name]}", flush=True)
    vals = {k: float(fns[k](params)[0]) for k in main_rows}
    key = f"n{n_main}"  # "n12" in the full run
    out[key] = main_rows
    out[f"{key}_loss_values_agree"] = vals
    for ref in ("tc_plain", "tc_scan"):
        if ref in main_rows:
            out[f"{key}_step_speedup_vs_{ref}"] = round(main_rows[ref]["step_ms"] / main_rows["jqgen"]["step_ms"], 2)
            out[f"{key}_compile_speedup_vs_{ref}"] = round(main_rows[ref]["compile_s"] / main_rows["jqgen"]["compile_s"], 2)

    larger = {}
    for n in cfg["larger"]:
        p, f = loss_fns(n, 4, tc)
        larger[n] = {"jqgen": timed(f["jqgen"], (p,), max(5, args.repeats // 5), min_time)}
        if tc and not args.quick:  # quick: the scanned TensorCircuit path is timed at the main size only
            larger[n]["tc_scan"] = timed(f["tc_scan"], (p,), max(5, args.repeats // 5), min_time)
            larger[n]["step_speedup_vs_tc_scan"] = round(larger[n]["tc_scan"]["step_ms"] / larger[n]["jqgen"]["step_ms"], 2)
        if n == 16 and args.plain_16 and tc:
            larger[n]["tc_plain"] = timed(f["tc_plain"], (p,), max(5, args.repeats // 5), min_time)
            larger[n]["step_speedup_vs_tc_plain"] = round(larger[n]["tc_plain"]["step_ms"] / larger[n]["jqgen"]["step_ms"], 2)
        print(f"n={n}: {larger[n]}", flush=True)
    out["larger"] = larger

    # vmap: 64 models at n = 10 in one program vs one model
    n_v, n_models = cfg["vmap"]
    model = QCBM(LiuWang(n_v, 4))
    t10 = target(n_v)
    vg = jax.value_and_grad(lambda p: kl_divergence(t10, model.probs(p)))
    one = model.init(jax.random.key(0))
    batch = jax.vmap(model.init)(jax.random.split(jax.random.key(1), n_models))
    single = timed(vg, (one,), args.repeats, min_time)
    many = timed(jax.vmap(vg), (batch,), args.repeats, min_time)
    vkey = f"vmap{n_models}_n{n_v}"  # "vmap64_n10" in the full run
    out[vkey] = {"one_model": single, f"{n_models}_models": many,
                 f"cost_ratio_{n_models}_vs_1": round(many["step_ms"] / single["step_ms"], 2)}
    print(f"vmap: {out[vkey]}", flush=True)

    # sampling throughput at n = 20
    n_s, shots = cfg["sampling"]
    model20 = QCBM(LiuWang(n_s, 4))
    p20 = model20.init(jax.random.key(0))
    samp = timed(lambda p, k: model20.sample(p, k, shots), (p20, jax.random.key(1)), 5, min_time)
    cnt = timed(lambda p, k: model20.sample_counts(p, k, shots), (p20, jax.random.key(1)), 5, min_time)
    probs_only = timed(model20.probs, (p20,), 5, min_time)
    out[f"sampling_n{n_s}"] = {
        "shots": shots, "sample_bitstrings": samp, "sample_counts": cnt, "probs_only": probs_only,
        "bitstring_shots_per_s": round(shots / (samp["step_ms"] / 1e3)),
        "histogram_shots_per_s": round(shots / (cnt["step_ms"] / 1e3)),
    }
    print(f"sampling: {out[f'sampling_n{n_s}']}", flush=True)
    out["environment"] = env
    out["other_processes_cpu_s"] = other.stop()
    text = json.dumps(out, indent=2)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
