"""Bitstring conventions shared by every model.

Bits are ``uint8`` (or bool) arrays of shape ``[batch, n]``; bit ``i`` is site/qubit ``i``.
Dense distributions of length ``2**n`` are indexed big-endian: site 0 is the most
significant bit, so ``index = sum_i bits[i] * 2**(n - 1 - i)`` (the row-major order of
an array of shape ``(2,) * n``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["all_bitstrings", "bits_to_index", "index_to_bits"]


def all_bitstrings(n: int) -> jax.Array:
    """All ``2**n`` bitstrings in dense (big-endian) order, uint8 ``[2**n, n]``.

    Example:
        >>> import jqgen
        >>> jqgen.all_bitstrings(2).tolist()
        [[0, 0], [0, 1], [1, 0], [1, 1]]
    """
    if not isinstance(n, (int, np.integer)) or not 1 <= n <= 30:
        raise ValueError(f"n must be an integer in [1, 30] to enumerate bitstrings, got {n!r}")
    return index_to_bits(jnp.arange(2**n, dtype=jnp.uint32), n)


def index_to_bits(index: jax.Array, n: int) -> jax.Array:
    """Integer indices ``[...]`` to bitstrings ``[..., n]`` (big-endian), uint8."""
    shifts = jnp.arange(n - 1, -1, -1, dtype=jnp.uint32)
    index = jnp.asarray(index).astype(jnp.uint32)
    return ((index[..., None] >> shifts) & jnp.uint32(1)).astype(jnp.uint8)


def bits_to_index(bits: jax.Array) -> jax.Array:
    """Bitstrings ``[..., n]`` (n <= 32) to their big-endian integer index, uint32."""
    n = bits.shape[-1]
    if n > 32:
        raise ValueError(f"bits_to_index packs at most 32 bits into a uint32, got width {n}")
    weights = jnp.left_shift(jnp.uint32(1), jnp.arange(n - 1, -1, -1, dtype=jnp.uint32))
    return jnp.sum(jnp.asarray(bits).astype(jnp.uint32) * weights, axis=-1, dtype=jnp.uint32)
