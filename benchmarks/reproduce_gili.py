"""Gili et al., "Do quantum circuit Born machines generalize?" (arXiv:2207.13645), on CPU.

A QCBM (the line-topology RXX hardware-efficient ansatz, :class:`jqgen.qcbm.HardwareEfficient`)
learns cardinality-constrained data, n = 12, k = 6 (|S| = 924), from a fraction eps of S, and
is scored from Q = 10,000 samples by the sample-based generalization metrics of
:mod:`jqgen.metrics`: exploration E, fidelity F, rate R, normalized rate R~, coverage C and
normalized coverage C~; on a re-weighted data set with a cost
(:func:`jqgen.cardinality_cost_dataset`), also the minimum value MV, utility U and quality
coverage C_q. An MPS Born machine (:class:`jqgen.MPSBornMachine`) of comparable parameter
count is run side by side on the same data sets.

Training: every (data set kind, eps, seed) model of one size is trained at once, ``vmap``-ed
inside one jitted ``lax.scan`` per chunk (one compilation per model size), full batch, Adam.
The QCBM minimizes the clipped ``KL(data || model)`` of its exact probabilities by autodiff
(``jqgen.distributions.distribution_loss("kl")``, what ``make_loss(model, "kl")`` computes), the MPS
the exact mean NLL of the training set (what ``jqgen.fit`` minimizes by default), written
as a frequency-weighted sum over the distinct training rows (padded to a common length with
weight 0) so that data sets of different sizes can share one vmapped program. Both are
checked against the jqgen functions at the start of the run. As in ``jqgen.fit``, a model
whose loss or gradient becomes non-finite keeps its last good parameters (reported).

Each model is sampled (Q samples) every ``--eval-every`` steps; the tables use the samples
after the last step, the trajectories go into the JSON. The paper's three qualitative
findings are checked programmatically (see ``findings`` in the JSON and the docstring of
:func:`findings`), and a uniform generator on S is reported as a reference.

    python benchmarks/reproduce_gili.py --json            # full run, ~5-10 min on 2 cores
    python benchmarks/reproduce_gili.py --quick           # smoke test, < 1 min
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _env  # noqa: E402

import jqgen  # noqa: E402
from jqgen.metrics import generalization_metrics, pack_bits  # noqa: E402
from jqgen.mps import bond_dims  # noqa: E402
from jqgen.distributions import distribution_loss, empirical_distribution  # noqa: E402
from jqgen.qcbm import QCBM, HardwareEfficient, make_loss  # noqa: E402

N, K = 12, 6
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KINDS = ("cardinality", "cost")
#: Metrics summarized per configuration (keys of jqgen.generalization_metrics).
CARD_METRICS = ("exploration", "fidelity", "rate", "normalized_rate", "coverage", "normalized_coverage")
COST_METRICS = CARD_METRICS + ("min_value", "utility", "quality_coverage", "train_min_cost", "num_better_distinct",
                               "better_rate", "better_share_of_sol")
SHORT = {"exploration": "E", "fidelity": "F", "rate": "R", "normalized_rate": "R~", "coverage": "C",
         "normalized_coverage": "C~", "min_value": "MV", "utility": "U", "quality_coverage": "C_q",
         "train_min_cost": "train min c", "num_better_distinct": "# better", "better_rate": "better rate",
         "better_share_of_sol": "better share of G_sol"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def mps_num_params(chi: int) -> int:
    """Active (unmasked) entries of an n = 12 MPS of bond dimension ``chi`` (gauge redundancy included)."""
    d = bond_dims(N, chi)
    return int(sum(d[i] * 2 * d[i + 1] for i in range(N)))


def build_data(eps_list, seeds, cost_kw):
    """Data sets in model order: kind (cardinality, cost) x eps x seed."""
    out = []
    for kind in KINDS:
        for e in eps_list:
            for s in seeds:
                if kind == "cardinality":
                    ds = jqgen.cardinality_dataset(N, K, e, s)
                else:
                    ds = jqgen.cardinality_cost_dataset(N, K, e, s, **cost_kw)
                out.append({"kind": kind, "eps": e, "seed": s, "ds": ds})
    return out


# --------------------------------------------------------------------------- training


def score(samples: np.ndarray, d: dict) -> dict:
    """``jqgen.generalization_metrics`` (with the cost on cost data), plus ``better_rate``.

    ``better_rate`` (computed here, not a jqgen metric) is the multiset counterpart of C_q:
    the fraction of all Q samples that are new, valid and cheaper than every training
    sample (C_q counts distinct ones). A uniform generator on S gets about |better| / |S| = 0.1
    (``exclude_best = 0.1``: the best tenth of S is never in training); more means the model
    puts more weight than uniform on the low-cost region it never saw. ``better_share_of_sol``
    is the same count over |G_sol| (quality of the valid new samples alone; uniform on S:
    |better| / |S \\ D|).
    """
    ds = d["ds"]
    if d["kind"] != "cost":
        return generalization_metrics(samples, ds.data, ds.space)
    m = generalization_metrics(samples, ds.data, ds.space, cost=ds.cost)
    new = ~np.isin(pack_bits(samples), pack_bits(ds.data))
    better = new & ds.space.contains(samples) & (ds.cost(samples) < m["train_min_cost"])
    m["better_rate"] = float(better.mean())
    m["better_share_of_sol"] = float(better.sum() / m["num_sol"]) if m["num_sol"] else float("nan")
    return m


def make_problem(family: str, size: int, data: list[dict], members: np.ndarray):
    """Model, per-model targets, and the loss ``(params, target) -> scalar`` of one family/size."""
    if family == "qcbm":
        model = QCBM(HardwareEfficient(N, size, "line"))
        kl = distribution_loss("kl")  # clipped KL(target || p), eps = 1e-8
        targets = jnp.stack([empirical_distribution(d["ds"].data, N) for d in data])  # [M, 4096]
        return model, targets, lambda p, t: kl(model.probs(p), t), model.ansatz.num_params
    model = jqgen.MPSBornMachine(N, size)
    # The distinct training rows of each model with their frequencies, padded to a common length
    # with copies of the first row at weight 0 (exactly the mean NLL of the data set). Padding
    # with other rows (e.g. all of S) would be wrong in float32: a row the model gives p = 0
    # by cancellation has log p = -inf, and 0 * -inf = NaN (seen with chi = 4).
    rows, weights = [], []
    for d in data:
        _, first, counts = np.unique(pack_bits(d["ds"].data), return_index=True, return_counts=True)
        rows.append(d["ds"].data[first])
        weights.append(counts / counts.sum())
    width = max(len(r) for r in rows)
    rows = np.stack([np.concatenate([r, np.repeat(r[:1], width - len(r), 0)]) for r in rows])
    weights = np.stack([np.concatenate([w, np.zeros(width - len(w))]) for w in weights]).astype(np.float32)
    targets = (jnp.asarray(rows), jnp.asarray(weights))  # [M, width, n], [M, width]
    return model, targets, lambda p, t: -jnp.sum(t[1] * model.log_prob(p, t[0])), mps_num_params(size)


def _tree_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


def check_losses(family: str, model, loss, targets, data: list[dict], params) -> dict:
    """The vmapped loss against jqgen's own: ``make_loss(model, "kl")`` / ``jqgen.mean_nll``."""
    p0 = jax.tree_util.tree_map(lambda x: x[0], params)
    t0 = jax.tree_util.tree_map(lambda x: x[0], targets)
    ours, g = jax.jit(jax.value_and_grad(loss))(p0, t0)
    ours = float(ours)
    rows = jnp.asarray(data[0]["ds"].data)
    if family == "qcbm":
        ref, g_ref = jax.jit(make_loss(model, "kl"))(p0, rows, jax.random.key(0))
        gdiff = max(float(jnp.max(jnp.abs(a - b))) for a, b in
                    zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(g_ref)))
        return {"ours": ours, "jqgen_make_loss_kl": float(ref), "max_abs_grad_diff": gdiff}
    return {"ours": ours, "jqgen_mean_nll": jqgen.mean_nll(model, p0, data[0]["ds"].data)}


def train_and_eval(family: str, size: int, data: list[dict], members: np.ndarray, args) -> dict:
    """Trains all models of one family/size at once; samples and scores them every eval_every steps."""
    model, targets, loss, num_params = make_problem(family, size, data, members)
    m = len(data)
    init_keys = jnp.stack([jax.random.key(d["seed"]) for d in data])  # same init per seed across eps/kind
    params = jax.vmap(model.init)(init_keys)
    check = check_losses(family, model, loss, targets, data, params) if args.check_loss else None
    opt = optax.adam(args.lr)
    opt_state = jax.vmap(opt.init)(params)
    vg = jax.vmap(jax.value_and_grad(loss))

    def step(carry, i):
        # As jqgen.fit: a model whose loss or gradient is not finite keeps its last good
        # parameters from then on, and the step is recorded in ``bad``.
        p, o, bad = carry
        v, g = vg(p, targets)
        u, o2 = jax.vmap(opt.update)(g, o, p)
        p2 = optax.apply_updates(p, u)
        ok = jnp.isfinite(v) & jax.vmap(_tree_finite)(g) & (bad < 0)
        sel = lambda a, b: jax.tree_util.tree_map(
            lambda x, y: jnp.where(ok.reshape((-1,) + (1,) * (x.ndim - 1)), x, y), a, b)
        bad = jnp.where(ok | (bad >= 0), bad, i)
        return (sel(p2, p), sel(o2, o), bad), v

    chunk = min(args.eval_every, args.steps)
    run = jax.jit(lambda p, o, bad, start: jax.lax.scan(step, (p, o, bad), start + jnp.arange(chunk, dtype=jnp.int32)))
    bad = jnp.full((m,), -1, jnp.int32)
    q = args.samples
    sample = jax.jit(jax.vmap(lambda p, k: model.sample(p, k, q)))
    sample_keys = jnp.stack([jax.random.fold_in(jax.random.key(10_000 + d["seed"]), i) for i, d in enumerate(data)])

    traj: list[dict] = []
    losses: list[np.ndarray] = []
    t0 = time.perf_counter()
    t_eval = 0.0
    first = None
    done = 0
    while done < args.steps:
        (params, opt_state, bad), v = run(params, opt_state, bad, jnp.int32(done))
        v = np.asarray(v)
        done += chunk
        losses.append(v)
        if first is None:
            first = time.perf_counter() - t0
        te = time.perf_counter()
        samples = np.asarray(sample(params, jax.vmap(lambda k: jax.random.fold_in(k, done))(sample_keys)))
        mets = [score(samples[i], d) for i, d in enumerate(data)]
        t_eval += time.perf_counter() - te
        traj.append({"step": done, "loss": v[-1].tolist(), "metrics": mets})
        log(f"  {family} {'L' if family == 'qcbm' else 'chi'}={size} step {done}/{args.steps}: loss (mean over "
            f"models) {v[-1].mean():.4f}, R~ card {np.mean([x['normalized_rate'] for x, d in zip(mets, data) if d['kind'] == 'cardinality']):.3f}")
    wall = time.perf_counter() - t0
    bad = np.asarray(bad)
    nonfinite = [{"data": d["kind"], "eps": d["eps"], "seed": d["seed"], "first_bad_step": int(b)}
                 for d, b in zip(data, bad) if b >= 0]
    if nonfinite:
        log(f"  WARNING: non-finite loss/gradient, training stopped at the last good parameters: {nonfinite}")
    exact = exact_masses(family, model, params, data, members)
    return {"family": family, "size": size, "num_params": num_params, "loss_check": check,
            "final_metrics": traj[-1]["metrics"], "exact": exact, "trajectory": traj,
            "loss_history": np.concatenate(losses, 0).T, "wall_s": wall, "first_chunk_s_incl_compile": first,
            "eval_s": t_eval, "models": m, "non_finite": nonfinite}


def exact_masses(family: str, model, params, data: list[dict], members: np.ndarray) -> list[dict]:
    """Exact probability mass on S and on the unseen part of S (the exact counterpart of R)."""
    mk = pack_bits(members)
    if family == "qcbm":
        p = np.asarray(jax.jit(jax.vmap(model.probs))(params), np.float64)[:, mk.astype(np.int64)]
    else:
        sj = jnp.asarray(members)
        p = np.exp(np.asarray(jax.jit(jax.vmap(lambda q: model.log_prob(q, sj)))(params), np.float64))
    out = []
    for i, d in enumerate(data):
        unseen = ~np.isin(mk, pack_bits(d["ds"].data))
        out.append({"mass_on_S": float(p[i].sum()), "mass_on_unseen_S": float(p[i, unseen].sum())})
    return out


def uniform_baseline(data: list[dict], members: np.ndarray, q: int) -> list[dict]:
    """Q samples uniform on S (a perfect generator in the papers' sense), scored the same way."""
    out = []
    for i, d in enumerate(data):
        rng = np.random.default_rng(20_000 + i)
        s = members[rng.integers(0, len(members), q)]
        out.append(score(s, d))
    return out


# --------------------------------------------------------------------------- summaries


def _clean(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, (np.floating,)):
        return _clean(float(x))
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


def stats(values) -> dict:
    a = np.asarray([np.nan if v is None else v for v in values], np.float64)
    ok = a[np.isfinite(a)]
    return {"mean": float(ok.mean()) if ok.size else None,
            "std": float(ok.std(ddof=1)) if ok.size > 1 else (0.0 if ok.size else None),
            "min": float(ok.min()) if ok.size else None, "max": float(ok.max()) if ok.size else None,
            "per_seed": [None if not np.isfinite(v) else float(v) for v in a]}


def summarize(runs: list[dict], data: list[dict], baseline: list[dict]) -> list[dict]:
    """One row per (family, size, kind, eps): mean/std over seeds of every metric."""
    rows = []
    for r in runs:
        for kind in KINDS:
            names = CARD_METRICS if kind == "cardinality" else COST_METRICS
            for e in sorted({d["eps"] for d in data}):
                idx = [i for i, d in enumerate(data) if d["kind"] == kind and d["eps"] == e]
                mets = [r["final_metrics"][i] for i in idx]
                row = {"family": r["family"], "size": r["size"], "num_params": r["num_params"], "data": kind,
                       "eps": e, "seeds": [data[i]["seed"] for i in idx],
                       "metrics": {k: stats([m[k] for m in mets]) for k in names},
                       "exact_mass_on_S": stats([r["exact"][i]["mass_on_S"] for i in idx]),
                       "exact_mass_on_unseen_S": stats([r["exact"][i]["mass_on_unseen_S"] for i in idx]),
                       "final_loss": stats([r["loss_history"][i][-1] for i in idx])}
                g = [(m["normalized_rate"] + m["normalized_coverage"]) / 2 for m in mets]
                row["metrics"]["score"] = stats(g)
                if kind == "cost":  # paired per run: the cost function differs between seeds
                    row["metrics"]["mv_minus_train_min"] = stats([m["min_value"] - m["train_min_cost"] for m in mets])
                    row["metrics"]["utility_minus_uniform"] = stats([m["utility"] - baseline[i]["utility"]
                                                                     for m, i in zip(mets, idx)])
                    row["better_than_train"] = [bool(m["quality_coverage"] > 0 and np.isfinite(m["min_value"])
                                                     and m["min_value"] < m["train_min_cost"]) for m in mets]
                    row["uniform_on_S"] = {k: stats([baseline[i][k] for i in idx]) for k in ("utility", "quality_coverage", "min_value",
                                                                                 "better_rate", "better_share_of_sol")}
                rows.append(row)
    return rows


def _spearman(x, y) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    if np.std(rx) == 0 or np.std(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def findings(rows: list[dict], family: str) -> dict:
    """The paper's three qualitative findings, as true/false with the numbers behind them.

    ``score`` G = (R~ + C~) / 2, per seed, then averaged. Model size is the depth L (QCBM)
    or the bond dimension chi (MPS).

    1. *Generalization improves with size*: for every eps, mean G at the largest size exceeds
       mean G at the smallest, and the Spearman correlation of size and mean G is positive.
       Reported also for R~ and C~ separately, and whether the gain exceeds the seed spread
       (sqrt(std_max^2 + std_min^2)).
    2. *Best generalization near eps = 0.3*: at the largest size, the eps with the highest
       mean G is 0.3 (given for R~ and C~ too); also whether 0.3 is within the seed spread
       of the best eps (not part of ``holds``).
    3. *Better-than-training samples on the re-weighted data*: at the largest size, every
       (eps, seed) run has C_q > 0 and MV below the lowest cost in the training set. Also
       counted over all sizes, and compared with a uniform generator on S (which gets
       C_q > 0 without learning anything about the cost): ``learned_bias`` is whether the
       model's utility U (mean cost of its best 5% of valid new samples) beats the uniform one;
       ``better_rate_beats_uniform`` / ``better_share_beats_uniform`` whether its rate of
       better-than-training samples (over Q / over G_sol) does.
    """
    card = [r for r in rows if r["family"] == family and r["data"] == "cardinality"]
    cost = [r for r in rows if r["family"] == family and r["data"] == "cost"]
    if not card:
        return {}
    sizes = sorted({r["size"] for r in card})
    eps_list = sorted({r["eps"] for r in card})
    get = lambda rs, s, e: next(r for r in rs if r["size"] == s and r["eps"] == e)
    lo, hi = sizes[0], sizes[-1]

    f1 = {"sizes": sizes, "per_eps": {}}
    for e in eps_list:
        entry = {}
        for name, key in (("score", "score"), ("R~", "normalized_rate"), ("C~", "normalized_coverage")):
            means = [get(card, s, e)["metrics"][key]["mean"] for s in sizes]
            sd_lo, sd_hi = get(card, lo, e)["metrics"][key]["std"], get(card, hi, e)["metrics"][key]["std"]
            delta = means[-1] - means[0]
            entry[name] = {"mean_by_size": means, "delta_largest_minus_smallest": delta,
                           "spearman_size_vs_mean": _spearman(sizes, means),
                           "gain_exceeds_seed_spread": bool(delta > math.hypot(sd_lo, sd_hi))}
        sc = entry["score"]
        entry["holds"] = bool(len(sizes) > 1 and sc["delta_largest_minus_smallest"] > 0 and sc["spearman_size_vs_mean"] > 0)
        f1["per_eps"][str(e)] = entry
    f1["holds"] = bool(f1["per_eps"] and all(v["holds"] for v in f1["per_eps"].values()))
    f1["holds_for_eps"] = [e for e in eps_list if f1["per_eps"][str(e)]["holds"]]

    f2 = {"size": hi, "eps": eps_list}
    for name, key in (("score", "score"), ("R~", "normalized_rate"), ("C~", "normalized_coverage")):
        means = [get(card, hi, e)["metrics"][key]["mean"] for e in eps_list]
        stds = [get(card, hi, e)["metrics"][key]["std"] for e in eps_list]
        f2[name] = {"mean_by_eps": means, "std_by_eps": stds, "best_eps": eps_list[int(np.argmax(means))]}
    f2["holds"] = bool(0.3 in eps_list and f2["score"]["best_eps"] == 0.3)
    if 0.3 in eps_list:
        sc, j3 = f2["score"], eps_list.index(0.3)
        jb = eps_list.index(sc["best_eps"])
        gap = sc["mean_by_eps"][jb] - sc["mean_by_eps"][j3]
        f2["score_gap_best_minus_eps_0.3"] = gap
        f2["eps_0.3_within_seed_spread_of_best"] = bool(gap <= math.hypot(sc["std_by_eps"][jb], sc["std_by_eps"][j3]))

    f3: dict = {"size": hi}
    if cost:
        per = {}
        for e in eps_list:
            r = get(cost, hi, e)
            mt = r["metrics"]
            per[str(e)] = {"quality_coverage": mt["quality_coverage"]["mean"], "min_value": mt["min_value"]["mean"],
                           "train_min_cost": mt["train_min_cost"]["mean"], "utility": mt["utility"]["mean"],
                           "num_better_distinct": mt["num_better_distinct"]["mean"],
                           "runs_better_than_train": f"{sum(r['better_than_train'])}/{len(r['better_than_train'])}",
                           "uniform_on_S_utility": r["uniform_on_S"]["utility"]["mean"],
                           "uniform_on_S_quality_coverage": r["uniform_on_S"]["quality_coverage"]["mean"],
                           "better_rate": mt["better_rate"]["mean"],
                           "uniform_on_S_better_rate": r["uniform_on_S"]["better_rate"]["mean"],
                           "better_share_of_sol": mt["better_share_of_sol"]["mean"],
                           "uniform_on_S_better_share_of_sol": r["uniform_on_S"]["better_share_of_sol"]["mean"],
                           "learned_bias": bool(mt["utility"]["mean"] < r["uniform_on_S"]["utility"]["mean"]),
                           "better_rate_beats_uniform": bool(mt["better_rate"]["mean"] > r["uniform_on_S"]["better_rate"]["mean"]),
                           "better_share_beats_uniform": bool(mt["better_share_of_sol"]["mean"]
                                                              > r["uniform_on_S"]["better_share_of_sol"]["mean"])}
        f3["per_eps"] = per
        f3["holds"] = bool(all(all(get(cost, hi, e)["better_than_train"]) for e in eps_list))
        allruns = [b for r in cost for b in r["better_than_train"]]
        f3["runs_better_than_train_all_sizes"] = f"{sum(allruns)}/{len(allruns)}"
        f3["learned_bias_for_eps"] = [e for e in eps_list if per[str(e)]["learned_bias"]]
        f3["better_rate_beats_uniform_for_eps"] = [e for e in eps_list if per[str(e)]["better_rate_beats_uniform"]]
        f3["better_share_beats_uniform_for_eps"] = [e for e in eps_list if per[str(e)]["better_share_beats_uniform"]]
    return {"1_generalization_improves_with_size": f1, "2_best_near_eps_0.3": f2,
            "3_better_than_training_on_reweighted_data": f3}


# --------------------------------------------------------------------------- output


def _pm(st: dict, digits: int = 3) -> str:
    if st["mean"] is None:
        return "n/a"
    return f"{st['mean']:.{digits}f} ± {st['std']:.{digits}f}"


def tables(rows: list[dict], pairs: list[tuple[int, int]]) -> str:
    lines = ["### Cardinality data (n = 12, k = 6): final metrics, mean ± std over seeds", "",
             "| model | size | params | eps | E | F | R~ | C~ | exact mass on unseen S |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["data"] != "cardinality":
            continue
        m = r["metrics"]
        size = f"L={r['size']}" if r["family"] == "qcbm" else f"chi={r['size']}"
        lines.append(f"| {r['family'].upper()} | {size} | {r['num_params']} | {r['eps']} | {_pm(m['exploration'])} | "
                     f"{_pm(m['fidelity'])} | {_pm(m['normalized_rate'])} | {_pm(m['normalized_coverage'])} | "
                     f"{_pm(r['exact_mass_on_unseen_S'])} |")
    lines += ["", "### Side by side at matched parameter counts: R~ / C~ (means over seeds)", "",
              "| eps | " + " | ".join(f"QCBM L={L} ({p}) | MPS chi={c} ({q})" for L, c, p, q in pairs) + " |",
              "|---|" + "---|" * (2 * len(pairs))]
    for e in sorted({r["eps"] for r in rows}):
        cells = []
        for L, c, _, _ in pairs:
            for fam, s in (("qcbm", L), ("mps", c)):
                r = next(x for x in rows if x["family"] == fam and x["size"] == s and x["eps"] == e and x["data"] == "cardinality")
                cells.append(f"{r['metrics']['normalized_rate']['mean']:.3f} / {r['metrics']['normalized_coverage']['mean']:.3f}")
        lines.append(f"| {e} | " + " | ".join(cells) + " |")
    lines += ["", "### Re-weighted data with a cost (best 10% of S never in training): final metrics, mean ± std", "",
              "| model | size | eps | F | R~ | MV | best train cost | C_q | C_q uniform on S | U (best 5%) "
              "| U - U uniform (paired) | share of G_sol better than train | same, uniform on S | runs with C_q>0 and MV<train min |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["data"] != "cost":
            continue
        m, u = r["metrics"], r["uniform_on_S"]
        size = f"L={r['size']}" if r["family"] == "qcbm" else f"chi={r['size']}"
        lines.append(f"| {r['family'].upper()} | {size} | {r['eps']} | {_pm(m['fidelity'])} | {_pm(m['normalized_rate'])} | "
                     f"{_pm(m['min_value'])} | {_pm(m['train_min_cost'])} | {_pm(m['quality_coverage'], 4)} | "
                     f"{_pm(u['quality_coverage'], 4)} | {_pm(m['utility'])} | {_pm(m['utility_minus_uniform'])} | "
                     f"{_pm(m['better_share_of_sol'])} | {_pm(u['better_share_of_sol'])} | "
                     f"{sum(r['better_than_train'])}/{len(r['better_than_train'])} |")
    return "\n".join(lines)


def findings_text(fnd: dict) -> str:
    out = []
    for fam, f in fnd.items():
        if not f:
            continue
        f1, f2, f3 = f["1_generalization_improves_with_size"], f["2_best_near_eps_0.3"], f["3_better_than_training_on_reweighted_data"]
        axis = "depth L" if fam == "qcbm" else "bond dimension chi"
        det = "; ".join(f"eps {e}: G {v['score']['mean_by_size'][0]:.3f} -> {v['score']['mean_by_size'][-1]:.3f} "
                        f"(rho {v['score']['spearman_size_vs_mean']:.2f}, R~ {v['R~']['delta_largest_minus_smallest']:+.3f}, "
                        f"C~ {v['C~']['delta_largest_minus_smallest']:+.3f})" for e, v in f1["per_eps"].items())
        out.append(f"- {fam.upper()} (1) generalization improves with {axis} {f1['sizes']}: **{f1['holds']}** ({det})")
        sc = f2["score"]
        out.append(f"- {fam.upper()} (2) best generalization at eps = 0.3 (size {f2['size']}): **{f2['holds']}** "
                   f"(G by eps {dict(zip(f2['eps'], [round(x, 3) for x in sc['mean_by_eps']]))}, best {sc['best_eps']}; "
                   f"best by R~ {f2['R~']['best_eps']}, by C~ {f2['C~']['best_eps']}; eps 0.3 within the seed spread of "
                   f"the best: {f2.get('eps_0.3_within_seed_spread_of_best')})")
        if f3.get("per_eps"):
            det = "; ".join(f"eps {e}: C_q {v['quality_coverage']:.4f}, MV {v['min_value']:.3f} vs train min "
                            f"{v['train_min_cost']:.3f}, {v['runs_better_than_train']} runs, U {v['utility']:.3f} vs "
                            f"uniform {v['uniform_on_S_utility']:.3f}, better rate {v['better_rate']:.3f} vs uniform "
                            f"{v['uniform_on_S_better_rate']:.3f}, share of G_sol {v['better_share_of_sol']:.3f} vs uniform "
                            f"{v['uniform_on_S_better_share_of_sol']:.3f}" for e, v in f3["per_eps"].items())
            out.append(f"- {fam.upper()} (3) C_q > 0 and MV < best training cost (size {f3['size']}): **{f3['holds']}** "
                       f"({det}; over all sizes {f3['runs_better_than_train_all_sizes']} runs; U better than uniform on S "
                       f"for eps {f3['learned_bias_for_eps']}, better rate above uniform for eps "
                       f"{f3['better_rate_beats_uniform_for_eps']}, share of G_sol above uniform for eps "
                       f"{f3['better_share_beats_uniform_for_eps']})")
    return "\n".join(out)


def plot(rows: list[dict], path_gen: str, path_quality: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    eps_list = sorted({r["eps"] for r in rows})
    fams = [f for f in ("qcbm", "mps") if any(r["family"] == f for r in rows)]
    colors = dict(zip(eps_list, plt.cm.viridis(np.linspace(0, 0.85, len(eps_list)))))
    xlabel = {"qcbm": "QCBM depth L (line RXX ansatz)", "mps": "MPS bond dimension chi"}

    def series(fam, kind, e, key):
        rs = sorted((r for r in rows if r["family"] == fam and r["data"] == kind and r["eps"] == e), key=lambda r: r["size"])
        return ([r["size"] for r in rs], np.array([r["metrics"][key]["mean"] for r in rs], float),
                np.array([r["metrics"][key]["std"] for r in rs], float), rs)

    fig, axes = plt.subplots(2, len(fams), figsize=(5.2 * len(fams), 7), sharey="row", squeeze=False)
    for j, fam in enumerate(fams):
        for i, (key, lab) in enumerate((("normalized_rate", "normalized rate R~"), ("normalized_coverage", "normalized coverage C~"))):
            ax = axes[i, j]
            for e in eps_list:
                x, m, s, _ = series(fam, "cardinality", e, key)
                ax.errorbar(x, m, yerr=s, marker="o", capsize=3, color=colors[e], label=f"eps = {e}")
            ax.set_xticks(x)
            ax.set_ylabel(lab)
            ax.grid(alpha=0.3)
            if i == 1:
                ax.set_xlabel(xlabel[fam])
        axes[0, j].set_title(f"{fam.upper()}, cardinality n=12 k=6, Q=10,000")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Gili et al. (arXiv:2207.13645) reproduction: mean ± std over seeds, after the last step", fontsize=10)
    fig.tight_layout()
    fig.savefig(path_gen, dpi=110)
    plt.close(fig)

    panels = (("quality_coverage", "quality coverage C_q"), ("mv_minus_train_min", "MV - best training cost"),
              ("utility_minus_uniform", "U - U of uniform on S (same data)"),
              ("better_share_of_sol", "share of G_sol better than training"))
    fig, axes = plt.subplots(len(fams), len(panels), figsize=(4.4 * len(panels), 3.7 * len(fams)), squeeze=False)
    for j, fam in enumerate(fams):
        for i, (key, lab) in enumerate(panels):
            ax = axes[j, i]
            for e in eps_list:
                x, m, s, rs = series(fam, "cost", e, key)
                ax.errorbar(x, m, yerr=s, marker="o", capsize=3, color=colors[e], label=f"eps = {e}")
                if key in ("quality_coverage", "better_share_of_sol"):
                    ax.axhline(rs[0]["uniform_on_S"][key]["mean"], color=colors[e], ls=":", lw=1)
            if key in ("mv_minus_train_min", "utility_minus_uniform"):
                ax.axhline(0, color="k", lw=0.8)
            ax.set_xticks(x)
            ax.set_xlabel(xlabel[fam])
            ax.set_ylabel(lab)
            ax.grid(alpha=0.3)
        axes[j, 0].set_title(f"{fam.upper()}: re-weighted cost data (dotted: uniform on S)", fontsize=10, loc="left")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path_quality, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 depths, 2 eps, 2 seeds, 100 steps (< 1 min)")
    ap.add_argument("--json", action="store_true", help="write the results to --out")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "gili_cpu.json"))
    ap.add_argument("--seeds", type=int, default=None, help="seeds 0..seeds-1 (default 3; quick 2)")
    ap.add_argument("--steps", type=int, default=None, help="Adam steps per model (default 1000; quick 100)")
    ap.add_argument("--lr", type=float, default=0.05, help="Adam learning rate, QCBM and MPS")
    ap.add_argument("--depths", type=int, nargs="+", default=None, help="QCBM layers (default 1 2 4 6 8)")
    ap.add_argument("--chis", type=int, nargs="+", default=None, help="MPS bond dimensions (default 2 3 4)")
    ap.add_argument("--eps", type=float, nargs="+", default=None, help="training fractions (default 0.05 0.1 0.3 0.5)")
    ap.add_argument("--samples", type=int, default=10_000, help="Q, samples per evaluation")
    ap.add_argument("--eval-every", type=int, default=None, help="steps between evaluations (default 100; quick 50)")
    ap.add_argument("--plots", default=None, help="plot prefix (default docs/gili_ for the full run, none with --quick)")
    args = ap.parse_args()
    q = args.quick
    args.seeds = args.seeds or (2 if q else 3)
    args.steps = args.steps or (100 if q else 1000)
    args.depths = args.depths or ([1, 2] if q else [1, 2, 4, 6, 8])
    args.chis = args.chis or ([2] if q else [2, 3, 4])
    args.eps = args.eps or ([0.1, 0.3] if q else [0.05, 0.1, 0.3, 0.5])
    args.eval_every = args.eval_every or (50 if q else 100)
    if args.steps % min(args.eval_every, args.steps):
        ap.error(f"--steps ({args.steps}) must be a multiple of --eval-every ({args.eval_every})")
    if args.plots is None and not q:
        args.plots = os.path.join(ROOT, "docs", "gili_")

    t_start = time.perf_counter()
    env = _env.environment()
    other = _env.OtherCPU().start()
    cost_kw = {"exclude_best": 0.1, "temperature": 1.0, "max_repeat": 10}
    seeds = list(range(args.seeds))
    data = build_data(args.eps, seeds, cost_kw)
    members = jqgen.Cardinality(N, K).enumerate()
    log(f"{len(data)} data sets ({len(args.eps)} eps x {len(seeds)} seeds x {KINDS}); QCBM depths {args.depths}, "
        f"MPS chi {args.chis}, {args.steps} Adam steps (lr {args.lr}), Q = {args.samples}")

    runs = []
    for fam, sizes in (("qcbm", args.depths), ("mps", args.chis)):
        for s in sizes:
            args.check_loss = s == sizes[0]  # the loss check compiles two more programs: once per family
            r = train_and_eval(fam, s, data, members, args)
            log(f"{fam} size {s} ({r['num_params']} params): {r['wall_s']:.1f} s for {len(data)} models "
                f"(first chunk incl. compile {r['first_chunk_s_incl_compile']:.1f} s, sampling+metrics {r['eval_s']:.1f} s)")
            runs.append(r)
    baseline = uniform_baseline(data, members, args.samples)
    rows = summarize(runs, data, baseline)
    qp = {r["size"]: r["num_params"] for r in runs if r["family"] == "qcbm"}
    mp = {r["size"]: r["num_params"] for r in runs if r["family"] == "mps"}
    pairs = []
    for c, p in mp.items():  # each chi with the QCBM depth of closest parameter count
        if qp:
            L = min(qp, key=lambda d: abs(qp[d] - p))
            pairs.append((L, c, qp[L], p))
    fnd = {fam: findings(rows, fam) for fam in ("qcbm", "mps")}
    table = tables(rows, pairs)
    ftext = findings_text(fnd)
    if args.plots:
        os.makedirs(os.path.dirname(os.path.abspath(args.plots + "x")), exist_ok=True)
        plot(rows, args.plots + "generalization.png", args.plots + "quality.png")
    wall = time.perf_counter() - t_start
    print(table)
    print()
    print("### Findings")
    print(ftext)
    print(f"\nwall time {wall:.1f} s")

    if args.json:
        trajectories = []
        for r in runs:
            for i, d in enumerate(data):
                trajectories.append({"family": r["family"], "size": r["size"], "data": d["kind"], "eps": d["eps"],
                                     "seed": d["seed"], "steps": [t["step"] for t in r["trajectory"]],
                                     "loss": [t["loss"][i] for t in r["trajectory"]],
                                     **{SHORT[k]: [t["metrics"][i].get(k) for t in r["trajectory"]]
                                        for k in ("normalized_rate", "normalized_coverage", "quality_coverage", "min_value")
                                        if k in r["trajectory"][0]["metrics"][i]}})
        out = {
            "benchmark": "Gili et al. 2022 (arXiv:2207.13645): QCBM and MPS generalization on cardinality data",
            "command": " ".join(["python", "benchmarks/reproduce_gili.py"] + sys.argv[1:]),
            "quick": q,
            "settings": {"n": N, "k": K, "space_size": math.comb(N, K), "eps": args.eps, "seeds": seeds,
                         "samples_Q": args.samples, "steps": args.steps, "eval_every": args.eval_every,
                         "optimizer": f"adam lr={args.lr}, full batch", "qcbm_depths": args.depths, "mps_chis": args.chis,
                         "qcbm": "HardwareEfficient(12, L, 'line'): RX RZ layer, then L x (RXX on the line; RX RZ), "
                                 "angles uniform in [-pi, pi), float32; loss clipped KL(data || model), eps 1e-8, exact "
                                 "probabilities, autodiff (jqgen.distributions.distribution_loss('kl') == make_loss(model, 'kl'))",
                         "mps": "MPSBornMachine(12, chi), default init (uniform + noise 0.5), float32; loss exact mean "
                                "NLL of the training set (jqgen.fit's default loss) as a frequency-weighted sum over its "
                                "distinct rows, full batch",
                         "non_finite_guard": "a model whose loss or gradient turns non-finite keeps its last good "
                                             "parameters (as jqgen.fit); listed in non_finite_runs",
                         "loss_check": "at the first size of each family, our loss vs make_loss(model, 'kl') / "
                                       "jqgen.mean_nll on the first data set",
                         "init_keys": "jax.random.key(seed), the same for every eps and data kind of a seed",
                         "data": "cardinality_dataset(12, 6, eps, seed) and cardinality_cost_dataset(12, 6, eps, seed, "
                                 f"**{cost_kw}); seed sets the split (and the cost)",
                         "score_G": "(R~ + C~) / 2 per run",
                         "std": "sample std over seeds (ddof = 1)",
                         "reported": "metrics of Q samples drawn after the last step; trajectories every eval_every steps"},
            "num_params": {"qcbm": qp, "mps_active_entries": mp},
            "matched_pairs": [{"qcbm_layers": L, "qcbm_params": p, "mps_chi": c, "mps_params": pm} for L, c, p, pm in pairs],
            "loss_checks": [{"family": r["family"], "size": r["size"], **r["loss_check"]} for r in runs if r["loss_check"]],
            "rows": rows,
            "findings": fnd,
            "timing": [{"family": r["family"], "size": r["size"], "models": r["models"], "wall_s": r["wall_s"],
                        "first_chunk_s_incl_compile": r["first_chunk_s_incl_compile"], "sampling_and_metrics_s": r["eval_s"]}
                       for r in runs],
            "non_finite_runs": [{"family": r["family"], "size": r["size"], **x} for r in runs for x in r["non_finite"]],
            "trajectories": trajectories,
            "wall_s": wall,
            "environment": env,
            "other_processes_cpu_s": other.stop(),
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(_clean(out), f, indent=1)
            f.write("\n")
        log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
