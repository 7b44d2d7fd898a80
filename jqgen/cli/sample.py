"""``jqgen sample CKPT``: draw samples from a checkpoint, as a PNG grid (and ``.npy``).

The outputs go into the checkpoint's folder (the run directory): the grid by default to
``samples-seed<SEED>.png`` there (beside, not over, the training run's ``samples.png``), and
a relative ``--out`` or ``--npy`` path is taken relative to that folder; an absolute one is
used as given.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

import jax
import numpy as np

from ._args import add_seed_argument, positive_int, read_checkpoint, read_checkpoint_info
from ._report import fraction_in
from ._rundir import checkpoint_needs_x64, x64
from ..data import load_dataset
from ..plots import plot_samples

__all__ = ["command", "register"]


def register(commands: Any) -> None:
    """Adds the ``sample`` parser to the top-level subparsers."""
    s = commands.add_parser("sample", help="draw samples from a checkpoint",
                            description="Draw samples from a checkpoint.")
    s.add_argument("checkpoint", metavar="CKPT", help="checkpoint .npz written by 'jqgen train'")
    s.add_argument("--num", type=positive_int, default=16, help="number of samples (default: %(default)s)")
    add_seed_argument(s)
    s.add_argument("--out", default=None, metavar="FILE",
                   help="PNG grid of the samples; a relative path is relative to CKPT's folder, the run directory "
                   "(default: samples-seed<SEED>.png there)")
    s.add_argument("--npy", default=None, metavar="FILE",
                   help="also save the bits, uint8 [num, n], as .npy (a relative path: in CKPT's folder)")
    s.set_defaults(func=command)


def _image_shape(metadata: dict[str, Any], num_bits: int) -> Any:
    """The recorded image shape if it fits ``num_bits``; a square one for checkpoints that
    record none (e.g. a sweep checkpoint of a run still going); else ``None``."""
    shape = metadata.get("image_shape")
    if shape is not None and (len(shape) != 2 or shape[0] * shape[1] != num_bits):
        shape = None
    if shape is None and "image_shape" not in metadata:
        side = math.isqrt(num_bits)
        shape = (side, side) if side * side == num_bits else None
    return shape


def _training_set_note(metadata: dict[str, Any], samples: np.ndarray) -> str:
    """``"P% in the training set"``, or ``""`` when the recorded data set is gone or does not fit."""
    try:
        if "data" in metadata:
            ds = load_dataset(metadata["data"], key=metadata.get("data_key"))
            if ds.num_bits == samples.shape[1]:
                return f"{fraction_in(samples, ds.data):.0%} in the training set"
    except (ValueError, OSError):  # the note is optional
        pass
    return ""


def _in_run_dir(checkpoint: str, path: str) -> str:
    """``path`` in the folder of ``checkpoint`` when relative (the run directory), else as given."""
    return path if os.path.isabs(path) else os.path.join(os.path.dirname(checkpoint), path)


def command(args: argparse.Namespace) -> int:
    """Runs ``jqgen sample``."""
    info = read_checkpoint_info(args.checkpoint)
    with x64(checkpoint_needs_x64(info)):
        ck = read_checkpoint(args.checkpoint)
        sample = jax.jit(ck.model.sample, static_argnums=2)
        samples = np.asarray(sample(ck.params, jax.random.key(args.seed), args.num), np.uint8)
    note = _training_set_note(ck.metadata, samples)
    png = _in_run_dir(args.checkpoint, args.out or f"samples-seed{args.seed}.png")
    out = plot_samples(samples, _image_shape(ck.metadata, samples.shape[1]), png,
                       title=f"{args.num} samples" + (f" ({note})" if note else ""))
    print(f"jqgen sample: {args.num} samples of {samples.shape[1]} bits from {args.checkpoint}"
          + (f"; {note}" if note else ""))
    print(f"  wrote {out}")
    if args.npy is not None:
        npy = _in_run_dir(args.checkpoint, args.npy)
        with open(npy, "wb") as f:  # keeps the name as given (np.save would add .npy)
            np.save(f, samples)
        print(f"  wrote {npy}")
    return 0
