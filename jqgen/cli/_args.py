"""Argument types and shared options of the ``jqgen`` commands, and the data-set loaders.

Every command builds its options from these: :class:`Parser` (usage errors as one line,
exit code 2), the types :func:`positive_int`, :func:`finite_float` (and its instances
:data:`positive_float`, :data:`nonnegative_float`), the dtype choices, and the adders of
``--data`` (with ``--key``), ``--seed``, ``--out``/``--overwrite`` and ``--no-progress``;
:func:`load_data` resolves ``--data`` with a hint in its error message and
:func:`checkpoint_and_data` reads a checkpoint's header and its (or the given) data set.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable

from ..checkpoint import Checkpoint, checkpoint_info, load_checkpoint
from ..data import DATASET_NAMES, Dataset, load_dataset

__all__ = [
    "BadInput",
    "DTYPES",
    "Parser",
    "REAL_DTYPES",
    "DATA_HELP",
    "add_data_argument",
    "add_key_argument",
    "add_out_arguments",
    "add_progress_argument",
    "add_seed_argument",
    "checkpoint_and_data",
    "finite_float",
    "load_data",
    "read_checkpoint",
    "read_checkpoint_info",
    "nonnegative_float",
    "positive_float",
    "positive_int",
]

#: ``--dtype`` choices of models with complex support (MPS Born machines).
DTYPES = ("float32", "float64", "complex64", "complex128")
#: ``--dtype`` choices of real-only trainers (sweeps, QCBM angles).
REAL_DTYPES = ("float32", "float64")

#: What ``--data`` takes (its help and the hint of its errors).
DATA_HELP = (f"a data-set name ({', '.join(DATASET_NAMES)}) or a .npy/.npz file "
             "(with --key NAME for one array of an .npz)")
_DATA_HINT = f"--data takes {DATA_HELP}"


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} -h')\n")


def positive_int(text: str) -> int:
    """Argument type: an integer ``>= 1``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def finite_float(low: float, strict: bool) -> Callable[[str], float]:
    """Argument type: a finite number ``> low`` (``strict``) or ``>= low``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and (value > low if strict else value >= low)):
            raise argparse.ArgumentTypeError(
                f"expected a finite number {'>' if strict else '>='} {low:g}, got {text!r}")
        return value

    return parse


#: Argument type: a finite number ``> 0``.
positive_float = finite_float(0.0, strict=True)
#: Argument type: a finite number ``>= 0``.
nonnegative_float = finite_float(0.0, strict=False)


def add_data_argument(parser: argparse.ArgumentParser, default: str | None) -> None:
    """``--data NAME_OR_PATH`` with ``default`` (``None``: the one the checkpoint records), and ``--key``."""
    default_help = "%(default)s" if default is not None else "the one recorded in the checkpoint"
    parser.add_argument("--data", default=default, help=f"{DATA_HELP} (default: {default_help})")
    add_key_argument(parser)


def add_key_argument(parser: argparse.ArgumentParser) -> None:
    """``--key NAME``: the array of an ``.npz`` ``--data`` file."""
    parser.add_argument("--key", default=None, metavar="NAME",
                        help="the array of an .npz --data file (default: 'data', or its only array); "
                        "a NAME_test array beside it is the test set")


def add_seed_argument(parser: argparse.ArgumentParser, help: str = "PRNG seed (default: %(default)s)") -> None:
    """``--seed INT`` (default 0)."""
    parser.add_argument("--seed", type=int, default=0, help=help)


def add_out_arguments(parser: argparse.ArgumentParser, default_help: str) -> None:
    """``--out DIR`` (``default_help`` names its default) and ``--overwrite``."""
    parser.add_argument("--out", default=None, help=f"output directory (default: {default_help})")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a finished run in --out (one with a summary.json): its files are deleted first")


def add_progress_argument(parser: argparse.ArgumentParser, help: str = "no progress bar") -> None:
    """``--no-progress``."""
    parser.add_argument("--no-progress", action="store_true", help=help)


class BadInput(ValueError):
    """A data set or checkpoint that cannot be read or is invalid (exit code 3, one line)."""


def load_data(spec: str, key: str | None = None) -> Dataset:
    """:func:`jqgen.data.load_dataset` of ``--data`` (and ``--key``); its errors name what
    ``--data`` takes.

    Raises:
        BadInput: no such data set or file, or an unreadable or invalid one.
    """
    try:
        return load_dataset(spec, key=key)
    except (ValueError, OSError) as e:
        raise BadInput(f"{e} ({_DATA_HINT})") from None


def read_checkpoint_info(path: str) -> dict[str, Any]:
    """:func:`jqgen.checkpoint_info`, its errors as :class:`BadInput`."""
    try:
        return checkpoint_info(path)
    except (ValueError, OSError) as e:
        raise BadInput(str(e)) from None


def read_checkpoint(path: str) -> Checkpoint:
    """:func:`jqgen.load_checkpoint`, its errors as :class:`BadInput` (a header the model
    rejects, e.g. sizes beyond the memory guard, included)."""
    try:
        return load_checkpoint(path)
    except (ValueError, OSError) as e:
        raise BadInput(str(e)) from None


def checkpoint_and_data(checkpoint: str, data: str | None, key: str | None = None) -> tuple[dict[str, Any], Dataset]:
    """The checkpoint's header and the data set ``data`` with ``key`` (default: the ones it records).

    Raises:
        BadInput: no checkpoint or data file, not a checkpoint, or a bad data set.
        ValueError: no data set given or recorded.
    """
    info = read_checkpoint_info(checkpoint)
    metadata = info.get("metadata") or {}
    spec = data if data is not None else metadata.get("data")
    if spec is None:
        raise ValueError(f"{checkpoint} records no data set; pass --data")
    if data is None and key is None:
        key = metadata.get("data_key")
    return info, load_data(spec, key)
