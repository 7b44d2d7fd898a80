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

__all__ = ["DATASET_NAMES", "Dataset", "bars_and_stripes", "load_binary", "load_dataset"]

#: The data-set names :func:`load_dataset` builds in memory (anything else is a file path).
DATASET_NAMES = ("bars-stripes-RxC", "cardinality-N-K-EPS[-sSEED]", "cardinality-cost-N-K-EPS[-sSEED]",
                 "gaussian-mixture-N[-sSEED]")

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry, or an empty zip


def load_binary(path: str | os.PathLike[str], key: str | None = None, width: int | None = None) -> np.ndarray:
    """Loads 0/1 samples from a ``.npy`` or ``.npz`` file as ``uint8 [N, n]``.

    A 2-D array is ``[N, n]`` samples; a 3-D array is ``[N, rows, cols]`` images, flattened
    row-major. Arrays of more dimensions are refused, and so are pickled (object) arrays
    and files that are not NumPy ``.npy``/``.npz`` files: nothing is ever unpickled.

    Args:
        path: file path.
        key: array name inside an ``.npz`` (default: ``"data"`` if present, else the only
            array).
        width: expected number of bits per sample, checked when given.

    Raises:
        ValueError: unknown extension, not a NumPy file, a pickled array, missing key (or
            several arrays and no key), not 2-D or 3-D, values other than 0/1, wrong width,
            or an empty array.
        FileNotFoundError: the file does not exist.

    Example:
        >>> import os, tempfile, numpy as np
        >>> from jqgen.data import load_binary
        >>> path = os.path.join(tempfile.mkdtemp(), "pair.npz")
        >>> np.savez(path, images=np.zeros((5, 3, 7)), labels=np.arange(5))
        >>> load_binary(path, key="images").shape
        (5, 21)
        >>> load_binary(path)
        Traceback (most recent call last):
        ...
        ValueError: ...pair.npz holds arrays ['images', 'labels']; choose one with key= (--key on the command line)
    """
    return _load_file(os.fspath(path), key, width)[0]


def _load_file(path: str, key: str | None, width: int | None) -> tuple[np.ndarray, tuple[int, int] | None]:
    """The validated ``uint8 [N, n]`` samples of a file and the image shape of a 3-D array."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file not found: {path}")
    if not path.endswith((".npz", ".npy")):
        raise ValueError(f"data file must be .npy or .npz, got {path}")
    if key is not None and path.endswith(".npy"):
        raise ValueError(f"key={key!r} names an array of an .npz file; {path} is a .npy file (one array)")
    arr, key = _read_checked(path, key)
    name = f"{path}" + (f"[{key}]" if key else "")
    if arr.ndim > 3:
        raise ValueError(f"{name} has shape {arr.shape}; expected samples [N, n] or images [N, rows, cols]")
    image_shape = (int(arr.shape[1]), int(arr.shape[2])) if arr.ndim == 3 else None
    return validate_binary(arr, width=width, name=name), image_shape


def _read_checked(path: str, key: str | None) -> tuple[np.ndarray, str | None]:
    """:func:`_read_array`, with numpy's and zipfile's errors as one ``ValueError`` naming
    the file (never numpy's advice to load pickled data)."""
    kind = path[-4:]
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except OSError as e:
        raise ValueError(f"{path} is not a readable {kind} file ({type(e).__name__}: {e})") from None
    if not (head.startswith(_NPY_MAGIC) if kind == ".npy" else head.startswith(_ZIP_MAGIC)):
        raise ValueError(f"{path} is not a NumPy {kind} file (it does not start with the {kind} header); "
                         "save the 0/1 array with numpy.save or numpy.savez")
    try:
        return _read_array(path, key)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, pickle.UnpicklingError) as e:
        raise ValueError(f"{path} is not a readable {kind} file ({type(e).__name__}: {e})") from None
    except ValueError as e:
        if str(e).startswith(path):
            raise
        if "pickle" in str(e).lower():  # an object array: jqgen never unpickles
            raise ValueError(f"{path} holds a pickled (object) array, which jqgen does not load; "
                             "save a numeric 0/1 array") from None
        raise ValueError(f"{path} is not a readable {kind} file ({e})") from None


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
                raise ValueError(f"{path} holds arrays {names}; choose one with key= (--key on the command line)")
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

    (:data:`DATASET_NAMES` lists them.) Anything else is a ``.npy``/``.npz`` path (see
    :func:`load_binary`; ``key`` chooses the array of an ``.npz``, and a ``KEY_test`` array
    beside it, ``data_test`` by default, is the test set). A 3-D array ``[N, rows, cols]``
    holds images of that shape; a 2-D array ``[N, n]`` of a square width ``n`` is taken as
    square images.

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
    if not os.path.exists(spec) and not spec.endswith((".npy", ".npz")):
        raise ValueError(f"no data set named {spec!r} (see jqgen.data.DATASET_NAMES) and no file of that name")
    data, shape = _load_file(spec, key, None)
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
    if shape is None:
        side = int(round(np.sqrt(data.shape[1])))
        shape = (side, side) if side * side == data.shape[1] else None
    return Dataset(spec, data, shape, test)
