"""``jqgen train qcbm-device`` (and ``jqgen train qcbm --device``): a QCBM trained on a device.

:func:`train_qcbm_on_device` runs :func:`jqgen.hardware.train_on_device` (shot-based loss,
parameter-shift gradients, Adam; every step's ``2P + 2`` circuits in one journaled batch)
and writes ``checkpoint.npz``, ``summary.json`` and ``training_curve.png``. The journal is
the run state: re-running with the same journal and settings replays the steps done
without resubmitting them, also after the run finished (raise ``--steps`` to train on);
other settings are refused, ``--overwrite`` deletes the run's files (the default journal
included) and starts afresh.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import jax
import numpy as np
import optax

from ._args import (
    add_data_argument, add_out_arguments, add_progress_argument, add_seed_argument, load_data, positive_float,
    positive_int,
)
from ._rundir import prepare_run, resolve_out, settings_diff, slug
from ..checkpoint import save_checkpoint
from ..plots import plot_training_curve
from ..distributions import empirical_distribution
from ..qcbm import ANSATZ_NAMES, QCBM, ansatz_by_name

__all__ = ["DEVICE_ANSATZ_NAMES", "FILES", "command", "register", "train_qcbm_on_device"]

#: ``--ansatz`` values that run on devices (the SU(4) brickwork has no device compilation).
DEVICE_ANSATZ_NAMES = tuple(name for name in ANSATZ_NAMES if name != "su4")
#: Output files, in print order (plus the default journal, ``journal.jsonl``).
FILES = ("checkpoint.npz", "summary.json", "training_curve.png")
_JOURNAL = "journal.jsonl"
#: Settings that may change when a run continues from its journal.
_MAY_CHANGE = ("steps",)


def register(families: Any) -> None:
    """Adds the ``qcbm-device`` parser to the ``train`` subparsers."""
    t = families.add_parser(
        "qcbm-device", help="train a QCBM on a device (parameter-shift from shots, journaled)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a QCBM with shot-based losses and parameter-shift gradients on a device\n"
        "(jqgen.hardware.train_on_device): every step runs its 2P+2 circuits in one journaled batch;\n"
        "rerunning with the same --journal and settings resumes without resubmitting. Writes\n"
        "checkpoint.npz, summary.json and training_curve.png to --out.\n"
        "For local::testing, '--native-gates rx,rz,rxx,cx --coupling all' makes compilation trivial.")
    add_data_argument(t, "bars-stripes-2x2")
    t.add_argument("--ansatz", choices=DEVICE_ANSATZ_NAMES, default="all", help="circuit family (default: %(default)s)")
    t.add_argument("--layers", type=positive_int, default=2, help="entangling blocks (default: %(default)s)")
    t.add_argument("--loss", choices=("mmd", "kl"), default="kl", help="training loss (default: %(default)s)")
    t.add_argument("--shots", type=positive_int, default=1000, help="shots per circuit (default: %(default)s)")
    t.add_argument("--lr", type=positive_float, default=0.1, help="Adam learning rate (default: %(default)s)")
    t.add_argument("--steps", type=positive_int, default=30, help="optimizer steps (default: %(default)s)")
    add_seed_argument(t)
    t.add_argument("--device", default="local::testing", metavar="PROVIDER::DEVICE", help="(default: %(default)s)")
    t.add_argument("--native-gates", default=None, help="local only: comma-separated basis gates (default: rz,sx,x,cx)")
    t.add_argument("--coupling", choices=("line", "all"), default="line",
                   help="local only: coupling map (default: %(default)s)")
    t.add_argument("--journal", default=None, help="journal file (default: OUT/journal.jsonl)")
    add_out_arguments(t, "runs/qcbm-device-ANSATZ-DATA")
    add_progress_argument(t, "no per-step lines")
    t.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Runs ``jqgen train qcbm-device``."""
    return train_qcbm_on_device(
        data=args.data, key=args.key, ansatz=args.ansatz, layers=args.layers, loss=args.loss, shots=args.shots, lr=args.lr,
        steps=args.steps, seed=args.seed, device=args.device, native_gates=args.native_gates,
        coupling=args.coupling, journal=args.journal, out=args.out, overwrite=args.overwrite,
        progress=not args.no_progress)


def _device(spec: str, num_qubits: int, native_gates: str | None, coupling: str) -> Any:
    """The :class:`jqgen.hardware.Device` of ``--device`` (local: with ``--native-gates``, ``--coupling``)."""
    from ..hardware import DEFAULT_NATIVE_GATES, Device, parse_device

    if spec.lower().startswith("local::"):
        parse_device(spec, num_qubits=num_qubits)  # validates the name
        gates = tuple(g.strip() for g in native_gates.split(",")) if native_gates else DEFAULT_NATIVE_GATES
        return Device.local(num_qubits, native_gates=gates, coupling=None if coupling == "all" else "line")
    if native_gates is not None:
        raise ValueError("--native-gates applies to the local provider only")
    return parse_device(spec)


def _check_continuation(out: str, hparams: dict[str, Any]) -> None:
    """Refuses to continue a finished run in ``out`` with other settings (``--steps`` may change)."""
    summary = os.path.join(out, "summary.json")
    if not os.path.exists(summary):
        return
    with open(summary) as f:
        before = json.load(f).get("hyperparameters") or {}
    diff = settings_diff(before, hparams, [k for k in hparams if k not in _MAY_CHANGE])
    if diff:
        raise ValueError(f"{out} holds a run with other settings: {', '.join(diff)}; use them to continue it, "
                         "pass --overwrite to replace it, or choose another --out")


def train_qcbm_on_device(*, data: str, key: str | None = None, ansatz: str, layers: int, loss: str, shots: int, lr: float, steps: int,
                         seed: int, device: str, native_gates: str | None = None, coupling: str = "line",
                         journal: str | None = None, out: str | None = None, overwrite: bool = False,
                         progress: bool = True) -> int:
    """Trains a QCBM on ``device`` (the options of ``jqgen train qcbm-device``); returns 0.

    Raises:
        ValueError: bad options, a device error (redacted), or a finished run in ``out``
            with other settings (without ``overwrite``).
    """
    from ..hardware import redact, train_on_device

    ds = load_data(data, key)
    n = ds.num_bits
    model = QCBM(ansatz_by_name(ansatz, n, layers, np.asarray(ds.data)))
    dev = _device(device, n, native_gates, coupling)
    hparams = {"data": data, "data_key": key, "ansatz": ansatz, "layers": layers, "loss": loss, "shots": shots, "lr": lr,
               "steps": steps, "seed": seed, "device": device, "native_gates": native_gates, "coupling": coupling}
    out = resolve_out(out, f"qcbm-device-{ansatz}-{slug(ds.name)}")
    journal = journal or os.path.join(out, _JOURNAL)
    if not overwrite:
        _check_continuation(out, hparams)
    own_journal = journal == os.path.join(out, _JOURNAL)
    run = prepare_run(out, default_name="", files=FILES, overwrite=overwrite, unit="steps", total=steps,
                      resume_path=journal, continues=True, extra_files=(_JOURNAL,) if own_journal else ())
    k_init, k_fit = jax.random.split(jax.random.key(seed))
    params = model.init(k_init)
    t0 = time.perf_counter()

    def on_step(done: int, params: Any, state: Any, history: Any) -> None:
        run.progress(done)
        if progress:
            print(f"  step {done}/{steps}  loss {float(history['loss'][-1]):.5f}  ({time.perf_counter() - t0:.1f} s)",
                  flush=True)

    try:
        res = train_on_device(model, params, ds.data, dev, shots=shots, steps=steps, optimizer=optax.adam(lr),
                              journal_path=journal, key=k_fit, loss=loss, callback=on_step)
    except RuntimeError as e:
        raise ValueError(redact(e)) from None
    probs = np.asarray(model.probs(res.params), np.float64)
    target = np.asarray(empirical_distribution(np.asarray(ds.data), n), np.float64)
    valid_rate = float(probs[target > 0].sum())
    metadata = {"data": data, "data_key": key, "dataset": ds.name, "image_shape": ds.image_shape, "hyperparameters": hparams,
                "valid_rate": valid_rate, "status": "ok", "budget": res.budget}
    save_checkpoint(run.checkpoint, model, res.params, metadata=metadata)
    label = {"mmd": "squared MMD (shots)", "kl": "KL(data || counts)"}[loss]
    plot_training_curve(res.history, run["training_curve.png"], title=f"QCBM {ansatz} on {dev.spec}, {ds.name}",
                        label=label, ylabel=label, logy=True)
    run.write_summary({**metadata, "history": [float(v) for v in res.history], "submitted": res.submitted,
                       "journal": os.path.abspath(journal), "time_s": time.perf_counter() - t0})
    print(f"jqgen train qcbm-device: {ds.name} on {dev.spec}, {steps} steps x {2 * model.ansatz.num_params + 2} "
          f"circuits x {shots} shots")
    print(f"  valid rate (exact) {valid_rate:.4f}; budget {res.budget['tasks']} tasks, {res.budget['shots']} shots "
          f"({res.submitted} tasks submitted now)")
    print(f"  wrote {out}/checkpoint.npz, summary.json, training_curve.png")
    return 0
