"""``jqgen train mps --method sweep``: two-site sweep training from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .checkpoint import checkpoint_info, load_checkpoint, save_checkpoint
from .cli import _NUM_PLOT_SAMPLES, _device_name, _evaluate, _ideal_label, _json_safe, _load_data, _slug, _version
from .plots import plot_bond_dims, plot_entropies, plot_samples, plot_training_curve

__all__ = ["train_mps_sweep"]

#: Settings that must agree when a sweep run resumes from an existing checkpoint.
_RESUME_KEYS = ("data", "chi_max", "lr", "descent_steps", "num_batches", "cutoff", "chi_min", "normalized_grad",
                "lr_decay_on_rise", "min_improvement", "dtype", "seed")


def _stop_rule_met(train_nll: Sequence[float], min_improvement: float | None) -> bool:
    """Whether the last loop of a history triggered ``sweep_train``'s stop rule."""
    if min_improvement is None or len(train_nll) < 2:
        return False
    return 0 <= train_nll[-2] - train_nll[-1] < min_improvement


def train_mps_sweep(args: argparse.Namespace) -> int:
    """Runs the sweep method of ``jqgen train mps`` (see ``jqgen train mps -h``)."""
    from .sweep import sweep_train

    t_start = time.perf_counter()
    ds = _load_data(args.data)
    n_data, n = ds.data.shape
    # the checks sweep_train would make, before anything is written
    if n < 3:
        raise ValueError(f"--method sweep needs at least 3 bits per sample, {ds.name} has {n}")
    if args.chi_min > args.chi_max:
        raise ValueError(f"--chi-min ({args.chi_min}) must not exceed --chi-max ({args.chi_max})")
    if args.num_batches > n_data:
        raise ValueError(f"--num-batches ({args.num_batches}) exceeds the number of samples ({n_data})")
    if args.lr_decay_on_rise > 1:
        raise ValueError(f"--lr-decay-on-rise must be in (0, 1], got {args.lr_decay_on_rise:g}")
    lr_decay = None if args.lr_decay_on_rise == 1 else args.lr_decay_on_rise
    min_improvement = None if args.min_improvement == 0 else args.min_improvement
    hparams = {
        "family": "mps", "method": "sweep", "data": args.data, "chi_max": args.chi_max, "loops": args.loops,
        "lr": args.lr, "descent_steps": args.descent_steps, "num_batches": args.num_batches,
        "batch_size": n_data // args.num_batches, "cutoff": args.cutoff, "chi_min": args.chi_min,
        "normalized_grad": args.normalized_grad, "lr_decay_on_rise": lr_decay, "min_improvement": min_improvement,
        "dtype": args.dtype, "seed": args.seed,
    }
    out = args.out if args.out is not None else os.path.join("runs", f"mps-sweep-{_slug(ds.name)}")
    paths = {name: os.path.join(out, name) for name in ("checkpoint.npz", "summary.json", "training_curve.png",
                                                        "bond_dims.png", "samples.png", "entropies.png")}
    ckpt = paths["checkpoint.npz"]
    loops, resumed_from = args.loops, 0
    if os.path.exists(ckpt):  # resume (sweep_train checks sites, chi_max and dtype itself)
        meta = checkpoint_info(ckpt).get("metadata") or {}
        if meta.get("kind") != "sweep":
            raise ValueError(f"{ckpt} exists and is not a sweep checkpoint; choose another --out")
        before = meta.get("hyperparameters") or {}
        diff = [f"--{k.replace('_', '-')} {before[k]} (now {hparams[k]})" for k in _RESUME_KEYS
                if k in before and before[k] != hparams[k]]
        if diff:
            raise ValueError(f"{ckpt} was written with other settings: {', '.join(diff)}; "
                             f"use them to resume, or choose another --out")
        resumed_from = int(meta.get("loop", 0))
        if _stop_rule_met(meta.get("history", {}).get("train_nll", []), min_improvement):
            loops = min(loops, resumed_from)  # finished by the stop rule: nothing to resume
    os.makedirs(out, exist_ok=True)

    k_train, k_sample = jax.random.split(jax.random.key(args.seed))
    status, error = "ok", None
    t_fit = time.perf_counter()
    try:
        res = sweep_train(
            ds.data, chi_max=args.chi_max, loops=loops, key=k_train, lr=args.lr, descent_steps=args.descent_steps,
            num_batches=args.num_batches, cutoff=args.cutoff, chi_min=args.chi_min,
            normalized_grad=args.normalized_grad, lr_decay_on_rise=lr_decay, min_improvement=min_improvement,
            test_data=ds.test, dtype=getattr(jnp, args.dtype), checkpoint_path=ckpt, progress=not args.no_progress,
        )
        model, params = res.model, res.mps
    except KeyboardInterrupt:
        done = (checkpoint_info(ckpt).get("metadata") or {}).get("loop", 0) if os.path.exists(ckpt) else 0
        print(f"\njqgen: interrupted after {done} loops; re-run the same command to resume from {ckpt}",
              file=sys.stderr)
        return 130
    except FloatingPointError as e:
        status, error = "non-finite loss", str(e)
        if not os.path.exists(ckpt):
            print(f"jqgen: error: {error}; no loop finished, nothing was saved.", file=sys.stderr)
            return 1
        ck = load_checkpoint(ckpt)
        model, params = ck.model, ck.params
    fit_s = time.perf_counter() - t_fit
    sweep_meta = checkpoint_info(ckpt).get("metadata") or {}  # written by sweep_train after every loop
    history = {k: list(v) for k, v in sweep_meta["history"].items()}
    dims = np.asarray(sweep_meta["bond_dims"], np.int64)
    loops_done = len(history["loop"])

    train_nll, test_nll, samples, in_data, entropies = _evaluate(model, params, ds, k_sample)
    ideal = ds.ideal_nll
    device = _device_name()
    if status != "ok":
        stop_reason = "non-finite NLL"
    elif _stop_rule_met(history["train_nll"], min_improvement):
        stop_reason = (f"converged: loop {loops_done} improved the NLL by "
                       f"{history['train_nll'][-2] - history['train_nll'][-1]:.2g} < {min_improvement:g}")
    else:
        stop_reason = f"reached --loops {args.loops}"

    # the final checkpoint: sweep_train's state (so a re-run still resumes) plus the usual metadata
    metadata = dict(sweep_meta)
    metadata.update({
        "method": "sweep", "data": args.data, "dataset": ds.name, "image_shape": ds.image_shape,
        "loops": args.loops, "loops_done": loops_done, "lr": args.lr, "seed": args.seed, "nll": train_nll,
        "test_nll": test_nll, "status": status, "stop_reason": stop_reason, "hyperparameters": hparams,
    })
    save_checkpoint(ckpt, model, params, metadata=metadata)
    test_curve = history["test_nll"] if ds.test is not None else None
    plot_training_curve(history["train_nll"], paths["training_curve.png"], ideal=ideal, test=test_curve,
                        xlabel="loop", label="train NLL", title=f"MPS sweep, D_max={args.chi_max}, on {ds.name}")
    plot_bond_dims(dims, paths["bond_dims.png"], chi_max=args.chi_max,
                   title=f"bond dimensions after {loops_done} loops")
    plot_samples(samples, ds.image_shape, paths["samples.png"],
                 title=f"{_NUM_PLOT_SAMPLES} samples ({in_data:.0%} in the training set)")
    plot_entropies(entropies, paths["entropies.png"], title="bond entanglement entropies", chi_max=args.chi_max)
    seconds = history["seconds"][resumed_from:]  # the loops of this invocation
    first_loop_s = seconds[0] if seconds else None
    median_loop_s = float(np.median(seconds[1:])) if len(seconds) > 1 else first_loop_s
    wall_s = time.perf_counter() - t_start
    summary = {
        "status": status, "error": error, "method": "sweep", "hyperparameters": hparams, "dataset": ds.name,
        "num_data": n_data, "num_bits": n, "image_shape": ds.image_shape,
        "num_test": None if ds.test is None else int(ds.test.shape[0]),
        "train_nll": train_nll, "test_nll": test_nll, "ideal_nll": ideal, "gap": train_nll - ideal,
        "loops_done": loops_done, "resumed_from_loop": resumed_from, "stop_reason": stop_reason,
        "history": history, "bond_dims": dims.tolist(), "max_bond": int(dims.max()), "model_chi_pad": model.chi_max,
        "samples_in_data": in_data, "entropies": entropies,
        "fit_s": fit_s, "first_loop_s": first_loop_s, "median_loop_s": median_loop_s, "wall_s": wall_s,
        "device": device, "jqgen_version": _version(), "jax_version": jax.__version__,
    }
    with open(paths["summary.json"], "w") as f:
        json.dump(_json_safe(summary), f, indent=2, allow_nan=False)
        f.write("\n")

    opts = [f"lr={args.lr:g}", f"{args.descent_steps} descent step{'s' if args.descent_steps > 1 else ''}",
            f"{args.num_batches} batch{'es' if args.num_batches > 1 else ''}" + (" (full)" if args.num_batches == 1 else ""),
            f"cutoff {args.cutoff:g}"]
    if args.normalized_grad:
        opts.append("normalized grad")
    if lr_decay is not None:
        opts.append(f"lr x{lr_decay:g} on rise")
    if min_improvement is not None:
        opts.append(f"stop below {min_improvement:g}")
    print(f"jqgen train mps --method sweep: {ds.name} ({n_data} samples x {n} bits), D_max={args.chi_max}, "
          f"{args.dtype}, {', '.join(opts)}")
    print(f"  loops      {loops_done} (--loops {args.loops}; {stop_reason})"
          + (f", resumed from loop {resumed_from}" if resumed_from else ""))
    print(f"  train NLL  {train_nll:.5f}   ideal {_ideal_label(ds.data, ideal)}   gap {train_nll - ideal:+.1e}")
    if test_nll is not None:
        print(f"  test NLL   {test_nll:.5f}   ({ds.test.shape[0]} samples)")  # type: ignore[union-attr]
    print(f"  bonds      max {int(dims.max())}, mean {dims[1:-1].mean():.1f} (D_max {args.chi_max})")
    print(f"  samples    {in_data:.0%} of {_NUM_PLOT_SAMPLES} lie in the training set")
    if seconds:
        print(f"  time       train {fit_s:.2f} s for {len(seconds)} loop{'s' if len(seconds) > 1 else ''} (first loop "
              f"incl. compilation {first_loop_s:.2f} s, median loop {median_loop_s:.2f} s), wall {wall_s:.2f} s; "
              f"device {device}")
    else:
        print(f"  time       nothing left to train (all loops in the checkpoint); wall {wall_s:.2f} s; device {device}")
    print(f"  output     {out}")
    for p in paths.values():
        print(f"             {p}")
    print("  resume     re-run with the same --out to continue from checkpoint.npz (raise --loops to train on)")
    if error is not None:
        print(f"jqgen: error: {error}. The last good loop was saved to {ckpt}.", file=sys.stderr)
        return 1
    return 0
