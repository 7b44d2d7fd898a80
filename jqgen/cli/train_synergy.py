"""``jqgen train synergy``: MPS pretraining, mapping to SU(4) layers, circuit training.

Runs :func:`jqgen.synergy.pretrain` and writes ``checkpoint.npz`` (the QCBM),
``summary.json``, ``training_curve.png`` (both stages), ``samples.png`` and
``distribution.png``. Each training stage checkpoints into the run folder
(``mps_stage.npz``, ``circuit_stage.npz``): a re-run of an interrupted run resumes the
stage it was in and does not train a finished stage again.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._args import (
    add_data_argument, add_out_arguments, add_progress_argument, add_seed_argument, load_data, positive_float,
    positive_int,
)
from ._report import NUM_PLOT_SAMPLES, fraction_in, samples_title, versions
from ._progress import ProgressLines, bar_wanted
from ._rundir import device_name, prepare_run, resolve_out, slug
from ..checkpoint import save_checkpoint
from ..plots import plot_distribution, plot_samples, plot_stages
from ..distributions import empirical_distribution, kl_divergence

__all__ = ["DECOMPOSITIONS", "FILES", "HYPERPARAMETERS", "command", "mapping", "register"]

#: Output files, in print order.
FILES = ("checkpoint.npz", "summary.json", "training_curve.png", "samples.png", "distribution.png")
#: The stages' checkpoints (the run resumes from them; ``--overwrite`` deletes them).
STAGES = ("mps_stage.npz", "circuit_stage.npz")
#: The options recorded as ``hyperparameters`` in the checkpoint and summary.
HYPERPARAMETERS = ("data", "chi", "layers_from_mps", "extra_layers", "decomposition", "refine_steps", "sweeps",
                   "mps_steps", "mps_lr", "circuit_steps", "circuit_lr", "loss", "shots", "init_scale", "seed")
#: ``--decomposition`` choices (:data:`jqgen.synergy.DECOMPOSITIONS`) and the default: the grown
#: sweep keeps fidelity 0.997 of a chi = 8 bars-and-stripes MPS in 8 layers where Ran's layers
#: keep 0.80, in 1.5 s, and 0.83 of a cardinality MPS in 2 layers (Ran's: 0.38), in 0.1 s
#: (benchmarks/results/decomposition_cpu.json).
DECOMPOSITIONS = ("ran", "ran+adam", "ran+sweep", "sweep")
DEFAULT_DECOMPOSITION = "sweep"
DEFAULT_REFINE_STEPS = 300


def register(families: Any) -> None:
    """Adds the ``synergy`` parser to the ``train`` subparsers."""
    s = families.add_parser(
        "synergy", help="MPS-pretrained quantum circuit (synergistic pretraining)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Synergistic pretraining (Rudolph et al., Nat. Commun. 2023): train an MPS Born machine of\n"
        "bond dimension --chi, map it into --layers-from-mps staircase layers of SU(4) gates (Ran's\n"
        "method, refined by sweeps or Adam: --decomposition; KAK angles), append --extra-layers\n"
        "near-identity layers, and train the circuit as a QCBM. Writes checkpoint.npz (the QCBM),\n"
        "summary.json (with the mapping's fidelities to the MPS), training_curve.png (both stages),\n"
        "samples.png and distribution.png to --out.")
    add_data_argument(s, "bars-stripes-3x3")
    s.add_argument("--chi", type=positive_int, default=4, help="MPS bond dimension, >= 2 (default: %(default)s)")
    s.add_argument("--layers-from-mps", type=positive_int, default=2, help="mapped layers (default: %(default)s)")
    s.add_argument("--extra-layers", type=int, default=4, help="near-identity layers appended (default: %(default)s)")
    s.add_argument("--decomposition", choices=DECOMPOSITIONS, default=None,
                   help="MPS -> circuit mapping: Ran's analytic layers; refined by Adam on the dense state; "
                        "refined by gate-by-gate sweeps; or grown layer by layer with sweeps (default: "
                        f"ran+adam when --refine-steps is given, else {DEFAULT_DECOMPOSITION})")
    s.add_argument("--refine-steps", type=int, default=None,
                   help=f"Adam steps of --decomposition ran+adam (default: {DEFAULT_REFINE_STEPS})")
    s.add_argument("--sweeps", type=positive_int, default=8,
                   help="sweep passes of ran+sweep (in all) and sweep (per layer added) (default: %(default)s)")
    s.add_argument("--mps-steps", type=positive_int, default=1000, help="MPS Adam steps (default: %(default)s)")
    s.add_argument("--mps-lr", type=positive_float, default=0.01, help="(default: %(default)s)")
    s.add_argument("--circuit-steps", type=positive_int, default=500, help="circuit Adam steps (default: %(default)s)")
    s.add_argument("--circuit-lr", type=positive_float, default=0.01, help="(default: %(default)s)")
    s.add_argument("--loss", choices=("kl", "nll", "mmd"), default="kl", help="circuit loss (default: %(default)s)")
    s.add_argument("--shots", type=positive_int, default=None, help="shots per circuit (default: exact)")
    s.add_argument("--init-scale", type=float, default=0.01,
                   help="angle scale of the extra layers (default: %(default)s)")
    add_seed_argument(s)
    add_out_arguments(s, "runs/synergy-chi<chi>-<data>")
    add_progress_argument(s, "no progress bars")
    s.set_defaults(func=command)


def mapping(decomposition: str | None, refine_steps: int | None) -> tuple[str, int]:
    """``--decomposition`` and ``--refine-steps`` as ``(decomposition, refine_steps)``: Adam
    when only steps are given (as before the option existed), its steps defaulted."""
    name = decomposition or ("ran+adam" if refine_steps else DEFAULT_DECOMPOSITION)
    if name == "ran+adam":
        return name, refine_steps or DEFAULT_REFINE_STEPS
    if refine_steps:
        raise ValueError(f"--refine-steps goes with --decomposition ran+adam, not {name}")
    return name, 0


def command(args: argparse.Namespace) -> int:
    """Runs ``jqgen train synergy``; returns 0 or raises (see :mod:`jqgen.cli`)."""
    from ..synergy import pretrain

    t0 = time.perf_counter()
    ds = load_data(args.data, args.key)
    if args.chi < 2:
        raise ValueError(f"--chi must be >= 2 (a bond dimension of 1 maps to no entangling gate), got {args.chi}")
    if args.extra_layers < 0 or (args.refine_steps or 0) < 0:
        raise ValueError("--extra-layers and --refine-steps must be >= 0")
    args.decomposition, args.refine_steps = mapping(args.decomposition, args.refine_steps)
    out = resolve_out(args.out, f"synergy-chi{args.chi}-{slug(ds.name)}")
    run = prepare_run(out, default_name=f"synergy-chi{args.chi}-{slug(ds.name)}", files=FILES,
                      overwrite=args.overwrite, unit=None, resume_path=os.path.join(out, STAGES[0]), extra_files=STAGES)
    lines = {"mps": ProgressLines(args.no_progress, f"MPS chi={args.chi}", args.mps_steps, "steps"),
             "circuit": ProgressLines(args.no_progress, f"circuit D={args.layers_from_mps}+{args.extra_layers}",
                                      args.circuit_steps, "steps")}
    with run.resuming():
        r = pretrain(ds.data, chi=args.chi, layers_from_mps=args.layers_from_mps, extra_layers=args.extra_layers,
                     key=jax.random.key(args.seed), mps_steps=args.mps_steps, mps_lr=args.mps_lr,
                     circuit_steps=args.circuit_steps, circuit_lr=args.circuit_lr, loss=args.loss, shots=args.shots,
                     init_scale=args.init_scale, decomposition=args.decomposition, refine_steps=args.refine_steps,
                     sweeps=args.sweeps, progress=bar_wanted(args.no_progress),
                     checkpoint_dir=run.out, callback=lambda stage, done, hist: lines[stage].chunk(done, hist))
    n = ds.num_bits
    target = jnp.asarray(empirical_distribution(ds.data, n))
    probs = np.asarray(r.model.probs(r.params), np.float64)

    def kl(p: Any) -> float:
        return float(kl_divergence(target, jnp.asarray(p, target.dtype)))

    mapped_kl = kl(r.model.probs(r.mapped_params))
    mps_kl = kl(r.mps_model.probs(r.mps_params)) if n <= 20 else None
    final_kl = kl(probs)
    samples = np.asarray(r.model.sample(r.params, jax.random.key(args.seed + 1), NUM_PLOT_SAMPLES))
    in_data = fraction_in(samples, ds.data)
    hparams = {k: getattr(args, k) for k in HYPERPARAMETERS} | {"data_key": args.key}
    save_checkpoint(run.checkpoint, r.model, r.params,
                    metadata={"data": args.data, "data_key": args.key, "dataset": ds.name, "image_shape": ds.image_shape,
                              "hyperparameters": hparams, "fidelities": r.fidelities, "status": "ok"})
    circuit_label = {"kl": "circuit KL", "nll": "circuit NLL", "mmd": "circuit MMD^2"}[args.loss]
    plot_stages([(f"MPS chi={args.chi} (KL)", r.mps_history), (circuit_label, r.circuit_history)],
                run["training_curve.png"], ylabel="loss", title=f"synergistic pretraining, {ds.name}")
    plot_samples(samples, ds.image_shape, run["samples.png"], title=samples_title(in_data))
    plot_distribution(probs, np.asarray(target, np.float64), run["distribution.png"], title=f"KL {final_kl:.4f}")
    run.write_summary({"dataset": ds.name, "num_bits": n, "hyperparameters": hparams, "fidelities": r.fidelities,
                       "mps_kl": mps_kl, "mapped_kl": mapped_kl, "final_kl": final_kl, "samples_in_data": in_data,
                       "num_params": int(r.model.ansatz.num_params), "wall_s": time.perf_counter() - t0,
                       "device": device_name(), **versions()})
    print(f"jqgen train synergy: {ds.name} ({ds.data.shape[0]} samples x {n} bits), chi {args.chi}, "
          f"{args.layers_from_mps} mapped ({args.decomposition}) + {args.extra_layers} extra SU(4) layers")
    print("  fidelity of the mapped layers to the MPS: " + ", ".join(f"{f:.4f}" for f in r.fidelities))
    print(f"  KL(data||model): MPS {mps_kl if mps_kl is None else round(mps_kl, 4)}, mapped circuit "
          f"{mapped_kl:.4f}, trained circuit {final_kl:.4f}")
    run.print_paths()
    return 0
