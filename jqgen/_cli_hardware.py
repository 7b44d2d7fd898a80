"""``jqgen run CKPT --device PROVIDER::DEVICE --shots N``: sample a trained QCBM on a device.

Compiles the checkpoint's circuit for the device, runs it through the journaled
:func:`jqgen.hardware.run_batch` (a rerun with the same journal, shots, seed and tag
reuses the journaled counts), optionally mitigates readout errors
(:func:`jqgen.hardware.calibrate_readout`), and writes ``counts.json`` (raw and
mitigated counts, layout, circuit hash, budget), ``metrics.json`` (valid rate,
generalization metrics when the data set has a solution space, KL/TV to the data and TV to
the exact model distribution) and ``histogram.png``.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import numpy as np

__all__ = ["add_qcbm_device_parser", "add_run_parser", "cmd_run", "cmd_train_qcbm_device", "counts_metrics"]


def add_qcbm_device_parser(families: Any, positive_int: Any, positive_float: Any) -> None:
    t = families.add_parser(
        "qcbm-device", help="train a QCBM on a device (parameter-shift from shots, journaled)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a QCBM with shot-based losses and parameter-shift gradients on a device\n"
        "(jqgen.hardware.train_on_device): every step runs its 2P+2 circuits in one journaled batch;\n"
        "rerunning with the same --journal and settings resumes without resubmitting. Writes\n"
        "checkpoint.npz, summary.json and training_curve.png to --out.\n"
        "For local::testing, '--native-gates rx,rz,rxx,cx --coupling all' makes compilation trivial.")
    t.add_argument("--data", default="bars-stripes-2x2", help="data set name or path (default: %(default)s)")
    t.add_argument("--ansatz", choices=("line", "all", "star", "cnot-line", "chow-liu"), default="all",
                   help="circuit family (default: %(default)s)")
    t.add_argument("--layers", type=positive_int, default=2, help="entangling blocks (default: %(default)s)")
    t.add_argument("--loss", choices=("mmd", "kl"), default="kl", help="training loss (default: %(default)s)")
    t.add_argument("--shots", type=positive_int, default=1000, help="shots per circuit (default: %(default)s)")
    t.add_argument("--lr", type=positive_float, default=0.1, help="Adam learning rate (default: %(default)s)")
    t.add_argument("--steps", type=positive_int, default=30, help="optimizer steps (default: %(default)s)")
    t.add_argument("--seed", type=int, default=0, help="PRNG seed (default: %(default)s)")
    t.add_argument("--device", default="local::testing", metavar="PROVIDER::DEVICE", help="(default: %(default)s)")
    t.add_argument("--native-gates", default=None, help="local only: comma-separated basis gates (default: rz,sx,x,cx)")
    t.add_argument("--coupling", choices=("line", "all"), default="line", help="local only: coupling map (default: %(default)s)")
    t.add_argument("--journal", default=None, help="journal file (default: OUT/journal.jsonl)")
    t.add_argument("--out", default=None, help="output directory (default: runs/qcbm-device-ANSATZ-DATA)")
    t.add_argument("--no-progress", action="store_true", help="no per-step lines")
    t.set_defaults(func=cmd_train_qcbm_device)


def cmd_train_qcbm_device(args: argparse.Namespace) -> int:
    import time

    import jax
    import optax

    from ._cli_qcbm import _ansatz
    from .checkpoint import save_checkpoint
    from .cli import _json_safe, _slug
    from .data import load_dataset
    from .hardware import DEFAULT_NATIVE_GATES, Device, parse_device, redact, train_on_device
    from .plots import plot_training_curve
    from .qcbm import QCBM, empirical_distribution

    ds = load_dataset(args.data)
    n = int(np.asarray(ds.data).shape[1])
    model = QCBM(_ansatz(args.ansatz, n, args.layers, np.asarray(ds.data)))
    if args.device.lower().startswith("local::"):
        parse_device(args.device, num_qubits=n)  # validates the name
        gates = tuple(g.strip() for g in args.native_gates.split(",")) if args.native_gates else DEFAULT_NATIVE_GATES
        device = Device.local(n, native_gates=gates, coupling=None if args.coupling == "all" else "line")
    else:
        if args.native_gates is not None:
            raise ValueError("--native-gates applies to the local provider only")
        device = parse_device(args.device)
    out = args.out or os.path.join("runs", f"qcbm-device-{args.ansatz}-{_slug(ds.name)}")
    os.makedirs(out, exist_ok=True)
    journal = args.journal or os.path.join(out, "journal.jsonl")
    k_init, k_fit = jax.random.split(jax.random.key(args.seed))
    params = model.init(k_init)
    t0 = time.perf_counter()

    def progress(step: int, p: Any, loss: float) -> None:
        if not args.no_progress:
            print(f"  step {step + 1}/{args.steps}  loss {loss:.5f}  ({time.perf_counter() - t0:.1f} s)", flush=True)

    try:
        res = train_on_device(model, params, ds.data, device, shots=args.shots, steps=args.steps, optimizer=optax.adam(args.lr),
                              journal_path=journal, key=k_fit, loss=args.loss, callback=progress)
    except RuntimeError as e:
        raise ValueError(redact(e)) from None
    probs = np.asarray(model.probs(res.params), np.float64)
    target = np.asarray(empirical_distribution(np.asarray(ds.data), n), np.float64)
    valid_rate = float(probs[target > 0].sum())
    hparams = {k: getattr(args, k) for k in ("data", "ansatz", "layers", "loss", "shots", "lr", "steps", "seed", "device",
                                             "native_gates", "coupling")}
    metadata = {"data": args.data, "dataset": ds.name, "image_shape": ds.image_shape, "hyperparameters": hparams,
                "valid_rate": valid_rate, "status": "ok", "budget": res.budget}
    save_checkpoint(os.path.join(out, "checkpoint.npz"), model, res.params, metadata=metadata)
    label = {"mmd": "squared MMD (shots)", "kl": "KL(data || counts)"}[args.loss]
    plot_training_curve(res.history, os.path.join(out, "training_curve.png"), title=f"QCBM {args.ansatz} on {device.spec}, {ds.name}",
                        label=label, ylabel=label)
    summary = {**metadata, "history": [float(v) for v in res.history], "submitted": res.submitted,
               "journal": os.path.abspath(journal), "time_s": time.perf_counter() - t0}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(_json_safe(summary), f, indent=2)
    print(f"jqgen train qcbm-device: {ds.name} on {device.spec}, {args.steps} steps x {2 * model.ansatz.num_params + 2} circuits "
          f"x {args.shots} shots")
    print(f"  valid rate (exact) {valid_rate:.4f}; budget {res.budget['tasks']} tasks, {res.budget['shots']} shots "
          f"({res.submitted} tasks submitted now)")
    print(f"  wrote {out}/checkpoint.npz, summary.json, training_curve.png")
    return 0


def add_run_parser(sub: Any, positive_int: Any) -> None:
    r = sub.add_parser(
        "run", help="sample a trained QCBM checkpoint on a (simulated or real) device",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compile a QCBM checkpoint for a device, run it with N shots through the journaled,\n"
        "fault-tolerant runner (jqgen.hardware), and write counts.json, metrics.json and\n"
        "histogram.png. Only local::testing (TensorCircuit's offline simulator) is described so far.\n"
        "--readout-error P simulates readout noise on local::testing (each bit flips with P);\n"
        "--mitigate calibrates readout errors (journaled) and also reports mitigated counts.")
    r.add_argument("checkpoint", metavar="CKPT", help="QCBM checkpoint .npz written by 'jqgen train qcbm'")
    r.add_argument("--device", required=True, metavar="PROVIDER::DEVICE", help="e.g. local::testing")
    r.add_argument("--shots", type=positive_int, default=2000, help="shots (default: %(default)s)")
    r.add_argument("--data", default=None, help="data set name or path (default: the one recorded in the checkpoint)")
    r.add_argument("--seed", type=int, default=0, help="seed of the local simulator's shots and of simulated noise (default: %(default)s)")
    r.add_argument("--tag", default="run", help="journal tag of this run: change it to draw new shots (default: %(default)s)")
    r.add_argument("--journal", default=None, help="journal file (default: OUT/journal.jsonl)")
    r.add_argument("--out", default=None, help="output directory (default: device-<provider>-<name> beside CKPT)")
    r.add_argument("--readout-error", type=float, default=None, metavar="P",
                   help="local only: flip each measured bit with probability P (simulated readout noise)")
    r.add_argument("--mitigate", action="store_true", help="calibrate and apply readout-error mitigation (ReadoutMit)")
    r.add_argument("--calibration-shots", type=positive_int, default=8192, help="shots per calibration circuit (default: %(default)s)")
    r.set_defaults(func=cmd_run)


def _probs(counts: dict[str, float], n: int) -> np.ndarray:
    from .hardware import counts_to_probs

    return counts_to_probs(counts, n)


def _plain(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    return v


def counts_metrics(counts: dict[str, float], ds: Any, model_probs: np.ndarray | None = None, *, clip: float = 1e-8) -> dict[str, Any]:
    """Metrics of device counts against a data set (and the exact model distribution).

    ``valid_rate``: fraction of shots in the data set's solution space (or, without one, in
    the training data); ``kl_data_counts``: ``KL(data || counts)`` with counts clipped at
    ``clip``; ``tv_data_counts``, ``tv_model_counts``; ``generalization`` (integer counts
    only, when the data set has a space): :func:`jqgen.metrics.generalization_metrics`.
    """
    from .qcbm import empirical_distribution

    data = np.asarray(ds.data)
    n = int(data.shape[1])
    p = _probs(counts, n)
    target = np.asarray(empirical_distribution(data, n), np.float64)
    nz = target > 0
    kl = float(np.sum(target[nz] * (np.log(target[nz]) - np.log(np.maximum(p[nz], clip)))))
    idx = np.arange(2**n)
    bits = ((idx[:, None] >> (n - 1 - np.arange(n))[None]) & 1).astype(np.uint8)
    if ds.space is not None:
        valid = np.asarray(ds.space.contains(bits), bool)
    else:
        valid = target > 0
    out: dict[str, Any] = {
        "shots": float(sum(counts.values())),
        "valid_rate": float(p[valid].sum()),
        "kl_data_counts": kl,
        "tv_data_counts": float(0.5 * np.abs(p - target).sum()),
    }
    if model_probs is not None:
        out["tv_model_counts"] = float(0.5 * np.abs(p - np.asarray(model_probs, np.float64)).sum())
    ints = all(float(v).is_integer() and v >= 0 for v in counts.values())
    if ds.space is not None and ints:
        from .metrics import generalization_metrics

        reps = np.array([int(counts.get(format(i, f"0{n}b"), 0)) for i in idx])
        samples = np.repeat(bits, reps, axis=0)
        g = generalization_metrics(samples, data, ds.space)
        out["generalization"] = {k: _plain(v) for k, v in g.items()}
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from ._cli_evaluate import checkpoint_data
    from .checkpoint import _needs_x64, load_checkpoint
    from .cli import _json_safe, _x64
    from .hardware import (
        Journal, calibrate_readout, compile_qcbm, mitigate_counts, noisy_readout, parse_device, redact, run_batch, seeded_submit,
    )
    from .hardware._compile import params_hash
    from .plots import plot_distribution
    from .qcbm import QCBM, empirical_distribution

    if args.readout_error is not None and not 0.0 <= args.readout_error <= 1.0:
        raise ValueError(f"--readout-error must lie in [0, 1], got {args.readout_error}")
    info, ds = checkpoint_data(args.checkpoint, args.data)
    with _x64(_needs_x64(info) is not None):
        ck = load_checkpoint(args.checkpoint)
        model, params = ck.model, ck.params
        if not isinstance(model, QCBM):
            raise ValueError(f"jqgen run needs a QCBM checkpoint, got {type(model).__name__}")
        n = model.num_bits
        if ds.data.shape[1] != n:
            raise ValueError(f"data set {ds.name} has {ds.data.shape[1]} bits, the model {n}")
        device = parse_device(args.device, num_qubits=n) if args.device.lower().startswith("local::") else parse_device(args.device)
        if args.readout_error is not None and device.provider != "local":
            raise ValueError("--readout-error simulates noise on the local provider only")
        model_probs = np.asarray(model.probs(params), np.float64) if n <= 20 else None
        compiled = compile_qcbm(model, params, device)
        ph = params_hash(params)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), f"device-{device.provider}-{device.name}")
    os.makedirs(out, exist_ok=True)
    journal = Journal(args.journal or os.path.join(out, "journal.jsonl"))
    kw: dict[str, Any] = {}
    if device.provider == "local":
        kw["submit"] = seeded_submit(None, args.seed)
    if args.readout_error is not None:
        kw["poll"] = noisy_readout(args.readout_error, seed=args.seed)
    tag = {"role": str(args.tag), "params_hash": ph, "seed": args.seed}
    if args.readout_error is not None:
        tag["readout_error"] = args.readout_error
    try:
        [raw] = run_batch([compiled], device, args.shots, journal, [tag], **kw)
        mitigated = None
        if args.mitigate:
            if device.provider == "local":
                kw["submit"] = seeded_submit(None, args.seed + 1)
            cal_tag = f"readout-calibration-{args.tag}" + ("" if args.readout_error is None else f"-p{args.readout_error}")
            mit = calibrate_readout(device, compiled.layout, journal, shots=args.calibration_shots, tag=cal_tag, **kw)
            mitigated = mitigate_counts(mit, raw, compiled.layout)
    except RuntimeError as e:
        raise ValueError(redact(e)) from None
    report: dict[str, Any] = {
        "checkpoint": os.path.abspath(args.checkpoint), "device": device.spec, "dataset": ds.name,
        "shots": args.shots, "seed": args.seed, "readout_error": args.readout_error,
        "raw": counts_metrics(raw, ds, model_probs),
    }
    if mitigated is not None:
        report["mitigated"] = counts_metrics(mitigated, ds, model_probs)
    report["budget"] = journal.budget()
    counts_doc = {
        "device": device.spec, "shots": args.shots, "layout": list(compiled.layout), "circuit_hash": compiled.circuit_hash,
        "params_hash": ph, "counts": raw, "mitigated_counts": mitigated, "budget": journal.budget(),
        "bit_order": "logical big-endian: character i is qubit i",
    }
    with open(os.path.join(out, "counts.json"), "w") as f:
        json.dump(_json_safe(counts_doc), f, indent=2)
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(_json_safe(report), f, indent=2)
    data_probs = np.asarray(empirical_distribution(np.asarray(ds.data), n), np.float64)
    shown = mitigated if mitigated is not None else raw
    plot_distribution(_probs(shown, n), data_probs, os.path.join(out, "histogram.png"),
                      title=f"{device.spec}, {args.shots} shots" + (" (mitigated)" if mitigated is not None else ""))
    print(f"jqgen run: {args.checkpoint} on {device.spec}, {args.shots} shots")
    for name in ("raw", "mitigated"):
        if name in report:
            m = report[name]
            extra = f", TV to model {m['tv_model_counts']:.4f}" if "tv_model_counts" in m else ""
            print(f"  {name:9s} valid rate {m['valid_rate']:.4f}, KL(data||counts) {m['kl_data_counts']:.4f}{extra}")
    b = journal.budget()
    print(f"  budget (journal): {b['tasks']} tasks, {b['shots']} shots")
    print(f"  wrote {out}/counts.json, metrics.json, histogram.png")
    return 0
