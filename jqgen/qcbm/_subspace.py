"""The fixed-weight subspace: ``C(n, k)`` bitstrings of Hamming weight ``k`` and their order.

The subspace basis lists the ``n``-bit strings with exactly ``k`` ones in increasing
big-endian integer order (bit 0 most significant), i.e. the order in which they appear in a
dense ``2**n`` probability vector (and TensorCircuit's ``U1Circuit`` order). For ``n = 4,
k = 2``: ``0011, 0101, 0110, 1001, 1010, 1100``.

The position of a string in that list is given by the combinatorial number system: with
``r_i = sum_{p >= i} x_p`` (ones at or after bit ``i``),

    index(x) = sum_{i : x_i = 1} C(n - 1 - i, r_i),

since the strings before ``x`` are those that agree with ``x`` up to a bit ``i`` where ``x``
has a one and they have a zero, and there are ``C(n - 1 - i, r_i)`` of those for each such
``i``. :func:`subspace_index` evaluates this and :func:`subspace_bits` inverts it greedily
(``O(n)`` per string, no table of the basis). Both are pure JAX functions (jit/vmap).

Host-side helpers build the static tables of the fused kernel (:func:`basis`,
:func:`partners`): for a qubit pair ``(i, j)``, ``partners[d]`` is the index of basis state
``d`` with bits ``i`` and ``j`` exchanged (``d`` itself when they are equal), an involution.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_bits

__all__ = ["subspace_bits", "subspace_index", "subspace_size"]

#: Largest width: host masks are int64 (as in TensorCircuit's ``U1Circuit``).
MAX_QUBITS = 63
_INT32_MAX = 2**31 - 1


def check_weight(num_bits: Any, weight: Any) -> None:
    """Raises ``ValueError`` unless ``num_bits`` is an int in [1, 63] and ``weight`` an int in
    ``[0, num_bits]``."""
    for name, v in (("num_bits", num_bits), ("weight", weight)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise ValueError(f"{name} must be an int, got {v!r}")
    if not 1 <= num_bits <= MAX_QUBITS:
        raise ValueError(f"num_bits must be in [1, {MAX_QUBITS}], got {num_bits!r}")
    if not 0 <= weight <= num_bits:
        raise ValueError(f"weight must be an int in [0, num_bits] = [0, {num_bits}], got {weight!r}")


def subspace_size(num_bits: int, weight: int) -> int:
    """``C(num_bits, weight)``, the number of strings of that weight.

    Examples:
        >>> from jqgen.qcbm import subspace_size
        >>> subspace_size(32, 4)
        35960
    """
    check_weight(num_bits, weight)
    return math.comb(int(num_bits), int(weight))


@functools.lru_cache(maxsize=64)
def _binomials(n: int, k: int) -> np.ndarray:
    """``T[m, r] = C(m, r)`` for ``m < n``, ``r <= k`` (0 when ``r > m``), clipped to int32."""
    t = np.array([[min(math.comb(m, r), _INT32_MAX) for r in range(k + 1)] for m in range(max(n, 1))], np.int64)
    t.flags.writeable = False
    return t


def subspace_index(bits: Any, weight: int) -> jax.Array:
    """The position of each string in the weight-``weight`` basis, int32 ``[...]``; ``-1``
    for strings of another weight.

    Args:
        bits: ``[..., n]`` 0/1 values.
        weight: ``k``.

    Examples:
        >>> import numpy as np
        >>> from jqgen.qcbm import subspace_index
        >>> subspace_index(np.array([[0, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 0]]), 2).tolist()
        [0, 2, 5, -1]
    """
    n = int(np.shape(bits)[-1]) if np.ndim(bits) >= 1 else 0
    if n < 1:
        raise ValueError(f"bits must have shape [..., n] with n >= 1, got shape {np.shape(bits)}")
    check_weight(n, weight)
    return _index(check_bits(bits, n), int(weight))


def _index(bits: jax.Array, k: int) -> jax.Array:
    n = bits.shape[-1]
    x = bits.astype(jnp.int32)
    r = jnp.flip(jnp.cumsum(jnp.flip(x, -1), -1), -1)  # ones at or after bit i
    table = jnp.asarray(_binomials(n, k).astype(np.int32))
    rows = jnp.arange(n - 1, -1, -1, dtype=jnp.int32)
    terms = table[rows, jnp.clip(r, 0, k)] * x
    valid = jnp.sum(x, -1) == k
    return jnp.where(valid, jnp.sum(terms, -1, dtype=jnp.int32), jnp.int32(-1))


def subspace_bits(index: Any, num_bits: int, weight: int) -> jax.Array:
    """The strings at positions ``index [...]`` of the weight-``weight`` basis, uint8 ``[..., n]``.

    Indices outside ``[0, C(n, k))`` raise ``ValueError`` when concrete (traced ones are
    clipped).

    Examples:
        >>> from jqgen.qcbm import subspace_bits
        >>> subspace_bits([0, 2, 5], 4, 2).tolist()
        [[0, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 0]]
    """
    size = subspace_size(num_bits, weight)
    if not isinstance(index, jax.core.Tracer):
        arr = np.asarray(index)
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"index must hold integers, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= size):
            bad = int(arr[(arr < 0) | (arr >= size)].flat[0])
            raise ValueError(f"index must be in [0, C({num_bits}, {weight}) = {size}), got {bad!r}")
    return _bits(jnp.clip(jnp.asarray(index).astype(jnp.int32), 0, size - 1), int(num_bits), int(weight))


def _bits(index: jax.Array, n: int, k: int) -> jax.Array:
    table = jnp.asarray(_binomials(n, k).astype(np.int32))
    idx, r = index, jnp.full(index.shape, k, jnp.int32)
    out = []
    for i in range(n):  # greedy: a zero at bit i leaves C(n - 1 - i, r) strings
        below = table[n - 1 - i, r]
        one = (idx >= below) & (r > 0)
        idx = jnp.where(one, idx - below, idx)
        r = jnp.where(one, r - 1, r)
        out.append(one)
    return jnp.stack(out, -1).astype(jnp.uint8)


# ----------------------------------------------------------------- host-side tables


@functools.lru_cache(maxsize=32)
def basis(n: int, k: int) -> np.ndarray:
    """The basis as big-endian integers, int64 ``[C(n, k)]``, increasing (read-only)."""
    size = math.comb(n, k)
    t = _binomials(n, k)
    idx, r = np.arange(size, dtype=np.int64), np.full(size, k, np.int64)
    out = np.zeros(size, np.int64)
    for i in range(n):
        below = t[n - 1 - i][r]
        one = (idx >= below) & (r > 0)
        idx = np.where(one, idx - below, idx)
        r = r - one
        out |= one.astype(np.int64) << (n - 1 - i)
    out.flags.writeable = False
    return out


def basis_bits(n: int, k: int) -> np.ndarray:
    """The basis as bits, uint8 ``[C(n, k), n]``."""
    b = basis(n, k)
    return ((b[:, None] >> np.arange(n - 1, -1, -1, dtype=np.int64)) & 1).astype(np.uint8)


@functools.lru_cache(maxsize=32)
def partners(n: int, k: int, edges: tuple[tuple[int, int], ...]) -> np.ndarray:
    """``P[e, d]``: the index of basis state ``d`` with the bits of edge ``e`` exchanged,
    int32 ``[E, C(n, k)]`` (read-only). Each row is an involution."""
    b = basis(n, k)
    out = np.empty((len(edges), b.size), np.int32)
    for e, (i, j) in enumerate(edges):
        bi, bj = (b >> (n - 1 - i)) & 1, (b >> (n - 1 - j)) & 1
        mask = (np.int64(1) << (n - 1 - i)) | (np.int64(1) << (n - 1 - j))
        out[e] = np.searchsorted(b, b ^ ((bi ^ bj) * mask))
    out.flags.writeable = False
    return out
