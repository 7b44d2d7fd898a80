"""``jqgen train mps``: MPS Born machines, by gradient descent (here) or sweeps.

This module owns the ``mps`` parser: the options both methods share, the ``--method
gradient`` group, and (from :mod:`jqgen.cli.train_sweep`) the ``--method sweep`` group.
:func:`command` fills in the chosen method's defaults, refuses the other method's options,
and runs :func:`train_gradient` or :func:`jqgen.cli.train_sweep.train`.

``--method gradient`` trains with Adam on the mean NLL at the fixed bond dimension
``--chi-max`` (:func:`jqgen.fit`), writing ``checkpoint.npz`` (with the optimizer state),
``summary.json``, ``training_curve.png``, ``samples.png`` and ``entropies.png``. The training
runner checkpoints every chunk (and on Ctrl-C): an interrupted or killed run resumes when the
same command is re-run, to the parameters an uninterrupted run reaches.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import train_sweep
from ._args import (
    DTYPES, add_data_argument, add_out_arguments, add_progress_argument, add_seed_argument, load_data,
    nonnegative_float, positive_float, positive_int,
)
from ._progress import ProgressLines, bar_wanted
from ._report import NUM_PLOT_SAMPLES, mps_report, print_nll_lines, samples_title, versions
from ._rundir import RunDir, TrainingStopped, device_name, prepare_run, slug, x64
from ..mps import MPSBornMachine, SymmetricMPSBornMachine
from ..protocol import check_support
from ..plots import plot_entropies, plot_samples, plot_training_curve
from ..training import NonFiniteLossError, fit

__all__ = ["FILES", "GRADIENT_DEFAULTS", "command", "register", "resolve_method_args", "train_gradient"]

#: Defaults of the ``--method gradient`` options.
GRADIENT_DEFAULTS = {"steps": 2000, "lr": 0.01, "batch_size": None, "init_noise": None, "chunk_size": 100}
#: Output files of ``--method gradient``, in print order.
FILES = ("checkpoint.npz", "summary.json", "training_curve.png", "samples.png", "entropies.png")

_DESCRIPTION = (
    "Train an MPS Born machine; writes a checkpoint, summary.json and plots to --out.\n\n"
    "--method gradient (default): Adam on the mean NLL at a fixed bond dimension --chi-max.\n"
    "  An interrupted run resumes from <out>/checkpoint.npz when the same command is re-run.\n"
)


def register(families: Any) -> None:
    """Adds the ``mps`` parser (both methods) to the ``train`` subparsers."""
    mps = families.add_parser("mps", help="MPS Born machine", formatter_class=argparse.RawDescriptionHelpFormatter,
                              description=_DESCRIPTION + train_sweep.DESCRIPTION)
    mps.add_argument("--method", choices=("gradient", "sweep"), default="gradient",
                     help="training method (default: %(default)s)")
    add_data_argument(mps, "bars-stripes-4x4")
    mps.add_argument("--chi-max", type=positive_int, default=32,
                     help="bond dimension; with --method sweep the largest one (default: %(default)s)")
    mps.add_argument("--lr", type=positive_float, default=None,
                     help="learning rate (default: 0.01 for Adam, 5e-3 for sweep)")
    mps.add_argument("--cardinality", type=positive_int, default=None, metavar="K",
                     help="generate only strings with exactly K ones: a U(1)-symmetric MPS "
                     "(jqgen.mps.SymmetricMPSBornMachine; --chi-max is then the block size of one charge "
                     "sector, with --method sweep the largest total bond); every data row must have K ones")
    mps.add_argument("--dtype", choices=DTYPES, default="float32",
                     help="parameter dtype; sweep: float32 or float64 (default: %(default)s)")
    add_seed_argument(mps)
    add_out_arguments(mps, "runs/mps-<data>, runs/mps-sweep-<data>")
    add_progress_argument(mps)
    g = mps.add_argument_group("--method gradient")
    g.add_argument("--steps", type=positive_int, default=None,
                   help=f"optimizer steps (default: {GRADIENT_DEFAULTS['steps']})")
    g.add_argument("--batch-size", type=positive_int, default=None, help="minibatch size (default: full batch)")
    g.add_argument("--init-noise", type=nonnegative_float, default=None,
                   help="weight of the init's random part (default: the model's, 4.0 for an MPS, 0.5 for "
                        "--cardinality)")
    g.add_argument("--chunk-size", type=positive_int, default=None,
                   help=f"steps per compiled chunk (default: {GRADIENT_DEFAULTS['chunk_size']})")
    train_sweep.add_arguments(mps.add_argument_group("--method sweep"))
    mps.set_defaults(func=command)


def resolve_method_args(args: argparse.Namespace) -> None:
    """Fills in the defaults of the chosen ``--method``; options of the other method are errors."""
    sweep = args.method == "sweep"
    own, other = train_sweep.SWEEP_DEFAULTS, GRADIENT_DEFAULTS
    if not sweep:
        own, other = other, own
    for name in other:
        if name not in own and getattr(args, name) is not None:
            raise ValueError(f"--{name.replace('_', '-')} applies to --method {'gradient' if sweep else 'sweep'} only")
    if sweep and getattr(args, "cardinality", None) is not None and args.normalized_grad is None:
        args.normalized_grad = False  # the block sweeps of a symmetric MPS have no normalized gradient
    for name, default in own.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if sweep and args.dtype not in ("float32", "float64"):
        raise ValueError(f"--method sweep supports --dtype float32 or float64, got {args.dtype}")


def command(args: argparse.Namespace) -> int:
    """Runs ``jqgen train mps`` (either method)."""
    resolve_method_args(args)
    with x64(args.dtype in ("float64", "complex128")):
        if args.method == "sweep":
            return train_sweep.train(args)
        return train_gradient(args)


def train_gradient(args: argparse.Namespace) -> int:
    """``jqgen train mps --method gradient``; returns 0 or raises (see :mod:`jqgen.cli`)."""
    t_start = time.perf_counter()
    ds = load_data(args.data, args.key)
    dtype = getattr(jnp, args.dtype)
    noise = {} if args.init_noise is None else {"init_noise": args.init_noise}
    if args.cardinality is None:
        model: Any = MPSBornMachine(ds.num_bits, args.chi_max, dtype=dtype, **noise)
    else:
        model = SymmetricMPSBornMachine(ds.num_bits, args.cardinality, args.chi_max, dtype=dtype, **noise)
        check_support(model, ds.data, f"--data {args.data}:")
    run = prepare_run(args.out, default_name=f"mps-{slug(ds.name)}", files=FILES, overwrite=args.overwrite,
                      unit="steps", total=args.steps)
    n_data = ds.data.shape[0]
    batch = n_data if args.batch_size is None else min(args.batch_size, n_data)
    hparams = {
        "family": model.config()["family"], "data": args.data, "data_key": args.key, "chi_max": args.chi_max,
        "cardinality": args.cardinality, "steps": args.steps, "lr": args.lr,
        "batch_size": batch, "init_noise": model.init_noise, "dtype": args.dtype, "seed": args.seed,
        "chunk_size": args.chunk_size, "optimizer": "adam", "method": "gradient",
    }
    metadata = {"data": args.data, "data_key": args.key, "dataset": ds.name, "image_shape": ds.image_shape,
                "steps": args.steps, "lr": args.lr, "seed": args.seed, "batch_size": batch, "hyperparameters": hparams,
                "status": "running"}
    k_init, k_fit, k_sample = jax.random.split(jax.random.key(args.seed), 3)
    params = jax.jit(model.init)(k_init)  # one compilation instead of many eager ops
    chunk_times: list[float] = []
    desc = f"mps chi={args.chi_max}"
    lines = ProgressLines(args.no_progress, desc, args.steps, "steps")

    def on_chunk(done: int, params: Any, state: Any, history: Any) -> None:
        chunk_times.append(time.perf_counter())
        run.progress(done)
        lines.chunk(done, history)

    status, error = "ok", None
    t_fit = time.perf_counter()
    try:
        with run.resuming():
            res = fit(model, params, ds.data, optax.adam(args.lr), key=k_fit, steps=args.steps, batch_size=batch,
                      chunk_size=args.chunk_size, progress=bar_wanted(args.no_progress), desc=desc,
                      callback=on_chunk, checkpoint_path=run.checkpoint, metadata=metadata)
        params, opt_state, history = res.params, res.state, res.history
    except NonFiniteLossError as e:
        params, opt_state, history = e.params, e.opt_state, e.history
        status, error = "non-finite loss", str(e)
    timing = {"fit_s": time.perf_counter() - t_fit, "t_start": t_start}
    timing["first_chunk_s"] = (chunk_times[0] - t_fit) if chunk_times else timing["fit_s"]
    _write_outputs(args, run, ds, model, params, opt_state, np.asarray(history), status, error, metadata, timing,
                   k_sample)
    if error is not None:
        raise TrainingStopped(f"{error} The last good parameters were saved to {run.checkpoint}.")
    return 0


def _write_outputs(args: argparse.Namespace, run: RunDir, ds: Any, model: Any, params: Any, opt_state: Any,
                   history: np.ndarray, status: str, error: str | None, metadata: dict[str, Any],
                   timing: dict[str, float], k_sample: jax.Array) -> None:
    """The final checkpoint (the optimizer state in Optax's structure, the runner's
    ``metadata["training"]``), plots and summary of a gradient run, and its printout."""
    report = mps_report(model, params, ds, k_sample)
    ideal, n_data, device = ds.ideal_nll, ds.data.shape[0], device_name()
    hparams, batch = metadata["hyperparameters"], metadata["batch_size"]
    per_step = "NLL per step" if batch == n_data else f"minibatch NLL (batch {batch})"
    plot_training_curve(history, run["training_curve.png"], ideal=ideal, title=f"MPS chi={args.chi_max} on {ds.name}",
                        label=per_step, final=report.train_nll, final_label="train NLL of the final parameters")
    plot_samples(report.samples, ds.image_shape, run["samples.png"], title=samples_title(report.samples_in_data))
    plot_entropies(report.entropies, run["entropies.png"], title="bond entanglement entropies", chi_max=args.chi_max)
    run.write_final_checkpoint(model, params, opt_state, {
        **metadata, "steps_done": int(history.shape[0]) if status == "ok" else int(history.shape[0]) - 1,
        "nll": report.train_nll, "test_nll": report.test_nll, "status": status})
    wall_s = time.perf_counter() - timing["t_start"]
    run.write_summary({
        "status": status, "error": error, "hyperparameters": hparams, "dataset": ds.name,
        "num_data": n_data, "num_bits": ds.num_bits, "image_shape": ds.image_shape,
        "num_test": None if ds.test is None else int(ds.test.shape[0]),
        "train_nll": report.train_nll, "test_nll": report.test_nll, "ideal_nll": ideal,
        "gap": report.train_nll - ideal, "final_batch_loss": float(history[-1]), "history_len": int(history.shape[0]),
        "samples_in_data": report.samples_in_data, "entropies": report.entropies,
        "fit_s": timing["fit_s"], "first_chunk_s": timing["first_chunk_s"], "wall_s": wall_s,
        "device": device, **versions(),
    })
    kind = "" if args.cardinality is None else f", symmetric (exactly {args.cardinality} ones)"
    print(f"jqgen train mps: {ds.name} ({n_data} samples x {ds.num_bits} bits){kind}, chi_max={args.chi_max}, "
          f"{args.dtype}, adam lr={args.lr:g}, {args.steps} steps, batch {batch}{' (full)' if batch == n_data else ''}")
    print_nll_lines(report, ds)
    print(f"  samples    {report.samples_in_data:.0%} of {NUM_PLOT_SAMPLES} lie in the training set")
    print(f"  time       compile+train {timing['fit_s']:.2f} s (first chunk incl. compilation "
          f"{timing['first_chunk_s']:.2f} s), wall {wall_s:.2f} s; device {device}")
    run.print_paths()
