"""GEO benchmarks (issue 15): Generator-Enhanced Optimization against classical baselines.

Four sections, all at equal numbers of cost evaluations (every evaluated string counts):

``budget``   best-so-far vs evaluations, median / IQR / min / max over seeds: GEO with the
             symmetric MPS vs swap-move simulated annealing (``sa-swap``) vs random search on the
             five OR-Library instances (binary equal-weight form, k = 10, a q grid) and the
             N = 500, k = 50 synthetic instance; the three generators (symmetric MPS,
             unconstrained MPS with post-selection, weight-conserving QCBM) on Hang Seng;
             the gap to the exact optimum (SCIP MIQP under a time limit; its status is recorded).
``chang``    the Chang et al. form (K = 10, w in [0.01, 1], a lambda grid): the best portfolio
             per lambda of GEO, a host-side swap annealer (``sa-swap`` needs a jittable cost, the
             QP cost is not) and random search, scored by :func:`jqgen.geo.frontier_errors`
             against the OR-Library UEF, beside the published Hang Seng K = 10 figures.
``booster``  GEO seeded with SA's evaluations (SA B1, then GEO +B2) vs SA given B1 + B2:
             per instance, the fraction of seeds where GEO ends lower.
``loop``     the cost of a GEO round (train / sample / evaluate seconds, compile round apart)
             at N = 500, k = 50 against 10x the seconds of the same number of sa-swap
             evaluations (sa-swap timed warm, compile apart).

Run (from the repository root; data from ../shared/data)::

    python benchmarks/geo_bench.py --quick                      # ~90 s smoke run
    python benchmarks/geo_bench.py --json benchmarks/results/geo_cpu.json
    python benchmarks/geo_bench.py --json J --merge --sections chang  # a subset, merged into J
    python benchmarks/geo_bench.py --report benchmarks/results/geo_cpu.json  # markdown tables

Prints one JSON document (also written to ``--json``); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import math
import os
import signal
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _env import OtherCPU, environment, write_text  # noqa: E402

import jqgen  # noqa: E402
from jqgen.geo import (GeoSettings, frontier_errors, geo, load_frontier, load_instance, run_baseline,  # noqa: E402
                       synthetic_instance)
from jqgen.geo._anneal import swap_temperatures  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")
OR_NAMES = ("hangseng31", "dax85", "ftse89", "sp98", "nikkei225")
#: TSWJ 2014, 721521, Table 5 (Hang Seng, K = 10): mean Euclidean distance, variance of
#: return error %, mean return error %.
PUBLISHED_HANGSENG = {"GA": (0.0040, 1.6441, 0.6072), "TS": (0.0040, 1.6578, 0.6107),
                      "SA": (0.0040, 1.6628, 0.6238), "PSO": (0.0049, 2.2421, 0.7427)}
SA_OPTIONS = {"chains": 4, "calibration": 32}  # tuned: see benchmarks/README.md, "GEO (issue 15)"

#: GEO settings per section: ``geo`` for the 10,000-evaluation budget runs, ``small_geo`` for the
#: 1,000-evaluation ones (generators, Chang, booster), ``loop_geo`` for the loop-cost section
#: (large rounds, few warm-started steps), ``loop_large`` for rounds of 5,000 (where training is
#: amortized and sampling sets the cost), ``loop_large_short`` the same with 6 steps on 128
#: rows, ``loop_xl`` rounds of 10,000.
SMALL_GEO = {"batch_size": 200, "seed_size": 200, "train_steps": 30, "train_size": 256}
FULL = {"instances": OR_NAMES, "qs": (1.0, 4.0, 16.0), "k": 10, "seeds": 5, "budget": 10000,
        "synthetic": True, "synthetic_q": 1.0, "exact_time_limit": 10.0, "synthetic_time_limit": 20.0,
        "gen_instance": "hangseng31", "gen_k": 4, "gen_budget": 1000, "gen_qcbm_layers": 31, "gen_qcbm_steps": 10,
        "chang_instances": OR_NAMES, "chang_lambdas": 51, "chang_budget": 1000,
        "booster_instances": OR_NAMES + ("synthetic500",), "booster_b1": 1000, "booster_b2": 1000,
        "loop_budget": 5000,
        "geo": {"batch_size": 500, "seed_size": 500, "train_steps": 20, "train_size": 512, "samples": 1000},
        "small_geo": SMALL_GEO,
        "loop_geo": {"batch_size": 1000, "seed_size": 1000, "train_steps": 10, "train_size": 256, "samples": 1250},
        "loop_large": {"batch_size": 5000, "seed_size": 5000, "train_steps": 10, "train_size": 256, "samples": 5500},
        "loop_large_short": {"batch_size": 5000, "seed_size": 5000, "train_steps": 6, "train_size": 128,
                             "samples": 5500},
        "loop_xl": {"batch_size": 10000, "seed_size": 10000, "train_steps": 10, "train_size": 256, "samples": 11000}}
QUICK = {**FULL, "instances": ("hangseng31",), "qs": (1.0,), "seeds": 2, "budget": 600, "synthetic": False,
         "geo": SMALL_GEO, "loop_geo": {**SMALL_GEO, "samples": 250}, "loop_large": {**SMALL_GEO, "samples": 250},
         "loop_large_short": {**SMALL_GEO, "samples": 250}, "loop_xl": {**SMALL_GEO, "samples": 250},
         "exact_time_limit": 5.0, "gen_budget": 400, "gen_qcbm_steps": 5,
         "chang_instances": ("hangseng31",), "chang_lambdas": 3, "chang_budget": 400,
         "booster_instances": ("hangseng31",), "booster_b1": 400, "booster_b2": 400, "loop_budget": 600}


def log(msg: str) -> None:
    print(f"[geo_bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def instance(name: str) -> Any:
    if name.startswith("synthetic"):
        return synthetic_instance(int(name[len("synthetic"):]), seed=0)
    return load_instance(name, DATA)


def make_model(kind: str, n: int, k: int, cfg: dict) -> Any:
    """A generator (float32, as users run it)."""
    if kind == "symmetric-mps":
        return jqgen.mps.SymmetricMPSBornMachine(n, k, 4)
    if kind == "mps":
        return jqgen.MPSBornMachine(n, 4)
    return jqgen.qcbm.ConservingQCBM(jqgen.qcbm.Givens(n, k, cfg["gen_qcbm_layers"]))


def run_geo(problem: Any, kind: str, budget: int, seed: int, cfg: dict, seeds: Any = None,
            train_steps: int | None = None, settings_key: str = "geo") -> dict:
    """One GEO run: its best-so-far curve over its own evaluations, best cost, rounds, wall time."""
    s = dict(cfg[settings_key])
    if train_steps is not None:
        s["train_steps"] = train_steps
    settings = GeoSettings(**s)
    t0 = time.perf_counter()
    try:
        model = make_model(kind, problem.num_bits, problem.k, cfg)
        res = geo(problem, model, budget, key=jax.random.key(seed), settings=settings, progress=False,
                  seed_bits=None if seeds is None else seeds[0], seed_costs=None if seeds is None else seeds[1])
    except Exception as err:  # noqa: BLE001 - a failed run is recorded (as +inf), not fatal
        log(f"GEO {kind} seed {seed} failed: {err!r}"[:300])
        return {"curve": np.full(budget, np.inf), "best": math.inf, "rounds": [], "error": repr(err)[:300],
                "wall_s": time.perf_counter() - t0, "evaluations": 0}
    own = np.asarray(res.costs[len(res.costs) - res.evaluations:], np.float64)
    rounds = [{k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in r.items()} for r in res.rounds]
    return {"curve": np.minimum.accumulate(own), "best": float(res.best_cost), "rounds": rounds,
            "wall_s": time.perf_counter() - t0, "evaluations": int(res.evaluations)}


def run_sa(problem: Any, budget: int, seed: int) -> dict:
    r = run_baseline("sa-swap", problem, budget, seed=seed, **SA_OPTIONS)
    return {"curve": r.best_so_far, "best": float(r.best_cost), "wall_s": r.seconds, "result": r}


def run_random(problem: Any, budget: int, seed: int) -> dict:
    r = run_baseline("random", problem, budget, seed=seed)
    return {"curve": r.best_so_far, "best": float(r.best_cost), "wall_s": r.seconds}


def exact(problem: Any, time_limit: float) -> dict:
    """SCIP's MIQP (or enumeration) under ``time_limit``: the optimum, or a best-known and a bound."""
    t0 = time.perf_counter()
    try:
        r = run_baseline("exact", problem, None, seed=0, time_limit=time_limit)
    except Exception as err:  # noqa: BLE001 - recorded, the benchmark goes on
        return {"available": False, "error": repr(err)[:300], "seconds": time.perf_counter() - t0}
    info = {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in r.info.items()}
    return {"available": True, "best_cost": float(r.best_cost), "optimal": bool(r.info.get("optimal", False)),
            "seconds": time.perf_counter() - t0, **info}


def summarize(curves: list[np.ndarray], points: int = 20) -> dict:
    """Median, IQR, min and max of best-so-far curves at ``points`` evaluation counts."""
    length = min(len(c) for c in curves)
    at = sorted({max(1, round(length * (i + 1) / points)) for i in range(points)})
    m = np.stack([np.asarray(c[:length], np.float64) for c in curves])[:, np.asarray(at) - 1]
    q = np.percentile(m, [0, 25, 50, 75, 100], axis=0)
    return {"evaluations": at, "min": q[0].tolist(), "q25": q[1].tolist(), "median": q[2].tolist(),
            "q75": q[3].tolist(), "max": q[4].tolist()}


def finals(runs: list[dict], ref: float | None) -> dict:
    b = np.array([r["best"] for r in runs])
    out = {"best_per_seed": b.tolist(), "median": float(np.median(b)), "min": float(b.min()), "max": float(b.max()),
           "wall_s_median": float(np.median([r["wall_s"] for r in runs]))}
    if ref is not None and math.isfinite(ref):
        gap = 100.0 * (b - ref) / abs(ref)
        out.update(gap_pct_median=float(np.median(gap)), gap_pct_max=float(gap.max()),
                   hit_optimum=int(np.sum(np.abs(b - ref) <= 1e-9 * abs(ref))))
    return out


def compare(methods: dict[str, list[dict]], ref: float | None) -> dict:
    """Per-method final figures and curves, plus GEO-vs-SA seed-by-seed wins."""
    out = {m: {**finals(runs, ref), "curve": summarize([r["curve"] for r in runs])} for m, runs in methods.items()}
    geo_b = [r["best"] for r in methods["geo-symmetric-mps"]]
    sa_b = [r["best"] for r in methods["sa-swap"]]
    tol = 1e-12
    out["geo_vs_sa"] = {"geo_lower": int(sum(g < s - tol for g, s in zip(geo_b, sa_b))),
                        "tie": int(sum(abs(g - s) <= tol for g, s in zip(geo_b, sa_b))),
                        "sa_lower": int(sum(s < g - tol for g, s in zip(geo_b, sa_b))), "seeds": len(geo_b)}
    return out


def budget_case(problem: Any, kinds: tuple[str, ...], budget: int, cfg: dict, time_limit: float,
                steps: dict | None = None, settings_key: str = "geo") -> dict:
    """Every method at ``budget`` evaluations over the seeds, against the exact reference."""
    ex = exact(problem, time_limit)
    ref = ex.get("best_cost") if ex.get("available") else None
    methods: dict[str, list[dict]] = {f"geo-{k}": [] for k in kinds}
    methods.update({"sa-swap": [], "random": []})
    run_baseline("sa-swap", problem, budget, seed=12345, **SA_OPTIONS)  # compile apart
    for seed in range(100, 100 + cfg["seeds"]):
        for k in kinds:
            methods[f"geo-{k}"].append(run_geo(problem, k, budget, seed, cfg,
                                               train_steps=(steps or {}).get(k), settings_key=settings_key))
        methods["sa-swap"].append(run_sa(problem, budget, seed))
        methods["random"].append(run_random(problem, budget, seed))
    res = compare(methods, ref)
    if ref is not None and not ex.get("optimal"):
        best_found = min(min(r["best"] for r in runs) for runs in methods.values())
        ex["best_found_by_any_method"] = best_found
    res["exact"] = ex
    res["problem"] = problem.describe()
    res["geo_rounds_seed0"] = {m: runs[0]["rounds"] for m, runs in methods.items() if m.startswith("geo-")}
    return res


def section_budget(cfg: dict) -> dict:
    out: dict[str, Any] = {"cases": []}
    for name in cfg["instances"]:
        inst = instance(name)
        for q in cfg["qs"]:
            t0 = time.perf_counter()
            case = budget_case(inst.binary(cfg["k"], q), ("symmetric-mps",), cfg["budget"], cfg,
                               cfg["exact_time_limit"])
            case.update(instance=name, q=q, seconds=time.perf_counter() - t0)
            out["cases"].append(case)
            log(f"budget {name} q={q}: geo {case['geo-symmetric-mps']['median']:.6g} sa {case['sa-swap']['median']:.6g}"
                f" rnd {case['random']['median']:.6g} exact {case['exact'].get('best_cost')} "
                f"({case['seconds']:.0f} s)")
    if cfg["synthetic"]:
        t0 = time.perf_counter()
        case = budget_case(instance("synthetic500").binary(50, cfg["synthetic_q"]), ("symmetric-mps",),
                           cfg["budget"], cfg, cfg["synthetic_time_limit"])
        case.update(instance="synthetic500", q=cfg["synthetic_q"], seconds=time.perf_counter() - t0)
        out["cases"].append(case)
        log(f"budget synthetic500: geo {case['geo-symmetric-mps']['median']:.6g} sa {case['sa-swap']['median']:.6g}")
    t0 = time.perf_counter()
    gens = budget_case(instance(cfg["gen_instance"]).binary(cfg["gen_k"], 1.0), ("symmetric-mps", "mps", "qcbm"),
                       cfg["gen_budget"], cfg, cfg["exact_time_limit"], steps={"qcbm": cfg["gen_qcbm_steps"]},
                       settings_key="small_geo")
    gens.update(instance=cfg["gen_instance"], q=1.0, seconds=time.perf_counter() - t0,
                qcbm={"layers": cfg["gen_qcbm_layers"], "train_steps": cfg["gen_qcbm_steps"]})
    out["generators"] = gens
    log("generators: " + ", ".join(f"{m} {gens[m]['median']:.6g}" for m in gens if isinstance(gens[m], dict)
                                    and "median" in gens[m]))
    return out


def host_swap_sa(problem: Any, budget: int, seed: int, chains: int = 8, calibration: int = 32) -> dict:
    """Swap-move annealing with the cost evaluated on the host in batches of ``chains`` (for
    costs ``sa-swap`` cannot jit, e.g. the Chang QP): the same accounting as ``sa-swap``."""
    rng = np.random.default_rng(seed)
    n, k = problem.num_bits, problem.k

    def rand(m: int) -> np.ndarray:
        x = np.zeros((m, n), np.uint8)
        np.put_along_axis(x, np.argsort(rng.random((m, n)), axis=1)[:, :k], 1, axis=1)
        return x

    def swap(x: np.ndarray) -> np.ndarray:
        y = x.copy()
        for row in y:
            on, off = np.flatnonzero(row), np.flatnonzero(row == 0)
            row[rng.choice(on)], row[rng.choice(off)] = 0, 1
        return y

    m = max(calibration, chains)
    x = rand(m)
    y = swap(x)
    cx, cy = problem.cost(x), problem.cost(y)
    t0, t1 = swap_temperatures(cy - cx)
    costs = [cx, cy]
    bits_all = [x, y]
    state, cost = x[:chains].copy(), cx[:chains].copy()
    steps = (budget - 2 * m) // chains
    for t in np.geomspace(t0, t1, max(steps, 1))[:steps]:
        prop = swap(state)
        cp = problem.cost(prop)
        acc = rng.random(chains) < np.exp(-np.maximum(cp - cost, 0.0) / t)
        state[acc], cost[acc] = prop[acc], cp[acc]
        costs.append(cp)
        bits_all.append(prop)
    c = np.concatenate(costs)
    b = np.concatenate(bits_all)
    return {"best": float(c.min()), "best_bits": b[int(np.argmin(c))], "curve": np.minimum.accumulate(c)}


def frontier_of(inst: Any, lams: np.ndarray, bests: list[np.ndarray], K: int) -> tuple[np.ndarray, np.ndarray]:
    v, r = [], []
    for lam, bits in zip(lams, bests):
        vv, rr = inst.chang(K, float(lam)).risk_return(np.asarray(bits, np.uint8)[None])
        v.append(float(vv[0]))
        r.append(float(rr[0]))
    return np.array(v), np.array(r)


def chang_instance(name: str, cfg: dict) -> dict:
    """GEO, host swap-SA and random over the lambda grid on one instance; the three measures."""
    inst = instance(name)
    fr, fv = load_frontier(name, DATA)
    lams = np.linspace(0.0, 1.0, cfg["chang_lambdas"])
    bests: dict[str, list[np.ndarray]] = {"geo-symmetric-mps": [], "sa-swap-host": [], "random": []}
    costs: dict[str, list[float]] = {m: [] for m in bests}
    secs = {m: 0.0 for m in bests}
    B = cfg["chang_budget"]
    for lam in lams:
        p = inst.chang(10, float(lam))
        t0 = time.perf_counter()
        g = geo(p, make_model("symmetric-mps", p.num_bits, 10, cfg), B, key=jax.random.key(7),
                settings=GeoSettings(**cfg["small_geo"]), progress=False)
        secs["geo-symmetric-mps"] += time.perf_counter() - t0
        bests["geo-symmetric-mps"].append(g.best_bits)
        costs["geo-symmetric-mps"].append(float(g.best_cost))
        t0 = time.perf_counter()
        s = host_swap_sa(p, B, seed=7)
        secs["sa-swap-host"] += time.perf_counter() - t0
        bests["sa-swap-host"].append(s["best_bits"])
        costs["sa-swap-host"].append(s["best"])
        t0 = time.perf_counter()
        r = run_baseline("random", p, B, seed=7)
        secs["random"] += time.perf_counter() - t0
        bests["random"].append(r.best_bits)
        costs["random"].append(float(r.best_cost))
    out: dict[str, Any] = {"lambdas": lams.tolist(), "budget_per_lambda": B}
    for m in bests:
        v, ret = frontier_of(inst, lams, bests[m], 10)
        out[m] = {**frontier_errors(v, ret, fr, fv), "costs": costs[m], "seconds": secs[m]}
    best_of = [min(zip((costs[m][i] for m in bests), (bests[m][i] for m in bests)), key=lambda t: t[0])[1]
               for i in range(len(lams))]
    v, ret = frontier_of(inst, lams, best_of, 10)
    out["best_of_all"] = frontier_errors(v, ret, fr, fv)
    wins = [int(costs["geo-symmetric-mps"][i] < costs["sa-swap-host"][i] - 1e-12) for i in range(len(lams))]
    ties = [int(abs(costs["geo-symmetric-mps"][i] - costs["sa-swap-host"][i]) <= 1e-12) for i in range(len(lams))]
    out["geo_lower_than_sa_lambdas"], out["geo_tie_sa_lambdas"] = int(sum(wins)), int(sum(ties))
    return out


def section_chang(cfg: dict) -> dict:
    out: dict[str, Any] = {"published_hangseng_k10_tswj2014_table5": PUBLISHED_HANGSENG, "instances": {}}
    for name in cfg["chang_instances"]:
        t0 = time.perf_counter()
        out["instances"][name] = res = chang_instance(name, cfg)
        res["seconds"] = time.perf_counter() - t0
        log(f"chang {name}: " + ", ".join(
            f"{m} {res[m]['mean_euclidean']:.4g}/{res[m]['variance_error_pct']:.3g}%/{res[m]['mean_return_error_pct']:.3g}%"
            for m in ("geo-symmetric-mps", "sa-swap-host", "random")) + f" ({res['seconds']:.0f} s)")
    return out


def section_booster(cfg: dict) -> dict:
    """SA B1 -> GEO +B2 vs SA (B1 + B2), same seed; q = 1 (k = 50 on the synthetic instance)."""
    b1, b2 = cfg["booster_b1"], cfg["booster_b2"]
    out: dict[str, Any] = {"b1": b1, "b2": b2, "instances": {}}
    for name in cfg["booster_instances"]:
        k = 50 if name.startswith("synthetic") else cfg["k"]
        p = instance(name).binary(k, 1.0)
        run_baseline("sa-swap", p, b1, seed=12345, **SA_OPTIONS)
        run_baseline("sa-swap", p, b1 + b2, seed=12345, **SA_OPTIONS)  # compile apart
        rows = []
        for seed in range(100, 100 + cfg["seeds"]):
            sa1 = run_baseline("sa-swap", p, b1, seed=seed, **SA_OPTIONS)
            g = run_geo(p, "symmetric-mps", b2, seed, cfg, seeds=sa1.seed_set(), settings_key="small_geo")
            sa2 = run_baseline("sa-swap", p, b1 + b2, seed=seed, **SA_OPTIONS)
            rows.append({"seed": seed, "sa_b1": float(sa1.best_cost), "geo_boosted": g["best"],
                         "sa_b1_plus_b2": float(sa2.best_cost), "geo_improved_on_seeds": g["best"] < sa1.best_cost})
        tol = 1e-12
        lower = sum(r["geo_boosted"] < r["sa_b1_plus_b2"] - tol for r in rows)
        tie = sum(abs(r["geo_boosted"] - r["sa_b1_plus_b2"]) <= tol for r in rows)
        out["instances"][name] = {"rows": rows, "geo_lower_fraction": lower / len(rows), "tie_fraction": tie / len(rows),
                                  "geo_improved_on_seeds_fraction": float(np.mean([r["geo_improved_on_seeds"]
                                                                                  for r in rows]))}
        log(f"booster {name}: GEO lower in {lower}/{len(rows)}, ties {tie}")
    return out


def section_loop(cfg: dict) -> dict:
    """Seconds per GEO round at N = 500, k = 50 against 10x the seconds of the same number of
    evaluations by each simulated annealer: ``sa-swap`` (JAX, vmapped chains, incremental
    swap moves: microseconds per evaluation) and ``sa-dwave`` (one read = 1,000 sweeps of
    single flips = one evaluation). Three settings are timed: ``geo`` (the budget runs'),
    ``loop_geo`` (large rounds, few warm-started steps), ``loop_large`` (rounds of 5,000),
    ``loop_large_short`` (the same, 6 steps on 128 rows) and ``loop_xl`` (rounds of 10,000).
    Each runs 4 rounds' worth of evaluations (the seed set and 3 rounds); its best cost is
    set beside sa-swap's at the same budget (one seed each), so that speed is not bought
    with quality unseen.
    The sampling kernel alone is timed too (``sample_kernel_s_per_string``): with training
    amortized over a round, sampling plus evaluation bound the ratio from below."""
    p = instance("synthetic500").binary(50, 1.0)
    budget = cfg["loop_budget"]
    run_baseline("sa-swap", p, budget, seed=12345, **SA_OPTIONS)  # compile apart
    secs = []
    for seed in (1, 2, 3):
        t0 = time.perf_counter()
        np.asarray(run_baseline("sa-swap", p, budget, seed=seed, **SA_OPTIONS).costs)
        secs.append(time.perf_counter() - t0)
    sa_per_eval = float(np.median(secs)) / budget
    reads = 8
    t0 = time.perf_counter()
    dw = run_baseline("sa-dwave", p, reads, seed=1)
    dwave_per_eval = (time.perf_counter() - t0) / reads
    out: dict[str, Any] = {"n": 500, "k": 50, "sa_swap_seconds_per_evaluation": sa_per_eval, "sa_budget_timed": budget,
                           "sa_swap_seconds_runs": secs, "sa_dwave_seconds_per_evaluation": dwave_per_eval,
                           "sa_dwave_reads_timed": reads, "sa_dwave_best_cost": float(dw.best_cost), "settings": {}}
    model = jqgen.mps.SymmetricMPSBornMachine(500, 50, chi_max=4)
    params = model.init(jax.random.key(0))
    for num in (1250, 5000):
        jax.block_until_ready(model.sample(params, jax.random.key(0), num))  # compile apart
        ts = []
        for i in range(1, 6):
            t0 = time.perf_counter()
            jax.block_until_ready(model.sample(params, jax.random.key(i), num))
            ts.append(time.perf_counter() - t0)
        out[f"sample_kernel_s_per_string_{num}"] = float(np.median(ts)) / num
    out["sample_kernel_ratio_to_sa_swap"] = out["sample_kernel_s_per_string_5000"] / sa_per_eval
    log(f"loop: sampling kernel {out['sample_kernel_s_per_string_5000'] * 1e6:.3g} us per string "
        f"({out['sample_kernel_ratio_to_sa_swap']:.2g}x an sa-swap evaluation)")
    for key in ("geo", "loop_geo", "loop_large", "loop_large_short", "loop_xl"):
        batch = cfg[key]["batch_size"]
        g = run_geo(p, "symmetric-mps", max(budget, 4 * batch), 0, cfg, settings_key=key)
        sa_best = run_sa(p, max(budget, 4 * batch), 0)["best"]
        rounds = g["rounds"]
        warm = rounds[1:] or rounds
        split = {k: float(np.median([r[k] for r in warm])) for k in ("train_s", "sample_s", "eval_s")}
        round_s = float(np.median([r["round_s"] for r in warm]))  # the whole round: journal writes too
        out["settings"][key] = {
            "geo_settings": cfg[key], "batch_size": batch, "round_split_median_s": split, "round_s_median": round_s,
            "rounds_timed": len(warm),
            "first_round": {k: rounds[0][k] for k in ("train_s", "sample_s", "eval_s")} if rounds else None,
            "best_cost": g["best"], "evaluations": g["evaluations"], "sa_swap_best_cost_same_budget": sa_best,
            "ratio_to_sa_swap": round_s / (batch * sa_per_eval), "holds_vs_sa_swap": bool(round_s < 10 * batch * sa_per_eval),
            "ratio_to_sa_dwave": round_s / (batch * dwave_per_eval),
            "holds_vs_sa_dwave": bool(round_s < 10 * batch * dwave_per_eval)}
        log(f"loop {key}: round {round_s:.3g} s for {batch}: {out['settings'][key]['ratio_to_sa_swap']:.0f}x sa-swap, "
            f"{out['settings'][key]['ratio_to_sa_dwave']:.3g}x sa-dwave")
    return out


def jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items() if k != "result"}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else str(float(x))
    if isinstance(x, (np.integer, np.bool_)):
        return x.item()
    return x


def _cell(m: dict, ref: float | None) -> str:
    """``median [min, max] (median - reference)``; the gap is absolute (a relative one is
    meaningless where the optimum is near 0, e.g. ftse89 at q = 16)."""
    txt = f"{m['median']:.6g} [{m['min']:.6g}, {m['max']:.6g}]"
    gap = m["median"] - ref if ref is not None else None
    return txt + (f" ({0.0 if abs(gap) < 1e-15 else gap:+.2e})" if gap is not None else "")


def report_budget(sec: dict) -> list[str]:
    lines = ["| instance | q | reference (SCIP) | GEO sym-MPS, median [min, max] (median - reference) | sa-swap | random | GEO < SA (seeds) |",
             "|---|---|---|---|---|---|---|"]
    for c in sec["cases"]:
        ex = c["exact"]
        ref = (f"{ex['best_cost']:.6g} ({'optimal' if ex.get('optimal') else 'bound ' + format(ex.get('bound'), '.4g')})"
               if ex.get("available") else "unavailable")
        w, r = c["geo_vs_sa"], ex.get("best_cost")
        lines.append(f"| {c['instance']} | {c['q']:g} | {ref} | {_cell(c['geo-symmetric-mps'], r)} | "
                     f"{_cell(c['sa-swap'], r)} | {_cell(c['random'], r)} | {w['geo_lower']}/{w['seeds']} "
                     f"(ties {w['tie']}) |")
    g = sec["generators"]
    lines += ["", f"Generators on {g['instance']}, k = {g['problem']['k']}, q = 1 (reference "
              f"{g['exact'].get('best_cost', float('nan')):.6g}):", "",
              "| method | median [min, max] (median - reference) | optimum hit (seeds) | median wall s |", "|---|---|---|---|"]
    for m in ("geo-symmetric-mps", "geo-mps", "geo-qcbm", "sa-swap", "random"):
        lines.append(f"| {m} | {_cell(g[m], g['exact'].get('best_cost'))} | {g[m].get('hit_optimum', '-')}/{len(g[m]['best_per_seed'])} | "
                     f"{g[m]['wall_s_median']:.2f} |")
    return lines


def report(path: str) -> str:
    """Markdown tables of a results JSON (for benchmarks/README.md)."""
    with open(path) as f:
        d = json.load(f)
    s = d["sections"]
    lines = report_budget(s["budget"]) if "budget" in s else []
    if "chang" in s:
        lines += ["", "| instance | method | mean Euclidean | sum Euclidean | variance of return error % | "
                  "mean return error % |", "|---|---|---|---|---|---|"]
        for name, r in s["chang"]["instances"].items():
            for m in ("geo-symmetric-mps", "sa-swap-host", "random", "best_of_all"):
                tot = r[m].get("sum_euclidean")
                lines.append(f"| {name} | {m} | {r[m]['mean_euclidean']:.3g} | "
                             f"{'-' if tot is None else format(tot, '.3g')} | {r[m]['variance_error_pct']:.4g} | "
                             f"{r[m]['mean_return_error_pct']:.4g} |")
        for m, (a, b, c) in PUBLISHED_HANGSENG.items():
            lines.append(f"| hangseng31 (TSWJ 2014) | {m} | {a} (as published) | | {b} | {c} |")
    if "booster" in s:
        b = s["booster"]
        lines += ["", f"| instance | GEO (SA {b['b1']} + GEO {b['b2']}) lower than SA {b['b1'] + b['b2']} | ties | "
                  "GEO improved on its seeds |", "|---|---|---|---|"]
        for name, r in b["instances"].items():
            lines.append(f"| {name} | {r['geo_lower_fraction']:.0%} | {r['tie_fraction']:.0%} | "
                         f"{r['geo_improved_on_seeds_fraction']:.0%} |")
    if "loop" in s:
        lp = s["loop"]
        lines += ["", f"sa-swap {lp['sa_swap_seconds_per_evaluation'] * 1e6:.3g} us per evaluation, sa-dwave "
                  f"{lp['sa_dwave_seconds_per_evaluation'] * 1e3:.3g} ms per read; a round must cost < 10x the same "
                  "number of sa-swap evaluations.", "",
                  "| settings | round size | steps on rows | train s | sample s | evaluate s | whole round s | "
                  "x sa-swap | holds | x sa-dwave | GEO best | sa-swap best, same budget |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for key, st in lp.get("settings", {}).items():
            sp, g = st["round_split_median_s"], st["geo_settings"]
            sa_best = st.get("sa_swap_best_cost_same_budget")
            lines.append(f"| `{key}` | {st['batch_size']} | {g['train_steps']} on {g['train_size']} | {sp['train_s']:.3g} | "
                         f"{sp['sample_s']:.3g} | {sp['eval_s']:.3g} | {st['round_s_median']:.3g} | "
                         f"{st['ratio_to_sa_swap']:.1f} | {'yes' if st['holds_vs_sa_swap'] else 'no'} | "
                         f"{st['ratio_to_sa_dwave']:.2g} | {st['best_cost']:.6f} ({st['evaluations']}) | "
                         f"{'-' if sa_best is None else format(sa_best, '.6f')} |")
        if "sample_kernel_s_per_string_5000" in lp:
            lines += ["", f"Sampling kernel alone: {lp['sample_kernel_s_per_string_1250'] * 1e6:.3g} us per string "
                      f"(1,250 at once), {lp['sample_kernel_s_per_string_5000'] * 1e6:.3g} us (5,000): "
                      f"{lp['sample_kernel_ratio_to_sa_swap']:.2g}x an sa-swap evaluation."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run (~90 s)")
    ap.add_argument("--json", default=None, help="also write the JSON here")
    ap.add_argument("--sections", nargs="+", default=["budget", "chang", "booster", "loop"],
                    choices=["budget", "chang", "booster", "loop"])
    ap.add_argument("--report", default=None, metavar="JSON", help="print markdown tables of a results JSON")
    ap.add_argument("--merge", action="store_true",
                    help="keep the other sections of an existing --json file (run sections in separate processes)")
    args = ap.parse_args(argv)
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid> prints the stacks of a hung run
    if args.report:
        print(report(args.report))
        return 0
    cfg = QUICK if args.quick else FULL
    out: dict[str, Any] = {"benchmark": "geo_bench", "environment": environment(), "quick": args.quick,
                           "config": cfg, "sa_options": SA_OPTIONS, "sections": {}}
    if args.merge and args.json and os.path.exists(args.json):
        with open(args.json) as f:
            old = json.load(f)
        out["sections"] = old.get("sections", {})
        for sec in out["sections"].values():  # sections of earlier runs keep the settings they ran with
            sec.setdefault("config", old.get("config"))
            sec.setdefault("environment", old.get("environment"))
        out["earlier_environments"] = old.get("earlier_environments", []) + [old.get("environment")]
    fns = {"budget": section_budget, "chang": section_chang, "booster": section_booster, "loop": section_loop}
    for name in args.sections:
        t0, other = time.perf_counter(), OtherCPU().start()
        res = fns[name](cfg)
        res.update(config=cfg, environment=out["environment"], section_seconds=time.perf_counter() - t0, other_processes_cpu_s=other.stop(),
                   finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        out["sections"][name] = res
        log(f"section {name} done in {time.perf_counter() - t0:.0f} s")
        write_text(args.json, json.dumps(jsonable(out), indent=1))  # after every section
    out["total_seconds"] = sum(float(s.get("section_seconds", 0.0)) for s in out["sections"].values())
    text = json.dumps(jsonable(out), indent=1)
    write_text(args.json, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
