"""Environments of a U(1)-symmetric MPS, one per charge sector, with per-sector log-scales.

The layout (``blocks [n, 2, Q, chi, chi]``, charges ``0..b = Q - 1``) is described in
:mod:`jqgen.mps._u1_layout`. The left environment of bond ``k`` sums the prefix amplitudes'
outer products per charge, the right one the suffixes'::

    L_0[0] = e_0 e_0^T        L_{k+1}[q + a_k x] += B[k,x,q]^H L_k[q] B[k,x,q]
    R_n[b] = e_0 e_0^T        R_k[q]             += B[k,x,q] R_{k+1}[q + a_k x] B[k,x,q]^H

so that ``<psi|psi> = sum_q tr(L_k[q] R_k[q])`` at every bond ``k``. Each sector is stored at
unit trace with its own log-scale: the sectors of one bond weigh as many paths as binomial
coefficients count, which differ by more than float32's range at n = 500, k = 50.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["SMALL_CHI", "left_environments", "right_environments", "shift_down", "shift_up", "triple_product"]


def shift_up(m: jax.Array, a: jax.Array) -> jax.Array:
    """``out[q] = m[q - a]`` (0 where ``q < a``) along axis 0: charges raised by ``a``. A
    dynamic slice of a zero-padded copy (its transpose is a slice update; a gather's is a
    scatter, slow on the CPU)."""
    q_num = m.shape[0]
    padded = jnp.concatenate([jnp.zeros_like(m), m], axis=0)
    return lax.dynamic_slice_in_dim(padded, q_num - a, q_num, axis=0)  # start clamps to 0 for a > Q


def shift_down(m: jax.Array, a: jax.Array) -> jax.Array:
    """``out[q] = m[q + a]`` (0 where ``q + a > b``) along axis 0."""
    q_num = m.shape[0]
    padded = jnp.concatenate([m, jnp.zeros_like(m)], axis=0)
    return lax.dynamic_slice_in_dim(padded, a, q_num, axis=0)  # start clamps to Q for a > Q


#: Bond dimensions up to which :func:`small_matmul` (and so :func:`triple_product`) multiplies its small matrices by
#: broadcast products and sums (elementwise loops XLA fuses) instead of batched matrix
#: products: on the CPU a batch of ``2 Q`` tiny matmuls costs several times more (measured on
#: a 2-core Xeon, the norm of a 500-site chain of Q = 51 charges: chi = 4, 113 ms by einsum,
#: 11 ms forward and 30 ms with its gradient by broadcasts).
SMALL_CHI = 16


def small_matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a @ b`` over the last two axes (leading axes broadcast), by broadcasts for small bonds."""
    if max(a.shape[-2:] + b.shape[-1:]) <= SMALL_CHI:
        return (a[..., :, :, None] * b[..., None, :, :]).sum(-2)
    return jnp.matmul(a, b)


def _unbroadcast(ct: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """``ct`` summed over the axes broadcasting added to an operand of ``shape``."""
    lead = ct.ndim - len(shape)
    ct = ct.sum(tuple(range(lead))) if lead else ct
    axes = tuple(i for i, (c, d) in enumerate(zip(ct.shape, shape)) if d == 1 and c != 1)
    return ct.sum(axes, keepdims=True) if axes else ct


@jax.custom_vjp
def triple_product(left: jax.Array, env: jax.Array, right: jax.Array) -> jax.Array:
    """``out[..., a, b] = sum_ij left[..., i, a] env[..., i, j] right[..., j, b]`` (leading axes
    broadcast), i.e. ``left^T env right`` per matrix, holomorphic in each argument. Its
    gradient is written out (``dL = E R dS^T``, ``dE = L dS R^T``, ``dR = E^T L dS``) with the
    same small products: autodiff of the broadcast sums is ~3x slower."""
    return small_matmul(jnp.swapaxes(left, -1, -2), small_matmul(env, right))


def _triple_fwd(left, env, right):
    er = small_matmul(env, right)
    return small_matmul(jnp.swapaxes(left, -1, -2), er), (left, env, right, er)


def _triple_bwd(res, g):
    left, env, right, er = res
    d_left = small_matmul(er, jnp.swapaxes(g, -1, -2))
    d_env = small_matmul(small_matmul(left, g), jnp.swapaxes(right, -1, -2))
    d_right = small_matmul(small_matmul(jnp.swapaxes(env, -1, -2), left), g)
    return (_unbroadcast(d_left, left.shape), _unbroadcast(d_env, env.shape), _unbroadcast(d_right, right.shape))


triple_product.defvjp(_triple_fwd, _triple_bwd)


def _sandwich(blk: jax.Array, env: jax.Array) -> jax.Array:
    """``B^H E B`` for every ``(x, q)``: ``blk [2, Q, chi, chi]``, ``env [Q, chi, chi]`` ->
    ``[2, Q, chi, chi]``."""
    return triple_product(blk.conj(), env, blk)


def _shift_logs(l: jax.Array, a: jax.Array, up: bool) -> jax.Array:
    """Per-sector log-scales ``l [Q]`` moved by ``a`` charges (up: ``out[q] = l[q - a]``; down:
    ``out[q] = l[q + a]``), ``-inf`` where no sector maps."""
    q_num = l.shape[0]
    pad = jnp.full_like(l, -jnp.inf)
    if up:
        return lax.dynamic_slice_in_dim(jnp.concatenate([pad, l]), q_num - a, q_num)
    return lax.dynamic_slice_in_dim(jnp.concatenate([l, pad]), a, q_num)


def _combine(m0: jax.Array, l0: jax.Array, m1: jax.Array, l1: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``m0 e^l0 + m1 e^l1`` per sector (``[Q, chi, chi]``, ``[Q]``) as a matrix and a log-scale."""
    top = lax.stop_gradient(jnp.maximum(l0, l1))  # a gauge: exact gradients either way, no 0 * inf
    top_safe = jnp.where(jnp.isfinite(top), top, jnp.zeros_like(top))
    w0, w1 = jnp.exp(l0 - top_safe), jnp.exp(l1 - top_safe)
    return m0 * w0.astype(m0.dtype)[:, None, None] + m1 * w1.astype(m1.dtype)[:, None, None], top_safe


def _normalize_sectors(env: jax.Array, logs: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Every sector of ``env [Q, chi, chi]`` scaled to unit trace, its log-scale ``logs [Q]``
    raised by the log of that trace (``-inf`` for an empty sector). Per-sector scales: the
    sectors of one bond can differ by more than float32's range (binomial counts of paths)."""
    # the scale is a gauge (env / t times e^{log t}): taken out of the gradient, which stays
    # exact, so a sector of tiny trace cannot blow the gradient up through 1 / t**2
    t = lax.stop_gradient(jnp.real(jnp.trace(env, axis1=-2, axis2=-1)))
    ok = t > 0
    t_safe = jnp.where(ok, t, jnp.ones_like(t))
    return env / t_safe.astype(env.dtype)[:, None, None], jnp.where(ok, logs + jnp.log(t_safe), -jnp.inf)


def left_environments(blocks: jax.Array, weights: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """``L [n, Q, chi, chi]`` and log-scales ``[n, Q]``: ``L_k[q] e^{l_k[q]}`` contracts the sites
    ``< k`` from charge 0 at bond 0 to charge ``q`` at bond ``k``; then ``L_n`` and its scales."""
    _, _, q_num, chi, _ = blocks.shape
    rdt = jnp.finfo(blocks.dtype).dtype
    e0 = jnp.zeros((q_num, chi, chi), blocks.dtype).at[0, 0, 0].set(1)
    l0 = jnp.full((q_num,), -jnp.inf, rdt).at[0].set(0)

    def step(carry, xs):
        env, logs = carry
        blk, a = xs
        t0 = triple_product(blk[0].conj(), env, blk[0])  # x = 0: charge kept
        t1 = shift_up(triple_product(blk[1].conj(), env, blk[1]), a)  # x = 1: charge raised by a
        new = _normalize_sectors(*_combine(t0, logs, t1, _shift_logs(logs, a, up=True)))
        return new, carry

    (env_n, log_n), (envs, logs) = lax.scan(step, (e0, l0), (blocks, weights))
    return envs, logs, env_n, log_n


def right_environments(blocks: jax.Array, weights: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``R [n + 1, Q, chi, chi]`` and log-scales ``[n + 1, Q]``: ``R_k[q] e^{l_k[q]}`` contracts
    sites ``>= k`` from charge ``q`` at bond ``k`` to ``b`` at bond ``n``."""
    _, _, q_num, chi, _ = blocks.shape
    rdt = jnp.finfo(blocks.dtype).dtype
    rn = jnp.zeros((q_num, chi, chi), blocks.dtype).at[q_num - 1, 0, 0].set(1)
    ln = jnp.full((q_num,), -jnp.inf, rdt).at[q_num - 1].set(0)

    def step(carry, xs):
        env, logs = carry
        blk, a = xs
        bt = jnp.swapaxes(blk, -1, -2)
        t0 = triple_product(bt[0], env, bt[0].conj())  # x = 0: R_{k+1}[q]
        t1 = triple_product(bt[1], shift_down(env, a), bt[1].conj())  # x = 1: R_{k+1}[q + a]
        new = _normalize_sectors(*_combine(t0, logs, t1, _shift_logs(logs, a, up=False)))
        return new, new

    _, (envs, logs) = lax.scan(step, (rn, ln), (blocks, weights), reverse=True)
    return jnp.concatenate([envs, rn[None]], axis=0), jnp.concatenate([logs, ln[None]], axis=0)


