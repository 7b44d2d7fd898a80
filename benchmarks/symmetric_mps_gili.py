"""U(1)-symmetric MPS vs unconstrained MPS on the cardinality data of Gili et al. (issue 14).

Measures, on the default JAX device (float32), how a Born machine that can only produce
strings of weight k (:class:`jqgen.mps.SymmetricMPSBornMachine`, ``target = k``) generalizes
compared with an unconstrained :class:`jqgen.MPSBornMachine` of about the same number of
active parameters, on the data of Gili et al. (arXiv:2207.13645): n = 12, k = 6 (|S| = 924),
a fraction eps in {0.05, 0.1, 0.3} of S for training (:func:`jqgen.cardinality_dataset`),
and the cost-weighted variant (:func:`jqgen.cardinality_cost_dataset`, the best 10% of S
never in training).

Parameters: the symmetric model's ``model.layout.num_params`` (active block entries) and the
unconstrained model's active entries ``sum_i D_i 2 D_{i+1}`` with ``D = jqgen.mps.bond_dims``
(gauge redundancy included in both). The default pairs (symmetric chi_max, unconstrained chi)
are (3, 5): 428 vs 420 and (6, 9): 1096 vs 1104 parameters (``--pairs 1:2`` adds 84 vs 88).
The symmetric model's total bond dimension (the sum over its charge sectors) is larger than
the unconstrained one's at equal parameters: 17 vs 5 and 32 vs 9 in the middle of the chain.

Both are trained by ``jqgen.fit`` (mean NLL of the training set, full batch, Adam, the same
steps and learning rate as ``benchmarks/reproduce_gili.py``), from ``jax.random.key(seed)``;
then Q = 10,000 samples are scored by :func:`jqgen.metrics.generalization_metrics` (fidelity
F, rate R, normalized rate R~, coverage C, normalized coverage C~, exploration E; with the
cost: minimum value MV, utility U, quality coverage C_q). The exact mass each model puts on S
and on the unseen part of S (``log_prob`` of the 924 members) and a generator uniform on S
are reported alongside. Timing: a 50-step warm-up ``fit`` per (model, data shape) holds the
compilation; ``train_s`` is the compiled run alone.

Sweep rows (``symmetric_sweep``, when ``jqgen.sweep_train`` takes ``target=``): the same data
trained by U(1) block two-site sweeps, ``max_bond`` = the symmetric model's largest total
bond dimension (17 for the 3:5 pair), 4 loops, lr 0.05, full batch, on the cardinality data
(``--sweep-kinds cardinality cost`` adds the cost data: slower, as every cost data set has its
own size and compiles anew); their parameter count is that of the bond dimensions the sweeps
end with (reported per row; it is not matched).

Usage::

    python benchmarks/symmetric_mps_gili.py                 # full run (~4-5 min on 2 cores)
    python benchmarks/symmetric_mps_gili.py --json benchmarks/results/symmetric_mps_gili_cpu.json
    python benchmarks/symmetric_mps_gili.py --quick         # smoke test, < 1 min

The JSON goes to stdout (and to ``--json PATH``); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import sys
import time

import jax
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _env  # noqa: E402

import jqgen  # noqa: E402
from jqgen.metrics import generalization_metrics, pack_bits  # noqa: E402
from jqgen.mps import SymmetricMPSBornMachine, bond_dims  # noqa: E402
from jqgen.training import NonFiniteLossError  # noqa: E402

N, K = 12, 6
KINDS = ("cardinality", "cost")
COST_KW = {"exclude_best": 0.1, "temperature": 1.0, "max_repeat": 10}
CARD_METRICS = ("exploration", "fidelity", "rate", "normalized_rate", "coverage", "normalized_coverage")
COST_METRICS = CARD_METRICS + ("min_value", "utility", "quality_coverage", "train_min_cost")
#: For each metric, +1 when larger is better, -1 when smaller is better (MV and U are costs).
BETTER = {"rate": 1, "normalized_rate": 1, "coverage": 1, "normalized_coverage": 1, "fidelity": 1,
          "quality_coverage": 1, "min_value": -1, "utility": -1}
FAMILIES = ("symmetric", "unconstrained", "symmetric_sweep")
FULL = {"pairs": [(3, 5), (6, 9)], "eps": [0.05, 0.1, 0.3], "seeds": 3, "steps": 1000}
QUICK = {"pairs": [(3, 5)], "eps": [0.1], "seeds": 2, "steps": 200}
WARMUP_STEPS = 50  # = fit's default chunk_size: the warm-up compiles the same chunk program


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def mps_num_params(chi: int) -> int:
    """Active entries of an unconstrained n = 12 MPS of bond dimension ``chi``."""
    d = bond_dims(N, chi)
    return int(sum(int(d[i]) * 2 * int(d[i + 1]) for i in range(N)))


def make_model(family: str, chi: int):
    """``(model, active parameters)`` of one family at block size / bond dimension ``chi``."""
    if family == "symmetric":
        model = SymmetricMPSBornMachine(N, K, chi)
        return model, int(model.layout.num_params)
    return jqgen.MPSBornMachine(N, chi), mps_num_params(chi)


def build_data(eps_list: list[float], seeds: list[int]) -> list[dict]:
    """Data sets: kind (cardinality, cost) x eps x seed; the seed sets the split (and the cost)."""
    out = []
    for kind in KINDS:
        for e in eps_list:
            for s in seeds:
                ds = (jqgen.cardinality_dataset(N, K, e, s) if kind == "cardinality"
                      else jqgen.cardinality_cost_dataset(N, K, e, s, **COST_KW))
                out.append({"kind": kind, "eps": e, "seed": s, "ds": ds})
    return out


def score(samples: np.ndarray, d: dict) -> dict:
    """:func:`jqgen.metrics.generalization_metrics`, with the data set's cost on cost data."""
    ds = d["ds"]
    cost = ds.cost if d["kind"] == "cost" else None
    return generalization_metrics(samples, ds.data, ds.space, cost=cost)


def train(model, d: dict, args) -> dict:
    """Warm-up ``fit`` (compile), then the timed ``fit``; a non-finite loss keeps the last good params."""
    data = d["ds"].data
    init = model.init(jax.random.key(d["seed"]))
    opt = optax.adam(args.lr)
    t0 = time.perf_counter()
    try:
        w = jqgen.fit(model, init, data, opt, key=jax.random.key(1), steps=WARMUP_STEPS, progress=False)
        jax.block_until_ready(w.params)
    except NonFiniteLossError:
        pass
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    bad = None
    try:
        res = jqgen.fit(model, init, data, opt, key=jax.random.key(1), steps=args.steps, progress=False)
        params, hist = res.params, np.asarray(res.history)
    except NonFiniteLossError as err:
        params, hist, bad = err.params, np.asarray(err.history), int(err.step)
    jax.block_until_ready(params)
    train_s = time.perf_counter() - t0
    good = hist if bad is None else hist[:-1]  # the bad step's loss is the last entry
    return {"params": params, "final_loss": float(good[-1]) if len(good) else float("nan"),
            "non_finite_step": bad, "warmup_s_incl_compile": warm, "train_s": train_s,
            "compile_s_est": max(0.0, warm - train_s * WARMUP_STEPS / args.steps)}


def sweep_available() -> bool:
    """Whether ``jqgen.sweep_train`` takes ``target=`` (the U(1) block sweeps)."""
    fn = getattr(jqgen, "sweep_train", None)
    return fn is not None and "target" in inspect.signature(fn).parameters


def block_num_params(dims: np.ndarray) -> int:
    """Active entries of a cardinality block MPS with block sizes ``dims [n + 1, Q]``."""
    d = np.asarray(dims, np.int64)
    return int(sum(d[k, q] * d[k + 1, q + x] for k in range(d.shape[0] - 1) for x in (0, 1)
                   for q in range(d.shape[1] - x)))


def sweep(d: dict, max_bond: int, args) -> tuple:
    """``jqgen.sweep_train(..., target=K)`` (block two-site sweeps): ``(model, params, record)``."""
    t0 = time.perf_counter()
    res = jqgen.sweep_train(d["ds"].data, max_bond=max_bond, loops=args.sweep_loops, key=jax.random.key(d["seed"]),
                            lr=args.sweep_lr, num_batches=1, progress=False, target=K)
    jax.block_until_ready(res.mps)
    wall = time.perf_counter() - t0
    secs = [float(x) for x in res.history["seconds"]]
    rec = {"final_loss": float(res.history["train_nll"][-1]), "non_finite_step": None,
           "num_params": block_num_params(res.bond_dims), "bond_dims": np.asarray(res.bond_dims).sum(axis=1).tolist(),
           "train_s": wall, "loop_seconds": secs, "status": res.status}
    return res.model, res.mps, rec


def evaluate(model, params, d: dict, members: np.ndarray, args, i: int) -> dict:
    """Q samples (timed apart from their first, compiling call), metrics, exact masses on S."""
    key = jax.random.fold_in(jax.random.key(10_000 + d["seed"]), i)
    t0 = time.perf_counter()
    samples = np.asarray(jax.block_until_ready(model.sample(params, key, args.samples)))
    sample_s = time.perf_counter() - t0
    m = score(samples, d)
    lp = np.asarray(model.log_prob(params, members), np.float64)
    p = np.exp(lp)
    unseen = ~np.isin(pack_bits(members), pack_bits(d["ds"].data))
    weights = np.asarray(samples, np.int64).sum(axis=1)
    return {"metrics": m, "sample_s": sample_s, "mass_on_S": float(p.sum()),
            "mass_on_unseen_S": float(p[unseen].sum()), "all_samples_weight_k": bool(np.all(weights == K)),
            "log_prob_finite_on_S": bool(np.all(np.isfinite(lp)))}


def uniform_baseline(data: list[dict], members: np.ndarray, q: int) -> list[dict]:
    """Q samples uniform on S (the papers' perfect generator), scored the same way."""
    out = []
    for i, d in enumerate(data):
        rng = np.random.default_rng(20_000 + i)
        out.append(score(members[rng.integers(0, len(members), q)], d))
    return out


def stats(values) -> dict:
    """Mean, sample std (ddof 1), min, max and the values, over finite entries."""
    a = np.asarray([np.nan if v is None else v for v in values], np.float64)
    ok = a[np.isfinite(a)]
    return {"mean": float(ok.mean()) if ok.size else None,
            "std": float(ok.std(ddof=1)) if ok.size > 1 else (0.0 if ok.size else None),
            "min": float(ok.min()) if ok.size else None, "max": float(ok.max()) if ok.size else None,
            "per_seed": [float(v) if np.isfinite(v) else None for v in a]}


def run_all(data: list[dict], members: np.ndarray, args) -> list[dict]:
    """Every (pair, family, data set) run, as flat records."""
    runs = []
    for sym_chi, mps_chi in args.pairs:
        max_bond = int(SymmetricMPSBornMachine(N, K, sym_chi).layout.bond_dims.max())
        if args.sweep and (sym_chi, mps_chi) in args.sweep_pairs:
            t_fam = time.perf_counter()
            for i, d in enumerate(data):
                if d["kind"] not in args.sweep_kinds:
                    continue
                model, params, rec = sweep(d, max_bond, args)
                ev = evaluate(model, params, d, members, args, i)
                runs.append({"pair": [sym_chi, mps_chi], "family": "symmetric_sweep", "chi": max_bond,
                             "kind": d["kind"], "eps": d["eps"], "seed": d["seed"],
                             "train_rows": int(d["ds"].data.shape[0]), **rec, **ev})
            n_sw = sum(d["kind"] in args.sweep_kinds for d in data)
            log(f"symmetric sweep max_bond={max_bond}: {n_sw} runs in {time.perf_counter() - t_fam:.1f} s")
        for family, chi in (("symmetric", sym_chi), ("unconstrained", mps_chi)):
            model, num_params = make_model(family, chi)
            t_fam = time.perf_counter()
            for i, d in enumerate(data):
                tr = train(model, d, args)
                ev = evaluate(model, tr.pop("params"), d, members, args, i)
                runs.append({"pair": [sym_chi, mps_chi], "family": family, "chi": chi, "num_params": num_params,
                             "kind": d["kind"], "eps": d["eps"], "seed": d["seed"],
                             "train_rows": int(d["ds"].data.shape[0]), **tr, **ev})
            fam_runs = [r for r in runs if r["family"] == family and r["chi"] == chi]
            log(f"{family} chi={chi} ({num_params} params): {len(data)} runs in {time.perf_counter() - t_fam:.1f} s; "
                f"mean R~ {np.mean([r['metrics']['normalized_rate'] for r in fam_runs]):.3f}, "
                f"mean C~ {np.mean([r['metrics']['normalized_coverage'] for r in fam_runs]):.3f}, "
                f"mean F {np.mean([r['metrics']['fidelity'] for r in fam_runs]):.3f}")
    return runs


def summarize(runs: list[dict], data: list[dict], baseline: list[dict], args) -> list[dict]:
    """One row per (pair, kind, eps): both families' mean/std over seeds and the differences."""
    rows = []
    for pair in args.pairs:
        for kind in KINDS:
            names = CARD_METRICS if kind == "cardinality" else COST_METRICS
            for e in args.eps:
                sel = {f: sorted((r for r in runs if r["pair"] == list(pair) and r["family"] == f
                                  and r["kind"] == kind and r["eps"] == e), key=lambda r: r["seed"])
                       for f in FAMILIES}
                sel = {f: rs for f, rs in sel.items() if rs}
                uni = [b for b, d in zip(baseline, data) if d["kind"] == kind and d["eps"] == e]
                row = {"pair": {"symmetric_chi_max": pair[0], "unconstrained_chi": pair[1],
                                "symmetric_params": sel["symmetric"][0]["num_params"],
                                "unconstrained_params": sel["unconstrained"][0]["num_params"]},
                       "data": kind, "eps": e, "seeds": [r["seed"] for r in sel["symmetric"]]}
                for f, rs in sel.items():
                    row[f] = {"metrics": {k: stats([r["metrics"][k] for r in rs]) for k in names},
                              "mass_on_S": stats([r["mass_on_S"] for r in rs]),
                              "mass_on_unseen_S": stats([r["mass_on_unseen_S"] for r in rs]),
                              "final_nll": stats([r["final_loss"] for r in rs]),
                              "num_params": stats([r["num_params"] for r in rs])}
                row["uniform_on_S"] = {k: stats([u[k] for u in uni]) for k in names}
                for f in [f for f in sel if f != "unconstrained"]:
                    row[f"{f}_minus_unconstrained"] = diffs(sel[f], sel["unconstrained"], names)
                rows.append(row)
    return rows


def diffs(a: list[dict], b: list[dict], names) -> dict:
    """Per metric, seed by seed ``a - b`` and in how many seeds ``a`` is better."""
    out = {}
    for k in names:
        if k not in BETTER:
            continue
        diff = [x["metrics"][k] - y["metrics"][k] for x, y in zip(a, b)]
        wins = sum(1 for x in diff if np.isfinite(x) and BETTER[k] * x > 0)
        out[k] = {**stats(diff), "symmetric_better_seeds": wins, "of": len(diff)}
    return out


def findings(runs: list[dict], rows: list[dict]) -> dict:
    """What holds: F = 1 exactly, all samples valid, and where R, C (cost: MV, U, C_q) are better."""
    sym = [r for r in runs if r["family"].startswith("symmetric")]
    unc = [r for r in runs if r["family"] == "unconstrained"]
    out = {"symmetric_fidelity_exactly_1_all_runs": all(r["metrics"]["fidelity"] == 1.0 for r in sym),
           "symmetric_all_samples_weight_k": all(r["all_samples_weight_k"] for r in sym),
           "symmetric_mass_on_S_range": [min(r["mass_on_S"] for r in sym), max(r["mass_on_S"] for r in sym)],
           "unconstrained_fidelity_range": [min(r["metrics"]["fidelity"] for r in unc),
                                            max(r["metrics"]["fidelity"] for r in unc)],
           "unconstrained_mass_on_S_range": [min(r["mass_on_S"] for r in unc), max(r["mass_on_S"] for r in unc)],
           "log_prob_finite_on_all_of_S": {f: f"{sum(r['log_prob_finite_on_S'] for r in runs if r['family'] == f)}/"
                                               f"{sum(r['family'] == f for r in runs)} runs" for f in FAMILIES
                                           if any(r["family"] == f for r in runs)},
           "non_finite_runs": [{k: r[k] for k in ("family", "chi", "kind", "eps", "seed", "non_finite_step")}
                               for r in runs if r["non_finite_step"] is not None]}
    for fam in ("symmetric", "symmetric_sweep"):
        col = f"{fam}_minus_unconstrained"
        for k in ("rate", "normalized_rate", "coverage", "normalized_coverage", "min_value", "utility",
                  "quality_coverage"):
            cells = [r for r in rows if k in r.get(col, {})]
            if not cells:
                continue
            better = [r for r in cells if r[col][k]["mean"] is not None and BETTER[k] * r[col][k]["mean"] > 0]
            out[f"{fam} vs unconstrained, {k}: better on the mean (cells of pair x data x eps)"] = \
                f"{len(better)}/{len(cells)}"
            out[f"{fam} vs unconstrained, {k}: cells better in every seed"] = [
                f"chi {r['pair']['symmetric_chi_max']}/{r['pair']['unconstrained_chi']} {r['data']} eps {r['eps']}"
                for r in cells if r[col][k]["symmetric_better_seeds"] == r[col][k]["of"]]
    return out


def timing(runs: list[dict]) -> list[dict]:
    """Per model: compile (warm-up) and run seconds summed over its data sets."""
    out = []
    for key in sorted({(r["family"], r["chi"]) for r in runs}):
        rs = [r for r in runs if (r["family"], r["chi"]) == key]
        t = {"family": key[0], "chi": key[1], "runs": len(rs), "train_s_total": sum(r["train_s"] for r in rs),
             "train_s_median": float(np.median([r["train_s"] for r in rs])),
             "sample_s_first_call_incl_compile": rs[0]["sample_s"],
             "sample_s_median_later": float(np.median([r["sample_s"] for r in rs[1:]])) if len(rs) > 1 else None}
        if key[0] == "symmetric_sweep":  # sweep_train compiles inside its first loops: no separate warm-up
            t["train_s_note"] = "wall time of sweep_train including its compilation (loop_seconds per run)"
        else:
            t["warmup_s_incl_compile_total"] = sum(r["warmup_s_incl_compile"] for r in rs)
            t["compile_s_est_total"] = sum(r["compile_s_est"] for r in rs)
        out.append(t)
    return out


def sweep_status(args) -> str:
    """Whether the U(1) two-site sweep rows were run (``jqgen.sweep_train(..., target=k)``)."""
    if not sweep_available():
        return "skipped: jqgen.sweep_train has no target parameter (the U(1) sweep trainer is not in this version)"
    if not args.sweep:
        return "skipped: --no-sweep"
    return (f"run for pairs {args.sweep_pairs}, data {args.sweep_kinds}: sweep_train(data, max_bond = the symmetric model's largest total "
            f"bond dimension, loops={args.sweep_loops}, lr={args.sweep_lr}, num_batches=1, descent_steps=10, "
            f"cutoff 1e-7, key=jax.random.key(seed), target={K}); its parameter count is that of the bond "
            "dimensions it ends with (num_params per row)")


def clean(x):
    """JSON-safe copy: numpy scalars to Python, non-finite floats to None."""
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return clean(x.tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 pair (3:5), eps 0.1, 2 seeds, 200 steps (< 1 min)")
    ap.add_argument("--json", metavar="PATH", default=None, help="also write the JSON here")
    ap.add_argument("--seeds", type=int, default=None, help="seeds 0..seeds-1 (default 3; quick 2)")
    ap.add_argument("--steps", type=int, default=None, help="Adam steps per model (default 1000; quick 200)")
    ap.add_argument("--lr", type=float, default=0.05, help="Adam learning rate (reproduce_gili.py's)")
    ap.add_argument("--eps", type=float, nargs="+", default=None, help="training fractions (default 0.05 0.1 0.3)")
    ap.add_argument("--pairs", nargs="+", default=None,
                    help="SYM:UNC block size / bond dimension pairs (default 3:5 6:9; quick 3:5; 1:2 is 84 vs 88)")
    ap.add_argument("--samples", type=int, default=10_000, help="Q, samples per model")
    ap.add_argument("--no-sweep", dest="sweep", action="store_false", help="skip the sweep_train(target=k) rows")
    ap.add_argument("--sweep-pairs", nargs="+", default=["3:5"], help="pairs that get a sweep row (default 3:5)")
    ap.add_argument("--sweep-kinds", nargs="+", default=["cardinality"], choices=KINDS,
                    help="data kinds that get sweep rows (default cardinality: each cost data set has its own "
                         "size, and sweep_train compiles anew for each)")
    ap.add_argument("--sweep-loops", type=int, default=4, help="sweep_train loops (default 4)")
    ap.add_argument("--sweep-lr", type=float, default=0.05, help="sweep_train learning rate (default 0.05)")
    args = ap.parse_args(argv)
    base = QUICK if args.quick else FULL
    args.seeds = args.seeds or base["seeds"]
    args.steps = args.steps or base["steps"]
    args.eps = args.eps or base["eps"]
    args.pairs = [tuple(int(v) for v in p.split(":")) for p in args.pairs] if args.pairs else base["pairs"]
    args.sweep_pairs = [tuple(int(v) for v in p.split(":")) for p in args.sweep_pairs]
    args.sweep = args.sweep and sweep_available()
    if args.steps < WARMUP_STEPS:
        ap.error(f"--steps must be >= {WARMUP_STEPS}")
    return args


def main(argv=None) -> None:
    args = parse(argv)
    t_start = time.perf_counter()
    env = _env.environment()
    other = _env.OtherCPU().start()
    seeds = list(range(args.seeds))
    data = build_data(args.eps, seeds)
    members = jqgen.Cardinality(N, K).enumerate()
    log(f"{len(data)} data sets x {2 * len(args.pairs)} models (pairs {args.pairs}), {args.steps} Adam steps "
        f"(lr {args.lr}), Q = {args.samples}")
    runs = run_all(data, members, args)
    baseline = uniform_baseline(data, members, args.samples)
    rows = summarize(runs, data, baseline, args)
    out = {
        "benchmark": "U(1)-symmetric MPS vs unconstrained MPS at about equal active parameters, cardinality data "
                     "of Gili et al. (arXiv:2207.13645), issue 14",
        "command": " ".join(["python", "benchmarks/symmetric_mps_gili.py"] + (sys.argv[1:] if argv is None else argv)),
        "quick": args.quick,
        "settings": {"n": N, "k": K, "space_size": math.comb(N, K), "eps": args.eps, "seeds": seeds,
                     "samples_Q": args.samples, "steps": args.steps, "warmup_steps": WARMUP_STEPS,
                     "optimizer": f"optax.adam({args.lr}), full batch, jqgen.fit (mean NLL by autodiff)",
                     "symmetric": f"SymmetricMPSBornMachine({N}, {K}, chi_max), default init (uniform on S + noise 0.5)",
                     "unconstrained": f"MPSBornMachine({N}, chi), default init (uniform + noise 0.5)",
                     "num_params": "symmetric: model.layout.num_params; unconstrained: sum_i D_i*2*D_(i+1), "
                                   "D = jqgen.mps.bond_dims(12, chi); gauge redundancy counted in both",
                     "data": f"cardinality_dataset(12, 6, eps, seed); cardinality_cost_dataset(12, 6, eps, seed, **{COST_KW})",
                     "init_key": "jax.random.key(seed) for both families; fit key jax.random.key(1)",
                     "std": "sample std over seeds (ddof 1)",
                     "compile": f"compile_s_est = warm-up fit ({WARMUP_STEPS} steps, compiles) minus "
                                f"{WARMUP_STEPS}/steps of the compiled run"},
        "pairs": [{"symmetric_chi_max": a, "symmetric_params": make_model("symmetric", a)[1],
                   "symmetric_bond_dims": SymmetricMPSBornMachine(N, K, a).layout.bond_dims.tolist(),
                   "unconstrained_chi": b, "unconstrained_params": mps_num_params(b),
                   "unconstrained_bond_dims": [int(x) for x in bond_dims(N, b)]} for a, b in args.pairs],
        "findings": findings(runs, rows),
        "sweep_row": sweep_status(args),
        "rows": rows,
        "timing": timing(runs),
        "runs": [{k: v for k, v in r.items()} for r in runs],
        "wall_s": time.perf_counter() - t_start,
        "environment": env,
        "other_processes_cpu_s": other.stop(),
    }
    text = json.dumps(clean(out), indent=1)
    print(text)
    _env.write_text(args.json, text)
    if args.json:
        log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
