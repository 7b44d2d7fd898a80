"""``jqgen train qcbm``: quantum circuit Born machines from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .checkpoint import save_checkpoint
from .cli import _NUM_PLOT_SAMPLES, _device_name, _fraction_in, _json_safe, _load_data, _slug, _version
from .plots import plot_distribution, plot_samples, plot_training_curve
from .qcbm import QCBM, HardwareEfficient, LiuWang, SU4Brickwork, chow_liu_tree, cmaes_fit, make_loss
from .qcbm import empirical_distribution, kl_divergence, mmd
from .train import NonFiniteLossError, fit

__all__ = ["ANSATZ_CHOICES", "add_qcbm_parser", "train_qcbm"]

#: --ansatz values: RXX hardware-efficient topologies, Liu & Wang CNOT layouts, SU(4) brickwork.
ANSATZ_CHOICES = ("line", "all", "star", "cnot-line", "chow-liu", "su4")


def add_qcbm_parser(families: Any, positive_int: Any, positive_float: Any) -> None:
    q = families.add_parser(
        "qcbm",
        help="quantum circuit Born machine",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a quantum circuit Born machine (TensorCircuit JAX backend); writes a checkpoint,\n"
        "summary.json, training_curve.png, samples.png and distribution.png to --out.\n\n"
        "--ansatz line|all|star: RX,RZ layers with RXX entanglers on that graph (Benedetti et al.);\n"
        "  cnot-line|chow-liu: Liu & Wang's RZ RX RZ layers with CNOTs on a line or on the data's\n"
        "  Chow-Liu tree; su4: brickwork of general two-qubit gates. --layers counts entangling blocks.\n"
        "--shots N estimates the loss and its parameter-shift gradient from N shots per circuit,\n"
        "  as on hardware; without it probabilities are exact and gradients come from autodiff.\n"
        "--optimizer cmaes trains gradient-free (evosax CMA-ES); --steps then counts generations.",
    )
    q.add_argument("--data", default="bars-stripes-3x3", help="bars-stripes-RxC or a .npy/.npz file (default: %(default)s)")
    q.add_argument("--ansatz", choices=ANSATZ_CHOICES, default="line", help="circuit family (default: %(default)s)")
    q.add_argument("--layers", type=positive_int, default=10, help="entangling blocks (default: %(default)s)")
    q.add_argument("--loss", choices=("mmd", "kl", "nll"), default="mmd", help="training loss (default: %(default)s)")
    q.add_argument("--shots", type=positive_int, default=None, help="shots per circuit (default: exact probabilities)")
    q.add_argument("--optimizer", choices=("adam", "cmaes"), default="adam", help="(default: %(default)s)")
    q.add_argument("--lr", type=positive_float, default=0.1, help="Adam learning rate (default: %(default)s)")
    q.add_argument("--steps", type=positive_int, default=500, help="optimizer steps or generations (default: %(default)s)")
    q.add_argument("--population", type=positive_int, default=None, help="CMA-ES population (default: 4 + 3 ln P)")
    q.add_argument("--sigma0", type=positive_float, default=0.3, help="CMA-ES initial step size (default: %(default)s)")
    q.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="angle dtype (default: %(default)s)")
    q.add_argument("--engine", choices=("fused", "tensorcircuit"), default="fused", help="simulator (default: %(default)s)")
    q.add_argument("--chunk-size", type=positive_int, default=50, help="steps per compiled chunk (default: %(default)s)")
    q.add_argument("--seed", type=int, default=0, help="PRNG seed (default: %(default)s)")
    q.add_argument("--out", default=None, help="output directory (default: runs/qcbm-<ansatz>-<data>)")
    q.add_argument("--no-progress", action="store_true", help="no progress bar")
    q.add_argument("--device", default=None, metavar="PROVIDER::DEVICE",
                   help="train on a device (e.g. local::testing): shots and parameter-shift gradients, journaled and "
                   "resumable; the same as 'jqgen train qcbm-device' (--shots default 1000)")


def _ansatz(name: str, n: int, layers: int, data: np.ndarray) -> Any:
    if name in ("line", "all", "star"):
        return HardwareEfficient(n, layers, topology=name)
    if name == "cnot-line":
        return LiuWang(n, layers)
    if name == "chow-liu":
        return LiuWang(n, layers, cnots=chow_liu_tree(data))
    return SU4Brickwork(n, layers)


def train_qcbm(args: argparse.Namespace) -> int:
    from .cli import _x64

    if args.device is not None:
        return _train_on_device(args)

    with _x64(args.dtype == "float64"):
        return _train(args)


def _train_on_device(args: argparse.Namespace) -> int:
    from ._cli_hardware import cmd_train_qcbm_device

    if args.ansatz == "su4" or args.loss == "nll" or args.optimizer != "adam":
        raise ValueError("--device trains the line/all/star/cnot-line/chow-liu ansatze with --loss mmd or kl and "
                         f"Adam; got --ansatz {args.ansatz} --loss {args.loss} --optimizer {args.optimizer}")
    dev_args = argparse.Namespace(
        data=args.data, ansatz=args.ansatz, layers=args.layers, loss=args.loss,
        shots=args.shots if args.shots is not None else 1000, lr=args.lr, steps=args.steps, seed=args.seed,
        device=args.device, native_gates=None, coupling="line", journal=None, out=args.out,
        no_progress=args.no_progress)
    return cmd_train_qcbm_device(dev_args)


def _train(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    ds = _load_data(args.data)
    n = ds.num_bits
    model = QCBM(_ansatz(args.ansatz, n, args.layers, ds.data), dtype=getattr(jnp, args.dtype), engine=args.engine)
    out = args.out if args.out is not None else os.path.join("runs", f"qcbm-{args.ansatz}-{_slug(ds.name)}")
    os.makedirs(out, exist_ok=True)
    paths = {name: os.path.join(out, name) for name in
             ("checkpoint.npz", "summary.json", "training_curve.png", "samples.png", "distribution.png")}
    k_init, k_fit, k_sample = jax.random.split(jax.random.key(args.seed), 3)
    params = jax.jit(model.init)(k_init)
    status, error, opt_state = "ok", None, None
    chunk_times: list[float] = []
    t_fit = time.perf_counter()
    desc = f"qcbm {args.ansatz} L={args.layers} {args.loss}" + (f" {args.shots} shots" if args.shots else "")
    try:
        if args.optimizer == "adam":
            loss = make_loss(model, args.loss, shots=args.shots)
            params, opt_state, history = fit(
                model, params, ds.data, optax.adam(args.lr), key=k_fit, steps=args.steps,
                chunk_size=args.chunk_size, progress=not args.no_progress, desc=desc, loss=loss,
                callback=lambda *_: chunk_times.append(time.perf_counter()),
            )
        else:
            res = cmaes_fit(
                model, params, ds.data, key=k_fit, generations=args.steps, population_size=args.population,
                sigma0=args.sigma0, loss=args.loss, shots=args.shots, chunk_size=args.chunk_size,
                progress=not args.no_progress, desc=desc,
                callback=lambda *_: chunk_times.append(time.perf_counter()),
            )
            params, history = res.params, res.history
    except NonFiniteLossError as e:
        params, history = e.params, e.history
        status, error = "non-finite loss", str(e)
    fit_s = time.perf_counter() - t_fit
    first_chunk_s = (chunk_times[0] - t_fit) if chunk_times else fit_s

    probs = np.asarray(jax.jit(model.probs)(params), np.float64)
    target = np.asarray(empirical_distribution(ds.data, n), np.float64)
    valid_rate = float(probs[target > 0].sum())
    final_mmd = float(mmd(jnp.asarray(probs), jnp.asarray(target)))
    final_kl = float(kl_divergence(jnp.asarray(target), jnp.asarray(probs)))
    samples = np.asarray(jax.jit(model.sample, static_argnums=2)(params, k_sample, _NUM_PLOT_SAMPLES))
    in_data = _fraction_in(samples, ds.data)
    device = _device_name()

    hparams = {k: getattr(args, k) for k in ("data", "ansatz", "layers", "loss", "shots", "optimizer", "lr", "steps",
                                             "population", "sigma0", "dtype", "engine", "chunk_size", "seed")}
    metadata = {"data": args.data, "dataset": ds.name, "image_shape": ds.image_shape, "hyperparameters": hparams,
                "valid_rate": valid_rate, "status": status}
    save_checkpoint(paths["checkpoint.npz"], model, params, metadata=metadata)
    loss_label = {"mmd": "squared MMD", "kl": "KL(data || model)", "nll": "NLL (nats)"}[args.loss]
    plot_training_curve(history, paths["training_curve.png"], title=f"QCBM {args.ansatz}, {args.layers} layers, {ds.name}",
                        xlabel="generation" if args.optimizer == "cmaes" else "step",
                        label=loss_label + (" (best of population)" if args.optimizer == "cmaes" else ""),
                        ylabel=loss_label)
    plot_samples(samples, ds.image_shape, paths["samples.png"],
                 title=f"{_NUM_PLOT_SAMPLES} samples ({in_data:.0%} in the training set)")
    plot_distribution(probs, target, paths["distribution.png"], title=f"valid-pattern rate {valid_rate:.1%}")
    wall_s = time.perf_counter() - t_start
    summary = {
        "status": status, "error": error, "hyperparameters": hparams, "dataset": ds.name, "num_data": int(ds.data.shape[0]),
        "num_bits": n, "ansatz": model.ansatz.config(), "num_params": model.ansatz.num_params,
        "valid_rate": valid_rate, "final_mmd": final_mmd, "final_kl": final_kl,
        "final_loss": float(history[-1]) if len(history) else None, "history_len": int(len(history)),
        "samples_in_data": in_data, "fit_s": fit_s, "first_chunk_s": first_chunk_s, "wall_s": wall_s,
        "device": device, "jqgen_version": _version(), "jax_version": jax.__version__,
    }
    with open(paths["summary.json"], "w") as f:
        json.dump(_json_safe(summary), f, indent=2, allow_nan=False)
        f.write("\n")
    how = f"{args.shots} shots, parameter-shift" if args.shots else "exact"
    print(f"jqgen train qcbm: {ds.name} ({ds.data.shape[0]} samples x {n} bits), ansatz {args.ansatz}, "
          f"{args.layers} layers ({model.ansatz.num_params} angles), {args.loss} ({how}), "
          f"{args.optimizer}, {args.steps} {'generations' if args.optimizer == 'cmaes' else 'steps'}")
    print(f"  valid-pattern rate {valid_rate:.1%}   (probability on the training patterns)")
    print(f"  MMD^2 {final_mmd:.3e}   KL(data||model) {final_kl:.4f}")
    print(f"  samples    {in_data:.0%} of {_NUM_PLOT_SAMPLES} lie in the training set")
    print(f"  time       train {fit_s:.2f} s (first chunk incl. compilation {first_chunk_s:.2f} s), wall {wall_s:.2f} s; "
          f"device {device}")
    print(f"  output     {out}")
    for p in paths.values():
        print(f"             {p}")
    if error is not None:
        print(f"jqgen: error: {error} The last good parameters were saved to {paths['checkpoint.npz']}.", file=sys.stderr)
        return 1
    return 0
