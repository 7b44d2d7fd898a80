"""Input validation shared by the public functions.

Shape and dtype problems are static under ``jit``, so they always raise ``ValueError``.
Value problems (non-binary bits, NaN parameters) raise ``ValueError`` when the inputs are
concrete arrays; when they are traced (inside ``jit``, ``vmap`` or ``grad``) the same
predicates are emitted as :func:`jax.experimental.checkify.debug_check`, which costs
nothing unless the caller wraps the computation with :func:`jqgen.checked` (or
``checkify.checkify`` itself). :func:`validate_binary` checks host-side NumPy samples
(data sets, generated samples) and always raises.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

from ._memory import available_memory, format_bytes

__all__ = ["check_fits", "check_int", "check_probability_vector", "checked", "is_concrete", "validate_binary"]


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


def check_bits_host(arr: Any, name: str = "bits") -> np.ndarray:
    """Host-side NumPy ``arr`` (any shape, possibly empty) of 0/1 values as uint8.

    Raises:
        ValueError: a non-numeric dtype or a value other than 0/1 (with its index).
    """
    arr = np.asarray(arr)
    if arr.dtype == np.bool_:
        return arr.view(np.uint8)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold numbers 0/1, got dtype {arr.dtype}")
    if arr.size and (arr.dtype == np.uint8 and arr.max() <= 1):
        return arr
    bad = ~((arr == 0) | (arr == 1))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must contain only 0/1 values; found {arr[where].item()!r} at index {where}")
    return arr.astype(np.uint8, copy=False)


def validate_binary(arr: Any, width: int | None = None, name: str = "data") -> np.ndarray:
    """Checks that ``arr`` holds samples of 0/1 values (host-side NumPy); returns ``uint8 [N, n]``.

    Images ``[N, rows, cols]`` are flattened row-major.

    Args:
        arr: samples ``[N, n]`` or images ``[N, rows, cols]`` of numbers 0/1.
        width: expected number of bits per sample, checked when given.
        name: what ``arr`` is, for error messages.

    Raises:
        ValueError: an empty or one-dimensional array, a non-numeric dtype, a value other
            than 0/1, or a width other than ``width``.

    Examples:
        >>> from jqgen._checks import validate_binary
        >>> validate_binary([[0, 1], [1, 1]]).dtype
        dtype('uint8')
    """
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


def check_int(value: Any, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as a Python int, when it is a Python or NumPy integer (not a bool) in
    ``[lo, hi]`` (either bound optional); otherwise ``ValueError`` naming ``name``, the value
    and the allowed range.

    Examples:
        >>> import numpy as np
        >>> from jqgen._checks import check_int
        >>> check_int(np.int64(3), "n", 1, 10)
        3
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        allowed = (f"in [{lo}, {hi}]" if lo is not None and hi is not None
                   else f">= {lo}" if lo is not None else f"<= {hi}")
        raise ValueError(f"{name} must be an integer {allowed}, got {v}")
    return v


def check_probability_vector(p: Any, name: str, atol: float = 1e-4) -> np.ndarray:
    """A concrete probability vector: 1-D, non-empty, real, finite, non-negative, summing to
    1 within ``atol``; returned as a NumPy array (host-side callers only).

    Examples:
        >>> from jqgen._checks import check_probability_vector
        >>> check_probability_vector([0.25, 0.75], "p").tolist()
        [0.25, 0.75]
    """
    arr = np.asarray(p)
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D probability vector, got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real array, got dtype {arr.dtype}")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        i = int(np.argwhere(bad)[0][0])
        raise ValueError(f"{name}[{i}] = {arr[i].item()!r}; probabilities must be finite and >= 0")
    total = float(arr.sum(dtype=np.float64))
    if abs(total - 1.0) > atol:
        raise ValueError(f"{name} must sum to 1 (within {atol:g}), sums to {total!r}")
    return arr


def check_fits(need: int, what: str, *, have: int | None = None, largest: str = "") -> None:
    """Raises ``ValueError`` before allocating when ``need`` bytes exceed ``have`` (default:
    the device's memory, :func:`jqgen._memory.available_memory`); the message gives both
    sizes and ``largest`` (the largest size that fits, in the caller's words)."""
    have = available_memory() if have is None else int(have)
    if need > have:
        hint = f"; {largest}" if largest else ""
        raise ValueError(f"{what} needs about {format_bytes(need)} but {format_bytes(have)} is available{hint}")


def check_batch(num: int, per_item: int, what: str) -> None:
    """``ValueError`` before allocating when ``num`` items (samples, shots) of ``per_item``
    bytes each cannot fit at once; the message gives the largest ``num`` that does."""
    have = available_memory()
    check_fits(int(num) * int(per_item), f"{what} ({num} at once)", have=have,
               largest=f"at most {have // max(1, int(per_item))} fit at once: use batches")


def check_shots(num: Any, name: str) -> None:
    """Raises ``ValueError`` unless ``num`` is a positive Python or NumPy int (a static count)."""
    if not isinstance(num, (int, np.integer)) or isinstance(num, bool) or num <= 0:
        raise ValueError(f"{name} must be a positive int (static under jit), got {num!r}")


def check_x64(dtype: Any) -> None:
    """Raises ``ValueError`` for a 64-bit dtype (float64, complex128) while JAX runs in its
    default 32-bit mode: JAX would silently make 32-bit arrays of it (with a warning), so a
    model would claim a dtype its parameters do not have."""
    if jnp.finfo(dtype).bits == 64 and not jax.config.jax_enable_x64:
        raise ValueError(f"dtype {jnp.dtype(dtype).name} needs 64-bit JAX: set "
                         "jax.config.update('jax_enable_x64', True) (or use jax.enable_x64(True)) first")


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

    Examples:
        >>> import jax, jax.numpy as jnp, jqgen
        >>> mps = jqgen.mps.random_mps(jax.random.key(0), 4, 2)
        >>> f = jqgen.checked(lambda m, b: jqgen.mps.log_prob(m, b))
        >>> f(mps, jnp.zeros((1, 4), jnp.uint8)).shape
        (1,)
    """
    if not callable(fn):
        raise ValueError(f"checked needs a function, got {type(fn).__name__}")
    inner = jax.jit(checkify.checkify(fn, errors=checkify.user_checks))

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        err, out = inner(*args, **kwargs)
        msg = err.get()
        if msg is not None:
            raise ValueError(msg.split(" (check failed at")[0])
        return out

    return wrapper
