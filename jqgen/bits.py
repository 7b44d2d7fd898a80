"""Bitstring conventions shared by every model.

Bits are ``uint8`` (or bool) arrays of shape ``[batch, n]``; bit ``i`` is site/qubit ``i``.
Dense distributions of length ``2**n`` are indexed big-endian: site 0 is the most
significant bit, so ``index = sum_i bits[i] * 2**(n - 1 - i)`` (the row-major order of
an array of shape ``(2,) * n``). :func:`pack_bits` gives host-side NumPy rows a sortable
key in the same order (for set operations on samples).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import check_bits, check_bits_host, check_int, is_concrete

__all__ = ["all_bitstrings", "bits_to_index", "index_to_bits", "pack_bits"]


def all_bitstrings(n: int) -> jax.Array:
    """All ``2**n`` bitstrings in dense (big-endian) order, uint8 ``[2**n, n]``.

    Examples:
        >>> import jqgen
        >>> jqgen.all_bitstrings(2).tolist()
        [[0, 0], [0, 1], [1, 0], [1, 1]]
    """
    if not isinstance(n, (int, np.integer)) or not 1 <= n <= 30:
        raise ValueError(f"n must be an integer in [1, 30] to enumerate bitstrings, got {n!r}")
    return index_to_bits(jnp.arange(2**n, dtype=jnp.uint32), n)


def index_to_bits(index: jax.Array, n: int) -> jax.Array:
    """Integer indices ``[...]`` to bitstrings ``[..., n]`` (big-endian), uint8.

    Raises:
        ValueError: ``n`` not an integer in ``[1, 32]``, a non-integer ``index`` dtype, or
            (for a concrete ``index``) an index outside ``[0, 2**n)``.

    Examples:
        >>> import jqgen
        >>> jqgen.index_to_bits(5, 3).tolist()
        [1, 0, 1]
    """
    n = check_int(n, "n", 1, 32)
    if not hasattr(index, "dtype"):
        index = np.asarray(index)
    if not (np.issubdtype(index.dtype, np.integer) or index.dtype == np.bool_):
        raise ValueError(f"index must be an integer array, got dtype {index.dtype}")
    if is_concrete(index):
        arr = np.asarray(index)
        bad = (arr < 0) | (arr >= 2**n)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0]) if arr.ndim else ()
            raise ValueError(f"index must lie in [0, 2**{n}) = [0, {2**n}); found {arr[where].item()!r} at index {where}")
    shifts = jnp.arange(n - 1, -1, -1, dtype=jnp.uint32)
    index = jnp.asarray(index).astype(jnp.uint32)
    return ((index[..., None] >> shifts) & jnp.uint32(1)).astype(jnp.uint8)


def bits_to_index(bits: jax.Array) -> jax.Array:
    """Bitstrings ``[..., n]`` (n <= 32) to their big-endian integer index, uint32.

    Raises:
        ValueError: a scalar, a width outside ``[1, 32]``, or (concrete) a value other than 0/1.

    Examples:
        >>> import jqgen
        >>> int(jqgen.bits_to_index([1, 0, 1]))
        5
    """
    if not hasattr(bits, "shape"):
        bits = np.asarray(bits)
    if bits.ndim < 1:
        raise ValueError("bits must have shape [..., n], got a scalar")
    n = bits.shape[-1]
    if not 1 <= n <= 32:
        raise ValueError(f"bits_to_index packs 1 to 32 bits into a uint32, got width {n}")
    bits = check_bits(bits, n)
    weights = jnp.left_shift(jnp.uint32(1), jnp.arange(n - 1, -1, -1, dtype=jnp.uint32))
    return jnp.sum(jnp.asarray(bits).astype(jnp.uint32) * weights, axis=-1, dtype=jnp.uint32)


def pack_bits(bits: Any) -> np.ndarray:
    """One sortable key per row of ``bits [N, n]`` (0/1), host-side NumPy.

    ``n <= 64``: ``uint64 [N]``, the row's big-endian integer (equal to
    :func:`bits_to_index`). ``n > 64``: ``[N]`` fixed-width byte strings (``np.void``)
    compared bytewise. Equal rows give equal keys; key order is the rows' lexicographic order.

    Examples:
        >>> import numpy as np
        >>> from jqgen.bits import pack_bits
        >>> pack_bits(np.array([[0, 1, 1], [1, 0, 0]], np.uint8)).tolist()
        [3, 4]
    """
    b = np.asarray(bits)
    if b.ndim != 2 or b.shape[1] == 0:
        raise ValueError(f"bits must have shape [N, n] with n >= 1, got {b.shape}")
    num, n = b.shape
    b = check_bits_host(b, "bits")
    packed = np.packbits(b.astype(np.uint8, copy=False), axis=1)  # [N, ceil(n/8)], MSB first
    nbytes = packed.shape[1]
    if n <= 64:
        buf = np.zeros((num, 8), np.uint8)
        buf[:, :nbytes] = packed
        return buf.view(">u8").reshape(num).astype(np.uint64) >> np.uint64(64 - n)
    return np.ascontiguousarray(packed).view(np.dtype((np.void, nbytes))).reshape(num)
