"""Losses between distributions on ``{0,1}^n``, as pure functions.

Distributions are dense ``[2**n]`` probability vectors in big-endian order (exact model
probabilities, or histograms of shots / data divided by their count).

* :func:`kl_divergence`: ``KL(target || p) = sum_x t(x) [log t(x) - log max(p(x), eps)]``,
  the clipped NLL of Benedetti et al. (npj QI 5, 45, 2019) minus the target's entropy;
* :func:`nll`: the clipped cross entropy ``-sum_x t(x) log max(p(x), eps)``;
* :func:`mmd`: squared maximum mean discrepancy ``(p - q)^T K (p - q)`` with Liu & Wang's
  (PRA 98, 062324) mixture kernel ``K(x, y) = (1/c) sum_i exp(-|x - y|^2 / (2 sigma_i))``.
  On bitstrings ``|x - y|^2`` is the Hamming distance, so each Gaussian is a product of
  2x2 kernels over the bits and ``K v`` costs ``O(c n 2**n)`` with no ``2**n x 2**n``
  matrix (:func:`kernel_matvec`);
* :func:`mmd_samples`: the same MMD from two sample sets, pairwise (any ``n``).
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ._gates import apply_1q_layer

__all__ = ["DEFAULT_SIGMAS", "kernel_matvec", "kl_divergence", "mmd", "mmd_samples", "nll"]

#: Liu & Wang's bandwidths for bars-and-stripes.
DEFAULT_SIGMAS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)


def _num_bits(size: int) -> int:
    n = int(size).bit_length() - 1
    if size < 2 or 2**n != size:
        raise ValueError(f"a dense distribution must have length 2**n with n >= 1, got {size}")
    return n


def _check_sigmas(sigmas: Sequence[float]) -> tuple[float, ...]:
    sigmas = tuple(float(s) for s in sigmas)
    if not sigmas or not all(s > 0 for s in sigmas):
        raise ValueError(f"sigmas must be a non-empty sequence of positive bandwidths, got {sigmas}")
    return sigmas


def _check_pair(p: Any, q: Any) -> tuple[jax.Array, jax.Array]:
    p, q = jnp.asarray(p), jnp.asarray(q)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"distributions must be 1-D of equal length 2**n, got shapes {p.shape} and {q.shape}")
    _num_bits(p.shape[0])
    return p, q


def kernel_matvec(v: jax.Array, sigmas: Sequence[float] = DEFAULT_SIGMAS) -> jax.Array:
    """``K v`` for the mixture-of-Gaussians kernel on bitstrings, ``v [2**n]`` real."""
    sigmas = _check_sigmas(sigmas)
    n = _num_bits(v.shape[0])
    out = jnp.zeros_like(v)
    for s in sigmas:
        e = float(np.exp(-1.0 / (2.0 * s)))
        k = jnp.broadcast_to(jnp.asarray([[1.0, e], [e, 1.0]], v.dtype), (n, 2, 2))
        out = out + apply_1q_layer(v, k)
    return out / len(sigmas)


def mmd(p: Any, q: Any, sigmas: Sequence[float] = DEFAULT_SIGMAS) -> jax.Array:
    """Squared MMD between dense distributions ``p`` and ``q`` (symmetric, 0 iff equal).

    Example:
        >>> import jax.numpy as jnp, jqgen
        >>> p = jnp.array([0.5, 0.0, 0.0, 0.5]); q = jnp.full(4, 0.25)
        >>> round(float(jqgen.qcbm.mmd(p, p)), 6), float(jqgen.qcbm.mmd(p, q)) > 0
        (0.0, True)
    """
    p, q = _check_pair(p, q)
    d = p - q
    return jnp.dot(d, kernel_matvec(d, sigmas))


def mmd_samples(x: Any, y: Any, sigmas: Sequence[float] = DEFAULT_SIGMAS, unbiased: bool = False) -> jax.Array:
    """Squared MMD between sample sets ``x [Qx, n]`` and ``y [Qy, n]`` of bits.

    ``unbiased=False`` is the V-statistic (equal to :func:`mmd` of the two histograms);
    ``unbiased=True`` drops the diagonal terms (the U-statistic, which can be negative).
    """
    sigmas = _check_sigmas(sigmas)
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"samples must be [Q, n] arrays of equal width, got {x.shape} and {y.shape}")
    dtype = jnp.float32 if not jax.config.jax_enable_x64 else jnp.float64
    x, y = x.astype(dtype), y.astype(dtype)

    def gram(a: jax.Array, b: jax.Array) -> jax.Array:
        d = jnp.sum(a, 1)[:, None] + jnp.sum(b, 1)[None, :] - 2 * a @ b.T  # Hamming distances
        return sum(jnp.exp(-d / (2.0 * s)) for s in sigmas) / len(sigmas)

    kxx, kyy, kxy = gram(x, x), gram(y, y), gram(x, y)
    if unbiased:
        qx, qy = x.shape[0], y.shape[0]
        if qx < 2 or qy < 2:
            raise ValueError("the unbiased MMD needs at least 2 samples in each set")
        exx = (jnp.sum(kxx) - jnp.trace(kxx)) / (qx * (qx - 1))
        eyy = (jnp.sum(kyy) - jnp.trace(kyy)) / (qy * (qy - 1))
        return exx + eyy - 2 * jnp.mean(kxy)
    return jnp.mean(kxx) + jnp.mean(kyy) - 2 * jnp.mean(kxy)


def kl_divergence(target: Any, p: Any, eps: float = 1e-8) -> jax.Array:
    """``KL(target || p)`` with ``p`` clipped below at ``eps``; terms with ``target = 0`` vanish."""
    target, p = _check_pair(target, p)
    safe_t = jnp.where(target > 0, target, 1)
    return jnp.sum(jnp.where(target > 0, target * (jnp.log(safe_t) - jnp.log(jnp.maximum(p, eps))), 0))


def nll(target: Any, p: Any, eps: float = 1e-8) -> jax.Array:
    """Clipped cross entropy ``-sum_x target(x) log max(p(x), eps)`` (NLL of the data)."""
    target, p = _check_pair(target, p)
    return -jnp.sum(target * jnp.log(jnp.maximum(p, eps)))
