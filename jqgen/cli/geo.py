"""``jqgen geo``: generator-enhanced optimization of a portfolio problem (:func:`jqgen.geo.geo`).

``--problem`` names an OR-Library instance (``hangseng31``, ``dax85``, ``ftse89``, ``sp98``,
``nikkei225``: read from ``--data-dir``, ``$JQGEN_DATA_DIR``, ``./shared/data`` or
``../shared/data``), a path to a file in the OR-Library layout, or ``synthetic-N`` (a seeded
factor model). The binary equal-weight form with ``--k`` assets and risk aversion ``--q`` is
minimized with ``--budget`` evaluations. Writes (under ``--out``) ``journal.jsonl`` (every
evaluation; a re-run of the same command resumes from it without evaluating anything
twice), ``best_solutions.json``, ``summary.json``, ``best_so_far.png`` and ``frontier.png``.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import jax
import numpy as np

from ._args import add_out_arguments, add_progress_argument, add_seed_argument, positive_float, positive_int
from ._report import versions
from ._rundir import device_name, prepare_run, slug
from ..plots import plot_best_so_far, plot_frontier

__all__ = ["FILES", "GENERATORS", "command", "register"]

FILES = ("journal.jsonl", "best_solutions.json", "summary.json", "best_so_far.png", "frontier.png")
_EXTRA = ("journal.jsonl.generator.npz",)
GENERATORS = ("symmetric-mps", "mps", "qcbm-conserving", "qcbm")
_BASELINES = ("sa-swap", "random")


def register(commands: Any) -> None:
    """Adds the ``geo`` parser to the top-level subparsers."""
    g = commands.add_parser(
        "geo", help="generator-enhanced optimization of a portfolio problem",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Generator-Enhanced Optimization (Alcazar et al., Nat. Commun. 2024): a generative model\n"
        "learns a softmax of the costs evaluated so far and proposes new candidates, round by round,\n"
        "until --budget evaluations are spent. Problem: choose exactly --k assets (equal weights)\n"
        "minimizing q * risk - return. --mode booster seeds GEO with --seed-solver's evaluations.\n"
        "A re-run of the same command resumes from <out>/journal.jsonl.")
    g.add_argument("--problem", default="hangseng31", help="instance name, OR-Library file, or synthetic-N")
    g.add_argument("--data-dir", default=None, help="where the OR-Library files are")
    g.add_argument("--k", type=positive_int, default=10, help="assets held (default: %(default)s)")
    g.add_argument("--form", choices=("binary", "chang"), default="binary",
                   help="binary: equal weights, cost q * risk - return; chang: Chang et al.'s weights (a QP per "
                   "asset set), cost lam * risk - (1 - lam) * return (default: %(default)s)")
    g.add_argument("--q", type=float, default=1.0, help="binary form's risk aversion (default: %(default)s)")
    g.add_argument("--lam", type=float, default=0.5, help="chang form's lambda in [0, 1] (default: %(default)s)")
    g.add_argument("--budget", type=positive_int, default=2000, help="cost evaluations (default: %(default)s)")
    g.add_argument("--generator", choices=GENERATORS, default="symmetric-mps", help="(default: %(default)s)")
    g.add_argument("--chi-max", type=positive_int, default=4, help="MPS block / bond size (default: %(default)s)")
    g.add_argument("--layers", type=positive_int, default=4, help="qcbm-conserving layers (default: %(default)s)")
    g.add_argument("--mode", choices=("standalone", "booster"), default="standalone", help="(default: %(default)s)")
    g.add_argument("--seed-solver", choices=_BASELINES, default="sa-swap", help="booster seeds (default: %(default)s)")
    g.add_argument("--seed-budget", type=positive_int, default=None,
                   help="evaluations of the seed solver (default: the --seed-size)")
    g.add_argument("--batch", type=positive_int, default=100, help="evaluations per round (default: %(default)s)")
    g.add_argument("--seed-size", type=positive_int, default=100, help="random seeds (default: %(default)s)")
    g.add_argument("--temperature", type=positive_float, default=1.0, help="softmax T (default: %(default)s)")
    g.add_argument("--train-steps", type=positive_int, default=100, help="steps per round (default: %(default)s)")
    g.add_argument("--train-size", type=positive_int, default=512, help="training set size (default: %(default)s)")
    g.add_argument("--lr", type=positive_float, default=0.02, help="(default: %(default)s)")
    g.add_argument("--trainer", choices=("gradient", "sweep"), default="gradient", help="(default: %(default)s)")
    g.add_argument("--baselines", action="store_true",
                   help="also run simulated annealing (swap moves) and random search at the same budget")
    add_seed_argument(g)
    add_out_arguments(g, "runs/geo-<problem>-k<k>")
    add_progress_argument(g)
    g.set_defaults(func=command)


def _instance(args: argparse.Namespace) -> Any:
    from ..geo import load_instance, synthetic_instance

    if args.problem.startswith("synthetic-") and args.problem[len("synthetic-"):].isdigit():
        return synthetic_instance(int(args.problem[len("synthetic-"):]), seed=args.seed)
    return load_instance(args.problem, args.data_dir)


def _frontier(args: argparse.Namespace) -> Any:
    from ..geo import load_frontier

    try:
        returns, variances = load_frontier(args.problem, args.data_dir)
    except (ValueError, OSError):  # synthetic or a path without its frontier file
        return None
    return variances, returns


def _generator(args: argparse.Namespace, n: int) -> Any:
    from ..mps import MPSBornMachine, SymmetricMPSBornMachine
    from ..qcbm import ConservingQCBM, Givens

    if args.generator == "symmetric-mps":
        return SymmetricMPSBornMachine(n, args.k, args.chi_max)
    if args.generator == "mps":
        return MPSBornMachine(n, args.chi_max)
    if args.generator == "qcbm":  # unconstrained: post-selection keeps the valid samples (small n only)
        from ..qcbm import QCBM, HardwareEfficient

        return QCBM(HardwareEfficient(n, args.layers, "line"))
    return ConservingQCBM(Givens(n, args.k, args.layers))


def _baseline(name: str, problem: Any, budget: int, seed: int) -> Any:
    """A baseline at ``budget`` evaluations (simulated annealing: at most 64 chains, fewer for
    small budgets, so that every chain takes many steps)."""
    from ..geo import run_baseline

    if name == "sa-swap":
        chains = max(1, min(64, budget // 20))
        return run_baseline(name, problem, budget, seed=seed, chains=chains, calibration=min(64, max(1, budget // 10)))
    return run_baseline(name, problem, budget, seed=seed)


def command(args: argparse.Namespace) -> int:
    """Runs ``jqgen geo``; returns 0 or raises (see :mod:`jqgen.cli`)."""
    from ..geo import GeoSettings, geo

    t0 = time.perf_counter()
    inst = _instance(args)
    problem = inst.binary(args.k, args.q) if args.form == "binary" else inst.chang(args.k, args.lam)
    model = _generator(args, problem.num_bits)
    settings = GeoSettings(batch_size=args.batch, seed_size=args.seed_size, temperature=args.temperature,
                           train_steps=args.train_steps, train_size=args.train_size, lr=args.lr, trainer=args.trainer)
    name = f"geo-{slug(inst.name)}-k{args.k}"
    run = prepare_run(args.out, default_name=name, files=FILES, overwrite=args.overwrite, unit="evaluations",
                      total=args.budget, resume_path=os.path.join(args.out or os.path.join("runs", name), FILES[0]),
                      extra_files=_EXTRA)
    seeds = None
    if args.mode == "booster" and args.form == "chang" and args.seed_solver == "sa-swap":
        raise ValueError("--seed-solver sa-swap needs the binary form (a jittable cost); use --seed-solver random "
                         "with --form chang")
    if args.mode == "booster":
        seeder = _baseline(args.seed_solver, problem, args.seed_budget or args.seed_size, args.seed)
        seeds = seeder.seed_set()
    with run.resuming():
        res = geo(problem, model, args.budget, key=jax.random.key(args.seed), settings=settings,
                  seed_bits=None if seeds is None else seeds[0], seed_costs=None if seeds is None else seeds[1],
                  journal_path=run["journal.jsonl"], progress=not args.no_progress)
    # swap-move annealing needs a jittable cost: the binary form (the Chang form's QP is host-batched)
    names = (_BASELINES if args.form == "binary" else ("random",)) if args.baselines else ()
    baselines = {b: _baseline(b, problem, args.budget, args.seed) for b in names}
    _write(args, run, inst, problem, model, settings, res, baselines, time.perf_counter() - t0)
    return 0


def _write(args: argparse.Namespace, run: Any, inst: Any, problem: Any, model: Any, settings: Any, res: Any,
           baselines: dict[str, Any], wall_s: float) -> None:
    order = np.argsort(res.costs, kind="stable")[:10]
    risk, ret = problem.risk_return(res.bits[order])
    best = [{"bits": res.bits[i].astype(int).tolist(), "assets": np.flatnonzero(res.bits[i]).tolist(),
             "cost": float(res.costs[i]), "variance": float(v), "return": float(r)}
            for i, v, r in zip(order, risk, ret)]
    from ._rundir import write_json

    write_json(run["best_solutions.json"], {"problem": problem.describe(), "best": best})
    geo_curve = np.minimum.accumulate(res.costs[-res.evaluations:]) if res.evaluations else np.zeros(0)
    curves = {f"GEO ({args.generator})": geo_curve}
    curves.update({f"{b} ({r.evaluations} evals)": r.best_so_far for b, r in baselines.items()})
    param = f"q={args.q:g}" if args.form == "binary" else f"chang, lam={args.lam:g}"
    plot_best_so_far(curves, run["best_so_far.png"], title=f"{inst.name}, k={args.k}, {param}")
    points = {"GEO best 10": (risk, ret)}
    for b, r in baselines.items():
        points[f"{b} best"] = problem.risk_return(r.best_bits[None])
    plot_frontier(points, run["frontier.png"], frontier=_frontier(args), title=f"{inst.name}, k={args.k}")
    summary = {
        "best_bits": res.best_bits.astype(int).tolist(), "best_cost": float(res.best_cost),
        "best_assets": np.flatnonzero(res.best_bits).tolist(), "evaluations": int(res.evaluations),
        "evaluated_total": int(len(res.costs)), "problem": {**problem.describe(), "instance": args.problem},
        "q": float(args.q) if args.form == "binary" else None, "lam": float(args.lam) if args.form == "chang" else None,
        "k": int(args.k), "form": args.form, "mode": args.mode, "generator": model.config(),
        "settings": settings.to_json(), "rounds": res.rounds, "seed": args.seed,
        "baselines": {b: {"best_cost": float(r.best_cost), "evaluations": int(r.evaluations), "seconds": r.seconds}
                      for b, r in baselines.items()},
        "wall_s": wall_s, "device": device_name(), **versions(),
    }
    run.write_summary(summary)
    valid = np.mean([r["valid_rate"] for r in res.rounds]) if res.rounds else float("nan")
    print(f"jqgen geo: {inst.name} ({problem.num_bits} assets), k={args.k}, {param}, {args.mode}, "
          f"generator {args.generator}, budget {args.budget}")
    print(f"  best cost  {res.best_cost:.8g} after {res.evaluations} evaluations ({len(res.rounds)} rounds, "
          f"mean valid-sample rate {valid:.0%})")
    for b, r in baselines.items():
        print(f"  {b:<10} {r.best_cost:.8g} ({r.evaluations} evaluations)")
    print(f"  time       {wall_s:.1f} s; device {device_name()}")
    run.print_paths()
