"""MPS constructors and dense conversion.

The storage layout (``[n, chi_max, 2, chi_max]`` tensors padded to static bond dimensions)
and the :class:`MPS` pytree are defined in :mod:`jqgen.mps._structure`; its names are
re-exported here.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import _random
from .._checks import check_finite, is_concrete
from ._canonical import log_norm_sq_tensors, right_canonical
from ._guard import BUILD_COPIES, check_mps_memory
from ._structure import MPS, _check_sizes, bond_dims, bond_masks, check_mps, masked  # noqa: F401 - bond_masks re-exported

__all__ = [
    "MPS",
    "bond_dims",
    "from_dense",
    "from_tensors",
    "product_mps",
    "random_mps",
    "to_dense",
]

MAX_DENSE_SITES = 20


def unit_rows(v: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Rows of ``v [batch, chi]`` scaled to unit norm, and their log-norms.

    Rows are divided by their largest entry before squaring, so a row norm below
    ``sqrt(tiny)`` (1e-19 in float32) is not lost to underflow; a zero row stays zero with
    log-norm ``-inf``."""
    m = jnp.max(jnp.abs(v), axis=-1)
    m_safe = jnp.where(m > 0, m, jnp.ones_like(m))
    w = v / m_safe.astype(v.dtype)[:, None]
    nrm = jnp.sqrt(jnp.sum(jnp.real(w * w.conj()), axis=-1))
    nrm_safe = jnp.where(nrm > 0, nrm, jnp.ones_like(nrm))
    return w / nrm_safe.astype(v.dtype)[:, None], jnp.log(m) + jnp.log(nrm_safe)


def from_tensors(tensors: Any) -> MPS:
    """Validated MPS from a ``[n, chi_max, 2, chi_max]`` array (entries outside the bond
    dimensions of :func:`bond_dims` are zeroed).

    Raises:
        ValueError: wrong rank or shape, ``n < 2``, integer dtype, non-finite values, or
            (concrete) tensors of the zero state.
    """
    if not hasattr(tensors, "dtype"):
        tensors = np.asarray(tensors)
    if not jnp.issubdtype(tensors.dtype, jnp.inexact):
        raise ValueError(f"tensors must be a float or complex array, got dtype {tensors.dtype}")
    mps = MPS(jnp.asarray(tensors))
    check_mps(mps, "tensors")
    out = MPS(masked(mps.tensors))
    if is_concrete(out.tensors) and not np.isfinite(np.asarray(log_norm_sq_tensors(out.tensors))):
        raise ValueError("tensors contract to the zero state (norm 0 on the active bond blocks of "
                         "jqgen.mps.bond_dims), which defines no distribution")
    return out


def random_mps(key: jax.Array, n: int, chi_max: int, *, dtype: Any = jnp.float32) -> MPS:
    """Random MPS: i.i.d. normal entries on every active bond block, right-canonical and
    normalized (a valid Born machine whose probabilities are spread over many states).

    Args:
        key: PRNG key.
        n: number of sites (>= 2).
        chi_max: bond dimension (static padding size).
        dtype: float32 (default), float64, complex64 or complex128.

    Examples:
        >>> import jax, jqgen
        >>> mps = jqgen.mps.random_mps(jax.random.key(0), n=6, chi_max=4)
        >>> mps.tensors.shape
        (6, 4, 2, 4)
    """
    _check_sizes(n, chi_max)
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.inexact):
        raise ValueError(f"dtype must be a float or complex dtype, got {dtype}")
    check_mps_memory(n, chi_max, dtype, BUILD_COPIES, "random_mps")
    if jnp.issubdtype(dtype, jnp.complexfloating):
        kr, ki = jax.random.split(key)
        real = jnp.finfo(dtype).dtype
        shape = (n, chi_max, 2, chi_max)
        t = lax.complex(_random.normal(kr, shape, real), _random.normal(ki, shape, real))
    else:
        t = _random.normal(key, (n, chi_max, 2, chi_max), dtype)
    return right_canonical(MPS(masked(t)))


def product_mps(amplitudes: Any, chi_max: int = 1, *, dtype: Any = jnp.float32) -> MPS:
    """Product state ``(x) (a_i|0> + b_i|1>)`` padded to ``chi_max``.

    Args:
        amplitudes: ``[n, 2]`` per-site amplitudes (need not be normalized).
        chi_max: bond padding (so the state can later grow entanglement).
        dtype: array dtype.

    Examples:
        >>> import jax.numpy as jnp, jqgen
        >>> plus = jqgen.mps.product_mps(jnp.ones((3, 2)), chi_max=2)
        >>> jqgen.mps.probs(plus).tolist()
        [0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125]
    """
    amps = jnp.asarray(amplitudes, dtype=dtype)
    if amps.ndim != 2 or amps.shape[1] != 2:
        raise ValueError(f"amplitudes must have shape [n, 2], got {amps.shape}")
    _check_sizes(amps.shape[0], chi_max)
    check_finite(amps, "amplitudes")
    if is_concrete(amps) and np.any(np.all(np.asarray(amps) == 0, axis=1)):
        raise ValueError("amplitudes has a site with both amplitudes zero (the state would vanish)")
    n = amps.shape[0]
    check_mps_memory(n, chi_max, dtype, 2, "product_mps")
    t = jnp.zeros((n, chi_max, 2, chi_max), dtype).at[:, 0, :, 0].set(amps)
    return MPS(t)


def to_dense(mps: MPS) -> jax.Array:
    """Contracts the MPS into its (unnormalized) ``2**n`` amplitude vector, big-endian.

    Only for ``n <= 20``; used by :func:`probs` and as an independent reference in tests.
    """
    check_mps(mps)
    n = mps.num_sites
    if n > MAX_DENSE_SITES:
        raise ValueError(f"to_dense needs n <= {MAX_DENSE_SITES} sites, got n = {n}")
    return _to_dense(mps.tensors)


@jax.jit
def _to_dense(t: jax.Array) -> jax.Array:
    t = masked(t)
    psi = t[0, 0]  # [2, chi]
    for k in range(1, t.shape[0]):
        psi = jnp.einsum("pa,asb->psb", psi, t[k]).reshape(-1, t.shape[-1])
    return psi[:, 0]


def from_dense(psi: Any, chi_max: int | None = None, *, dtype: Any = None) -> MPS:
    """MPS of a dense ``2**n`` amplitude vector by a chain of SVDs (left-canonical).

    Exact when ``chi_max >= 2**(n // 2)`` (the default); otherwise truncated to the largest
    ``chi_max`` singular values at every bond (the optimal truncation bond by bond).

    Raises:
        ValueError: the length is not a power of two in ``[4, 2**20]``, ``chi_max < 1``,
            non-finite entries, or (for a concrete input) the zero vector.
    """
    psi = jnp.asarray(psi) if dtype is None else jnp.asarray(psi, dtype=dtype)
    size = psi.shape[0] if psi.ndim == 1 else -1
    n = int(np.log2(size)) if size > 0 else 0
    if psi.ndim != 1 or 2**n != size or n < 2 or n > MAX_DENSE_SITES:
        raise ValueError(
            f"psi must be a vector of length 2**n with 2 <= n <= {MAX_DENSE_SITES}, got shape {psi.shape}"
        )
    if not jnp.issubdtype(psi.dtype, jnp.inexact):
        psi = psi.astype(jnp.float32)
    chi = 2 ** (n // 2) if chi_max is None else chi_max
    _check_sizes(n, chi)
    check_finite(psi, "psi")
    if is_concrete(psi) and not np.any(np.asarray(psi)):
        raise ValueError("psi is the zero vector")
    return MPS(_from_dense(psi, chi))


@functools.partial(jax.jit, static_argnums=1)
def _from_dense(psi: jax.Array, chi: int) -> jax.Array:
    n = int(np.log2(psi.shape[0]))
    dims = bond_dims(n, chi)
    tensors = jnp.zeros((n, chi, 2, chi), psi.dtype)
    rest = psi.reshape(1, -1)  # [d_left, 2**(n-k)]
    for k in range(n - 1):
        dl, dr = dims[k], dims[k + 1]
        u, s, vh = jnp.linalg.svd(rest.reshape(dl * 2, -1), full_matrices=False)
        u, s, vh = u[:, :dr], s[:dr], vh[:dr]
        tensors = tensors.at[k, :dl, :, :dr].set(u.reshape(dl, 2, dr))
        rest = s.astype(psi.dtype)[:, None] * vh
    return tensors.at[n - 1, : dims[n - 1], :, 0].set(rest.reshape(dims[n - 1], 2))
