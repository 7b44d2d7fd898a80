"""Binary data sets: bars-and-stripes for any grid, and binarized images from a path.

Every data set is a ``uint8 [N, n]`` array of 0/1 values, pixels row-major (bit
``r * cols + c`` is pixel ``(r, c)``), wrapped in a :class:`Dataset` that also knows the
image shape (for plots) and the ideal NLL of a model that learns it exactly.
"""

from __future__ import annotations

import os
import re
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Dataset", "bars_and_stripes", "load_binary", "load_dataset"]


class Dataset(NamedTuple):
    """A binary training set.

    Attributes:
        name: short description ("bars-stripes-4x4", a file path, ...).
        data: ``uint8 [N, n]`` training samples.
        image_shape: ``(rows, cols)`` with ``rows * cols == n`` when the samples are images,
            else ``None``.
        test: optional held-out ``uint8 [M, n]`` samples.
        space: optional solution space (:mod:`jqgen.spaces`): the valid bitstrings, for the
            generalization metrics.
        cost: optional vectorized cost ``bits [N, n] -> [N]`` (lower is better), for the
            quality-based metrics.
        target: optional exact ``[2**n]`` distribution the data were drawn from.
    """

    name: str
    data: np.ndarray
    image_shape: tuple[int, int] | None = None
    test: np.ndarray | None = None
    space: Any = None
    cost: Any = None
    target: np.ndarray | None = None

    @property
    def num_bits(self) -> int:
        return int(self.data.shape[1])

    @property
    def ideal_nll(self) -> float:
        """Lowest achievable training NLL: the entropy of the empirical distribution
        (``ln N`` when all N samples are distinct)."""
        _, counts = np.unique(self.data, axis=0, return_counts=True)
        p = counts / counts.sum()
        return float(-(p * np.log(p)).sum())


def bars_and_stripes(rows: int, cols: int) -> np.ndarray:
    """All ``2**rows + 2**cols - 2`` bars-and-stripes patterns, ``uint8 [N, rows * cols]``.

    Stripes are rows that are each all-on or all-off, bars the same for columns; the blank
    and full patterns, which are both, appear once. Order: stripes by integer code, then
    the bars that are not stripes.

    Example:
        >>> from jqgen.data import bars_and_stripes
        >>> bars_and_stripes(4, 4).shape
        (30, 16)
    """
    for name, v in (("rows", rows), ("cols", cols)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if rows * cols > 64:
        raise ValueError(f"bars_and_stripes supports rows * cols <= 64, got {rows}x{cols}")

    def codes(k: int) -> np.ndarray:
        return ((np.arange(2**k)[:, None] >> np.arange(k - 1, -1, -1)) & 1).astype(np.uint8)

    stripes = np.repeat(codes(rows)[:, :, None], cols, axis=2)  # [2^r, r, c]
    bars = np.repeat(codes(cols)[:, None, :], rows, axis=1)  # [2^c, r, c]
    bars = bars[1:-1]  # blank and full are already stripes
    return np.concatenate([stripes, bars]).reshape(-1, rows * cols)


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
    if path.endswith(".npz"):
        with np.load(path) as z:
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
            arr = z[key]
    elif path.endswith(".npy"):
        arr = np.load(path)
    else:
        raise ValueError(f"data file must be .npy or .npz, got {path}")
    return validate_binary(arr, width=width, name=f"{path}" + (f"[{key}]" if key else ""))


def validate_binary(arr: Any, width: int | None = None, name: str = "data") -> np.ndarray:
    """Checks that ``arr`` holds samples of 0/1 values; returns ``uint8 [N, n]``."""
    arr = np.asarray(arr)
    if arr.ndim < 2 or arr.shape[0] == 0 or arr[0].size == 0:
        raise ValueError(f"{name} must be a non-empty array of samples [N, n] or images [N, rows, cols], got shape {arr.shape}")
    arr = arr.reshape(arr.shape[0], -1)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers 0/1, got dtype {arr.dtype}")
    bad = ~((arr == 0) | (arr == 1))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name} must contain only 0/1 values; sample {i}, bit {j} is {arr[i, j].item()!r}")
    if width is not None and arr.shape[1] != width:
        raise ValueError(f"{name} has {arr.shape[1]} bits per sample, expected {width}")
    return arr.astype(np.uint8)


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

    Example:
        >>> from jqgen.data import load_dataset
        >>> ds = load_dataset("cardinality-8-4-0.5-s3")
        >>> ds.name, ds.data.shape, ds.space.size
        ('cardinality-8-4-0.5-s3', (35, 8), 70)
    """
    from .spaces import BarsAndStripesSpace
    from . import synthetic

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
        build = synthetic.cardinality_cost_dataset if m.group(1) else synthetic.cardinality_dataset
        return build(n, k, eps, seed)
    m = _GAUSS.match(spec)
    if m:
        return synthetic.gaussian_mixture_dataset(int(m.group(1)), seed=int(m.group(2) or 0))
    data = load_binary(spec, key=key)
    test = None
    if spec.endswith(".npz"):
        with np.load(spec) as z:
            tkey = f"{key or 'data'}_test"
            if tkey in z:
                test = validate_binary(z[tkey], width=data.shape[1], name=f"{spec}[{tkey}]")
    side = int(round(np.sqrt(data.shape[1])))
    shape = (side, side) if side * side == data.shape[1] else None
    return Dataset(spec, data, shape, test)
