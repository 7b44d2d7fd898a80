"""Shared pieces of the checkers: keys, enumeration of the support, failure messages."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["MAX_ENUMERATE_BITS", "all_strings", "as_key", "enumerate_support", "fail", "key_text", "leaves_equal",
           "params_text", "real_dtype", "row_positions", "tolerance"]

#: Largest ``n`` whose ``2**n`` strings the checkers enumerate (65,536 rows).
MAX_ENUMERATE_BITS = 16


def as_key(key: Any, default: int = 0) -> jax.Array:
    """A typed PRNG key from ``None`` (``jax.random.key(default)``), an int seed or a key."""
    if key is None:
        return jax.random.key(default)
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return jax.random.key(int(key))
    if hasattr(key, "dtype") and (jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
                                  or (key.dtype == jnp.uint32 and key.shape == (2,))):
        return key
    raise ValueError(f"key must be None, an int seed or a jax.random key, got {key!r}")


def key_text(key: jax.Array) -> str:
    data = jax.random.key_data(key) if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    return f"key data {np.asarray(data).tolist()}"


def params_text(params: Any) -> str:
    """``{path: dtype[shape]}`` of every leaf (the values would not fit in a message)."""
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    parts = [f"{jax.tree_util.keystr(p) or 'params'}: {jnp.dtype(x.dtype).name}{list(np.shape(x))}"
             for p, x in leaves if hasattr(x, "dtype")]
    return "{" + ", ".join(parts) + "}"


def fail(check: str, model: Any, detail: str, *, key: jax.Array | None = None, params: Any = None) -> AssertionError:
    """The AssertionError of a failed property: which one, on what input, the numbers."""
    where = f"{model!r}"
    if params is not None:
        where += f" with params {params_text(params)}"
    if key is not None:
        where += f" and {key_text(key)}"
    return AssertionError(f"{check} failed for {where}: {detail}")


def real_dtype(params: Any) -> np.dtype:
    """The real dtype of the first inexact leaf (float32 for complex64 parameters)."""
    for leaf in jax.tree_util.tree_leaves(params):
        if hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.inexact):
            return np.dtype(jnp.finfo(leaf.dtype).dtype)
    return np.dtype(np.float32)


def tolerance(params: Any) -> float:
    """Absolute tolerance on one probability for float32 or float64 parameters."""
    return 1e-10 if real_dtype(params).itemsize == 8 else 2e-5


def leaves_equal(a: Any, b: Any) -> bool:
    """Same tree structure, and every leaf of the same dtype and exactly equal."""
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    if jax.tree_util.tree_structure(a) != jax.tree_util.tree_structure(b):
        return False
    return all(np.asarray(x).dtype == np.asarray(y).dtype and np.array_equal(np.asarray(x), np.asarray(y))
               for x, y in zip(la, lb))


def all_strings(n: int) -> np.ndarray:
    """All ``2**n`` strings, ``uint8 [2**n, n]``, big-endian order."""
    idx = np.arange(2**n, dtype=np.int64)
    return ((idx[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(np.uint8)


def enumerate_support(model: Any, support: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The strings to sum probabilities over, and the strings off the support.

    ``support`` given: those rows (``[M, n]`` 0/1), nothing off it. Else all ``2**n``
    strings, split by the model's ``in_support`` when it has one.

    Raises:
        ValueError: ``support`` not ``[M, n]`` 0/1 rows without repeats, or ``n`` above
            :data:`MAX_ENUMERATE_BITS` with no ``support``.
    """
    n = int(model.num_bits)
    if support is not None:
        rows = np.asarray(support)
        if rows.ndim != 2 or rows.shape[1] != n or rows.shape[0] == 0 or not np.all((rows == 0) | (rows == 1)):
            raise ValueError(f"support must be a non-empty [M, {n}] array of 0/1 rows, got shape {rows.shape}")
        rows = rows.astype(np.uint8)
        if np.unique(rows, axis=0).shape[0] != rows.shape[0]:
            raise ValueError("support must not repeat a row")
        return rows, None
    if n > MAX_ENUMERATE_BITS:
        raise ValueError(f"the model has n = {n} bits, too many to enumerate (at most {MAX_ENUMERATE_BITS}); pass "
                         f"support= (the strings of nonzero probability) or skip the enumerating checks")
    rows = all_strings(n)
    in_support = getattr(model, "in_support", None)
    if in_support is None:
        return rows, None
    ok = np.asarray(in_support(rows)).astype(bool)
    return rows[ok], rows[~ok]


def row_positions(rows: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Position of every sample among ``rows`` (``-1`` where it is not one of them)."""
    weights = np.int64(1) << np.arange(rows.shape[1] - 1, -1, -1, dtype=np.int64)
    if rows.shape[1] > 62:
        keys = [r.tobytes() for r in rows]
        lookup = {k: i for i, k in enumerate(keys)}
        return np.asarray([lookup.get(s.tobytes(), -1) for s in samples.astype(np.uint8)], np.int64)
    rk, sk = rows.astype(np.int64) @ weights, samples.astype(np.int64) @ weights
    order = np.argsort(rk)
    pos = np.clip(np.searchsorted(rk[order], sk), 0, rk.size - 1)
    found = rk[order][pos] == sk
    return np.where(found, order[pos], -1)
