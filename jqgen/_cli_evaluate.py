"""``jqgen evaluate CKPT``: the evaluation report of a trained model (see :mod:`jqgen.evaluation`)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from .checkpoint import _needs_x64, checkpoint_info, load_checkpoint
from .data import load_dataset
from .evaluation import evaluate, format_report

__all__ = ["add_evaluate_parser", "checkpoint_data", "cmd_evaluate"]


def add_evaluate_parser(sub: Any, positive_int: Any) -> None:
    e = sub.add_parser(
        "evaluate", help="generalization metrics and distances of a checkpoint",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Sample a trained model and report every metric that applies to the data set:\n"
        "exploration, fidelity, rate, coverage (and normalized rate/coverage) when the data set has\n"
        "a solution space (cardinality-*, bars-stripes-*); minimum value, utility and quality\n"
        "coverage when it has a cost (cardinality-cost-*); qBAS precision/recall/F1; train and\n"
        "test NLL; KL, TV and MMD to the training (and exact target) distribution. Prints a table\n"
        "and writes the report as JSON (with the sample count and seed).")
    e.add_argument("checkpoint", metavar="CKPT", help="checkpoint .npz written by 'jqgen train'")
    e.add_argument("--data", default=None,
                   help="data set name or path (default: the one recorded in the checkpoint)")
    e.add_argument("--samples", type=positive_int, default=10000, help="number of samples Q (default: %(default)s)")
    e.add_argument("--seed", type=int, default=0, help="PRNG seed of the samples (default: %(default)s)")
    e.add_argument("--out", default=None, help="JSON report path (default: evaluation.json beside CKPT)")
    e.set_defaults(func=cmd_evaluate)


def checkpoint_data(checkpoint: str, data: str | None) -> tuple[dict[str, Any], Any]:
    """The checkpoint's header and the data set ``data`` (default: the one it records)."""
    info = checkpoint_info(checkpoint)
    spec = data if data is not None else info.get("metadata", {}).get("data")
    if spec is None:
        raise ValueError(f"{checkpoint} records no data set; pass --data")
    return info, load_dataset(spec)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .cli import _json_safe, _x64

    info, ds = checkpoint_data(args.checkpoint, args.data)
    with _x64(_needs_x64(info) is not None):
        ck = load_checkpoint(args.checkpoint)
        report = evaluate(ck.model, ck.params, args.seed, ds, args.samples)
    report["checkpoint"] = os.path.abspath(args.checkpoint)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "evaluation.json")
    with open(out, "w") as f:
        json.dump(_json_safe(report), f, indent=2)
    print(f"jqgen evaluate: {args.checkpoint}")
    print(format_report(report))
    print(f"  wrote {out}")
    return 0
