"""``jqgen evaluate CKPT``: the evaluation report of a trained model (see :mod:`jqgen.evaluation`)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ._args import add_data_argument, add_seed_argument, checkpoint_and_data, positive_int, read_checkpoint
from ._rundir import checkpoint_needs_x64, write_json, x64
from ..evaluation import evaluate, format_report

__all__ = ["command", "register"]


def register(commands: Any) -> None:
    """Adds the ``evaluate`` parser to the top-level subparsers."""
    e = commands.add_parser(
        "evaluate", help="generalization metrics and distances of a checkpoint",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Sample a trained model and report every metric that applies to the data set:\n"
        "exploration, fidelity, rate, coverage (and normalized rate/coverage) when the data set has\n"
        "a solution space (cardinality-*, bars-stripes-*); minimum value, utility and quality\n"
        "coverage when it has a cost (cardinality-cost-*); qBAS precision/recall/F1; train and\n"
        "test NLL; KL, TV and MMD to the training (and exact target) distribution. Prints a table\n"
        "and writes the report as JSON (with the sample count and seed).")
    e.add_argument("checkpoint", metavar="CKPT", help="checkpoint .npz written by 'jqgen train'")
    add_data_argument(e, None)
    e.add_argument("--samples", type=positive_int, default=10000, help="number of samples Q (default: %(default)s)")
    add_seed_argument(e, "PRNG seed of the samples (default: %(default)s)")
    e.add_argument("--out", default=None, help="JSON report path (default: evaluation.json beside CKPT)")
    e.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Runs ``jqgen evaluate``."""
    info, ds = checkpoint_and_data(args.checkpoint, args.data, args.key)
    with x64(checkpoint_needs_x64(info)):
        ck = read_checkpoint(args.checkpoint)
        report = evaluate(ck.model, ck.params, args.seed, ds, args.samples)
    report["checkpoint"] = os.path.abspath(args.checkpoint)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "evaluation.json")
    write_json(out, report)
    print(f"jqgen evaluate: {args.checkpoint}")
    print(format_report(report))
    print(f"  wrote {out}")
    return 0
