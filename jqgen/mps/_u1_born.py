"""Born-machine kernels of a U(1)-symmetric MPS: likelihoods, norm, dense probabilities, sampling.

The layout (``blocks [n, 2, Q, chi, chi]``, charges ``0..b = Q - 1``) is described in
:mod:`jqgen.mps._u1_layout`. A string's amplitude runs through one block per site, chosen by
its bit and its running charge ``c_k = sum_{i<k} a_i x_i``::

    psi(x) = e_0^T  B[0, x_0, c_0]  B[1, x_1, c_1] ... B[n-1, x_{n-1}, c_{n-1}]  e_0   if c_n = b, else 0

contracted left to right for a whole batch with the boundary vector renormalized at every
site (log-norms accumulated), as :mod:`jqgen.mps._born` does. The norm and the likelihoods,
with their hand-written gradients, are in :mod:`jqgen.mps._u1_likelihood`; the per-charge
environments in :mod:`jqgen.mps._u1_env`. Perfect sampling needs no canonical form: right
environments ``R_k[q]`` give the exact conditionals
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
from ._u1_env import right_environments, triple_product
from ._u1_likelihood import log_amp_sq, log_norm_sq

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


@functools.partial(jax.jit, static_argnums=3)
def sample_and_log_prob(blocks: jax.Array, weights: jax.Array, key: jax.Array, num: int
                        ) -> tuple[jax.Array, jax.Array]:
    """``num`` perfect samples ``uint8 [num, n]`` and their log-probabilities ``[num]``."""
    n, _, q_num, chi, _ = blocks.shape
    rdt = jnp.finfo(blocks.dtype).dtype
    renv, rlog = right_environments(blocks, weights)
    # conditional Gram matrices G[k, x, q] = B[k,x,q] R_{k+1}[q + a_k x] B[k,x,q]^H, log-scale lg
    up = (jnp.arange(q_num, dtype=jnp.int32)[None, None, :]
          + weights[:, None, None] * jnp.arange(2, dtype=jnp.int32)[None, :, None])  # [n, 2, Q]
    upc = jnp.clip(up, 0, q_num - 1)
    r_next = jnp.take_along_axis(renv[1:][:, None], upc[..., None, None], axis=2)
    lg = jnp.where(up < q_num, jnp.take_along_axis(rlog[1:][:, None], upc, axis=2), -jnp.inf)  # [n, 2, Q]
    bt = jnp.swapaxes(blocks, -1, -2)
    gram = triple_product(bt, r_next, bt.conj())
    u = jax.random.uniform(key, (n, num), rdt)
    v0 = jnp.zeros((num, chi), blocks.dtype).at[:, 0].set(1)

    def step(carry, xs):
        v, c, logp = carry
        blk, g, lgk, a, uk = xs
        cc = jnp.clip(c, 0, q_num - 1)
        w = jnp.real(jnp.einsum("bi,xbij,bj->xb", v, g[:, cc], v.conj()))  # |v B|^2 weighted by R
        w_ok = w > 0
        lw = jnp.where(w_ok, jnp.log(jnp.where(w_ok, w, jnp.ones_like(w))), -jnp.inf) + lgk[:, cc]  # log n_x
        lse = jnp.logaddexp(lw[0], lw[1])
        lse = jnp.where(jnp.isfinite(lse), lse, jnp.zeros_like(lse))
        lp1, lp0 = lw[1] - lse, lw[0] - lse
        x = uk < jnp.exp(lp1)  # p1 = 0 exactly for a charge no valid string completes
        xi = x.astype(jnp.int32)
        v = jnp.einsum("bi,bij->bj", v, blk[xi, cc])
        v, _ = unit_rows(v)
        logp = logp + jnp.where(x, lp1, lp0)
        return (v, c + a * xi, logp), x.astype(jnp.uint8)

    init = (v0, jnp.zeros((num,), jnp.int32), jnp.zeros((num,), rdt))
    (_, _, logp), xs = lax.scan(step, init, (blocks, gram, lg, weights, u))
    return xs.T, logp

