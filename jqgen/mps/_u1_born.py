"""Born-machine kernels of a U(1)-symmetric MPS: likelihoods, norm, dense probabilities, sampling.

The layout (``blocks [n, 2, Q, chi, chi]``, charges ``0..b = Q - 1``) is described in
:mod:`jqgen.mps._u1_layout`. A string's amplitude runs through one block per site, chosen by
its bit and its running charge ``c_k = sum_{i<k} a_i x_i``::

    psi(x) = e_0^T  B[0, x_0, c_0]  B[1, x_1, c_1] ... B[n-1, x_{n-1}, c_{n-1}]  e_0   if c_n = b, else 0

contracted left to right for a whole batch with the boundary vector renormalized at every
site (log-norms accumulated), as :mod:`jqgen.mps._born` does. The norm contracts one
environment per charge, ``E_{k+1}[q'] = sum_{x, q + a_k x = q'} B[k,x,q]^H E_k[q] B[k,x,q]``,
rescaled at every site. Perfect sampling needs no canonical form: right environments
``R_k[q]`` (the same recursion from the right) give the exact conditionals
``p(x_k | x_<k) ~ v B[k,x,c] R_{k+1}[c + a_k x] B^H v^H``; a charge no valid string can
complete has ``R = 0`` exactly, so an invalid string is never drawn.

Kernels take the blocks masked to the layout and the weights as an int array; their shapes
fix ``(n, Q, chi)``, so one compilation serves every layout of those sizes.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from ._core import unit_rows

__all__ = ["block_mask", "log_amp_sq", "log_norm_sq", "probs_on", "sample_and_log_prob", "amplitudes"]


def block_mask(dims: jax.Array, weights: jax.Array, chi: int, dtype) -> jax.Array:
    """``[n, 2, Q, chi, chi]`` 0/1 mask of the layout ``dims [n + 1, Q]`` (built from iotas:
    no large constant in the compiled program)."""
    n, q_num = weights.shape[0], dims.shape[1]
    q = jnp.arange(q_num, dtype=jnp.int32)
    out_q = q[None, None, :] + weights[:, None, None] * jnp.arange(2, dtype=jnp.int32)[None, :, None]  # [n, 2, Q]
    ok = out_q < q_num
    rows = dims[:-1][:, None, :]  # [n, 1, Q]
    cols = jnp.take_along_axis(dims[1:][:, None, :], jnp.clip(out_q, 0, q_num - 1), axis=2)  # [n, 2, Q]
    i = jnp.arange(chi, dtype=jnp.int32)
    m = ((i[:, None] < rows[..., None, None]) & (i[None, :] < cols[..., None, None]) & ok[..., None, None])
    return m.astype(dtype)


def _shift_up(m: jax.Array, a: jax.Array) -> jax.Array:
    """``out[q] = m[q - a]`` (0 where ``q < a``) along axis 0: charges raised by ``a``."""
    q_num = m.shape[0]
    src = jnp.arange(q_num, dtype=jnp.int32) - a
    out = jnp.take(m, jnp.clip(src, 0, q_num - 1), axis=0)
    return jnp.where((src >= 0).reshape((-1,) + (1,) * (m.ndim - 1)), out, jnp.zeros_like(out))


def _shift_down(m: jax.Array, a: jax.Array) -> jax.Array:
    """``out[q] = m[q + a]`` (0 where ``q + a > b``) along axis 0."""
    q_num = m.shape[0]
    src = jnp.arange(q_num, dtype=jnp.int32) + a
    out = jnp.take(m, jnp.clip(src, 0, q_num - 1), axis=0)
    return jnp.where((src < q_num).reshape((-1,) + (1,) * (m.ndim - 1)), out, jnp.zeros_like(out))


def _sandwich(blk: jax.Array, env: jax.Array) -> jax.Array:
    """``B^H E B`` for every ``(x, q)``: ``blk [2, Q, chi, chi]``, ``env [Q, chi, chi]`` ->
    ``[2, Q, chi, chi]``."""
    return jnp.einsum("xqia,qij,xqjb->xqab", blk.conj(), env, blk)


def _rescale(env: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``env / s`` and ``log s`` with ``s`` the summed trace (a positive norm of the state)."""
    s = jnp.real(jnp.sum(jnp.trace(env, axis1=-2, axis2=-1)))
    s_safe = jnp.where(s > 0, s, jnp.ones_like(s))
    return env / s_safe.astype(env.dtype), jnp.log(s)


@jax.jit
def log_norm_sq(blocks: jax.Array, weights: jax.Array) -> jax.Array:
    """``log <psi|psi>`` of masked ``blocks`` (left environments, rescaled at every site)."""
    _, _, q_num, chi, _ = blocks.shape
    rdt = jnp.finfo(blocks.dtype).dtype
    e0 = jnp.zeros((q_num, chi, chi), blocks.dtype).at[0, 0, 0].set(1)

    def step(carry, xs):
        env, logs = carry
        blk, a = xs
        m = _sandwich(blk, env)
        env, g = _rescale(m[0] + _shift_up(m[1], a))
        return (env, logs + g), None

    (env, logs), _ = lax.scan(step, (e0, jnp.zeros((), rdt)), (blocks, weights))
    return logs + jnp.log(jnp.real(env[q_num - 1, 0, 0]))


@jax.jit
def log_amp_sq(blocks: jax.Array, weights: jax.Array, bits: jax.Array) -> jax.Array:
    """``log |psi(bits)|^2`` for uint8 ``bits [batch, n]`` (``-inf`` off the constraint)."""
    batch = bits.shape[0]
    _, _, q_num, chi, _ = blocks.shape
    rdt = jnp.finfo(blocks.dtype).dtype
    v0 = jnp.zeros((batch, chi), blocks.dtype).at[:, 0].set(1)

    def step(carry, xs):
        v, c, logs = carry
        blk, a, x = xs
        x = x.astype(jnp.int32)
        m = blk[x, jnp.clip(c, 0, q_num - 1)]  # [batch, chi, chi]
        c = c + a * x
        v = jnp.einsum("bi,bij->bj", v, m)
        v = jnp.where((c < q_num)[:, None], v, jnp.zeros_like(v))
        v, lg = unit_rows(v)
        return (v, c, logs + 2 * lg), None

    init = (v0, jnp.zeros((batch,), jnp.int32), jnp.zeros((batch,), rdt))
    (v, c, logs), _ = lax.scan(step, init, (blocks, weights, bits.T))
    out = logs + 2 * jnp.log(jnp.abs(v[:, 0]))
    return jnp.where(c == q_num - 1, out, -jnp.inf)


@jax.jit
def amplitudes(blocks: jax.Array, weights: jax.Array, bits: jax.Array) -> jax.Array:
    """Signed amplitudes ``psi(bits)`` (no rescaling: for the small ``n`` of dense vectors)."""
    batch = bits.shape[0]
    _, _, q_num, chi, _ = blocks.shape
    v0 = jnp.zeros((batch, chi), blocks.dtype).at[:, 0].set(1)

    def step(carry, xs):
        v, c = carry
        blk, a, x = xs
        x = x.astype(jnp.int32)
        v = jnp.einsum("bi,bij->bj", v, blk[x, jnp.clip(c, 0, q_num - 1)])
        c = c + a * x
        return (jnp.where((c < q_num)[:, None], v, jnp.zeros_like(v)), c), None

    (v, c), _ = lax.scan(step, (v0, jnp.zeros((batch,), jnp.int32)), (blocks, weights, bits.T))
    return jnp.where(c == q_num - 1, v[:, 0], jnp.zeros_like(v[:, 0]))


@functools.partial(jax.jit, static_argnums=3)
def probs_on(blocks: jax.Array, weights: jax.Array, valid_bits: jax.Array, size: int, index: jax.Array) -> jax.Array:
    """Dense ``p [size]``: ``exp`` of the normalized log-likelihoods of ``valid_bits`` scattered at
    ``index``, zeros elsewhere."""
    la = log_amp_sq(blocks, weights, valid_bits)
    p = jnp.exp(la - jax.nn.logsumexp(la))
    return jnp.zeros((size,), p.dtype).at[index].set(p)


def right_environments(blocks: jax.Array, weights: jax.Array) -> jax.Array:
    """``[n + 1, Q, chi, chi]``: ``R_k[q]`` contracts sites ``>= k`` from charge ``q`` at bond ``k``
    to ``b`` at bond ``n``, each bond rescaled by a positive constant."""
    _, _, q_num, chi, _ = blocks.shape
    rn = jnp.zeros((q_num, chi, chi), blocks.dtype).at[q_num - 1, 0, 0].set(1)

    def step(env, xs):
        blk, a = xs
        nxt = jnp.stack([env, _shift_down(env, a)])  # R_{k+1}[q + a_k x] for x = 0, 1
        new, _ = _rescale(jnp.einsum("xqai,xqij,xqbj->qab", blk, nxt, blk.conj()))
        return new, new

    _, envs = lax.scan(step, rn, (blocks, weights), reverse=True)
    return jnp.concatenate([envs, rn[None]], axis=0)


@functools.partial(jax.jit, static_argnums=3)
def sample_and_log_prob(blocks: jax.Array, weights: jax.Array, key: jax.Array, num: int
                        ) -> tuple[jax.Array, jax.Array]:
    """``num`` perfect samples ``uint8 [num, n]`` and their log-probabilities ``[num]``."""
    n, _, q_num, chi, _ = blocks.shape
    rdt = jnp.finfo(blocks.dtype).dtype
    renv = right_environments(blocks, weights)
    # conditional Gram matrices G[k, x, q] = B[k,x,q] R_{k+1}[q + a_k x] B[k,x,q]^H
    up = jnp.arange(q_num, dtype=jnp.int32)[None, None, :] + weights[:, None, None] * jnp.arange(2, dtype=jnp.int32)[None, :, None]  # [n, 2, Q]
    r_next = jnp.take_along_axis(renv[1:][:, None], jnp.clip(up, 0, q_num - 1)[..., None, None], axis=2)
    r_next = r_next * (up < q_num)[..., None, None].astype(blocks.dtype)
    gram = jnp.einsum("kxqai,kxqij,kxqbj->kxqab", blocks, r_next, blocks.conj())
    u = jax.random.uniform(key, (n, num), rdt)
    v0 = jnp.zeros((num, chi), blocks.dtype).at[:, 0].set(1)

    def step(carry, xs):
        v, c, logp = carry
        blk, g, a, uk = xs
        cc = jnp.clip(c, 0, q_num - 1)
        gv = g[:, cc]  # [2, num, chi, chi]
        w = jnp.real(jnp.einsum("bi,xbij,bj->xb", v, gv, v.conj()))  # |v B|^2 weighted by R
        n0, n1 = jnp.maximum(w[0], 0), jnp.maximum(w[1], 0)
        tot = n0 + n1
        p1 = n1 / jnp.where(tot > 0, tot, jnp.ones_like(tot))
        x = uk < p1
        xi = x.astype(jnp.int32)
        v = jnp.einsum("bi,bij->bj", v, blk[xi, cc])
        v, _ = unit_rows(v)
        logp = logp + jnp.log(jnp.where(x, p1, 1 - p1))
        return (v, c + a * xi, logp), x.astype(jnp.uint8)

    init = (v0, jnp.zeros((num,), jnp.int32), jnp.zeros((num,), rdt))
    (_, _, logp), xs = lax.scan(step, init, (blocks, gram, weights, u))
    return xs.T, logp

