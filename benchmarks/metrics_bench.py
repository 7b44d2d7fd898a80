"""Speed of the generalization metrics (``jqgen.generalization_metrics``).

Cases (random data, seeded; samples are a mix of training copies, valid and random strings):

* ``n64_1e6``: 10^6 samples of 64 bits against 10^5 training strings, cardinality k = 32,
  with the quadratic cost (all metrics) -- the issue's target is under 2 s on this CPU;
* ``n12_1e4``: Gili et al.'s setting, 10^4 samples of 12 bits, k = 6, eps = 0.3, with cost;
* ``n784_1e5``: 10^5 MNIST-sized samples (784 bits, byte-string keys) against 10^3 training;
* ``naive_n64_1e5``: the same definitions with Python sets of tuples on 10^5 samples of
  ``n64`` (the usual research-code way), against jqgen on the same input: a ratio.

Each figure is the median of ``--repeats`` runs (wall clock, one process, NumPy on the host).

    python benchmarks/metrics_bench.py --json benchmarks/results/metrics_bench_cpu.json
    python benchmarks/metrics_bench.py --quick   # smoke test: every case at 1/100 of the samples, 2 repeats
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _env  # noqa: E402

import jqgen  # noqa: E402
from jqgen.spaces import Cardinality  # noqa: E402


def make_case(n: int, k: int, q: int, t: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)

    def valid(m: int) -> np.ndarray:
        keys = rng.random((m, n))
        thresh = np.partition(keys, k - 1, axis=1)[:, k - 1 : k]
        return (keys <= thresh).astype(np.uint8)  # exactly k ones per row

    train = valid(t)
    pick = rng.random(q)
    samples = np.where((pick < 0.2)[:, None], train[rng.integers(0, t, q)],
                       np.where((pick < 0.7)[:, None], valid(q), rng.integers(0, 2, (q, n), dtype=np.uint8)))
    return samples.astype(np.uint8), train


def time_it(fn, repeats: int) -> dict:
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return {"median_s": round(statistics.median(ts), 4), "min_s": round(min(ts), 4), "repeats": repeats}, out


def naive(samples: np.ndarray, train: np.ndarray, k: int) -> dict:
    tr = {tuple(r) for r in train.tolist()}
    g = [tuple(r) for r in samples.tolist()]
    new = [x for x in g if x not in tr]
    sol = [x for x in new if sum(x) == k]
    return {"exploration": len(new) / len(g), "rate": len(sol) / len(g), "num_sol_distinct": len(set(sol))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", default=None, help="write the JSON result here (it is printed anyway)")
    ap.add_argument("--repeats", type=int, default=None, help="runs per figure (default 5; quick 2)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 1/100 of the samples and training strings "
                    "(at least 100), 2 repeats; the target check does not apply")
    args = ap.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    scale = (lambda m: max(100, m // 100)) if args.quick else (lambda m: m)
    other = _env.OtherCPU().start()
    t_all = time.perf_counter()
    out = {"benchmark": "metrics_bench", "environment": _env.environment(), "quick": args.quick, "cases": {}}
    cases = {"n64_1e6": (64, 32, 10**6, 10**5, True), "n12_1e4": (12, 6, 10**4, 277, True),
             "n784_1e5": (784, 392, 10**5, 10**3, False)}
    for name, (n, k, q, t, with_cost) in cases.items():
        q, t = scale(q), scale(t)
        samples, train = make_case(n, k, q, t)
        cost = jqgen.random_quadratic_cost(n, 0) if with_cost else None
        timing, m = time_it(lambda: jqgen.generalization_metrics(samples, train, Cardinality(n, k), cost=cost),
                            args.repeats)
        timing_pack, _ = time_it(lambda: jqgen.pack_bits(samples), args.repeats)
        out["cases"][name] = {"num_bits": n, "num_samples": q, "num_train": t, "with_cost": with_cost, **timing,
                              "pack_bits_median_s": timing_pack["median_s"],
                              "check": {kk: m[kk] for kk in ("exploration", "rate", "num_sol_distinct")}}
        print(f"{name}: {timing['median_s']:.3f} s (pack {timing_pack['median_s']:.3f} s)", file=sys.stderr)
    samples, train = make_case(64, 32, scale(10**5), scale(10**4), seed=1)
    t_naive, ref = time_it(lambda: naive(samples, train, 32), max(1, args.repeats // 2))
    t_jq, m = time_it(lambda: jqgen.generalization_metrics(samples, train, Cardinality(64, 32)), args.repeats)
    agree = all(abs(ref[k] - m[k]) < 1e-12 for k in ref)
    out["cases"]["naive_n64_1e5"] = {"naive_python_sets": t_naive, "jqgen": t_jq, "agree": agree,
                                     "speedup": round(t_naive["median_s"] / t_jq["median_s"], 1)}
    print(f"naive sets {t_naive['median_s']:.3f} s vs jqgen {t_jq['median_s']:.3f} s (agree: {agree})", file=sys.stderr)
    target = out["cases"]["n64_1e6"]["median_s"]
    out["target"] = {"n64_1e6_under_s": 2.0, "met": None if args.quick else target < 2.0}
    out["wall_s"] = round(time.perf_counter() - t_all, 2)
    out["other_processes_cpu_s"] = other.stop()
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
