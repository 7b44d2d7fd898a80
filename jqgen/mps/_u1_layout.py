"""The static charge layout of a U(1)-symmetric MPS (Lopez-Piqueres, Chen and Perdomo-Ortiz,
arXiv:2211.09121): which charge sectors every bond has and how large their blocks are.

A constraint ``sum_i a_i x_i = b`` (non-negative integer weights ``a_i``; cardinality ``k`` is
``a_i = 1, b = k``) is built into the tensors. Bond ``k`` (between sites ``k - 1`` and ``k``)
carries the charge ``q = sum_{i<k} a_i x_i`` of the prefix, ``q in 0..b``, and its index space is
split into one block per charge. Site ``k`` maps charge ``q`` to ``q + a_k x_k`` only::

     bond k, charge q                         bond k+1, charge q + a_k x
    (q, 0..D[k,q]-1) ----[ B[k, x, q] ]---- (q + a_k x, 0..D[k+1, q + a_k x]-1)
                               |
                              x_k

so every amplitude of a string with ``sum a x != b`` is exactly zero: bond 0 holds only charge 0,
bond ``n`` only charge ``b``.

Storage (static shapes): one array ``blocks [n, 2, Q, chi, chi]`` with ``Q = b + 1`` charges and
``chi = chi_max`` the block padding; ``blocks[k, x, q]`` is the block from charge ``q`` at bond
``k`` to charge ``q + a_k x`` at bond ``k + 1`` (all zero when ``q + a_k x > b``). Sector ``q`` of
bond ``k`` has the static block size::

    D[k, q] = min(chi_max, #prefixes x_0..x_{k-1} of charge q, #suffixes x_k..x_{n-1} of charge b - q)

(0 for a charge no valid string passes through), the largest rank that block can have.
Entries outside ``[:D[k, q], :D[k+1, q']]`` are masked to zero by every function. The total bond
dimension is ``sum_q D[k, q]``; shapes depend only on ``(n, b, chi_max)``, so every kernel
compiles once per ``(n, b, chi_max)``, whatever the weights.

Practical sizes: parameters take ``2 n (b + 1) chi_max**2`` numbers (n = 100, b = 10,
chi_max = 32: 2.25 M, 9 MB in float32) and a sample or likelihood costs ``O(n chi_max**2)`` per
string, as an unconstrained MPS of bond ``chi_max`` does; general weights cost ``b + 1``
sectors, so weights up to a few and ``b`` up to a few hundred are practical.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

__all__ = ["ChargeLayout"]

#: Largest ``n`` for which the valid strings are enumerated (``probs``, ``to_dense``).
MAX_ENUMERATED_SITES = 20


def _int(name: str, v: Any, low: int) -> int:
    if not isinstance(v, (int, np.integer)) or isinstance(v, (bool, np.bool_)) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


@dataclasses.dataclass(frozen=True)
class ChargeLayout:
    """Charge sectors and block sizes for the constraint ``sum_i weights[i] x_i = target``.

    Attributes:
        weights: non-negative integer weight ``a_i`` of every site (``n = len(weights)``).
        target: the required total ``b >= 0``.
        chi_max: block padding (largest block size of a sector).

    Raises:
        ValueError: fewer than 2 sites, a negative or non-integer weight or target, or a
            constraint no bitstring meets.

    Examples:
        >>> from jqgen.mps import ChargeLayout
        >>> lay = ChargeLayout.cardinality(4, 2, chi_max=2)
        >>> lay.dims.tolist()  # bonds 0..4, charges 0..2
        [[1, 0, 0], [1, 1, 0], [1, 2, 1], [0, 1, 1], [0, 0, 1]]
        >>> lay.num_valid
        6
    """

    weights: tuple[int, ...]
    target: int
    chi_max: int

    def __post_init__(self) -> None:
        if isinstance(self.weights, (str, bytes)) or not hasattr(self.weights, "__len__"):
            raise ValueError(f"weights must be a sequence of non-negative integers, got {self.weights!r}")
        weights = tuple(_int(f"weights[{i}]", a, 0) for i, a in enumerate(self.weights))
        if len(weights) < 2:
            raise ValueError(f"weights must have at least 2 entries (sites), got {len(weights)}")
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "target", _int("target", self.target, 0))
        object.__setattr__(self, "chi_max", _int("chi_max", self.chi_max, 1))
        if self._prefix_counts()[-1][self.target] == 0:
            n = len(weights)
            if all(a == 1 for a in weights):
                raise ValueError(f"the cardinality k must be in [0, n = {n}], got k = {self.target}")
            raise ValueError(
                f"no bitstring meets sum_i a_i x_i = {self.target} with weights a = {list(weights)} "
                f"(reachable totals: {sorted(q for q, c in enumerate(self._prefix_counts()[-1]) if c)})"
            )

    @classmethod
    def cardinality(cls, n: int, k: int, chi_max: int) -> "ChargeLayout":
        """The layout of ``sum x = k`` on ``n`` sites.

        Raises:
            ValueError: ``k`` outside ``[0, n]`` or ``n < 2``.
        """
        n = _int("n (number of sites)", n, 2)
        k = _int("k (cardinality)", k, 0)
        if k > n:
            raise ValueError(f"the cardinality k must be in [0, n = {n}], got k = {k}")
        return cls((1,) * n, k, chi_max)

    @property
    def num_sites(self) -> int:
        return len(self.weights)

    @property
    def num_charges(self) -> int:
        """``Q = target + 1``: the charges ``0..target`` of every bond."""
        return self.target + 1

    # counts are capped (min(count, cap) is exact through sums when cap >= chi_max)
    def _prefix_counts(self, cap: int = 2**62) -> list[list[int]]:
        """``c[k][q]``: prefixes of ``k`` sites with charge ``q`` (capped)."""
        counts = [[1] + [0] * self.target]
        for a in self.weights:
            prev = counts[-1]
            counts.append([min(cap, prev[q] + (prev[q - a] if q >= a else 0)) for q in range(self.target + 1)])
        return counts

    def _suffix_counts(self, cap: int = 2**62) -> list[list[int]]:
        """``c[k][r]``: suffixes ``x_k .. x_{n-1}`` of charge ``r`` (capped)."""
        counts = [[1] + [0] * self.target]
        for a in reversed(self.weights):
            prev = counts[-1]
            counts.append([min(cap, prev[r] + (prev[r - a] if r >= a else 0)) for r in range(self.target + 1)])
        return counts[::-1]

    @functools.cached_property
    def dims(self) -> np.ndarray:
        """``int32 [n + 1, Q]`` block sizes ``D[k, q]`` (see the module docstring)."""
        pre, suf, b = self._prefix_counts(self.chi_max), self._suffix_counts(self.chi_max), self.target
        d = np.array([[min(self.chi_max, pre[k][q], suf[k][b - q]) for q in range(b + 1)]
                      for k in range(self.num_sites + 1)], np.int32)
        d.setflags(write=False)
        return d

    @functools.cached_property
    def block_mask(self) -> np.ndarray:
        """``bool [n, 2, Q, chi, chi]``: the entries of ``blocks`` that may be nonzero."""
        n, q_num, chi = self.num_sites, self.num_charges, self.chi_max
        idx = np.arange(chi)
        mask = np.zeros((n, 2, q_num, chi, chi), bool)
        for k, a in enumerate(self.weights):
            for x in (0, 1):
                for q in range(q_num - a * x):
                    rows, cols = self.dims[k, q], self.dims[k + 1, q + a * x]
                    mask[k, x, q] = (idx[:, None] < rows) & (idx[None, :] < cols)
        mask.setflags(write=False)
        return mask

    @property
    def bond_dims(self) -> np.ndarray:
        """``int [n + 1]`` total bond dimensions ``sum_q D[k, q]``."""
        return self.dims.sum(axis=1)

    @property
    def num_params(self) -> int:
        """Active (unmasked) parameters."""
        return int(self.block_mask.sum())

    @property
    def num_valid(self) -> int:
        """The number of bitstrings that meet the constraint (exact Python int)."""
        return self._prefix_counts()[-1][self.target]

    def param_bytes(self, itemsize: int = 4) -> int:
        """Bytes of the ``blocks`` array (``2 n Q chi_max**2`` entries of ``itemsize`` bytes)."""
        return 2 * self.num_sites * self.num_charges * self.chi_max**2 * itemsize

    def in_support(self, bits: Any) -> np.ndarray:
        """``bool [...]``: which rows of ``bits [..., n]`` meet the constraint (host-side)."""
        return np.asarray(bits, np.int64) @ np.asarray(self.weights, np.int64) == self.target

    @functools.cached_property
    def valid_indices(self) -> np.ndarray:
        """Big-endian indices of the valid strings in increasing order (``n <= 20``).

        Raises:
            ValueError: ``n > 20``.
        """
        n = self.num_sites
        if n > MAX_ENUMERATED_SITES:
            raise ValueError(f"enumerating the valid strings needs n <= {MAX_ENUMERATED_SITES}, got n = {n}")
        idx = np.arange(2**n, dtype=np.int64)
        bits = (idx[:, None] >> np.arange(n - 1, -1, -1)) & 1
        out = idx[bits @ np.asarray(self.weights, np.int64) == self.target]
        out.setflags(write=False)
        return out

    def valid_bitstrings(self) -> np.ndarray:
        """``uint8 [num_valid, n]``: every valid string, in big-endian index order (``n <= 20``)."""
        n = self.num_sites
        return ((self.valid_indices[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(np.uint8)

    def offsets(self) -> np.ndarray:
        """``int [n + 1, Q]``: where sector ``q`` starts in bond ``k``'s compact index
        ``0 .. sum_q D[k, q] - 1`` (the unconstrained MPS of :meth:`SymmetricMPSBornMachine.to_mps`)."""
        return np.concatenate([np.zeros((self.num_sites + 1, 1), np.int64),
                               np.cumsum(self.dims, axis=1)[:, :-1]], axis=1)

    def config(self) -> dict[str, Any]:
        return {"weights": list(self.weights), "target": self.target, "chi_max": self.chi_max}

