"""Memory estimates of the MPS kernels, checked before anything is allocated.

Every estimate counts the arrays a kernel holds at once, in bytes, from the static sizes
alone (so the check costs nothing and runs before ``jit`` traces anything):

* a padded MPS ``[n, chi, 2, chi]``: ``n * chi**2 * 2 * itemsize`` (:func:`mps_bytes`);
* construction (:func:`jqgen.mps.random_mps`): the draw, its masked copy and the QR
  sweep's work arrays, :data:`BUILD_COPIES` tensors;
* a model (:class:`jqgen.MPSBornMachine`, training by gradient or sweeps): parameters,
  gradient, two Adam moments, the sweeps' left/right environments ``[n, chi, chi]`` and
  work arrays, :data:`WORKING_COPIES` tensors;
* sampling ``num`` strings: per string the ``[n]`` uniforms, the ``[n]`` bits and their
  transpose, six ``[chi]`` boundary vectors and the log-probability (:func:`sample_bytes`),
  plus one canonical copy of the tensors.

The error names the sizes, the bytes needed and available, and the largest ``chi_max``
(or number of samples) that fits.
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp

from .._checks import check_fits
from .._memory import available_memory

__all__ = ["BUILD_COPIES", "WORKING_COPIES", "check_mps_memory", "check_sample_memory", "mps_bytes", "sample_bytes"]

BUILD_COPIES = 4
WORKING_COPIES = 8


def mps_bytes(n: int, chi_max: int, dtype: Any = jnp.float32) -> int:
    """Bytes of one padded ``[n, chi_max, 2, chi_max]`` tensor array.

    Examples:
        >>> from jqgen.mps._guard import mps_bytes
        >>> mps_bytes(100, 8)
        51200
    """
    return int(n) * int(chi_max) ** 2 * 2 * jnp.dtype(dtype).itemsize


def _largest_chi(n: int, dtype: Any, copies: int, have: int) -> int:
    return max(0, math.isqrt(max(0, have) // max(1, n * 2 * jnp.dtype(dtype).itemsize * copies)))


def check_mps_memory(n: int, chi_max: int, dtype: Any, copies: int, what: str, have: int | None = None) -> None:
    """``ValueError`` when ``copies`` padded tensors of ``(n, chi_max, dtype)`` cannot fit."""
    have = available_memory() if have is None else int(have)
    need = mps_bytes(n, chi_max, dtype) * copies
    best = _largest_chi(n, dtype, copies, have)
    largest = (f"the largest chi_max that fits at n = {n} is {best}" if best >= 1
               else f"not even chi_max = 1 fits at n = {n}")
    check_fits(need, f"{what} (n = {n}, chi_max = {chi_max}, {jnp.dtype(dtype).name}, {copies} tensor copies)",
               have=have, largest=largest)


def sample_bytes(n: int, chi_max: int, dtype: Any, num: int) -> int:
    """Bytes of drawing ``num`` samples at once (see the module docstring).

    Examples:
        >>> from jqgen.mps._guard import sample_bytes
        >>> sample_bytes(10, 4, "float32", 1000) > 1000 * 10
        True
    """
    dt = jnp.dtype(dtype)
    real = jnp.finfo(dt).dtype.itemsize
    per = n * (real + 2) + 6 * chi_max * dt.itemsize + 2 * real
    return int(num) * per + mps_bytes(n, chi_max, dt)


def check_sample_memory(n: int, chi_max: int, dtype: Any, num: int, have: int | None = None) -> None:
    """``ValueError`` when drawing ``num`` samples at once cannot fit."""
    have = available_memory() if have is None else int(have)
    need = sample_bytes(n, chi_max, dtype, num)
    per = max(1, sample_bytes(n, chi_max, dtype, 1) - mps_bytes(n, chi_max, dtype))
    best = max(0, (have - mps_bytes(n, chi_max, dtype)) // per)
    check_fits(need, f"drawing num = {num} samples of an MPS with n = {n}, chi_max = {chi_max}", have=have,
               largest=f"at most {best} samples fit at once: draw them in batches")
