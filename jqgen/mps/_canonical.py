"""Canonical forms (QR sweeps), norms and normalization.

Left-canonical site tensors satisfy ``sum_s A[s]^H A[s] = P`` and right-canonical ones
``sum_s B[s] B[s]^H = P``, where ``P`` is the projector onto the active part of the bond
(identity on the first ``d_b`` indices, see :func:`jqgen.mps.bond_dims`)::

    +--[A]--        +--          --[B]--+        --+
    |   |     =     |              |    |     =    |
    +--[A*]-        +--          --[B*]-+        --+

A mixed-canonical form centred at site ``c`` has left-canonical tensors before ``c``,
right-canonical ones after it, and the whole norm in tensor ``c``. Every sweep is a
``lax.scan`` over all sites with the centre as a traced integer, so one compiled program
serves every centre. Carried matrices are renormalized at each site (their log-norms are
accumulated), so 784-site chains neither overflow nor underflow in float32.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

import numpy as np

from .._checks import is_concrete
from ._structure import MPS, bond_masks, check_mps, masked

__all__ = [
    "canonicalize",
    "left_canonical",
    "log_norm",
    "norm",
    "normalize",
    "right_canonical",
]


def _real(dtype: Any) -> Any:
    return jnp.finfo(dtype).dtype


def _frob(x: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.sum(jnp.abs(x) ** 2))


def _safe_log_scale(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Returns ``(x / |x|_F, log |x|_F)``; a zero ``x`` stays zero with log-norm -inf."""
    nrm = _frob(x)
    safe = jnp.where(nrm > 0, nrm, jnp.ones_like(nrm))
    return x / safe.astype(x.dtype), jnp.log(nrm)


def _sweep_left(t: jax.Array, center: jax.Array) -> tuple[jax.Array, jax.Array]:
    """QR sweep left to right, left-canonicalizing sites ``< center`` and absorbing the
    remainder into site ``center``. Returns tensors and the accumulated log-scale.

    Sites after the centre are passed through by ``lax.cond`` (no QR is computed)."""
    n, chi = t.shape[0], t.shape[-1]
    right_mask = jnp.asarray(bond_masks(n, chi, t.dtype)[1:])  # bond k+1 of site k
    eye = jnp.eye(chi, dtype=t.dtype)
    zero = jnp.zeros((), _real(t.dtype))

    def qr_step(c, a, mask):
        m = jnp.einsum("ab,bsc->asc", c, a)
        q, r = jnp.linalg.qr(m.reshape(2 * chi, chi))
        r, log_r = _safe_log_scale(r * mask[:, None])
        return (q * mask[None, :]).reshape(chi, 2, chi), r, log_r

    def absorb_step(c, a, mask):
        return jnp.einsum("ab,bsc->asc", c, a), eye, zero

    def pass_step(c, a, mask):
        return a, eye, zero

    def step(carry, xs):
        c, logs = carry
        a, mask, k = xs
        branch = jnp.where(k < center, 0, jnp.where(k == center, 1, 2))
        new_a, new_c, log_c = lax.switch(branch, (qr_step, absorb_step, pass_step), c, a, mask)
        return (new_c, logs + log_c), new_a

    (_, logs), out = lax.scan(step, (eye, zero), (t, right_mask, jnp.arange(n, dtype=jnp.int32)))
    return out, logs


def _mirror(t: jax.Array) -> jax.Array:
    """The same state with the site order reversed (bond dims are mirror-symmetric)."""
    return jnp.flip(t, 0).transpose(0, 3, 2, 1)


def _sweep_right(t: jax.Array, center: jax.Array) -> tuple[jax.Array, jax.Array]:
    """LQ sweep right to left, right-canonicalizing sites ``> center``: a left sweep of
    the mirrored chain (a right isometry is the mirror image of a left one)."""
    out, logs = _sweep_left(_mirror(t), t.shape[0] - 1 - center)
    return _mirror(out), logs


@jax.jit
def canonical_with_log_norm(t: jax.Array, center: Any) -> tuple[jax.Array, jax.Array]:
    """Mixed-canonical, normalized tensors centred at ``center`` and the state's log-norm."""
    center = jnp.asarray(center, dtype=jnp.int32)
    t = masked(t)
    t, log_l = _sweep_left(t, center)
    t, log_r = _sweep_right(t, center)
    c_tensor, log_c = _safe_log_scale(t[center])
    return t.at[center].set(c_tensor), log_l + log_r + log_c


def canonicalize(mps: MPS, center: Any) -> MPS:
    """Normalized mixed-canonical form centred at site ``center``.

    Args:
        mps: the state.
        center: int (may be traced) in ``[0, n)``.

    Examples:
        >>> import jax, jqgen
        >>> mps = jqgen.mps.canonicalize(jqgen.mps.random_mps(jax.random.key(1), 8, 4), center=3)
        >>> round(float(jqgen.mps.norm(mps)), 5)
        1.0
    """
    check_mps(mps)
    n = mps.num_sites
    if isinstance(center, (bool, np.bool_)) or (
            hasattr(center, "dtype") and not np.issubdtype(np.dtype(center.dtype), np.integer)) or (
            not hasattr(center, "dtype") and not isinstance(center, int)):
        raise ValueError(f"center must be an integer site index in [0, {n}), got {center!r}")
    if is_concrete(center):
        if np.ndim(center) != 0:
            raise ValueError(f"center must be a scalar site index in [0, {n}), got shape {np.shape(center)}")
        if not 0 <= int(center) < n:
            raise ValueError(f"center must be a site index in [0, {n}), got {int(center)}")
    return MPS(canonical_with_log_norm(mps.tensors, center)[0])


def left_canonical(mps: MPS) -> MPS:
    """Normalized left-canonical form (sites ``0 .. n-2`` left isometries)."""
    return canonicalize(mps, mps.num_sites - 1)


def right_canonical(mps: MPS) -> MPS:
    """Normalized right-canonical form (sites ``1 .. n-1`` right isometries)."""
    return canonicalize(mps, 0)


@jax.jit
def log_norm_sq_tensors(t: jax.Array) -> jax.Array:
    """``log <psi|psi>`` of already-masked tensors by transfer matrices, renormalized by
    their trace at every site (callers mask once: masking twice in one program is slow)."""
    chi = t.shape[-1]
    env = jnp.zeros((chi, chi), t.dtype).at[0, 0].set(1)

    def step(carry, a):
        env, logs = carry  # E'[c, d] = sum_{a, b, s} conj(A[a, s, c]) E[a, b] A[b, s, d]
        x = (env @ a.reshape(chi, 2 * chi)).reshape(2 * chi, chi)
        env = a.conj().reshape(2 * chi, chi).T @ x
        tr = jnp.real(jnp.trace(env))
        safe = jnp.where(tr > 0, tr, jnp.ones_like(tr))
        return (env / safe.astype(env.dtype), logs + jnp.log(tr)), None

    (env, logs), _ = lax.scan(step, (env, jnp.zeros((), _real(t.dtype))), t)
    return logs + jnp.log(jnp.real(env[0, 0]))


def log_norm(mps: MPS) -> jax.Array:
    """``log ||psi||`` (natural log), finite for long chains where the norm itself is not.

    Examples:
        >>> import jax.numpy as jnp, jqgen
        >>> round(float(jqgen.mps.log_norm(jqgen.mps.product_mps(jnp.ones((784, 2))))), 2)  # 392 ln 2
        271.71
    """
    check_mps(mps)
    return 0.5 * log_norm_sq_tensors(masked(mps.tensors))


def norm(mps: MPS) -> jax.Array:
    """``||psi||`` (may overflow for long unnormalized chains: prefer :func:`log_norm`)."""
    return jnp.exp(log_norm(mps))


def normalize(mps: MPS) -> MPS:
    """The same state scaled to unit norm, the scale spread evenly over the sites.

    Examples:
        >>> import jax, jqgen
        >>> mps = jqgen.mps.normalize(jqgen.mps.random_mps(jax.random.key(2), 6, 3))
        >>> round(float(jqgen.mps.norm(mps)), 5)
        1.0
    """
    check_mps(mps)
    out = _normalize(mps.tensors)
    if is_concrete(out) and not np.isfinite(np.asarray(log_norm_sq_tensors(masked(mps.tensors)))):
        raise ValueError("normalize: the MPS has norm zero (its tensors contract to the zero state)")
    return MPS(out)


@jax.jit
def _normalize(t: jax.Array) -> jax.Array:
    t = masked(t)
    scale = jnp.exp(-0.5 * log_norm_sq_tensors(t) / t.shape[0]).astype(t.dtype)
    return t * scale
