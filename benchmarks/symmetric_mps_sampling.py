"""Valid-sample throughput: U(1)-symmetric MPS vs unconstrained MPS + rejection (issue 14).

Measures, on the default JAX device (float32), in one run, how many strings of weight exactly
k per second each generator delivers at n = 100, k = 10, chi = 32:

* ``symmetric``: :class:`jqgen.mps.SymmetricMPSBornMachine` ``(100, 10, chi_max=32)`` at its
  default ``init`` (uniform on the valid strings plus noise 0.5), the *teacher*. Every sample
  is valid (checked), so its valid-sample rate is its sample rate.
* unconstrained :class:`jqgen.MPSBornMachine` samplers followed by rejection (a sample is
  kept when its weight is k; the check is inside the timed, jitted function):

  - ``unconstrained_exact``: ``teacher.to_mps(params)``, the same distribution as an MPS
    whose bond holds all charge sectors side by side (bond dimension 290 here, so it is
    timed on smaller batches);
  - ``unconstrained_truncated``: that MPS compressed to chi = 32 by one SVD sweep (QR to
    left-canonical form, then right-to-left SVDs keeping the 32 largest Schmidt values,
    float64 in numpy); truncating a block-diagonal bond matrix keeps whole singular vectors
    of single sectors, so this MPS still (almost) respects the constraint;
  - ``unconstrained_trained``: ``MPSBornMachine(100, 32)`` trained by ``jqgen.fit`` (mean NLL,
    Adam) on samples of the teacher for a fixed number of steps: an unconstrained model
    that learned the constraint only as well as gradient descent got it;
  - ``unconstrained_random``: a fresh ``MPSBornMachine(100, 32).init``: its rejection rate is
    about ``1 - C(100, 10) / 2**100``, so it delivers no valid sample in any feasible time.

For each: compile seconds (``jit(...).lower(...).compile()``), the median of several timed
calls with fresh keys (``block_until_ready``), samples per second, the acceptance measured
over every timed sample, valid samples per second (= samples/s x acceptance), the ratio of the
symmetric model's valid rate to it, and the KL divergence ``KL(teacher || model)`` estimated
on teacher samples (how faithful each stand-in is). Also the throughput of ``log_prob`` on
10,000 valid strings for the symmetric model and the chi = 32 and exact unconstrained MPS.

Usage::

    python benchmarks/symmetric_mps_sampling.py            # full run (~2 min on 2 cores)
    python benchmarks/symmetric_mps_sampling.py --json benchmarks/results/symmetric_mps_sampling_cpu.json
    python benchmarks/symmetric_mps_sampling.py --quick    # n = 30, k = 5, chi = 8: a smoke test

The JSON goes to stdout (and to ``--json PATH``); progress goes to stderr.
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
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _env  # noqa: E402

import jqgen  # noqa: E402
from jqgen.mps import SymmetricMPSBornMachine, bond_dims  # noqa: E402

FULL = dict(n=100, k=10, chi=32, batch=10_000, repeats=7, exact_batch=1_000, exact_repeats=3, lp_batch=10_000,
            exact_lp_batch=1_000, train_data=10_000, train_steps=300, train_batch=1_000, train_lr=0.01)
QUICK = dict(n=30, k=5, chi=8, batch=2_000, repeats=3, exact_batch=500, exact_repeats=2, lp_batch=2_000,
             exact_lp_batch=500, train_data=2_000, train_steps=50, train_batch=500, train_lr=0.01)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed_calls(fn, args: tuple, fresh, repeats: int) -> tuple[list, dict]:
    """Compiles ``jit(fn)`` for ``args`` (timed), warms up once, then times ``repeats`` calls
    on ``fresh(i)``; returns the outputs of the timed calls and the timings."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    first_s = time.perf_counter() - t0
    outs, times = [], []
    for i in range(repeats):
        a = fresh(i)
        t0 = time.perf_counter()
        outs.append(jax.block_until_ready(compiled(*a)))
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return outs, {"compile_s": compile_s, "first_run_s": first_s, "run_s_median": med, "run_s_min": min(times),
                  "run_s_all": [round(t, 5) for t in times], "repeats": repeats}


def bench_sampler(sample, params, k: int, batch: int, repeats: int, seed: int) -> dict:
    """Times ``sample(params, key) -> bits [batch, n]`` plus the weight check; acceptance over all timed samples."""
    keys = jax.random.split(jax.random.key(seed), repeats + 1)

    def fn(p, key):
        bits = sample(p, key)
        return bits, jax.numpy.sum(bits.astype(jax.numpy.int32), axis=1) == k

    outs, t = timed_calls(fn, (params, keys[0]), lambda i: (params, keys[i + 1]), repeats)
    ok = np.concatenate([np.asarray(o[1]) for o in outs])
    acc = float(ok.mean())
    sps = batch / t["run_s_median"]
    return {"batch": batch, **t, "samples_per_s": sps, "timed_samples": int(ok.size), "valid_samples": int(ok.sum()),
            "acceptance": acc, "rejection_rate": 1.0 - acc, "valid_samples_per_s": sps * acc}


def bench_log_prob(log_prob, params, bits: np.ndarray, repeats: int) -> tuple[np.ndarray, dict]:
    """Times ``log_prob(params, bits)`` on a fixed batch of strings; returns the values too."""
    b = jax.numpy.asarray(bits)
    outs, t = timed_calls(log_prob, (params, b), lambda i: (params, b), repeats)
    return np.asarray(outs[-1]), {"batch": int(bits.shape[0]), **t, "evals_per_s": bits.shape[0] / t["run_s_median"]}


def truncate(mps: jqgen.mps.MPS, chi: int) -> tuple[jqgen.mps.MPS, dict]:
    """Compresses an MPS to bond dimension ``chi`` by one QR sweep and one truncating SVD sweep
    (numpy, float64); returns the MPS (padded to ``chi``) and the discarded Schmidt weights."""
    t = np.asarray(mps.tensors, np.float64)
    n, big = t.shape[0], t.shape[-1]
    d = bond_dims(n, big)
    a = [t[i, : d[i], :, : d[i + 1]] for i in range(n)]
    for i in range(n - 1):  # left-canonical: sites 0..n-2 isometries, the norm on site n-1
        left, _, right = a[i].shape
        q, r = np.linalg.qr(a[i].reshape(left * 2, right))
        a[i] = q.reshape(left, 2, q.shape[1])
        a[i + 1] = np.tensordot(r / np.linalg.norm(r), a[i + 1], axes=(1, 0))
    discarded, kept = [], []
    for i in range(n - 1, 0, -1):  # centre moves left; s are the Schmidt values of bond i
        left, _, right = a[i].shape
        u, s, vh = np.linalg.svd(a[i].reshape(left, 2 * right), full_matrices=False)
        keep = max(1, min(chi, int(np.sum(s > s[0] * 1e-12))))
        w = s**2 / np.sum(s**2)
        discarded.append(float(w[keep:].sum()))
        kept.append(keep)
        a[i] = vh[:keep].reshape(keep, 2, right)
        us = u[:, :keep] * s[:keep]
        a[i - 1] = np.tensordot(a[i - 1], us / np.linalg.norm(s[:keep]), axes=(2, 0))
    out = np.zeros((n, chi, 2, chi), np.float32)
    for i, x in enumerate(a):
        out[i, : x.shape[0], :, : x.shape[2]] = x
    info = {"discarded_weight_sum": float(sum(discarded)), "discarded_weight_max": float(max(discarded)),
            "fidelity_bound_prod_1_minus_discarded": float(np.prod(1 - np.asarray(discarded))),
            "bond_dims_kept": [1] + kept[::-1] + [1]}
    return jqgen.mps.from_tensors(out), info


def train_unconstrained(cfg: dict, data: np.ndarray) -> tuple[jqgen.mps.MPS, dict]:
    """``MPSBornMachine(n, chi)`` trained by ``jqgen.fit`` on teacher samples (fixed steps)."""
    model = jqgen.MPSBornMachine(cfg["n"], cfg["chi"])
    t0 = time.perf_counter()
    res = jqgen.fit(model, model.init(jax.random.key(1)), data, optax.adam(cfg["train_lr"]), key=jax.random.key(2),
                    steps=cfg["train_steps"], batch_size=cfg["train_batch"], progress=False)
    jax.block_until_ready(res.params)
    hist = np.asarray(res.history)
    return res.params, {"steps": cfg["train_steps"], "batch_size": cfg["train_batch"], "lr": cfg["train_lr"],
                        "optimizer": "adam", "train_rows": int(data.shape[0]), "wall_s_incl_compile": time.perf_counter() - t0,
                        "nll_first": float(hist[0]), "nll_last": float(hist[-1]),
                        "nll_last_50_mean": float(hist[-50:].mean())}


def kl_estimate(lp_teacher: np.ndarray, lp_model: np.ndarray) -> float:
    """``KL(teacher || model)`` from teacher samples: mean of ``log p - log q`` (nats)."""
    return float(np.mean(np.asarray(lp_teacher, np.float64) - np.asarray(lp_model, np.float64)))


def run(cfg: dict) -> dict:
    n, k, chi = cfg["n"], cfg["k"], cfg["chi"]
    res: dict = {"config": {**cfg, "dtype": "float32"}}
    teacher = SymmetricMPSBornMachine(n, k, chi)
    tp = teacher.init(jax.random.key(0))
    lay = teacher.layout
    res["symmetric_model"] = {"num_params": lay.num_params, "num_charges": lay.num_charges,
                              "max_total_bond_dim": int(lay.bond_dims.max()), "num_valid": str(lay.num_valid),
                              "init": "default init (uniform on the valid strings + noise 0.5), key 0"}
    log(f"symmetric n={n} k={k} chi_max={chi}: sampling batches of {cfg['batch']}")
    sym = bench_sampler(lambda p, key: teacher.sample(p, key, cfg["batch"]), tp, k, cfg["batch"], cfg["repeats"], 10)
    res["symmetric"] = sym
    log(f"  {sym['samples_per_s']:.4g} samples/s (all valid: {sym['acceptance'] == 1.0}), compile {sym['compile_s']:.2f} s")
    strings = np.asarray(teacher.sample(tp, jax.random.key(5), max(cfg["lp_batch"], cfg["train_data"])))
    lp_bits = strings[: cfg["lp_batch"]]
    log(f"symmetric log_prob on {len(lp_bits)} valid strings")
    lp_teacher, lp_sym = bench_log_prob(lambda p, b: teacher.log_prob(p, b), tp, lp_bits, cfg["repeats"])
    lp_timing = {"symmetric": lp_sym}

    log("to_mps (exact) and its SVD truncation to chi")
    exact_model, exact = teacher.to_mps(tp)
    trunc, trunc_info = truncate(exact, chi)
    log("training an unconstrained MPS on teacher samples")
    trained, train_info = train_unconstrained(cfg, strings[: cfg["train_data"]])
    random = jqgen.MPSBornMachine(n, chi).init(jax.random.key(3))
    # the trained model's log_prob is the first chi-sized one compiled: its compile_s is a real compile
    variants = {"unconstrained_exact": (exact, cfg["exact_batch"], cfg["exact_repeats"], exact_model.chi_max),
                "unconstrained_trained": (trained, cfg["batch"], cfg["repeats"], chi),
                "unconstrained_truncated": (trunc, cfg["batch"], cfg["repeats"], chi),
                "unconstrained_random": (random, cfg["batch"], cfg["repeats"], chi)}
    extra = {"unconstrained_truncated": {"truncation": trunc_info}, "unconstrained_trained": {"training": train_info},
             "unconstrained_exact": {"max_abs_log_prob_diff_vs_symmetric": None}}
    for seed, (name, (mps, batch, reps, bond)) in enumerate(variants.items()):
        log(f"{name} (chi {bond}): sampling batches of {batch}")
        r = bench_sampler(lambda p, key, b=batch: jqgen.mps.sample(p, key, b), mps, k, batch, reps, 20 + seed)
        lp_bits_v = lp_bits if name != "unconstrained_exact" else lp_bits[: cfg["exact_lp_batch"]]
        if name in ("unconstrained_exact", "unconstrained_trained"):
            lp_q, lp_timing[name] = bench_log_prob(jqgen.mps.log_prob, mps, lp_bits_v, reps)
        else:
            lp_q = np.asarray(jax.jit(jqgen.mps.log_prob)(mps, lp_bits_v))
        r.update({"chi": bond, **extra.get(name, {}),
                  "kl_teacher_to_model_nats": kl_estimate(lp_teacher[: len(lp_bits_v)], lp_q),
                  "symmetric_over_this_valid_rate": (sym["valid_samples_per_s"] / r["valid_samples_per_s"]
                                                     if r["valid_samples_per_s"] > 0 else None)})
        if name == "unconstrained_exact":
            r["max_abs_log_prob_diff_vs_symmetric"] = float(np.max(np.abs(lp_q - lp_teacher[: len(lp_q)])))
        res[name] = r
        log(f"  {r['samples_per_s']:.4g} samples/s, acceptance {r['acceptance']:.4g}, valid {r['valid_samples_per_s']:.4g}/s, "
            f"KL {r['kl_teacher_to_model_nats']:.3g} nats")
    uniform_acc = math.comb(n, k) / 2**n
    rnd = res["unconstrained_random"]
    rnd["uniform_reference_acceptance"] = uniform_acc
    rnd["expected_valid_samples_per_s_if_uniform"] = rnd["samples_per_s"] * uniform_acc
    rnd["symmetric_over_this_if_uniform"] = sym["valid_samples_per_s"] / (rnd["samples_per_s"] * uniform_acc)

    res["log_prob"] = {"strings": "valid strings sampled from the teacher", "symmetric": lp_timing["symmetric"],
                       "unconstrained_chi": lp_timing["unconstrained_trained"],
                       "unconstrained_exact": lp_timing["unconstrained_exact"]}
    lp = res["log_prob"]
    lp["symmetric_over_unconstrained_chi"] = lp["symmetric"]["evals_per_s"] / lp["unconstrained_chi"]["evals_per_s"]
    lp["symmetric_over_unconstrained_exact"] = lp["symmetric"]["evals_per_s"] / lp["unconstrained_exact"]["evals_per_s"]
    for name in ("symmetric", "unconstrained_chi", "unconstrained_exact"):
        log(f"  {name}: {lp[name]['evals_per_s']:.4g} evals/s, compile {lp[name]['compile_s']:.2f} s")
    return res


def summary(res: dict) -> dict:
    """The headline numbers, one line per generator."""
    out = {}
    for name in ("symmetric", "unconstrained_exact", "unconstrained_truncated", "unconstrained_trained",
                 "unconstrained_random"):
        r = res[name]
        out[name] = {"chi": r.get("chi", res["config"]["chi"]), "compile_s": round(r["compile_s"], 3),
                     "samples_per_s": r["samples_per_s"], "rejection_rate": r["rejection_rate"],
                     "valid_samples_per_s": r["valid_samples_per_s"],
                     "symmetric_over_this": r.get("symmetric_over_this_valid_rate"),
                     "kl_teacher_to_model_nats": r.get("kl_teacher_to_model_nats")}
    return out


def clean(x):
    """JSON-safe copy: numpy scalars to Python, non-finite floats to None."""
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="n = 30, k = 5, chi = 8, small batches (smoke test)")
    ap.add_argument("--json", metavar="PATH", default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    env = _env.environment()
    other = _env.OtherCPU().start()
    res = run(QUICK if args.quick else FULL)
    out = {"benchmark": "valid-sample throughput: U(1)-symmetric MPS vs unconstrained MPS + rejection (issue 14)",
           "command": " ".join(["python", "benchmarks/symmetric_mps_sampling.py"] + (sys.argv[1:] if argv is None else argv)),
           "quick": args.quick, "summary": summary(res), **res, "wall_s": time.perf_counter() - t0,
           "environment": env, "other_processes_cpu_s": other.stop()}
    text = json.dumps(clean(out), indent=1)
    print(text)
    _env.write_text(args.json, text)
    if args.json:
        log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
