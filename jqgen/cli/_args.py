"""Argument types and shared options of the ``jqgen`` commands, and the data-set loaders.

Every command builds its options from these: :class:`Parser` (usage errors as one line,
exit code 2), the types :func:`positive_int`, :func:`finite_float` (and its instances
:data:`positive_float`, :data:`nonnegative_float`), the dtype choices, and the adders of
``--data``, ``--seed``, ``--out``/``--overwrite`` and ``--no-progress``;
:func:`load_data` resolves ``--data`` with a hint in its error message and
:func:`checkpoint_and_data` reads a checkpoint's header and its (or the given) data set.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable

from ..checkpoint import checkpoint_info
from ..data import Dataset, load_dataset

__all__ = [
    "DTYPES",
    "Parser",
    "REAL_DTYPES",
    "add_data_argument",
    "add_out_arguments",
    "add_progress_argument",
    "add_seed_argument",
    "checkpoint_and_data",
    "finite_float",
    "load_data",
    "nonnegative_float",
    "positive_float",
    "positive_int",
]

#: ``--dtype`` choices of models with complex support (MPS Born machines).
DTYPES = ("float32", "float64", "complex64", "complex128")
#: ``--dtype`` choices of real-only trainers (sweeps, QCBM angles).
REAL_DTYPES = ("float32", "float64")

_DATA_HINT = "--data takes bars-stripes-RxC or a .npy/.npz file"


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


def add_data_argument(parser: argparse.ArgumentParser, default: str) -> None:
    """``--data NAME_OR_PATH`` with ``default``."""
    parser.add_argument("--data", default=default,
                        help="bars-stripes-RxC or a .npy/.npz file (default: %(default)s)")


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


def load_data(spec: str) -> Dataset:
    """:func:`jqgen.data.load_dataset` of ``--data``; its errors name what ``--data`` takes."""
    try:
        return load_dataset(spec)
    except (ValueError, FileNotFoundError) as e:
        raise type(e)(f"{e} ({_DATA_HINT})") from None


def checkpoint_and_data(checkpoint: str, data: str | None) -> tuple[dict[str, Any], Dataset]:
    """The checkpoint's header and the data set ``data`` (default: the one it records).

    Raises:
        FileNotFoundError: no checkpoint (or data file).
        ValueError: not a checkpoint, no data set given or recorded, or a bad data set.
    """
    info = checkpoint_info(checkpoint)
    spec = data if data is not None else (info.get("metadata") or {}).get("data")
    if spec is None:
        raise ValueError(f"{checkpoint} records no data set; pass --data")
    return info, load_dataset(spec)
