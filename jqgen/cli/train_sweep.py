"""``jqgen train mps --method sweep``: two-site sweep training (:func:`jqgen.sweep.sweep_train`).

The ``mps`` parser belongs to :mod:`jqgen.cli.train_mps`, which adds this module's option
group (:func:`add_arguments`) and calls :func:`train` for ``--method sweep``. The run state
is ``<out>/checkpoint.npz`` (written by ``sweep_train`` after every loop): a re-run with the
same settings continues it, also after it finished (raise ``--loops`` to train on); other
settings are refused (``--overwrite`` starts afresh).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._args import load_data, nonnegative_float, positive_float, positive_int
from ._progress import ProgressLines, bar_wanted
from ._report import NUM_PLOT_SAMPLES, mps_report, print_nll_lines, samples_title, versions
from ._rundir import (
    RunDir, TrainingStopped, add_metadata, device_name, prepare_run, resolve_out, settings_diff,
    slug,
)
from ..checkpoint import checkpoint_info, load_checkpoint
from ..data import Dataset
from ..mps import SymmetricMPSBornMachine
from ..protocol import check_support
from ..plots import plot_bond_dims, plot_entropies, plot_samples, plot_training_curve
from ..training import stored_state, sweep_train

__all__ = ["DESCRIPTION", "FILES", "RESUME_KEYS", "SWEEP_DEFAULTS", "add_arguments", "train"]

#: Han et al.'s MNIST "capacity" settings (their GPU code), except the number of loops.
SWEEP_DEFAULTS = {"loops": 20, "lr": 5e-3, "descent_steps": 1, "num_batches": 1, "cutoff": 0.0, "chi_min": 2,
                  "normalized_grad": True, "lr_decay_on_rise": 0.2, "min_improvement": 0.002}
#: Settings that must agree when a sweep run resumes from an existing checkpoint.
RESUME_KEYS = ("data", "data_key", "cardinality", "chi_max", "lr", "descent_steps", "num_batches", "cutoff", "chi_min", "normalized_grad",
               "lr_decay_on_rise", "min_improvement", "dtype", "seed")
#: Output files, in print order.
FILES = ("checkpoint.npz", "summary.json", "training_curve.png", "bond_dims.png", "samples.png", "entropies.png")
#: The ``--method sweep`` part of ``jqgen train mps -h``.
DESCRIPTION = (
    "--method sweep: two-site DMRG-style sweeps (Han et al., PRX 8, 031012, 2018); each bond\n"
    "  takes gradient steps on the merged two-site tensor, then an SVD sets its dimension\n"
    "  (at most --chi-max). The defaults are the authors' MNIST 'capacity' settings: full\n"
    "  batch, 1 descent step, lr 5e-3, normalized gradients, no cutoff, lr x0.2 when a loop's\n"
    "  NLL rises, stop when a loop improves it by less than 0.002. The run state is saved to\n"
    "  <out>/checkpoint.npz after every loop; re-running the same command with the same --out\n"
    "  resumes from it (bit-identical to an uninterrupted run; raise --loops to train on).\n"
    "  Also writes bond_dims.png."
)


def add_arguments(group: Any) -> None:
    """Adds the ``--method sweep`` options (defaults ``None``: filled in by ``train_mps``)."""
    d = SWEEP_DEFAULTS
    group.add_argument("--loops", type=positive_int, default=None,
                       help=f"most loops (right-to-left + left-to-right sweeps) (default: {d['loops']})")
    group.add_argument("--descent-steps", type=positive_int, default=None,
                       help=f"gradient steps per bond (default: {d['descent_steps']})")
    group.add_argument("--num-batches", type=positive_int, default=None,
                       help=f"minibatches per bond, 1 = full batch (default: {d['num_batches']})")
    group.add_argument("--cutoff", type=nonnegative_float, default=None,
                       help=f"relative singular-value cutoff (default: {d['cutoff']:g})")
    group.add_argument("--chi-min", type=positive_int, default=None,
                       help=f"smallest kept bond dimension (default: {d['chi_min']})")
    group.add_argument("--normalized-grad", action=argparse.BooleanOptionalAction, default=None,
                       help="rescale small gradients up to norm numel**0.25 (default: on)")
    group.add_argument("--lr-decay-on-rise", type=positive_float, default=None,
                       help="multiply lr by this when a loop's NLL rises; 1 = off "
                       f"(default: {d['lr_decay_on_rise']:g})")
    group.add_argument("--min-improvement", type=nonnegative_float, default=None,
                       help=f"stop when a loop improves the NLL by less; 0 = off (default: {d['min_improvement']:g})")


def _hyperparameters(args: argparse.Namespace, ds: Dataset) -> dict[str, Any]:
    """The run's settings, after the checks ``sweep_train`` would make (before anything is written)."""
    n_data, n = ds.data.shape
    if n < 3:
        raise ValueError(f"--method sweep needs at least 3 bits per sample, {ds.name} has {n}")
    if args.chi_min > args.chi_max:
        raise ValueError(f"--chi-min ({args.chi_min}) must not exceed --chi-max ({args.chi_max})")
    if args.num_batches > n_data:
        raise ValueError(f"--num-batches ({args.num_batches}) exceeds the number of samples ({n_data})")
    if args.lr_decay_on_rise > 1:
        raise ValueError(f"--lr-decay-on-rise must be in (0, 1], got {args.lr_decay_on_rise:g}")
    if args.cardinality is not None:
        check_support(SymmetricMPSBornMachine(n, args.cardinality, 1), ds.data, f"--data {args.data}:")
        if args.normalized_grad:
            raise ValueError("--normalized-grad is not available with --cardinality (block sweeps)")
    return {
        "family": "mps" if args.cardinality is None else "symmetric-mps", "method": "sweep", "data": args.data,
        "data_key": args.key,
        "cardinality": args.cardinality, "chi_max": args.chi_max, "loops": args.loops,
        "lr": args.lr, "descent_steps": args.descent_steps, "num_batches": args.num_batches,
        "batch_size": n_data // args.num_batches, "cutoff": args.cutoff, "chi_min": args.chi_min,
        "normalized_grad": args.normalized_grad,
        "lr_decay_on_rise": None if args.lr_decay_on_rise == 1 else args.lr_decay_on_rise,
        "min_improvement": None if args.min_improvement == 0 else args.min_improvement,
        "dtype": args.dtype, "seed": args.seed,
    }


def _resumed_loops(ckpt: str, hparams: dict[str, Any]) -> int:
    """Loops done in ``ckpt`` (0 without one), after checking that it is a sweep run of the
    same settings (``sweep_train`` checks the rest: key, data, schedules)."""
    if not os.path.exists(ckpt):
        return 0
    meta = checkpoint_info(ckpt).get("metadata") or {}
    training = meta.get("training") or {}
    if meta.get("kind") != "sweep" or training.get("strategy") != "sweep":
        raise ValueError(f"{ckpt} exists and is not a sweep checkpoint; choose another --out (or pass --overwrite)")
    diff = settings_diff(meta.get("hyperparameters") or {}, hparams, RESUME_KEYS)
    if diff:
        raise ValueError(f"{ckpt} was written with other settings: {', '.join(diff)}; "
                         f"use them to resume, or choose another --out (or pass --overwrite)")
    return int(training.get("steps_done", 0))


def _history(metrics: dict[str, list[float]]) -> dict[str, list[float]]:
    """The per-loop history of the runner's metrics (as :class:`jqgen.training.SweepResult` has it)."""
    done = len(metrics["loss"])
    return {"loop": list(range(1, done + 1)), "train_nll": [float(v) for v in metrics["loss"]],
            "test_nll": [float(v) for v in metrics.get("test_nll", [math.nan] * done)],
            "max_bond": [int(v) for v in metrics.get("max_bond", [])], "lr": [float(v) for v in metrics.get("lr", [])],
            "seconds": [float(v) for v in metrics.get("seconds", [])]}


def train(args: argparse.Namespace) -> int:
    """``jqgen train mps --method sweep`` (see ``jqgen train mps -h``); returns 0 or raises."""
    t_start = time.perf_counter()
    ds = load_data(args.data, args.key)
    hparams = _hyperparameters(args, ds)
    out = resolve_out(args.out, f"mps-sweep-{slug(ds.name)}")
    resumed_from = 0 if args.overwrite else _resumed_loops(os.path.join(out, "checkpoint.npz"), hparams)
    run = prepare_run(out, default_name="", files=FILES, overwrite=args.overwrite, unit="loops", total=args.loops,
                      continues=True)
    run.progress(resumed_from)
    metadata = {"kind": "sweep", "method": "sweep", "data": args.data, "data_key": args.key, "dataset": ds.name,
                "image_shape": ds.image_shape, "loops": args.loops, "lr": args.lr, "seed": args.seed,
                "hyperparameters": hparams, "status": "running"}
    k_train, k_sample = jax.random.split(jax.random.key(args.seed))
    error, stopped = None, False
    lines = ProgressLines(args.no_progress, f"sweep D_max={args.chi_max}", args.loops, "loops")

    def on_loop(done: int, params: Any, state: Any, history: Any) -> None:
        run.progress(done)
        lines.chunk(done, history)

    t_fit = time.perf_counter()
    try:
        with run.resuming():
            res = sweep_train(
                ds.data, max_bond=args.chi_max, loops=args.loops, key=k_train, lr=args.lr,
                descent_steps=args.descent_steps, num_batches=args.num_batches, cutoff=args.cutoff,
                min_bond=args.chi_min, normalized_grad=args.normalized_grad,
                lr_decay_on_rise=hparams["lr_decay_on_rise"], min_improvement=hparams["min_improvement"],
                test_data=ds.test, dtype=getattr(jnp, args.dtype), checkpoint_path=run.checkpoint,
                progress=bar_wanted(args.no_progress), metadata=metadata, callback=on_loop,
                target=args.cardinality,
            )
        model, params, dims, history = res.model, res.mps, np.asarray(res.bond_dims, np.int64), res.history
        stopped = res.status.startswith("stopped")
    except FloatingPointError as e:  # a NaN/inf NLL (the runner's NonFiniteLossError) or factorization
        error = str(e)
        if not os.path.exists(run.checkpoint):
            raise TrainingStopped(f"{error}; no loop finished, nothing was saved.") from None
        last_good = load_checkpoint(run.checkpoint)  # the last loop that finished
        model, params, history = last_good.model, last_good.params, _history(last_good.metadata["training"]["metrics"])
        dims = np.asarray(stored_state(run.checkpoint)[".dims"], np.int64)
    fit_s = time.perf_counter() - t_fit
    history = {k: list(v) for k, v in history.items()}
    _write_outputs(args, run, ds, hparams, model, params, dims, history, error, stopped, resumed_from,
                   {"t_start": t_start, "fit_s": fit_s}, k_sample)
    if error is not None:
        raise TrainingStopped(f"{error}. The last good loop was saved to {run.checkpoint}.")
    return 0


def _stop_reason(error: str | None, stopped: bool, history: dict[str, list[float]], hparams: dict[str, Any],
                 loops: int) -> str:
    if error is not None:
        return "non-finite NLL"
    if stopped:
        gain = history["train_nll"][-2] - history["train_nll"][-1]
        return f"converged: loop {len(history['loop'])} improved the NLL by {gain:.2g} < {hparams['min_improvement']:g}"
    return f"reached --loops {loops}"


def _write_outputs(args: argparse.Namespace, run: RunDir, ds: Dataset, hparams: dict[str, Any], model: Any,
                   params: Any, dims: np.ndarray, history: dict[str, list[float]], error: str | None, stopped: bool,
                   resumed_from: int, timing: dict[str, Any], k_sample: jax.Array) -> None:
    """The final checkpoint (the runner's, so a re-run still resumes, with the results
    added to its metadata), the plots, the summary and the printout."""
    status = "ok" if error is None else "non-finite loss"
    report = mps_report(model, params, ds, k_sample)
    sectors = dims.tolist() if dims.ndim == 2 else None  # [n + 1, Q] block sizes of a symmetric MPS
    dims = dims.sum(axis=1) if dims.ndim == 2 else dims
    loops_done = len(history["loop"])
    stop_reason = _stop_reason(error, stopped, history, hparams, args.loops)
    add_metadata(run.checkpoint, {
        "loop": loops_done, "loops_done": loops_done, "nll": report.train_nll, "test_nll": report.test_nll,
        "status": status, "stop_reason": stop_reason, "history": history, "bond_dims": dims.tolist(),
        "sector_dims": sectors,
    })
    plot_training_curve(history["train_nll"], run["training_curve.png"], ideal=ds.ideal_nll,
                        test=history["test_nll"] if ds.test is not None else None, xlabel="loop", label="train NLL",
                        final=report.train_nll, final_label="train NLL of the final parameters",
                        title=f"MPS sweep, D_max={args.chi_max}, on {ds.name}")
    plot_bond_dims(dims, run["bond_dims.png"], chi_max=args.chi_max, title=f"bond dimensions after {loops_done} loops")
    plot_samples(report.samples, ds.image_shape, run["samples.png"], title=samples_title(report.samples_in_data))
    plot_entropies(report.entropies, run["entropies.png"], title="bond entanglement entropies", chi_max=args.chi_max)
    seconds = history["seconds"][resumed_from:]  # the loops of this invocation
    timing["loops_run"] = len(seconds)
    timing["first_loop_s"] = seconds[0] if seconds else None
    timing["median_loop_s"] = float(np.median(seconds[1:])) if len(seconds) > 1 else timing["first_loop_s"]
    timing["wall_s"] = time.perf_counter() - timing["t_start"]
    run.write_summary({
        "status": status, "error": error, "method": "sweep", "hyperparameters": hparams,
        "dataset": ds.name, "num_data": int(ds.data.shape[0]), "num_bits": ds.num_bits, "image_shape": ds.image_shape,
        "num_test": None if ds.test is None else int(ds.test.shape[0]),
        "train_nll": report.train_nll, "test_nll": report.test_nll, "ideal_nll": ds.ideal_nll,
        "gap": report.train_nll - ds.ideal_nll, "loops_done": loops_done, "resumed_from_loop": resumed_from,
        "stop_reason": stop_reason, "history": history, "bond_dims": dims.tolist(), "sector_dims": sectors,
        "max_bond": int(dims.max()),
        "model_chi_pad": model.chi_max, "samples_in_data": report.samples_in_data, "entropies": report.entropies,
        "fit_s": timing["fit_s"], "first_loop_s": timing["first_loop_s"], "median_loop_s": timing["median_loop_s"],
        "wall_s": timing["wall_s"], "device": device_name(), **versions(),
    })
    _print(args, ds, hparams, report, dims, loops_done, stop_reason, resumed_from, timing)
    run.print_paths()
    print("  resume     re-run with the same --out to continue from checkpoint.npz (raise --loops to train on)")


def _print(args: argparse.Namespace, ds: Dataset, hparams: dict[str, Any], report: Any, dims: np.ndarray,
           loops_done: int, stop_reason: str, resumed_from: int, timing: dict[str, Any]) -> None:
    n_data, n = ds.data.shape
    batches = f"{args.num_batches} batch{'es' if args.num_batches > 1 else ''}"
    opts = [f"lr={args.lr:g}", f"{args.descent_steps} descent step{'s' if args.descent_steps > 1 else ''}",
            batches + (" (full)" if args.num_batches == 1 else ""), f"cutoff {args.cutoff:g}"]
    if args.normalized_grad:
        opts.append("normalized grad")
    if hparams["lr_decay_on_rise"] is not None:
        opts.append(f"lr x{hparams['lr_decay_on_rise']:g} on rise")
    if hparams["min_improvement"] is not None:
        opts.append(f"stop below {hparams['min_improvement']:g}")
    kind = "" if args.cardinality is None else f", symmetric (exactly {args.cardinality} ones)"
    print(f"jqgen train mps --method sweep: {ds.name} ({n_data} samples x {n} bits){kind}, D_max={args.chi_max}, "
          f"{args.dtype}, {', '.join(opts)}")
    print(f"  loops      {loops_done} (--loops {args.loops}; {stop_reason})"
          + (f", resumed from loop {resumed_from}" if resumed_from else ""))
    print_nll_lines(report, ds)
    print(f"  bonds      max {int(dims.max())}, mean {dims[1:-1].mean():.1f} (D_max {args.chi_max})")
    print(f"  samples    {report.samples_in_data:.0%} of {NUM_PLOT_SAMPLES} lie in the training set")
    device, run_loops, wall_s = device_name(), timing["loops_run"], timing["wall_s"]
    if run_loops:
        print(f"  time       train {timing['fit_s']:.2f} s for {run_loops} loop{'s' if run_loops > 1 else ''} (first "
              f"loop incl. compilation {timing['first_loop_s']:.2f} s, median loop {timing['median_loop_s']:.2f} s), "
              f"wall {wall_s:.2f} s; device {device}")
    else:
        print(f"  time       nothing left to train (all loops in the checkpoint); wall {wall_s:.2f} s; device {device}")
