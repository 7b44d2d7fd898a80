"""``jqgen geo``: generator-enhanced optimization of a portfolio problem (:func:`jqgen.geo.geo`).

``--problem`` names an OR-Library instance (``hangseng31``, ``dax85``, ``ftse89``, ``sp98``,
``nikkei225``: read from ``--data-dir``, ``$JQGEN_DATA_DIR``, ``./shared/data`` or
``../shared/data``), a path to a file in the OR-Library layout, or ``synthetic-N`` (a seeded
factor model). The binary equal-weight form with ``--k`` assets and risk aversion ``--q`` is
minimized with ``--budget`` evaluations. Writes (under ``--out``) ``journal.jsonl`` (every
evaluation; a re-run of the same command resumes from it without evaluating anything
twice), ``best_solutions.json``, ``summary.json``, ``best_so_far.png`` and ``frontier.png``.
``--exact-frontier auto`` (the default) adds the exact constrained frontier of the binary
form (:func:`jqgen.geo.exact_frontier`, within ``--exact-time-limit`` seconds) to
``frontier.png`` and ``summary.json``.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import Any

import jax
import numpy as np

from ._args import BadInput, add_out_arguments, add_progress_argument, add_seed_argument, positive_float, positive_int
from ._report import versions
from ._progress import ProgressLines, bar_wanted
from ._rundir import device_name, prepare_run, slug
from ..plots import plot_best_so_far, plot_frontier

__all__ = ["FILES", "GENERATORS", "command", "register"]

FILES = ("journal.jsonl", "best_solutions.json", "summary.json", "best_so_far.png", "frontier.png")
_EXTRA = ("journal.jsonl.generator.npz",)
GENERATORS = ("symmetric-mps", "mps", "qcbm-conserving", "qcbm")
_BASELINES = ("sa-swap", "random")
_MAX_ENUMERATION = 2_000_000


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
    g.add_argument("--layers", type=positive_int, default=None,
                   help="circuit layers (default: qcbm 4; qcbm-conserving the fewest brick layers that reach every "
                   "valid string, jqgen.qcbm.full_support_layers: 11 for n=31, k=10)")
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
    g.add_argument("--exact-frontier", choices=("auto", "off"), default="auto",
                   help="auto: the exact constrained frontier of the binary form (enumeration when C(n, k) <= "
                   "2,000,000, else SCIP's MIQP if pyscipopt is installed; skipped with a note otherwise) at "
                   "--exact-points q values and at --q, drawn in frontier.png and recorded in summary.json "
                   "(default: %(default)s)")
    g.add_argument("--exact-time-limit", type=positive_float, default=30.0, metavar="SECONDS",
                   help="total seconds of the SCIP solves of the exact frontier; points where SCIP stops at its "
                   "share are marked not proven optimal (default: %(default)s)")
    g.add_argument("--exact-points", type=positive_int, default=12,
                   help="q values of the exact frontier, 0 and a geometric grid (default: %(default)s)")
    add_seed_argument(g)
    add_out_arguments(g, "runs/geo-<problem>-k<k>")
    add_progress_argument(g)
    g.set_defaults(func=command)


def _instance(args: argparse.Namespace) -> Any:
    """The ``--problem`` instance; a missing, unreadable or malformed one is :class:`BadInput`
    (exit code 3, as for ``--data``)."""
    from ..geo import load_instance, synthetic_instance

    if args.problem.startswith("synthetic-") and args.problem[len("synthetic-"):].isdigit():
        return synthetic_instance(int(args.problem[len("synthetic-"):]), seed=args.seed)
    try:
        return load_instance(args.problem, args.data_dir)
    except (ValueError, OSError) as e:
        raise BadInput(str(e)) from None


def _frontier(args: argparse.Namespace) -> Any:
    from ..geo import load_frontier

    try:
        returns, variances = load_frontier(args.problem, args.data_dir)
    except (ValueError, OSError):  # synthetic or a path without its frontier file
        return None
    return variances, returns


def _generator(args: argparse.Namespace, n: int) -> Any:
    from ..mps import MPSBornMachine, SymmetricMPSBornMachine
    from ..qcbm import ConservingQCBM, Givens, full_support_layers

    if args.generator == "symmetric-mps":
        return SymmetricMPSBornMachine(n, args.k, args.chi_max)
    if args.generator == "mps":
        return MPSBornMachine(n, args.chi_max)
    if args.generator == "qcbm":  # unconstrained: post-selection keeps the valid samples (small n only)
        from ..qcbm import QCBM, HardwareEfficient

        return QCBM(HardwareEfficient(n, args.layers or 4, "line"))
    layers = args.layers or full_support_layers(n, args.k)
    if layers < full_support_layers(n, args.k):
        print(f"note: --layers {layers} brick Givens layers give probability 0 to some weight-{args.k} strings; "
              f"{full_support_layers(n, args.k)} reach them all")
    return ConservingQCBM(Givens(n, args.k, layers))


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
    lines = ProgressLines(args.no_progress, "geo", args.budget, "evaluations")
    if args.mode == "booster" and args.form == "chang" and args.seed_solver == "sa-swap":
        raise ValueError("--seed-solver sa-swap needs the binary form (a jittable cost); use --seed-solver random "
                         "with --form chang")
    if args.mode == "booster":
        seeder = _baseline(args.seed_solver, problem, args.seed_budget or args.seed_size, args.seed)
        seeds = seeder.seed_set()
    with run.resuming():
        res = geo(problem, model, args.budget, key=jax.random.key(args.seed), settings=settings,
                  seed_bits=None if seeds is None else seeds[0], seed_costs=None if seeds is None else seeds[1],
                  journal_path=run["journal.jsonl"], progress=bar_wanted(args.no_progress),
                  callback=lambda stats: lines(stats["evaluations"], round=stats["round"],
                                               best=f"{stats['best_cost']:.6g}", valid=f"{stats['valid_rate']:.0%}"))
    # swap-move annealing needs a jittable cost: the binary form (the Chang form's QP is host-batched)
    names = (_BASELINES if args.form == "binary" else ("random",)) if args.baselines else ()
    baselines = {b: _baseline(b, problem, args.budget, args.seed) for b in names}
    exact = _exact_frontier(args, inst)
    _write(args, run, inst, problem, model, settings, res, baselines, exact, time.perf_counter() - t0)
    return 0


def _exact_frontier(args: argparse.Namespace, inst: Any) -> Any:
    """The exact constrained frontier of ``--exact-frontier auto`` (or a string: why it was skipped)."""
    from ..geo import exact_frontier, frontier_q_grid, scip_available

    if args.exact_frontier == "off":
        return "off"
    if args.form != "binary":
        return "computed for the binary form only (the Chang form's weights make it a mixed-integer QP with " \
               "continuous weights, not solved here)"
    if math.comb(inst.n, args.k) > _MAX_ENUMERATION and not scip_available():
        return (f"C({inst.n}, {args.k}) = {math.comb(inst.n, args.k)} portfolios exceed the enumeration limit "
                f"({_MAX_ENUMERATION}) and SCIP is not installed (pip install pyscipopt)")
    qs = np.union1d(frontier_q_grid(inst, args.k, args.exact_points), [args.q])
    return exact_frontier(inst, args.k, qs, time_limit=args.exact_time_limit, max_enumeration=_MAX_ENUMERATION,
                          seed=args.seed)


def _exact_report(args: argparse.Namespace, exact: Any, best_cost: float) -> tuple[Any, dict[str, Any], str]:
    """What frontier.png draws of the exact frontier, the summary's keys and the line printed."""
    if isinstance(exact, str):
        return None, {"exact_frontier": None, "exact_frontier_info": {"skipped": exact}}, \
            "" if exact == "off" else f"  note: exact constrained frontier skipped: {exact}"
    at_q = None
    if args.q in exact.q.tolist():
        i = exact.q.tolist().index(args.q)
        at_q = {"q": float(args.q), "cost": float(exact.cost[i]), "optimal": bool(exact.optimal[i]),
                "gap": float(best_cost - exact.cost[i])}
    info = {"method": exact.method, "seconds": exact.seconds, "unsolved_q": list(exact.unsolved), "at_q": at_q,
            "skipped": None}
    line = (f"  exact constrained frontier: {len(exact.q)} points ({int(exact.optimal.sum())} proven optimal) by "
            f"{exact.method} in {exact.seconds:.1f} s")
    if at_q is not None:
        line += (f"; at q={args.q:g}: {at_q['cost']:.8g} ({'optimal' if at_q['optimal'] else 'best found'}), "
                 f"GEO's gap {at_q['gap']:.3g}")
    return (exact.variance, exact.returns, exact.optimal), {"exact_frontier": exact.records(),
                                                            "exact_frontier_info": info}, line


def _write(args: argparse.Namespace, run: Any, inst: Any, problem: Any, model: Any, settings: Any, res: Any,
           baselines: dict[str, Any], exact: Any, wall_s: float) -> None:
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
    drawn, exact_summary, exact_line = _exact_report(args, exact, res.best_cost)
    plot_frontier(points, run["frontier.png"], frontier=_frontier(args), exact=drawn,
                  exact_label=f"exact constrained frontier (k={args.k})", title=f"{inst.name}, k={args.k}")
    summary = {
        "best_bits": res.best_bits.astype(int).tolist(), "best_cost": float(res.best_cost),
        "best_assets": np.flatnonzero(res.best_bits).tolist(), "evaluations": int(res.evaluations),
        "evaluated_total": int(len(res.costs)), "problem": {**problem.describe(), "instance": args.problem},
        "q": float(args.q) if args.form == "binary" else None, "lam": float(args.lam) if args.form == "chang" else None,
        "k": int(args.k), "form": args.form, "mode": args.mode, "generator": model.config(),
        "settings": settings.to_json(), "rounds": res.rounds, "seed": args.seed,
        "baselines": {b: {"best_cost": float(r.best_cost), "evaluations": int(r.evaluations), "seconds": r.seconds}
                      for b, r in baselines.items()},
        **exact_summary,
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
    if exact_line:
        print(exact_line)
    print(f"  time       {wall_s:.1f} s; device {device_name()}")
    run.print_paths()
