"""Canonical forms (QR sweeps), norms and normalization.

Left-canonical site tensors satisfy ``sum_s A[s]^H A[s] = P`` and right-canonical ones
``sum_s B[s] B[s]^H = P``, where ``P`` is the projector onto the active part of the bond
(identity on the first ``d_b`` indices, see :func:`jqgen.bond_dims`)::

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

from ._core import MPS, bond_masks, check_mps, masked

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
    remainder into site ``center``. Returns tensors and the accumulated log-scale."""
    n, chi = t.shape[0], t.shape[-1]
    right_mask = jnp.asarray(bond_masks(n, chi, t.dtype)[1:])  # bond k+1 of site k
    eye = jnp.eye(chi, dtype=t.dtype)

    def step(carry, xs):
        c, logs = carry
        a, mask, k = xs
        m = jnp.einsum("ab,bsc->asc", c, a)
        q, r = jnp.linalg.qr(m.reshape(2 * chi, chi))
        q = (q * mask[None, :]).reshape(chi, 2, chi)
        r, log_r = _safe_log_scale(r * mask[:, None])
        before = k < center
        new_a = jnp.where(before, q, jnp.where(k == center, m, a))
        new_c = jnp.where(before, r, eye)
        return (new_c, logs + jnp.where(before, log_r, 0.0)), new_a

    init = (eye, jnp.zeros((), _real(t.dtype)))
    (_, logs), out = lax.scan(step, init, (t, right_mask, jnp.arange(n, dtype=jnp.int32)))
    return out, logs


def _sweep_right(t: jax.Array, center: jax.Array) -> tuple[jax.Array, jax.Array]:
    """LQ sweep right to left, right-canonicalizing sites ``> center``."""
    n, chi = t.shape[0], t.shape[-1]
    left_mask = jnp.asarray(bond_masks(n, chi, t.dtype)[:-1])  # bond k of site k
    eye = jnp.eye(chi, dtype=t.dtype)

    def step(carry, xs):
        c, logs = carry
        a, mask, k = xs
        m = jnp.einsum("asb,bc->asc", a, c)
        q, r = jnp.linalg.qr(m.reshape(chi, 2 * chi).T)  # m = r^T q^T
        b = (q.T * mask[:, None]).reshape(chi, 2, chi)
        l, log_l = _safe_log_scale(r.T * mask[None, :])
        after = k > center
        new_a = jnp.where(after, b, jnp.where(k == center, m, a))
        new_c = jnp.where(after, l, eye)
        return (new_c, logs + jnp.where(after, log_l, 0.0)), new_a

    init = (eye, jnp.zeros((), _real(t.dtype)))
    (_, logs), out = lax.scan(step, init, (t, left_mask, jnp.arange(n, dtype=jnp.int32)), reverse=True)
    return out, logs


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

    Example:
        >>> import jax, jqgen
        >>> mps = jqgen.canonicalize(jqgen.random_mps(jax.random.key(1), 8, 4), center=3)
        >>> round(float(jqgen.norm(mps)), 5)
        1.0
    """
    check_mps(mps)
    n = mps.num_sites
    if isinstance(center, int) and not 0 <= center < n:
        raise ValueError(f"center must be a site index in [0, {n}), got {center}")
    return MPS(canonical_with_log_norm(mps.tensors, center)[0])


def left_canonical(mps: MPS) -> MPS:
    """Normalized left-canonical form (sites ``0 .. n-2`` left isometries)."""
    return canonicalize(mps, mps.num_sites - 1)


def right_canonical(mps: MPS) -> MPS:
    """Normalized right-canonical form (sites ``1 .. n-1`` right isometries)."""
    return canonicalize(mps, 0)


@jax.jit
def log_norm_sq_tensors(t: jax.Array) -> jax.Array:
    """``log <psi|psi>`` by transfer matrices, renormalized by their trace at every site."""
    n, chi = t.shape[0], t.shape[-1]
    t = masked(t)
    env = jnp.zeros((chi, chi), t.dtype).at[0, 0].set(1)

    def step(carry, a):
        env, logs = carry
        env = jnp.einsum("ab,asc,bsd->cd", env, a.conj(), a)
        tr = jnp.real(jnp.trace(env))
        safe = jnp.where(tr > 0, tr, jnp.ones_like(tr))
        return (env / safe.astype(env.dtype), logs + jnp.log(tr)), None

    (env, logs), _ = lax.scan(step, (env, jnp.zeros((), _real(t.dtype))), t)
    del n
    return logs + jnp.log(jnp.real(env[0, 0]))


def log_norm(mps: MPS) -> jax.Array:
    """``log ||psi||`` (natural log), finite for long chains where the norm itself is not.

    Example:
        >>> import jax.numpy as jnp, jqgen
        >>> round(float(jqgen.log_norm(jqgen.product_mps(jnp.ones((784, 2))))), 2)  # 392 ln 2
        271.71
    """
    check_mps(mps)
    return 0.5 * log_norm_sq_tensors(mps.tensors)


def norm(mps: MPS) -> jax.Array:
    """``||psi||`` (may overflow for long unnormalized chains: prefer :func:`log_norm`)."""
    return jnp.exp(log_norm(mps))


def normalize(mps: MPS) -> MPS:
    """The same state scaled to unit norm, the scale spread evenly over the sites."""
    ln = log_norm(mps)
    scale = jnp.exp(-ln / mps.num_sites).astype(mps.dtype)
    return MPS(masked(mps.tensors) * scale)
