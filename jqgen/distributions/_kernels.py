"""Squared maximum mean discrepancy with Gaussian-mixture kernels on bitstrings.

Kernel convention: on bitstrings the squared Euclidean distance ``|x - y|^2`` is the
Hamming distance ``d(x, y)``, and

* ``kernel="liu-wang"`` (default): ``K(x, y) = (1/c) sum_i exp(-d(x, y) / (2 sigma_i))``,
  Liu & Wang's mixture (PRA 98, 062324, 2018), and orquestra's ``exp(-|x - y|^2 / (2 sigma))``;
* ``kernel="tensorcircuit"``: ``K(x, y) = (1/c) sum_i exp(-d(x, y) / (2 sigma_i^2))``, the
  ``exp(-|x - y|^2 / (2 sigma^2))`` of TensorCircuit's QCBM example.

So ``sigma`` is a variance in the first and a standard deviation in the second;
``tensorcircuit`` with ``sigma`` equals ``liu-wang`` with ``sigma^2``. Each Gaussian is a
product of one 2x2 kernel ``[[1, e], [e, 1]]`` per bit (``e = exp(-1/(2 sigma))``, resp.
``exp(-1/(2 sigma^2))``), so ``K v`` costs ``O(c n 2**n)`` without the ``2**n x 2**n``
matrix. Squared MMD (Gretton et al., JMLR 13, 723, 2012):
``MMD^2(p, q) = E K(x, x') + E K(y, y') - 2 E K(x, y) = (p - q)^T K (p - q)``.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_bits, check_finite, check_fits, is_concrete
from ._validate import check_sigmas, num_bits_of, pair

__all__ = ["DEFAULT_SIGMAS", "KERNELS", "kernel_matvec", "mmd", "mmd_samples"]

#: Liu & Wang's bandwidths for bars-and-stripes (PRA 98, 062324).
DEFAULT_SIGMAS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)

#: The ``kernel=`` names: the Gaussian of bandwidth ``sigma`` is ``exp(-d / (2 sigma))``
#: (``"liu-wang"``) or ``exp(-d / (2 sigma^2))`` (``"tensorcircuit"``), ``d`` the Hamming distance.
KERNELS = ("liu-wang", "tensorcircuit")


def _rates(sigmas: Sequence[float], kernel: str) -> np.ndarray:
    """``gamma_i`` with ``K = (1/c) sum_i exp(-gamma_i d)``, after validating the arguments."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    s = np.asarray(check_sigmas(sigmas), np.float64)
    return 1.0 / (2.0 * s) if kernel == "liu-wang" else 1.0 / (2.0 * s**2)


def kernel_matvec(v: Any, sigmas: Sequence[float] = DEFAULT_SIGMAS, *, kernel: str = "liu-wang") -> jax.Array:
    """``K v`` for the mixture kernel on ``n``-bit strings (see the module docstring).

    ``v`` is a real ``[2**n]`` vector in big-endian order. Each bit's 2x2 factor is applied
    in turn (``n`` contractions of ``c x 2 x 2**(n-1)``), all bandwidths at once.

    Args:
        v: real ``[2**n]``.
        sigmas: the bandwidths ``sigma_i > 0``.
        kernel: ``"liu-wang"`` or ``"tensorcircuit"``.

    Returns:
        ``K v``, ``[2**n]`` of ``v``'s dtype.

    Raises:
        ValueError: ``v`` not of length ``2**n``, bad ``sigmas``, an unknown ``kernel``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jqgen.distributions import kernel_matvec
        >>> k01 = kernel_matvec(jnp.array([0.0, 1.0]), (1.0,))  # column 1 of K, one bit
        >>> [round(float(x), 4) for x in k01]  # exp(-1/2)
        [0.6065, 1.0]
    """
    rates = _rates(sigmas, kernel)
    v = jnp.asarray(v)
    if v.ndim != 1:
        raise ValueError(f"v must be a 1-D vector of length 2**n, got shape {v.shape}")
    n = num_bits_of(v.shape[0])
    if not jnp.issubdtype(v.dtype, jnp.floating):
        raise ValueError(f"v must be a real float vector, got dtype {v.dtype}")
    if is_concrete(v):  # traced: unchecked, as the other losses (see _validate)
        check_finite(v, "v")
    e = np.exp(-rates)
    k = jnp.asarray(np.stack([np.ones_like(e), e, e, np.ones_like(e)], -1).reshape(-1, 2, 2), v.dtype)
    c = k.shape[0]
    x = jnp.broadcast_to(v, (c,) + v.shape).reshape(c, 2, -1)
    for _ in range(n):
        # bit 0 is the leading axis: apply its factor and rotate it to the end, so after n
        # steps every bit had its factor and the order is the original one
        x = jnp.einsum("sij,sjr->sri", k, x).reshape(c, 2, -1)
    return jnp.mean(x.reshape(c, -1), axis=0)


def mmd(p: Any, q: Any, sigmas: Sequence[float] = DEFAULT_SIGMAS, *, kernel: str = "liu-wang") -> jax.Array:
    """Squared MMD ``(p - q)^T K (p - q)`` between dense distributions on ``{0,1}^n``.

    Symmetric, ``>= 0`` and ``0`` iff ``p = q`` (the Gaussian kernels are characteristic).
    Liu & Wang's QCBM loss (PRA 98, 062324, 2018) with ``kernel="liu-wang"``.

    Args:
        p: a ``[2**n]`` distribution.
        q: a ``[2**n]`` distribution of the same dtype.
        sigmas: the bandwidths (default Liu & Wang's ``(0.5, 1, 2, 4)``).
        kernel: ``"liu-wang"`` or ``"tensorcircuit"`` (see the module docstring).

    Returns:
        A scalar.

    Raises:
        ValueError: shapes that differ or are not ``[2**n]``, bad ``sigmas`` or ``kernel``,
            or (concrete) a NaN, infinite or negative entry.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jqgen.distributions import mmd
        >>> p = jnp.array([0.5, 0.0, 0.0, 0.5]); q = jnp.full(4, 0.25)
        >>> round(float(mmd(p, p)), 6), float(mmd(p, q)) > 0, float(mmd(p, q, kernel="tensorcircuit")) > 0
        (0.0, True, True)
    """
    p, q = pair(p, q, ("p", "q"), dense=True)
    d = p - q
    return jnp.dot(d, kernel_matvec(d, sigmas, kernel=kernel))


def mmd_samples(x: Any, y: Any, sigmas: Sequence[float] = DEFAULT_SIGMAS, unbiased: bool = False, *,
                kernel: str = "liu-wang") -> jax.Array:
    """Squared MMD between sample sets ``x [Qx, n]`` and ``y [Qy, n]`` of bits (any ``n``).

    ``unbiased=False`` is the V-statistic ``mean K(x, x') + mean K(y, y') - 2 mean K(x, y)``
    over all pairs, equal to :func:`mmd` of the two histograms; ``unbiased=True`` drops the
    diagonal terms (Gretton et al.'s U-statistic, unbiased, can be negative). Costs
    ``O((Qx + Qy)^2 n)`` time and ``O((Qx + Qy)^2)`` memory.

    Args:
        x: 0/1 samples ``[N, n]``.
        y: 0/1 samples ``[M, n]`` of the same width.
        sigmas: the bandwidths.
        unbiased: the U-statistic instead of the V-statistic.
        kernel: ``"liu-wang"`` or ``"tensorcircuit"``.

    Returns:
        A scalar (float64 with x64 enabled, else float32).

    Raises:
        ValueError: not ``[Q, n]`` of equal width, an empty set, Gram matrices that do not
            fit in memory, bad ``sigmas`` or ``kernel``, fewer
            than 2 samples per set with ``unbiased``, or (concrete) a value other than 0/1.

    Examples:
        >>> import numpy as np
        >>> from jqgen.distributions import mmd_samples
        >>> x = np.array([[0, 0], [1, 1]]); y = np.array([[0, 1], [1, 0]])
        >>> round(float(mmd_samples(x, x)), 6), float(mmd_samples(x, y)) > 0
        (0.0, True)
    """
    rates = _rates(sigmas, kernel)
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    if not hasattr(y, "shape"):
        y = np.asarray(y)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"samples must be [Q, n] arrays of equal width, got {x.shape} and {y.shape}")
    if x.shape[0] == 0 or y.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"mmd_samples needs non-empty sample sets of width >= 1, got x {x.shape} and y {y.shape}")
    if unbiased and (x.shape[0] < 2 or y.shape[0] < 2):
        raise ValueError("the unbiased MMD needs at least 2 samples in each set")
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    q = x.shape[0] + y.shape[0]
    check_fits(3 * q * q * jnp.dtype(dtype).itemsize, f"mmd_samples' Gram matrices of {q} samples",
               largest="subsample the sets, or compare histograms with jqgen.distributions.mmd")
    x = check_bits(x, x.shape[1], name="x").astype(dtype)
    y = check_bits(y, y.shape[1], name="y").astype(dtype)

    def gram(a: jax.Array, b: jax.Array) -> jax.Array:
        d = jnp.sum(a, 1)[:, None] + jnp.sum(b, 1)[None, :] - 2 * a @ b.T  # Hamming distances
        return sum(jnp.exp(-float(g) * d) for g in rates) / len(rates)

    kxx, kyy, kxy = gram(x, x), gram(y, y), gram(x, y)
    if unbiased:
        qx, qy = x.shape[0], y.shape[0]
        exx = (jnp.sum(kxx) - jnp.trace(kxx)) / (qx * (qx - 1))
        eyy = (jnp.sum(kyy) - jnp.trace(kyy)) / (qy * (qy - 1))
        return exx + eyy - 2 * jnp.mean(kxy)
    return jnp.mean(kxx) + jnp.mean(kyy) - 2 * jnp.mean(kxy)
