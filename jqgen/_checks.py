"""Input validation shared by the public functions.

Shape and dtype problems are static under ``jit``, so they always raise ``ValueError``.
Value problems (non-binary bits, NaN parameters) raise ``ValueError`` when the inputs are
concrete arrays; when they are traced (inside ``jit``, ``vmap`` or ``grad``) the same
predicates are emitted as :func:`jax.experimental.checkify.debug_check`, which costs
nothing unless the caller wraps the computation with :func:`jqgen.checked` (or
``checkify.checkify`` itself).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

__all__ = ["checked", "is_concrete"]


def is_concrete(*xs: Any) -> bool:
    """True when no leaf of ``xs`` is a JAX tracer (i.e. values can be inspected)."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(xs))


def check_bits(bits: Any, n: int, name: str = "bits") -> jax.Array:
    """Validates a ``[..., n]`` array of 0/1 values and returns it as uint8.

    Raises:
        ValueError: wrong width, a zero-dimensional array, a non-integer/bool dtype with
            non-binary values, or (for concrete inputs) any value outside {0, 1}.
    """
    if not hasattr(bits, "shape"):
        bits = np.asarray(bits)
    if bits.ndim < 1:
        raise ValueError(f"{name} must have shape [..., {n}], got a scalar")
    if bits.shape[-1] != n:
        raise ValueError(
            f"{name} has width {bits.shape[-1]} (shape {tuple(bits.shape)}) but the model has "
            f"{n} sites; expected shape [..., {n}]"
        )
    dtype = np.dtype(bits.dtype)
    if not (dtype == np.bool_ or np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise ValueError(f"{name} must be a bool, integer or float array of 0/1 values, got dtype {dtype}")
    if is_concrete(bits):
        arr = np.asarray(bits)
        bad = ~((arr == 0) | (arr == 1))
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{name} must contain only 0/1 values; found {arr[where].item()!r} at index {where}"
            )
        return jnp.asarray(arr.astype(np.uint8))
    checkify.debug_check(jnp.all((bits == 0) | (bits == 1)), f"{name} must contain only 0/1 values")
    return jnp.asarray(bits).astype(jnp.uint8)


def check_finite(tree: Any, what: str) -> None:
    """Raises ``ValueError`` (concrete) or emits a checkify check (traced) for NaN/inf leaves."""
    leaves = jax.tree_util.tree_leaves(tree)
    if is_concrete(tree):
        for i, leaf in enumerate(leaves):
            arr = np.asarray(leaf)
            if np.issubdtype(arr.dtype, np.inexact) and not np.all(np.isfinite(arr)):
                bad = tuple(int(j) for j in np.argwhere(~np.isfinite(arr))[0])
                raise ValueError(f"{what} contains a non-finite value ({arr[bad].item()!r}) at index {bad}")
        return
    for leaf in leaves:
        if jnp.issubdtype(leaf.dtype, jnp.inexact):
            checkify.debug_check(jnp.all(jnp.isfinite(leaf)), f"{what} contains NaN or inf")


def checked(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Jit-compiles ``fn`` with jqgen's value checks enabled.

    Inside ``jit`` jqgen cannot raise on values (e.g. NaN parameters, bits equal to 2);
    it emits ``checkify`` debug checks instead. ``checked(fn)`` functionalizes them and
    raises ``ValueError`` with the first failed check's message.

    Example:
        >>> import jax, jax.numpy as jnp, jqgen
        >>> mps = jqgen.random_mps(jax.random.key(0), 4, 2)
        >>> f = jqgen.checked(lambda m, b: jqgen.log_prob(m, b))
        >>> f(mps, jnp.zeros((1, 4), jnp.uint8)).shape
        (1,)
    """
    inner = jax.jit(checkify.checkify(fn, errors=checkify.user_checks))

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        err, out = inner(*args, **kwargs)
        msg = err.get()
        if msg is not None:
            raise ValueError(msg.split(" (check failed at")[0])
        return out

    return wrapper
