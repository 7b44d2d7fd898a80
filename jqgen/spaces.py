"""Solution spaces and costs: what makes a sample *valid* and how *good* it is.

A solution space ``S`` is a subset of ``{0,1}^n`` given by a vectorized predicate, with its
size ``|S|`` known in closed form; the generalization metrics (:mod:`jqgen.metrics`) count
generated samples that are new (not in the training set) and valid (in ``S``). A cost
``c(x)`` ranks valid samples for quality-based generalization (lower is better).

All functions here are host-side NumPy on ``uint8 [N, n]`` arrays: they run on the samples a
model has already produced, once per evaluation, and must be fast on 10^6 samples.

Examples:
    >>> import numpy as np
    >>> from jqgen.spaces import Cardinality
    >>> s = Cardinality(4, 2)
    >>> s.size, s.contains(np.array([[1, 1, 0, 0], [1, 1, 1, 0]], np.uint8)).tolist()
    (6, [True, False])
"""

from __future__ import annotations

import itertools
import math
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from ._checks import check_bits_host, check_fits, check_int
from .bits import pack_bits

__all__ = ["SolutionSpace", "Cardinality", "BarsAndStripesSpace", "Enumerated", "QuadraticCost",
           "bars_and_stripes", "random_quadratic_cost"]


@runtime_checkable
class SolutionSpace(Protocol):
    """The set ``S`` of valid bitstrings over ``num_bits`` variables."""

    num_bits: int

    @property
    def size(self) -> int: ...

    def contains(self, bits: np.ndarray) -> np.ndarray: ...

    def enumerate(self) -> np.ndarray: ...


def _bits2d(bits: Any, n: int) -> np.ndarray:
    b = np.asarray(bits)
    if b.ndim != 2 or b.shape[1] != n:
        raise ValueError(f"samples must have shape [N, {n}], got {b.shape}")
    return check_bits_host(b, "samples")


class _CardinalityFields(NamedTuple):
    num_bits: int
    k: int


class Cardinality(_CardinalityFields):
    """``S = {x in {0,1}^n : sum(x) = k}``, ``|S| = C(n, k)`` (Gili et al., arXiv:2201.08770).

    Raises:
        ValueError: ``num_bits < 1`` or ``k`` outside ``[0, num_bits]`` (integers only).
    """

    __slots__ = ()

    def __new__(cls, num_bits: int, k: int) -> "Cardinality":
        n = check_int(num_bits, "num_bits", 1)
        return super().__new__(cls, n, check_int(k, "k", 0, n))

    @property
    def size(self) -> int:
        return math.comb(self.num_bits, self.k)

    def contains(self, bits: np.ndarray) -> np.ndarray:
        """``bool [N]``: which rows of ``bits [N, n]`` have exactly ``k`` ones."""
        b = _bits2d(bits, self.num_bits)
        return b.sum(axis=1, dtype=np.int32) == self.k

    def enumerate(self) -> np.ndarray:
        """All of ``S`` as ``uint8 [C(n, k), n]``, in lexicographic (big-endian integer) order."""
        n, k = self.num_bits, self.k
        check_fits(self.size * n * 2, f"enumerating the C({n}, {k}) = {self.size} members of {self.describe()}",
                   largest="use contains() to test membership instead")
        out = np.zeros((self.size, n), np.uint8)
        for i, ones in enumerate(itertools.combinations(range(n), k)):
            out[i, list(ones)] = 1
        return out[np.lexsort(out.T[::-1])]

    def describe(self) -> str:
        return f"cardinality n={self.num_bits} k={self.k}"


def bars_and_stripes(rows: int, cols: int) -> np.ndarray:
    """All ``2**rows + 2**cols - 2`` bars-and-stripes patterns, ``uint8 [N, rows * cols]``.

    Stripes are rows that are each all-on or all-off, bars the same for columns; the blank
    and full patterns, which are both, appear once. Order: stripes by integer code, then
    the bars that are not stripes. (Also importable as ``jqgen.data.bars_and_stripes``.)

    Examples:
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


class _BarsAndStripesFields(NamedTuple):
    rows: int
    cols: int


class BarsAndStripesSpace(_BarsAndStripesFields):
    """Bars-and-stripes images on a ``rows x cols`` grid, ``|S| = 2^rows + 2^cols - 2``.

    A pattern is valid when every row is constant (stripes) or every column is constant
    (bars); pixels row-major, as :func:`jqgen.data.bars_and_stripes`.

    Raises:
        ValueError: ``rows`` or ``cols`` not a positive integer.
    """

    __slots__ = ()

    def __new__(cls, rows: int, cols: int) -> "BarsAndStripesSpace":
        return super().__new__(cls, check_int(rows, "rows", 1), check_int(cols, "cols", 1))

    @property
    def num_bits(self) -> int:
        return self.rows * self.cols

    @property
    def size(self) -> int:
        return 2**self.rows + 2**self.cols - 2

    def contains(self, bits: np.ndarray) -> np.ndarray:
        b = _bits2d(bits, self.num_bits).reshape(-1, self.rows, self.cols)
        stripes = (b == b[:, :, :1]).all(axis=(1, 2))
        bars = (b == b[:, :1, :]).all(axis=(1, 2))
        return stripes | bars

    def enumerate(self) -> np.ndarray:
        return bars_and_stripes(self.rows, self.cols)

    def describe(self) -> str:
        return f"bars-and-stripes {self.rows}x{self.cols}"


class Enumerated:
    """A solution space given by its members (any finite set of bitstrings)."""

    def __init__(self, members: Any, name: str = "enumerated") -> None:
        m = np.asarray(members, np.uint8)
        if m.ndim != 2 or m.shape[0] == 0:
            raise ValueError(f"members must be a non-empty [N, n] array, got shape {m.shape}")
        keys, idx = np.unique(pack_bits(m), return_index=True)
        self.members = m[np.sort(idx)]
        self.num_bits = int(m.shape[1])
        self.name = name
        self._keys = keys

    @property
    def size(self) -> int:
        return int(self.members.shape[0])

    def contains(self, bits: np.ndarray) -> np.ndarray:
        keys = pack_bits(_bits2d(bits, self.num_bits))
        return np.isin(keys, self._keys)

    def enumerate(self) -> np.ndarray:
        return self.members

    def describe(self) -> str:
        return f"{self.name} ({self.size} members)"


class _QuadraticCostFields(NamedTuple):
    linear: np.ndarray
    quadratic: np.ndarray
    offset: float = 0.0


class QuadraticCost(_QuadraticCostFields):
    """``c(x) = offset + linear . x + x^T quadratic x`` (lower is better).

    With ``linear = -mu`` (expected returns) and ``quadratic = gamma * Sigma`` (covariance)
    this is the mean-variance portfolio objective of Alcazar et al.; on cardinality data it
    is the synthetic quality score of the quality-based generalization experiments.
    """

    __slots__ = ()

    def __new__(cls, linear: Any, quadratic: Any, offset: float = 0.0) -> "QuadraticCost":
        lin, quad = np.asarray(linear, np.float64), np.asarray(quadratic, np.float64)
        if lin.ndim != 1 or lin.shape[0] < 1 or quad.shape != (lin.shape[0], lin.shape[0]):
            raise ValueError(f"linear must be [n] and quadratic [n, n], got shapes {lin.shape} and {quad.shape}")
        if not (np.all(np.isfinite(lin)) and np.all(np.isfinite(quad)) and np.isfinite(offset)):
            raise ValueError("linear, quadratic and offset must be finite")
        return super().__new__(cls, lin, quad, float(offset))

    @property
    def num_bits(self) -> int:
        return int(self.linear.shape[0])

    def __call__(self, bits: Any) -> np.ndarray:
        """``float64 [N]`` costs of ``bits [N, n]``."""
        b = _bits2d(bits, self.num_bits)
        x = b.astype(np.float64)
        return self.offset + x @ self.linear + np.einsum("ij,ij->i", x @ self.quadratic, x)


def random_quadratic_cost(n: int, seed: int = 0, *, risk: float = 0.5) -> QuadraticCost:
    """A seeded synthetic portfolio-like cost on ``n`` assets: ``-mu.x + risk * x^T Sigma x``.

    ``mu ~ U(0, 1)`` are returns; ``Sigma = F F^T / n + diag(U(0, 0.5))`` with ``F`` a
    random ``n x 3`` factor loading. Costs of different bitstrings are almost surely
    distinct, so "the best sample" is well defined.

    Examples:
        >>> from jqgen.spaces import random_quadratic_cost
        >>> import numpy as np
        >>> c = random_quadratic_cost(6, seed=1)
        >>> c(np.zeros((1, 6), np.uint8)).tolist()
        [0.0]
    """
    n = check_int(n, "n", 1)
    if not np.isfinite(risk):
        raise ValueError(f"risk must be finite, got {risk!r}")
    check_fits(3 * n * n * 8, f"random_quadratic_cost with n = {n} ([n, n] float64 matrices)",
               largest="use a smaller n")
    rng = np.random.default_rng(seed)
    mu = rng.uniform(0.0, 1.0, n)
    f = rng.normal(size=(n, 3))
    sigma = f @ f.T / n + np.diag(rng.uniform(0.0, 0.5, n))
    return QuadraticCost(-mu, risk * sigma, 0.0)
