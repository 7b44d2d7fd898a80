"""``jqgen run CKPT --device PROVIDER::DEVICE --shots N``: sample a trained QCBM on a device.

Compiles the checkpoint's circuit for the device, runs it through the journaled
:func:`jqgen.hardware.run_batch` (a rerun with the same journal, shots, seed and tag
reuses the journaled counts), optionally mitigates readout errors
(:func:`jqgen.hardware.calibrate_readout`), and writes ``counts.json`` (raw and
mitigated counts, layout, circuit hash, budget), ``metrics.json`` (:func:`counts_metrics`:
valid rate, generalization metrics when the data set has a solution space, KL/TV to the
data and TV to the exact model distribution) and ``histogram.png``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

from ._args import add_data_argument, add_seed_argument, checkpoint_and_data, positive_int, read_checkpoint
from ._rundir import checkpoint_needs_x64, write_json, x64
from ..bits import all_bitstrings
from ..data import Dataset
from ..distributions import counts_to_probs, histogram, kl_divergence, total_variation
from ..plots import plot_distribution
from ..qcbm import QCBM

__all__ = ["command", "counts_metrics", "register"]


def register(commands: Any) -> None:
    """Adds the ``run`` parser to the top-level subparsers."""
    r = commands.add_parser(
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
    add_data_argument(r, None)
    add_seed_argument(r, "seed of the local simulator's shots and of simulated noise (default: %(default)s)")
    r.add_argument("--tag", default="run",
                   help="journal tag of this run: change it to draw new shots (default: %(default)s)")
    r.add_argument("--journal", default=None, help="journal file (default: OUT/journal.jsonl)")
    r.add_argument("--out", default=None, help="output directory (default: device-<provider>-<name> beside CKPT)")
    r.add_argument("--readout-error", type=float, default=None, metavar="P",
                   help="local only: flip each measured bit with probability P (simulated readout noise)")
    r.add_argument("--mitigate", action="store_true", help="calibrate and apply readout-error mitigation (ReadoutMit)")
    r.add_argument("--calibration-shots", type=positive_int, default=8192,
                   help="shots per calibration circuit (default: %(default)s)")
    r.set_defaults(func=command)


def _plain(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    return v


def counts_metrics(counts: dict[str, float], ds: Dataset, model_probs: np.ndarray | None = None, *,
                   clip: float = 1e-8) -> dict[str, Any]:
    """Metrics of device counts against a data set (and the exact model distribution).

    ``valid_rate``: fraction of shots in the data set's solution space (or, without one, in
    the training data); ``kl_data_counts``: ``KL(data || counts)`` with counts clipped at
    ``clip``; ``tv_data_counts``, ``tv_model_counts``; ``generalization`` (integer counts
    only, when the data set has a space): :func:`jqgen.metrics.generalization_metrics`.
    """
    data = np.asarray(ds.data)
    n = int(data.shape[1])
    p = counts_to_probs(counts, n)
    target = counts_to_probs(histogram(data, n), n)
    bits = np.asarray(all_bitstrings(n))
    valid = np.asarray(ds.space.contains(bits), bool) if ds.space is not None else target > 0
    shots = float(sum(counts.values()))
    out: dict[str, Any] = {
        "shots": shots,
        "valid_rate": float(p[valid].sum()),
        "kl_data_counts": float(kl_divergence(target, p, clip)),
        "tv_data_counts": float(total_variation(target, p)),
    }
    if model_probs is not None:
        out["tv_model_counts"] = float(total_variation(p, np.asarray(model_probs, np.float64)))
    ints = all(float(v).is_integer() for v in counts.values())
    if ds.space is not None and ints:
        from ..metrics import generalization_metrics

        reps = np.rint(p * shots).astype(np.int64)  # the integer counts again, in dense order
        g = generalization_metrics(np.repeat(bits, reps, axis=0), data, ds.space)
        out["generalization"] = {k: _plain(v) for k, v in g.items()}
    return out


def _compiled(args: argparse.Namespace, info: dict[str, Any], ds: Dataset) -> tuple[Any, Any, Any, Any, int]:
    """``(device, compiled circuit, params hash, exact model probabilities or None, bits)``
    of the checkpoint, after checking that it is a QCBM of the data set's width."""
    from ..hardware import compile_qcbm, params_hash, parse_device

    with x64(checkpoint_needs_x64(info)):
        ck = read_checkpoint(args.checkpoint)
        model, params = ck.model, ck.params
        if not isinstance(model, QCBM):
            raise ValueError(f"jqgen run needs a QCBM checkpoint, got {type(model).__name__}")
        n = model.num_bits
        if ds.data.shape[1] != n:
            raise ValueError(f"data set {ds.name} has {ds.data.shape[1]} bits, the model {n}")
        local = args.device.lower().startswith("local::")
        device = parse_device(args.device, num_qubits=n) if local else parse_device(args.device)
        if args.readout_error is not None and device.provider != "local":
            raise ValueError("--readout-error simulates noise on the local provider only")
        model_probs = np.asarray(model.probs(params), np.float64) if n <= 20 else None
        return device, compile_qcbm(model, params, device), params_hash(params), model_probs, n


def _measure(args: argparse.Namespace, device: Any, compiled: Any, ph: str, journal: Any) -> tuple[Any, Any]:
    """Raw counts (journaled) and, with ``--mitigate``, readout-mitigated counts (or ``None``)."""
    from ..hardware import calibrate_readout, mitigate_counts, noisy_readout, redact, run_batch, seeded_submit

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
        if not args.mitigate:
            return raw, None
        if device.provider == "local":
            kw["submit"] = seeded_submit(None, args.seed + 1)
        cal_tag = f"readout-calibration-{args.tag}" + ("" if args.readout_error is None else f"-p{args.readout_error}")
        mit = calibrate_readout(device, compiled.layout, journal, shots=args.calibration_shots, tag=cal_tag, **kw)
        return raw, mitigate_counts(mit, raw, compiled.layout)
    except RuntimeError as e:
        raise ValueError(redact(e)) from None


def command(args: argparse.Namespace) -> int:
    """Runs ``jqgen run``."""
    from ..hardware import Journal

    if args.readout_error is not None and not 0.0 <= args.readout_error <= 1.0:
        raise ValueError(f"--readout-error must lie in [0, 1], got {args.readout_error}")
    info, ds = checkpoint_and_data(args.checkpoint, args.data, args.key)
    device, compiled, ph, model_probs, n = _compiled(args, info, ds)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)),
                                   f"device-{device.provider}-{device.name}")
    os.makedirs(out, exist_ok=True)
    journal = Journal(args.journal or os.path.join(out, "journal.jsonl"))
    raw, mitigated = _measure(args, device, compiled, ph, journal)
    report: dict[str, Any] = {
        "checkpoint": os.path.abspath(args.checkpoint), "device": device.spec, "dataset": ds.name,
        "shots": args.shots, "seed": args.seed, "readout_error": args.readout_error,
        "raw": counts_metrics(raw, ds, model_probs),
    }
    if mitigated is not None:
        report["mitigated"] = counts_metrics(mitigated, ds, model_probs)
    report["budget"] = journal.budget()
    write_json(os.path.join(out, "counts.json"), {
        "device": device.spec, "shots": args.shots, "layout": list(compiled.layout),
        "circuit_hash": compiled.circuit_hash,
        "params_hash": ph, "counts": raw, "mitigated_counts": mitigated, "budget": journal.budget(),
        "bit_order": "logical big-endian: character i is qubit i",
    })
    write_json(os.path.join(out, "metrics.json"), report)
    data_probs = counts_to_probs(histogram(np.asarray(ds.data), n), n)
    shown = mitigated if mitigated is not None else raw
    plot_distribution(counts_to_probs(shown, n), data_probs, os.path.join(out, "histogram.png"),
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
