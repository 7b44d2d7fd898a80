"""Throughput benchmark of jqgen's MPS Born machine, optionally against quimb.

Measures, on the default JAX device (float32):

* perfect sampling (``jqgen.mps.sample``) at n=100, chi=32, 10,000 samples per call;
* exact log-probabilities (``jqgen.mps.log_prob``) at n=784, chi=64, 1,000 bitstrings per call.

Compile time (``jit(...).lower(...).compile()``) is reported apart from run time (median
of several repeats, fresh PRNG keys, ``block_until_ready``). When quimb is importable the
*same* states are rebuilt as ``quimb.tensor.MatrixProductState`` objects, checked against
jqgen's log-probabilities, and quimb's ``MatrixProductState.sample`` and per-bitstring
amplitude contraction are timed in the same run, giving jqgen/quimb throughput ratios.

Usage::

    python benchmarks/mps_bench.py [--json] [--quick] [--no-quimb] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import jax
import numpy as np

import jqgen
from _env import OtherCPU, environment

FULL = dict(sample_n=100, sample_chi=32, sample_batch=10_000, lp_n=784, lp_chi=64,
            lp_batch=1_000, repeats=7, quimb_repeats=3, quimb_samples=50, quimb_amps=10)
QUICK = dict(sample_n=20, sample_chi=8, sample_batch=1_000, lp_n=64, lp_chi=16,
             lp_batch=100, repeats=3, quimb_repeats=2, quimb_samples=10, quimb_amps=3)
LN10 = float(np.log(10.0))


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - t0


def _summary(times: list[float], items: int, unit: str) -> dict:
    med = statistics.median(times)
    return {"run_s_median": med, "run_s_min": min(times), "run_s_all": [round(t, 5) for t in times],
            f"{unit}_per_s": items / med}


def bench_compiled(fn, static: tuple, args: tuple, fresh, repeats: int, items: int, unit: str):
    """Compile ``jit(fn)`` once (timed), then time ``repeats`` calls with ``fresh(i)`` args."""
    jitted = jax.jit(fn, static_argnums=tuple(range(len(args), len(args) + len(static))))
    t0 = time.perf_counter()
    compiled = jitted.lower(*args, *static).compile()
    compile_s = time.perf_counter() - t0
    out, first_s = _timed(compiled, *args)  # warm-up, not counted
    times = [_timed(compiled, *fresh(i))[1] for i in range(repeats)]
    return out, {"compile_s": compile_s, "first_run_s": first_s, **_summary(times, items, unit)}


def jqgen_sample(mps, batch: int, repeats: int):
    keys = jax.random.split(jax.random.key(1), repeats + 1)
    return bench_compiled(jqgen.mps.sample, (batch,), (mps, keys[0]),
                          lambda i: (mps, keys[i + 1]), repeats, batch, "samples")


def jqgen_log_prob(mps, bits, repeats: int):
    return bench_compiled(jqgen.mps.log_prob, (), (mps, bits), lambda i: (mps, bits),
                          repeats, bits.shape[0], "evals")


def to_quimb(mps):
    """The same state as a ``quimb.tensor.MatrixProductState`` (active bond blocks only).

    jqgen stores ``A[l, s, r]`` padded to chi; quimb's ``shape='lrp'`` wants (left, right,
    phys) for bulk sites, (right, phys) for the first site and (left, phys) for the last.
    """
    import quimb.tensor as qtn

    t = np.asarray(mps.tensors)
    n, d = t.shape[0], jqgen.mps.bond_dims(t.shape[0], t.shape[-1])
    arrays = [t[k, : d[k], :, : d[k + 1]].transpose(0, 2, 1) for k in range(n)]
    arrays[0], arrays[-1] = arrays[0][0], arrays[-1][:, 0]
    return qtn.MatrixProductState(arrays, shape="lrp")


def quimb_log_amp_sq(q, bits) -> float:
    """``log |psi(bits)|^2`` by quimb, in log space (``strip_exponent``) to avoid underflow."""
    sel = q.isel({q.site_ind(i): int(x) for i, x in enumerate(bits)})
    mantissa, exponent10 = sel.contract(..., strip_exponent=True)
    return 2.0 * (float(np.log(abs(mantissa))) + float(exponent10) * LN10)


def quimb_check(q, mps, bits) -> dict:
    """quimb vs jqgen log-probabilities of ``bits`` (quimb normalized by its own norm)."""
    norm_sq = float(q.copy().normalize())  # returns <psi|psi> (structured 1D contraction)
    lq = np.array([quimb_log_amp_sq(q, b) for b in bits]) - np.log(norm_sq)
    lj = np.asarray(jax.jit(jqgen.mps.log_prob)(mps, bits), dtype=np.float64)
    plain = [float(q.amplitude(b)) for b in bits]  # quimb's documented API, float32
    return {"quimb_norm_sq": norm_sq, "num_bitstrings": len(bits),
            "max_abs_diff_log_prob": float(np.max(np.abs(lq - lj))),
            "jqgen_log_prob_range": [float(lj.min()), float(lj.max())],
            "amplitude_underflows_to_zero": sum(a == 0.0 for a in plain),
            "note": "quimb log-probs use isel + contract(..., strip_exponent=True); "
                    "MatrixProductState.amplitude(b) is also evaluated and its exact zeros counted"}


def quimb_sample(q, mps, num: int, repeats: int) -> dict:
    """Times ``MatrixProductState.sample`` (a generator; includes its canonicalization)."""
    list(q.sample(2, seed=0))  # warm-up
    times, configs, omegas = [], [], []
    for r in range(repeats):
        t0 = time.perf_counter()
        out = list(q.sample(num, seed=r + 1))
        times.append(time.perf_counter() - t0)
        configs += [c for c, _ in out]
        omegas += [float(w) for _, w in out]
    lj = np.asarray(jax.jit(jqgen.mps.log_prob)(mps, np.asarray(configs, np.uint8)), np.float64)
    return {"num_per_repeat": num, "repeats": repeats, **_summary(times, num, "samples"),
            "max_abs_diff_log_omega_vs_jqgen_log_prob": float(np.max(np.abs(np.log(omegas) - lj)))}


def quimb_amplitudes(q, bits) -> dict:
    """Times quimb's per-bitstring contraction (``isel`` + ``contract(..., strip_exponent)``)."""
    quimb_log_amp_sq(q, bits[0])  # warm-up
    times = []
    for b in bits:
        t0 = time.perf_counter()
        quimb_log_amp_sq(q, b)
        times.append(time.perf_counter() - t0)
    return {"num": len(bits), "method": "isel + contract(..., strip_exponent=True), one bitstring per call",
            "eval_s_all": [round(t, 5) for t in times], "evals_per_s": 1.0 / statistics.median(times)}


def run(cfg: dict, use_quimb: bool, say) -> dict:
    res = {"environment": environment(), "config": {**cfg, "dtype": "float32"}}
    s_mps = jqgen.mps.random_mps(jax.random.key(0), cfg["sample_n"], cfg["sample_chi"])
    l_mps = jqgen.mps.random_mps(jax.random.key(10), cfg["lp_n"], cfg["lp_chi"])
    say(f"jqgen.mps.sample n={cfg['sample_n']} chi={cfg['sample_chi']} batch={cfg['sample_batch']}")
    s_bits, s_res = jqgen_sample(s_mps, cfg["sample_batch"], cfg["repeats"])
    res["jqgen_sample"] = {"n": cfg["sample_n"], "chi": cfg["sample_chi"], "batch": cfg["sample_batch"], **s_res}
    say(f"  {s_res['samples_per_s']:.4g} samples/s, compile {s_res['compile_s']:.2f} s")
    l_bits = np.asarray(jax.jit(jqgen.mps.sample, static_argnums=2)(l_mps, jax.random.key(11), cfg["lp_batch"]))
    say(f"jqgen.mps.log_prob n={cfg['lp_n']} chi={cfg['lp_chi']} batch={cfg['lp_batch']}")
    _, l_res = jqgen_log_prob(l_mps, l_bits, cfg["repeats"])
    res["jqgen_log_prob"] = {"n": cfg["lp_n"], "chi": cfg["lp_chi"], "batch": cfg["lp_batch"], **l_res}
    say(f"  {l_res['evals_per_s']:.4g} evals/s, compile {l_res['compile_s']:.2f} s")
    for fn in (jqgen.mps.log_prob, jqgen.mps.log_amplitude_sq):  # unbatched latency, as quimb's
        _, b1 = bench_compiled(fn, (), (l_mps, l_bits[:1]), lambda i: (l_mps, l_bits[i : i + 1]),
                               cfg["repeats"], 1, "evals")
        res[f"jqgen_{fn.__name__}_batch1"] = {"n": cfg["lp_n"], "chi": cfg["lp_chi"], **b1}
    if not use_quimb:
        res["quimb"] = {"skipped": "--no-quimb"}
        return res
    try:
        import quimb
    except ImportError as err:
        res["quimb"] = {"skipped": f"quimb not importable: {err}"}
        return res
    say("quimb: building the same states, checking log-probs")
    qs, ql = to_quimb(s_mps), to_quimb(l_mps)
    amp_bits = l_bits[: cfg["quimb_amps"]]
    q = {"version": quimb.__version__,
         "check_sample_state": quimb_check(qs, s_mps, np.asarray(s_bits[:5])),
         "check_log_prob_state": quimb_check(ql, l_mps, amp_bits)}
    zeros = q["check_log_prob_state"]["amplitude_underflows_to_zero"]
    if zeros:
        q["finding"] = (f"quimb MatrixProductState.amplitude returned exactly 0.0 (float32 underflow) "
                        f"for {zeros}/{len(amp_bits)} bitstrings at n={cfg['lp_n']}; timings below "
                        "use the log-space contraction (strip_exponent=True) instead")
    say("quimb: sampling")
    q["sample"] = {"n": cfg["sample_n"], "chi": cfg["sample_chi"],
                   **quimb_sample(qs, s_mps, cfg["quimb_samples"], cfg["quimb_repeats"])}
    say("quimb: amplitudes")
    q["amplitude"] = {"n": cfg["lp_n"], "chi": cfg["lp_chi"], **quimb_amplitudes(ql, amp_bits)}
    res["quimb"] = q
    res["ratios_jqgen_over_quimb"] = {
        "sampling": s_res["samples_per_s"] / q["sample"]["samples_per_s"],
        "log_prob_vs_amplitude": l_res["evals_per_s"] / q["amplitude"]["evals_per_s"],
        "log_prob_batch1_vs_amplitude":
            res["jqgen_log_prob_batch1"]["evals_per_s"] / q["amplitude"]["evals_per_s"],
        "log_amplitude_sq_batch1_vs_amplitude":
            res["jqgen_log_amplitude_sq_batch1"]["evals_per_s"] / q["amplitude"]["evals_per_s"]}
    say(f"  ratios jqgen/quimb: {res['ratios_jqgen_over_quimb']}")
    return res


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print the JSON object only")
    p.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    p.add_argument("--no-quimb", action="store_true", help="skip the quimb comparison")
    p.add_argument("--out", help="also write the JSON to this path")
    args = p.parse_args(argv)
    say = (lambda msg: None) if args.json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    other, wall0 = OtherCPU().start(), time.perf_counter()
    res = run(QUICK if args.quick else FULL, not args.no_quimb, say)
    res["config"]["quick"] = args.quick
    res["environment"]["wall_s"] = time.perf_counter() - wall0
    # CPU seconds used by *other* processes during the run: large values mean contention
    res["environment"]["other_processes_cpu_s"] = other.stop()
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
