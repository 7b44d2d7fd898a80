"""The ``jqgen`` command line: train a model on a data set, sample from a checkpoint.

    jqgen train mps [--data bars-stripes-4x4] [--chi-max 32] [--steps 2000] ...
    jqgen sample runs/mps-bars-stripes-4x4/checkpoint.npz --num 16 --out samples.png
    jqgen --version

Exit codes: 0 success, 1 training stopped on a non-finite loss (the last good parameters
are still saved), 2 bad arguments or inputs (one-line message on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
import time
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .checkpoint import _needs_x64, checkpoint_info, load_checkpoint, save_checkpoint
from .data import load_dataset
from .mps import MPSBornMachine, entanglement_entropies
from .plots import plot_entropies, plot_samples, plot_training_curve
from .train import NonFiniteLossError, fit, mean_nll

__all__ = ["main"]

_DTYPES = ("float32", "float64", "complex64", "complex128")
_NUM_PLOT_SAMPLES = 32


def _version() -> str:
    import jqgen

    return jqgen.__version__


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line on stderr, exit code 2
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} -h')\n")


def _positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    return v


def _float(lo: float, strict: bool) -> Any:
    def parse(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            v = math.nan
        if not (math.isfinite(v) and (v > lo if strict else v >= lo)):
            raise argparse.ArgumentTypeError(f"expected a finite number {'>' if strict else '>='} {lo:g}, got {s!r}")
        return v

    return parse


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="jqgen", description="Quantum and quantum-inspired generative models in JAX.")
    p.add_argument("--version", action="version", version=f"jqgen {_version()} (jax {jax.__version__})")
    sub = p.add_subparsers(dest="command", required=True, metavar="{train,sample}")

    train = sub.add_parser("train", help="train a model on a data set")
    families = train.add_subparsers(dest="family", required=True, metavar="{mps}")
    mps = families.add_parser(
        "mps",
        help="MPS Born machine",
        description="Train an MPS Born machine with Adam on the mean NLL; writes a checkpoint, "
        "summary.json and plots to --out.",
    )
    mps.add_argument("--data", default="bars-stripes-4x4", help="bars-stripes-RxC or a .npy/.npz file (default: %(default)s)")
    mps.add_argument("--chi-max", type=_positive_int, default=32, help="bond dimension (default: %(default)s)")
    mps.add_argument("--steps", type=_positive_int, default=2000, help="optimizer steps (default: %(default)s)")
    mps.add_argument("--lr", type=_float(0.0, strict=True), default=0.01, help="Adam learning rate (default: %(default)s)")
    mps.add_argument("--batch-size", type=_positive_int, default=None, help="minibatch size (default: full batch)")
    mps.add_argument("--init-noise", type=_float(0.0, strict=False), default=0.5, help="init perturbation (default: %(default)s)")
    mps.add_argument("--dtype", choices=_DTYPES, default="float32", help="parameter dtype (default: %(default)s)")
    mps.add_argument("--seed", type=int, default=0, help="PRNG seed (default: %(default)s)")
    mps.add_argument("--chunk-size", type=_positive_int, default=100, help="steps per compiled chunk (default: %(default)s)")
    mps.add_argument("--out", default=None, help="output directory (default: runs/mps-<data>)")
    mps.add_argument("--no-progress", action="store_true", help="no progress bar")
    mps.set_defaults(func=_cmd_train_mps)

    s = sub.add_parser("sample", help="draw samples from a checkpoint", description="Draw samples from a checkpoint.")
    s.add_argument("checkpoint", metavar="CKPT", help="checkpoint .npz written by 'jqgen train'")
    s.add_argument("--num", type=_positive_int, default=16, help="number of samples (default: %(default)s)")
    s.add_argument("--seed", type=int, default=0, help="PRNG seed (default: %(default)s)")
    s.add_argument("--out", default="samples.png", help="PNG grid of the samples (default: %(default)s)")
    s.add_argument("--npy", default=None, metavar="FILE", help="also save the bits, uint8 [num, n], as .npy")
    s.set_defaults(func=_cmd_sample)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``jqgen`` command line with ``argv`` (default ``sys.argv[1:]``); returns
    the exit code."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"jqgen: error: {e}", file=sys.stderr)
        return 2


def _x64(enable: bool) -> Any:
    """Context enabling 64-bit dtypes when asked. Scoped (thread-local), so an in-process
    ``main`` call leaves the caller's ``jax_enable_x64`` as it was."""
    if not enable:
        return contextlib.nullcontext()
    ctx = getattr(jax, "enable_x64", None)
    if ctx is None:  # jax < 0.7
        from jax.experimental import enable_x64 as ctx
    return ctx(True)


def _slug(name: str) -> str:
    base = os.path.splitext(os.path.basename(name.rstrip("/\\")))[0] if os.sep in name or "." in name else name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-") or "data"


def _ideal_label(data: np.ndarray, ideal: float) -> str:
    n = data.shape[0]
    distinct = np.unique(data, axis=0).shape[0] == n
    return f"ln {n} = {ideal:.5f}" if distinct else f"H(data) = {ideal:.5f}"


def _fraction_in(samples: np.ndarray, data: np.ndarray) -> float:
    seen = {row.tobytes() for row in np.asarray(data, np.uint8)}
    return sum(row.tobytes() in seen for row in np.asarray(samples, np.uint8)) / samples.shape[0]


def _json_safe(obj: Any) -> Any:
    """NaN/inf -> None and tuples -> lists, so summary.json is strict JSON."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _cmd_train_mps(args: argparse.Namespace) -> int:
    with _x64(args.dtype in ("float64", "complex128")):
        return _train_mps(args)


def _train_mps(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    try:
        ds = load_dataset(args.data)
    except (ValueError, FileNotFoundError) as e:
        raise type(e)(f"{e} (--data takes bars-stripes-RxC or a .npy/.npz file)") from None
    model = MPSBornMachine(ds.num_bits, args.chi_max, init_noise=args.init_noise, dtype=getattr(jnp, args.dtype))
    out = args.out if args.out is not None else os.path.join("runs", f"mps-{_slug(ds.name)}")
    os.makedirs(out, exist_ok=True)
    n_data = ds.data.shape[0]
    batch = n_data if args.batch_size is None else min(args.batch_size, n_data)

    k_init, k_fit, k_sample = jax.random.split(jax.random.key(args.seed), 3)
    params = jax.jit(model.init)(k_init)  # one compilation instead of many eager ops
    optimizer = optax.adam(args.lr)
    chunk_times: list[float] = []
    status, error = "ok", None
    t_fit = time.perf_counter()
    try:
        params, opt_state, history = fit(
            model, params, ds.data, optimizer, key=k_fit, steps=args.steps, batch_size=batch,
            chunk_size=args.chunk_size, progress=not args.no_progress, desc=f"mps chi={args.chi_max}",
            callback=lambda *_: chunk_times.append(time.perf_counter()),
        )
    except NonFiniteLossError as e:
        params, opt_state, history = e.params, e.opt_state, e.history
        status, error = "non-finite loss", str(e)
    fit_s = time.perf_counter() - t_fit
    first_chunk_s = (chunk_times[0] - t_fit) if chunk_times else fit_s

    train_nll = mean_nll(model, params, ds.data)
    test_nll = mean_nll(model, params, ds.test) if ds.test is not None else None
    ideal = ds.ideal_nll
    samples = np.asarray(jax.jit(model.sample, static_argnums=2)(params, k_sample, _NUM_PLOT_SAMPLES))
    in_data = _fraction_in(samples, ds.data)
    entropies = [float(x) for x in np.asarray(jax.jit(entanglement_entropies)(params), np.float64)]
    dev = jax.devices()[0]
    device = dev.platform if dev.device_kind == dev.platform else f"{dev.platform} ({dev.device_kind})"

    hparams = {
        "family": "mps", "data": args.data, "chi_max": args.chi_max, "steps": args.steps, "lr": args.lr,
        "batch_size": batch, "init_noise": args.init_noise, "dtype": args.dtype, "seed": args.seed,
        "chunk_size": args.chunk_size, "optimizer": "adam",
    }
    paths = {name: os.path.join(out, name) for name in
             ("checkpoint.npz", "summary.json", "training_curve.png", "samples.png", "entropies.png")}
    metadata = {
        "data": args.data, "dataset": ds.name, "image_shape": ds.image_shape, "steps": args.steps,
        "steps_done": int(history.shape[0]) if status == "ok" else int(history.shape[0]) - 1,
        "lr": args.lr, "seed": args.seed, "batch_size": batch, "nll": train_nll, "test_nll": test_nll,
        "status": status,
    }
    save_checkpoint(paths["checkpoint.npz"], model, params, metadata=metadata, opt_state=opt_state)
    plot_training_curve(history, paths["training_curve.png"], ideal=ideal,
                        title=f"MPS chi={args.chi_max} on {ds.name}")
    plot_samples(samples, ds.image_shape, paths["samples.png"],
                 title=f"{_NUM_PLOT_SAMPLES} samples ({in_data:.0%} in the training set)")
    plot_entropies(entropies, paths["entropies.png"], title="bond entanglement entropies", chi_max=args.chi_max)
    wall_s = time.perf_counter() - t_start
    summary = {
        "status": status, "error": error, "hyperparameters": hparams, "dataset": ds.name,
        "num_data": n_data, "num_bits": ds.num_bits, "image_shape": ds.image_shape,
        "num_test": None if ds.test is None else int(ds.test.shape[0]),
        "train_nll": train_nll, "test_nll": test_nll, "ideal_nll": ideal, "gap": train_nll - ideal,
        "final_batch_loss": float(history[-1]), "history_len": int(history.shape[0]),
        "samples_in_data": in_data, "entropies": entropies,
        "fit_s": fit_s, "first_chunk_s": first_chunk_s, "wall_s": wall_s,
        "device": device, "jqgen_version": _version(), "jax_version": jax.__version__,
    }
    with open(paths["summary.json"], "w") as f:
        json.dump(_json_safe(summary), f, indent=2, allow_nan=False)
        f.write("\n")

    print(f"jqgen train mps: {ds.name} ({n_data} samples x {ds.num_bits} bits), chi_max={args.chi_max}, "
          f"{args.dtype}, adam lr={args.lr:g}, {args.steps} steps, batch {batch}{' (full)' if batch == n_data else ''}")
    print(f"  train NLL  {train_nll:.5f}   ideal {_ideal_label(ds.data, ideal)}   gap {train_nll - ideal:+.1e}")
    if test_nll is not None:
        print(f"  test NLL   {test_nll:.5f}   ({ds.test.shape[0]} samples)")  # type: ignore[union-attr]
    print(f"  samples    {in_data:.0%} of {_NUM_PLOT_SAMPLES} lie in the training set")
    print(f"  time       compile+train {fit_s:.2f} s (first chunk incl. compilation {first_chunk_s:.2f} s), "
          f"wall {wall_s:.2f} s; device {device}")
    print(f"  output     {out}")
    for p in paths.values():
        print(f"             {p}")
    if error is not None:
        print(f"jqgen: error: {error} The last good parameters were saved to {paths['checkpoint.npz']}.",
              file=sys.stderr)
        return 1
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    info = checkpoint_info(args.checkpoint)
    with _x64(_needs_x64(info) is not None):
        ck = load_checkpoint(args.checkpoint)
        sample = jax.jit(ck.model.sample, static_argnums=2)
        samples = np.asarray(sample(ck.params, jax.random.key(args.seed), args.num), np.uint8)
    shape = ck.metadata.get("image_shape")
    if shape is not None and (len(shape) != 2 or shape[0] * shape[1] != samples.shape[1]):
        shape = None
    note = ""
    try:
        if "data" in ck.metadata:
            ds = load_dataset(ck.metadata["data"])
            if ds.num_bits == samples.shape[1]:
                note = f"{_fraction_in(samples, ds.data):.0%} in the training set"
    except (ValueError, OSError):  # the data set may be gone; the note is optional
        pass
    out = plot_samples(samples, shape, args.out, title=f"{args.num} samples" + (f" ({note})" if note else ""))
    print(f"jqgen sample: {args.num} samples of {samples.shape[1]} bits from {args.checkpoint}" + (f"; {note}" if note else ""))
    print(f"  wrote {out}")
    if args.npy is not None:
        with open(args.npy, "wb") as f:  # keeps the name as given (np.save would add .npy)
            np.save(f, samples)
        print(f"  wrote {args.npy}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
