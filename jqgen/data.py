"""Binary data sets by name or path: bars-and-stripes for any grid, the synthetic sets of
:mod:`jqgen.synthetic`, and binarized images from ``.npy``/``.npz`` files.

Every data set is a ``uint8 [N, n]`` array of 0/1 values, pixels row-major (bit
``r * cols + c`` is pixel ``(r, c)``), wrapped in a :class:`Dataset` that also knows the
image shape (for plots) and the ideal NLL of a model that learns it exactly.
:func:`load_dataset` resolves a name or a path; :class:`Dataset` (from ``jqgen._dataset``)
and :func:`bars_and_stripes` (from :mod:`jqgen.spaces`) are re-exported here.
"""

from __future__ import annotations

import os
import pickle
from typing import Any
import re
import zipfile
import zlib

import numpy as np

from ._checks import validate_binary
from ._dataset import Dataset
from .spaces import BarsAndStripesSpace, bars_and_stripes
from .synthetic import cardinality_cost_dataset, cardinality_dataset, gaussian_mixture_dataset

__all__ = ["Dataset", "bars_and_stripes", "load_binary", "load_dataset"]


def load_binary(path: str | os.PathLike[str], key: str | None = None, width: int | None = None) -> np.ndarray:
    """Loads 0/1 samples from a ``.npy`` or ``.npz`` file as ``uint8 [N, n]``.

    Arrays of images (``[N, rows, cols]``) are flattened row-major.

    Args:
        path: file path.
        key: array name inside an ``.npz`` (default: ``"data"`` if present, else the only
            array).
        width: expected number of bits per sample, checked when given.

    Raises:
        ValueError: unknown extension, missing key, values other than 0/1, wrong width,
            or an empty array.
        FileNotFoundError: the file does not exist.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file not found: {path}")
    if not path.endswith((".npz", ".npy")):
        raise ValueError(f"data file must be .npy or .npz, got {path}")
    try:
        arr, key = _read_array(path, key)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, pickle.UnpicklingError) as e:
        raise ValueError(f"{path} is not a readable {path[-4:]} file ({type(e).__name__}: {e})") from None
    except ValueError as e:
        if str(e).startswith(path):
            raise
        raise ValueError(f"{path} is not a readable {path[-4:]} file ({e})") from None
    return validate_binary(arr, width=width, name=f"{path}" + (f"[{key}]" if key else ""))


def _read_array(path: str, key: str | None) -> tuple[np.ndarray, str | None]:
    """The array (and its key) of a ``.npy``/``.npz`` file; no pickled objects."""
    with open(path, "rb") as fh:  # np.load leaks its own handle when the file is not a zip
        if path.endswith(".npy"):
            return np.load(fh, allow_pickle=False), key
        return _read_npz(fh, path, key)


def _read_npz(fh: Any, path: str, key: str | None) -> tuple[np.ndarray, str | None]:
    with np.load(fh, allow_pickle=False) as z:
        names = list(z.keys())
        if key is None:
            if "data" in names:
                key = "data"
            elif len(names) == 1:
                key = names[0]
            else:
                raise ValueError(f"{path} holds arrays {names}; pass key= to choose one")
        if key not in names:
            raise ValueError(f"{path} has no array {key!r}; it holds {names}")
        return z[key], key


_BAS = re.compile(r"^(?:bars-stripes|bas)-(\d+)x(\d+)$")
_CARD = re.compile(r"^cardinality-(cost-)?(\d+)-(\d+)-([0-9.eE+-]+?)(?:-s(\d+))?$")
_GAUSS = re.compile(r"^gaussian-mixture-(\d+)(?:-s(\d+))?$")


def load_dataset(spec: str, key: str | None = None) -> Dataset:
    """Resolves a data-set name or path.

    Names (built in memory, seeded; see :mod:`jqgen.synthetic`):

    * ``"bars-stripes-RxC"`` (or ``"bas-RxC"``): bars-and-stripes on an R x C grid;
    * ``"cardinality-N-K-EPS[-sSEED]"``: a fraction EPS of the N-bit strings of weight K;
    * ``"cardinality-cost-N-K-EPS[-sSEED]"``: the same with a synthetic cost, re-weighted;
    * ``"gaussian-mixture-N[-sSEED]"``: 10,000 draws of Liu & Wang's two-peak mixture.

    Anything else is a ``.npy``/``.npz`` path (with ``key`` choosing the array; an ``.npz``
    with a ``data_test`` array also yields a test set). Square widths are treated as images.

    Examples:
        >>> from jqgen.data import load_dataset
        >>> ds = load_dataset("cardinality-8-4-0.5-s3")
        >>> ds.name, ds.data.shape, ds.space.size
        ('cardinality-8-4-0.5-s3', (35, 8), 70)
    """
    m = _BAS.match(spec)
    if m:
        r, c = int(m.group(1)), int(m.group(2))
        return Dataset(f"bars-stripes-{r}x{c}", bars_and_stripes(r, c), (r, c), space=BarsAndStripesSpace(r, c))
    m = _CARD.match(spec)
    if m:
        n, k, seed = int(m.group(2)), int(m.group(3)), int(m.group(5) or 0)
        try:
            eps = float(m.group(4))
        except ValueError:
            raise ValueError(f"bad eps {m.group(4)!r} in data-set name {spec!r}") from None
        build = cardinality_cost_dataset if m.group(1) else cardinality_dataset
        return build(n, k, eps, seed)
    m = _GAUSS.match(spec)
    if m:
        return gaussian_mixture_dataset(int(m.group(1)), seed=int(m.group(2) or 0))
    data = load_binary(spec, key=key)
    test = None
    if spec.endswith(".npz"):
        tkey = f"{key or 'data'}_test"
        try:
            with open(spec, "rb") as fh, np.load(fh, allow_pickle=False) as z:
                raw = z[tkey] if tkey in z else None
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error, ValueError) as e:
            raise ValueError(f"{spec}[{tkey}] is not readable ({type(e).__name__}: {e})") from None
        if raw is not None:
            test = validate_binary(raw, width=data.shape[1], name=f"{spec}[{tkey}]")
    side = int(round(np.sqrt(data.shape[1])))
    shape = (side, side) if side * side == data.shape[1] else None
    return Dataset(spec, data, shape, test)
