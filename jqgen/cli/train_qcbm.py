"""``jqgen train qcbm``: quantum circuit Born machines (simulated; ``--device``: on a device).

Adam on an exact or shot-based loss (:func:`jqgen.fit` with :func:`jqgen.qcbm.make_loss`)
or CMA-ES (:func:`jqgen.qcbm.cmaes_fit`); writes ``checkpoint.npz``, ``summary.json``,
``training_curve.png``, ``samples.png`` and ``distribution.png``; an interrupted run resumes
from ``<out>/checkpoint.npz`` when the same command is re-run. ``--device`` runs
:func:`jqgen.cli.train_qcbm_device.train_qcbm_on_device` instead, as ``jqgen train
qcbm-device`` does. ``--cardinality K`` trains a
:class:`jqgen.qcbm.ConservingQCBM` (Givens circuit on ``--topology``, simulated in the
``C(n, K)`` subspace) whose samples all have weight ``K``; the data must have weight ``K``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import train_qcbm_device
from ._args import (
    REAL_DTYPES, add_data_argument, add_out_arguments, add_progress_argument, add_seed_argument, load_data,
    positive_float, positive_int,
)
from ._progress import ProgressLines, bar_wanted
from ._report import NUM_PLOT_SAMPLES, fraction_in, samples_title, versions
from ._rundir import RunDir, TrainingStopped, device_name, prepare_run, slug, x64
from ..plots import plot_distribution, plot_samples, plot_training_curve
from ..distributions import empirical_distribution, kl_divergence, mmd
from ..qcbm import ANSATZ_NAMES, QCBM, ConservingQCBM, Givens, ansatz_by_name, full_support_layers, make_loss
from ..training import NonFiniteLossError, cmaes_fit, fit

__all__ = ["FILES", "HYPERPARAMETERS", "command", "register", "train"]

#: Output files, in print order.
FILES = ("checkpoint.npz", "summary.json", "training_curve.png", "samples.png", "distribution.png")
#: The options recorded as ``hyperparameters`` in the checkpoint and summary.
HYPERPARAMETERS = ("data", "ansatz", "layers", "loss", "shots", "optimizer", "lr", "steps", "population", "sigma0",
                   "dtype", "engine", "chunk_size", "seed", "cardinality", "topology", "phases")
#: ``--layers`` by default (with ``--cardinality``: at least :func:`jqgen.qcbm.full_support_layers`).
_LAYERS = 10


def _weight(text: str) -> int:
    """Argument type of ``--cardinality``: an integer ``>= 0``."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def register(families: Any) -> None:
    """Adds the ``qcbm`` parser to the ``train`` subparsers."""
    q = families.add_parser(
        "qcbm", help="quantum circuit Born machine", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a quantum circuit Born machine (TensorCircuit JAX backend); writes a checkpoint,\n"
        "summary.json, training_curve.png, samples.png and distribution.png to --out.\n\n"
        "--ansatz line|all|star: RX,RZ layers with RXX entanglers on that graph (Benedetti et al.);\n"
        "  cnot-line|chow-liu: Liu & Wang's RZ RX RZ layers with CNOTs on a line or on the data's\n"
        "  Chow-Liu tree; su4: brickwork of general two-qubit gates. --layers counts entangling blocks.\n"
        "--shots N estimates the loss and its parameter-shift gradient from N shots per circuit,\n"
        "  as on hardware; without it probabilities are exact and gradients come from autodiff.\n"
        "--optimizer cmaes trains gradient-free (evosax CMA-ES); --steps then counts generations.\n"
        "--cardinality K trains a Hamming-weight-conserving circuit (Givens rotations on --topology,\n"
        "  simulated in the C(n, K) subspace): every sample has weight K; the data must have weight K.\n"
        "An interrupted run resumes from <out>/checkpoint.npz when the same command is re-run.")
    add_data_argument(q, "bars-stripes-3x3")
    q.add_argument("--ansatz", choices=ANSATZ_NAMES, default="line", help="circuit family (default: %(default)s)")
    q.add_argument("--layers", type=positive_int, default=None,
                   help="entangling blocks (default: 10; with --cardinality at least the fewest Givens layers that "
                   "reach every weight-K string, jqgen.qcbm.full_support_layers)")
    q.add_argument("--loss", choices=("mmd", "kl", "nll"), default="mmd", help="training loss (default: %(default)s)")
    q.add_argument("--shots", type=positive_int, default=None, help="shots per circuit (default: exact probabilities)")
    q.add_argument("--optimizer", choices=("adam", "cmaes"), default="adam", help="(default: %(default)s)")
    q.add_argument("--lr", type=positive_float, default=0.1, help="Adam learning rate (default: %(default)s)")
    q.add_argument("--steps", type=positive_int, default=500,
                   help="optimizer steps or generations (default: %(default)s)")
    q.add_argument("--population", type=positive_int, default=None, help="CMA-ES population (default: 4 + 3 ln P)")
    q.add_argument("--sigma0", type=positive_float, default=0.3, help="CMA-ES initial step size (default: %(default)s)")
    q.add_argument("--dtype", choices=REAL_DTYPES, default="float32", help="angle dtype (default: %(default)s)")
    q.add_argument("--engine", choices=("fused", "tensorcircuit"), default="fused",
                   help="simulator (default: %(default)s)")
    q.add_argument("--cardinality", type=_weight, default=None, metavar="K",
                   help="conserve the Hamming weight K (a Givens circuit; --ansatz is then ignored)")
    q.add_argument("--topology", choices=("brick", "staircase", "all"), default="brick",
                   help="Givens edges per layer with --cardinality (default: %(default)s)")
    q.add_argument("--phases", choices=("none", "rz", "rzz"), default="none",
                   help="RZ (and RZZ) phases after each Givens layer with --cardinality (default: %(default)s)")
    q.add_argument("--chunk-size", type=positive_int, default=50,
                   help="steps per compiled chunk (default: %(default)s)")
    add_seed_argument(q)
    add_out_arguments(q, "runs/qcbm-<ansatz>-<data>")
    add_progress_argument(q)
    q.add_argument("--device", default=None, metavar="PROVIDER::DEVICE",
                   help="train on a device (e.g. local::testing): shots and parameter-shift gradients, journaled and "
                   "resumable; the same as 'jqgen train qcbm-device' (--shots default 1000)")
    q.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Runs ``jqgen train qcbm``."""
    if args.device is None:
        with x64(args.dtype == "float64"):
            return train(args)
    if args.ansatz not in train_qcbm_device.DEVICE_ANSATZ_NAMES or args.loss == "nll" or args.optimizer != "adam":
        raise ValueError("--device trains the line/all/star/cnot-line/chow-liu ansatze with --loss mmd or kl and "
                         f"Adam; got --ansatz {args.ansatz} --loss {args.loss} --optimizer {args.optimizer}")
    return train_qcbm_device.train_qcbm_on_device(
        data=args.data, key=args.key, ansatz=args.ansatz, layers=args.layers or _LAYERS, loss=args.loss,
        shots=args.shots if args.shots is not None else 1000, lr=args.lr, steps=args.steps, seed=args.seed,
        device=args.device, out=args.out, overwrite=args.overwrite, progress=not args.no_progress)


def train(args: argparse.Namespace) -> int:
    """``jqgen train qcbm`` on the simulator; returns 0 or raises (see :mod:`jqgen.cli`)."""
    t_start = time.perf_counter()
    ds = load_data(args.data, args.key)
    model = _model(args, ds)
    dense = not (isinstance(model, ConservingQCBM) and ds.num_bits > ConservingQCBM.MAX_DENSE_BITS)
    name = args.ansatz if args.cardinality is None else f"givens-k{args.cardinality}"
    run = prepare_run(args.out, default_name=f"qcbm-{name}-{slug(ds.name)}",
                      files=FILES if dense else tuple(f for f in FILES if f != "distribution.png"),
                      overwrite=args.overwrite, unit="generations" if args.optimizer == "cmaes" else "steps",
                      total=args.steps)
    hparams = {k: getattr(args, k) for k in HYPERPARAMETERS}
    hparams["data_key"] = args.key
    metadata = {"data": args.data, "data_key": args.key, "dataset": ds.name, "image_shape": ds.image_shape,
                "hyperparameters": hparams, "status": "running"}
    k_init, k_fit, k_sample = jax.random.split(jax.random.key(args.seed), 3)
    params = jax.jit(model.init)(k_init)
    chunk_times: list[float] = []
    desc = f"qcbm {args.ansatz} L={args.layers} {args.loss}" + (f" {args.shots} shots" if args.shots else "")
    lines = ProgressLines(args.no_progress, desc, args.steps, "generations" if args.optimizer == "cmaes" else "steps")

    def on_chunk(done: int, params: Any, state: Any, history: Any) -> None:
        chunk_times.append(time.perf_counter())
        run.progress(done)
        lines.chunk(done, history)

    common = dict(key=k_fit, chunk_size=args.chunk_size, progress=bar_wanted(args.no_progress), desc=desc,
                  callback=on_chunk, checkpoint_path=run.checkpoint, metadata=metadata)
    error = None
    t_fit = time.perf_counter()
    try:
        with run.resuming():
            if args.optimizer == "adam":
                exact_nll = args.cardinality is not None and args.loss == "nll" and args.shots is None
                res = fit(model, params, ds.data, optax.adam(args.lr), steps=args.steps,
                          loss=None if exact_nll else make_loss(model, args.loss, shots=args.shots), **common)
            else:
                res = cmaes_fit(model, params, ds.data, generations=args.steps, population_size=args.population,
                                sigma0=args.sigma0, loss=args.loss, shots=args.shots, **common)
        params, opt_state, history = res.params, res.state, res.history
    except NonFiniteLossError as e:
        params, opt_state, history, error = e.params, e.opt_state, e.history, str(e)
    fit_s = time.perf_counter() - t_fit
    timing = {"t_start": t_start, "fit_s": fit_s, "first_chunk_s": (chunk_times[0] - t_fit) if chunk_times else fit_s}
    _write_outputs(args, run, ds, model, params, opt_state, np.asarray(history), error, metadata, timing, k_sample)
    if error is not None:
        raise TrainingStopped(f"{error} The last good parameters were saved to {run.checkpoint}.")
    return 0


def _model(args: argparse.Namespace, ds: Any) -> Any:
    """The model of the options: a :class:`QCBM`, or with ``--cardinality`` a
    :class:`ConservingQCBM` (after checking that every data string has that weight)."""
    dtype = getattr(jnp, args.dtype)
    if args.cardinality is None:
        args.layers = args.layers or _LAYERS
        return QCBM(ansatz_by_name(args.ansatz, ds.num_bits, args.layers, ds.data), dtype=dtype, engine=args.engine)
    k = args.cardinality
    if k > ds.num_bits:
        raise ValueError(f"--cardinality {k} exceeds the {ds.num_bits} bits of data set {ds.name!r}")
    weights = np.asarray(ds.data, np.int64).sum(axis=1)
    bad = np.flatnonzero(weights != k)
    if bad.size:
        raise ValueError(f"--cardinality {k}: data set {ds.name!r} has {bad.size} of {weights.size} samples of another "
                         f"weight (sample {bad[0]} has weight {weights[bad[0]]}); every sample must have weight {k}")
    need = full_support_layers(ds.num_bits, k, args.topology)
    if args.layers is None:
        args.layers = max(_LAYERS, need)
    elif args.layers < need:
        print(f"note: {args.layers} {args.topology} Givens layers give probability 0 to some weight-{k} strings of "
              f"{ds.num_bits} bits; {need} reach them all")
    return ConservingQCBM(Givens(ds.num_bits, k, args.layers, topology=args.topology, phases=args.phases),
                          dtype=dtype, engine=args.engine)


def _distribution(model: Any, params: Any, data: np.ndarray) -> tuple[Any, Any, float]:
    """``(probs, target)`` (dense, or ``None`` beyond the dense size of a conserving model)
    and the probability on the training patterns."""
    n = data.shape[1]
    if isinstance(model, ConservingQCBM) and n > ConservingQCBM.MAX_DENSE_BITS:
        rows = np.unique(data, axis=0)
        return None, None, float(np.exp(np.asarray(jax.jit(model.log_prob)(params, rows), np.float64)).sum())
    probs = np.asarray(jax.jit(model.probs)(params), np.float64)
    target = np.asarray(empirical_distribution(data, n), np.float64)
    return probs, target, float(probs[target > 0].sum())


def _write_outputs(args: argparse.Namespace, run: RunDir, ds: Any, model: QCBM, params: Any, opt_state: Any,
                   history: np.ndarray, error: str | None, metadata: dict[str, Any], timing: dict[str, float],
                   k_sample: jax.Array) -> None:
    """The final checkpoint (the optimizer state in its own structure, the runner's
    ``metadata["training"]``), plots and summary of a simulated QCBM run, and its printout."""
    n, status = ds.num_bits, "ok" if error is None else "non-finite loss"
    probs, target, valid_rate = _distribution(model, params, ds.data)
    final_mmd = None if probs is None else float(mmd(jnp.asarray(probs), jnp.asarray(target)))
    final_kl = None if probs is None else float(kl_divergence(jnp.asarray(target), jnp.asarray(probs)))
    samples = np.asarray(jax.jit(model.sample, static_argnums=2)(params, k_sample, NUM_PLOT_SAMPLES))
    in_data, device = fraction_in(samples, ds.data), device_name()
    hparams = metadata["hyperparameters"]
    cmaes = args.optimizer == "cmaes"
    circuit = args.ansatz if args.cardinality is None else f"givens-{args.topology} (weight {args.cardinality})"
    loss_label = {"mmd": "squared MMD", "kl": "KL(data || model)", "nll": "NLL (nats)"}[args.loss]
    plot_training_curve(history, run["training_curve.png"],
                        title=f"QCBM {circuit}, {args.layers} layers, {ds.name}",
                        xlabel="generation" if cmaes else "step",
                        label=loss_label + (" (best of population)" if cmaes else "") + (" (shots)" if args.shots else ""),
                        ylabel=loss_label, logy=args.loss in ("mmd", "kl"),
                        final={"mmd": final_mmd, "kl": final_kl}.get(args.loss),
                        final_label=f"exact {'MMD^2' if args.loss == 'mmd' else 'KL'} of the final parameters")
    plot_samples(samples, ds.image_shape, run["samples.png"], title=samples_title(in_data))
    if probs is not None:
        plot_distribution(probs, target, run["distribution.png"], title=f"valid-pattern rate {valid_rate:.1%}")
    run.write_final_checkpoint(model, params, opt_state, {**metadata, "valid_rate": valid_rate, "status": status})
    wall_s = time.perf_counter() - timing["t_start"]
    run.write_summary({
        "status": status, "error": error, "hyperparameters": hparams, "dataset": ds.name,
        "num_data": int(ds.data.shape[0]), "num_bits": n, "ansatz": model.ansatz.config(),
        "num_params": model.ansatz.num_params, "valid_rate": valid_rate, "final_mmd": final_mmd, "final_kl": final_kl,
        "final_loss": float(history[-1]) if len(history) else None, "history_len": int(len(history)),
        "samples_in_data": in_data, "fit_s": timing["fit_s"], "first_chunk_s": timing["first_chunk_s"],
        "wall_s": wall_s, "device": device, **versions(),
    })
    how = f"{args.shots} shots, parameter-shift" if args.shots else "exact"
    print(f"jqgen train qcbm: {ds.name} ({ds.data.shape[0]} samples x {n} bits), ansatz {circuit}, "
          f"{args.layers} layers ({model.ansatz.num_params} angles), {args.loss} ({how}), "
          f"{args.optimizer}, {args.steps} {'generations' if cmaes else 'steps'}")
    print(f"  valid-pattern rate {valid_rate:.1%}   (probability on the training patterns)")
    if final_mmd is not None:
        print(f"  MMD^2 {final_mmd:.3e}   KL(data||model) {final_kl:.4f}")
    print(f"  samples    {in_data:.0%} of {NUM_PLOT_SAMPLES} lie in the training set")
    print(f"  time       train {timing['fit_s']:.2f} s (first chunk incl. compilation "
          f"{timing['first_chunk_s']:.2f} s), wall {wall_s:.2f} s; device {device}")
    run.print_paths()
