"""The ``jqgen`` command line: train a model on a data set, sample and evaluate a checkpoint.

    jqgen train mps [--data bars-stripes-4x4] [--chi-max 32] [--steps 2000] ...
    jqgen train mps --method sweep --data mnist.npz --chi-max 100 [--loops 20] ...
    jqgen train qcbm --data bars-stripes-3x3 --ansatz line --layers 10 --loss mmd [--shots N]
    jqgen train synergy --data bars-stripes-4x3 --chi 4 --extra-layers 4
    jqgen sample runs/mps-bars-stripes-4x4/checkpoint.npz --num 16 --out samples.png
    jqgen evaluate runs/qcbm-line-cardinality-12-6-0.3-s0/checkpoint.npz --samples 10000
    jqgen --version

Exit codes: 0 success, 1 training stopped on a non-finite loss (the last good parameters
are still saved), 2 bad arguments or inputs (one-line message on stderr), 130 a sweep run
interrupted with Ctrl-C (re-running the same command resumes it).
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
_GRADIENT_DEFAULTS = {"steps": 2000, "lr": 0.01, "batch_size": None, "init_noise": 0.5, "chunk_size": 100}
#: Han et al.'s MNIST "capacity" settings (their GPU code), except the number of loops.
_SWEEP_DEFAULTS = {"loops": 20, "lr": 5e-3, "descent_steps": 1, "num_batches": 1, "cutoff": 0.0, "chi_min": 2,
                   "normalized_grad": True, "lr_decay_on_rise": 0.2, "min_improvement": 0.002}


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
    sub = p.add_subparsers(dest="command", required=True, metavar="{train,sample,evaluate,run}")

    train = sub.add_parser("train", help="train a model on a data set")
    families = train.add_subparsers(dest="family", required=True, metavar="{mps,qcbm,synergy,qcbm-device}")
    mps = families.add_parser(
        "mps",
        help="MPS Born machine",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train an MPS Born machine; writes a checkpoint, summary.json and plots to --out.\n\n"
        "--method gradient (default): Adam on the mean NLL at a fixed bond dimension --chi-max.\n"
        "--method sweep: two-site DMRG-style sweeps (Han et al., PRX 8, 031012, 2018); each bond\n"
        "  takes gradient steps on the merged two-site tensor, then an SVD sets its dimension\n"
        "  (at most --chi-max). The defaults are the authors' MNIST 'capacity' settings: full\n"
        "  batch, 1 descent step, lr 5e-3, normalized gradients, no cutoff, lr x0.2 when a loop's\n"
        "  NLL rises, stop when a loop improves it by less than 0.002. The run state is saved to\n"
        "  <out>/checkpoint.npz after every loop; re-running the same command with the same --out\n"
        "  resumes from it (bit-identical to an uninterrupted run; raise --loops to train on).\n"
        "  Also writes bond_dims.png.",
    )
    mps.add_argument("--method", choices=("gradient", "sweep"), default="gradient",
                     help="training method (default: %(default)s)")
    mps.add_argument("--data", default="bars-stripes-4x4", help="bars-stripes-RxC or a .npy/.npz file (default: %(default)s)")
    mps.add_argument("--chi-max", type=_positive_int, default=32,
                     help="bond dimension; with --method sweep the largest one (default: %(default)s)")
    mps.add_argument("--lr", type=_float(0.0, strict=True), default=None,
                     help="learning rate (default: 0.01 for Adam, 5e-3 for sweep)")
    mps.add_argument("--dtype", choices=_DTYPES, default="float32",
                     help="parameter dtype; sweep: float32 or float64 (default: %(default)s)")
    mps.add_argument("--seed", type=int, default=0, help="PRNG seed (default: %(default)s)")
    mps.add_argument("--out", default=None, help="output directory (default: runs/mps-<data>, runs/mps-sweep-<data>)")
    mps.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = mps.add_argument_group("--method gradient")
    g.add_argument("--steps", type=_positive_int, default=None, help=f"optimizer steps (default: {_GRADIENT_DEFAULTS['steps']})")
    g.add_argument("--batch-size", type=_positive_int, default=None, help="minibatch size (default: full batch)")
    g.add_argument("--init-noise", type=_float(0.0, strict=False), default=None,
                   help=f"init perturbation (default: {_GRADIENT_DEFAULTS['init_noise']})")
    g.add_argument("--chunk-size", type=_positive_int, default=None,
                   help=f"steps per compiled chunk (default: {_GRADIENT_DEFAULTS['chunk_size']})")
    w = mps.add_argument_group("--method sweep")
    w.add_argument("--loops", type=_positive_int, default=None,
                   help=f"most loops (right-to-left + left-to-right sweeps) (default: {_SWEEP_DEFAULTS['loops']})")
    w.add_argument("--descent-steps", type=_positive_int, default=None,
                   help=f"gradient steps per bond (default: {_SWEEP_DEFAULTS['descent_steps']})")
    w.add_argument("--num-batches", type=_positive_int, default=None,
                   help=f"minibatches per bond, 1 = full batch (default: {_SWEEP_DEFAULTS['num_batches']})")
    w.add_argument("--cutoff", type=_float(0.0, strict=False), default=None,
                   help=f"relative singular-value cutoff (default: {_SWEEP_DEFAULTS['cutoff']:g})")
    w.add_argument("--chi-min", type=_positive_int, default=None,
                   help=f"smallest kept bond dimension (default: {_SWEEP_DEFAULTS['chi_min']})")
    w.add_argument("--normalized-grad", action=argparse.BooleanOptionalAction, default=None,
                   help="rescale small gradients up to norm numel**0.25 (default: on)")
    w.add_argument("--lr-decay-on-rise", type=_float(0.0, strict=True), default=None,
                   help=f"multiply lr by this when a loop's NLL rises; 1 = off (default: {_SWEEP_DEFAULTS['lr_decay_on_rise']:g})")
    w.add_argument("--min-improvement", type=_float(0.0, strict=False), default=None,
                   help=f"stop when a loop improves the NLL by less; 0 = off (default: {_SWEEP_DEFAULTS['min_improvement']:g})")
    mps.set_defaults(func=_cmd_train_mps)

    from ._cli_qcbm import add_qcbm_parser, train_qcbm

    add_qcbm_parser(families, _positive_int, _float(0.0, strict=True))
    families.choices["qcbm"].set_defaults(func=train_qcbm)

    from ._cli_synergy import add_synergy_parser

    add_synergy_parser(families, _positive_int, _float(0.0, strict=True))

    from ._cli_hardware import add_qcbm_device_parser

    add_qcbm_device_parser(families, _positive_int, _float(0.0, strict=True))

    s = sub.add_parser("sample", help="draw samples from a checkpoint", description="Draw samples from a checkpoint.")
    s.add_argument("checkpoint", metavar="CKPT", help="checkpoint .npz written by 'jqgen train'")
    s.add_argument("--num", type=_positive_int, default=16, help="number of samples (default: %(default)s)")
    s.add_argument("--seed", type=int, default=0, help="PRNG seed (default: %(default)s)")
    s.add_argument("--out", default="samples.png", help="PNG grid of the samples (default: %(default)s)")
    s.add_argument("--npy", default=None, metavar="FILE", help="also save the bits, uint8 [num, n], as .npy")
    s.set_defaults(func=_cmd_sample)

    from ._cli_evaluate import add_evaluate_parser

    add_evaluate_parser(sub, _positive_int)

    from ._cli_hardware import add_run_parser

    add_run_parser(sub, _positive_int)
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
        _persistent_compile_cache(os.environ.get("JQGEN_COMPILE_CACHE"))
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"jqgen: error: {e}", file=sys.stderr)
        return 2


def _persistent_compile_cache(path: str | None) -> None:
    """Keeps jax's compiled programs on disk so that a second ``jqgen`` run with the same
    shapes skips XLA compilation (a two-site sweep compiles two programs per bond bucket:
    2.4 s of a 3.6 s run at D_max = 8 on 2 CPU cores, 0.7 s with the cache). Directory:
    ``$JQGEN_COMPILE_CACHE``, else ``~/.cache/jqgen/xla``; ``JQGEN_COMPILE_CACHE=none``
    turns it off. Set once per process (the ``jqgen`` command is the process's owner; the
    library itself never sets it)."""
    if path is not None and path.strip().lower() in ("", "none", "off", "0"):
        return
    if jax.config.jax_compilation_cache_dir:  # the caller chose one
        return
    path = path or os.path.join(os.path.expanduser("~"), ".cache", "jqgen", "xla")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:  # read-only home: run without a cache
        return
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)


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
    is_file = os.sep in name or name.endswith((".npy", ".npz"))
    base = os.path.splitext(os.path.basename(name.rstrip("/\\")))[0] if is_file else name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-") or "data"


def _ideal_label(data: np.ndarray, ideal: float) -> str:
    n = data.shape[0]
    distinct = np.unique(data, axis=0).shape[0] == n
    return f"ln {n} = {ideal:.5f}" if distinct else f"H(data) = {ideal:.5f}"


def _fraction_in(samples: np.ndarray, data: np.ndarray) -> float:
    from .metrics import pack_bits

    return float(np.isin(pack_bits(np.asarray(samples, np.uint8)), pack_bits(np.asarray(data, np.uint8))).mean())


def _json_safe(obj: Any) -> Any:
    """NaN/inf -> None and tuples -> lists, so summary.json is strict JSON."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _resolve_method_args(args: argparse.Namespace) -> None:
    """Fills in the defaults of the chosen --method; options of the other method are errors."""
    own, other = ((_GRADIENT_DEFAULTS, _SWEEP_DEFAULTS) if args.method == "gradient"
                  else (_SWEEP_DEFAULTS, _GRADIENT_DEFAULTS))
    for name in other:
        if name not in own and getattr(args, name) is not None:
            raise ValueError(f"--{name.replace('_', '-')} applies to --method "
                             f"{'sweep' if args.method == 'gradient' else 'gradient'} only")
    for name, default in own.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.method == "sweep" and args.dtype not in ("float32", "float64"):
        raise ValueError(f"--method sweep supports --dtype float32 or float64, got {args.dtype}")


def _cmd_train_mps(args: argparse.Namespace) -> int:
    _resolve_method_args(args)
    with _x64(args.dtype in ("float64", "complex128")):
        if args.method == "gradient":
            return _train_mps(args)
        from ._cli_sweep import train_mps_sweep  # imports this module's helpers

        return train_mps_sweep(args)


def _load_data(spec: str) -> Any:
    try:
        return load_dataset(spec)
    except (ValueError, FileNotFoundError) as e:
        raise type(e)(f"{e} (--data takes bars-stripes-RxC or a .npy/.npz file)") from None


def _train_mps(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    ds = _load_data(args.data)
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

    train_nll, test_nll, samples, in_data, entropies = _evaluate(model, params, ds, k_sample)
    ideal = ds.ideal_nll
    device = _device_name()

    hparams = {
        "family": "mps", "data": args.data, "chi_max": args.chi_max, "steps": args.steps, "lr": args.lr,
        "batch_size": batch, "init_noise": args.init_noise, "dtype": args.dtype, "seed": args.seed,
        "chunk_size": args.chunk_size, "optimizer": "adam", "method": "gradient",
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


def _evaluate(model: Any, params: Any, ds: Any, key: jax.Array) -> tuple[float, float | None, np.ndarray, float, list[float]]:
    """Train/test NLL, plot samples, the fraction of them in the data, bond entropies."""
    train_nll = mean_nll(model, params, ds.data)
    test_nll = mean_nll(model, params, ds.test) if ds.test is not None else None
    samples = np.asarray(jax.jit(model.sample, static_argnums=2)(params, key, _NUM_PLOT_SAMPLES))
    entropies = [float(x) for x in np.asarray(jax.jit(entanglement_entropies)(params), np.float64)]
    return train_nll, test_nll, samples, _fraction_in(samples, ds.data), entropies


def _device_name() -> str:
    dev = jax.devices()[0]
    return dev.platform if dev.device_kind == dev.platform else f"{dev.platform} ({dev.device_kind})"


def _cmd_sample(args: argparse.Namespace) -> int:
    info = checkpoint_info(args.checkpoint)
    with _x64(_needs_x64(info) is not None):
        ck = load_checkpoint(args.checkpoint)
        sample = jax.jit(ck.model.sample, static_argnums=2)
        samples = np.asarray(sample(ck.params, jax.random.key(args.seed), args.num), np.uint8)
    shape = ck.metadata.get("image_shape")
    if shape is not None and (len(shape) != 2 or shape[0] * shape[1] != samples.shape[1]):
        shape = None
    if shape is None and "image_shape" not in ck.metadata:  # e.g. a sweep checkpoint of a run still going
        side = math.isqrt(samples.shape[1])
        shape = (side, side) if side * side == samples.shape[1] else None
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
