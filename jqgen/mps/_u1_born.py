"""Born-machine kernels of a U(1)-symmetric MPS: likelihoods, norm, dense probabilities, sampling.

The layout (``blocks [n, 2, Q, chi, chi]``, charges ``0..b = Q - 1``) is described in
:mod:`jqgen.mps._u1_layout`. A string's amplitude runs through one block per site, chosen by
its bit and its running charge ``c_k = sum_{i<k} a_i x_i``::

    psi(x) = e_0^T  B[0, x_0, c_0]  B[1, x_1, c_1] ... B[n-1, x_{n-1}, c_{n-1}]  e_0   if c_n = b, else 0

contracted left to right for a whole batch with the boundary vector renormalized at every
site (log-norms accumulated), as :mod:`jqgen.mps._born` does. The norm and the likelihoods,
with their hand-written gradients, are in :mod:`jqgen.mps._u1_likelihood`; the per-charge
environments in :mod:`jqgen.mps._u1_env`. Perfect sampling runs on the right-canonical form
(:mod:`jqgen.mps._u1_canonical`), where every conditional is a local norm
``p(x_k | x_<k) ~ |v B[k,x,c]|^2``; a charge no valid string can complete has zero blocks, so
an invalid string is never drawn.

Kernels take the blocks masked to the layout and the weights as an int array; their shapes
fix ``(n, Q, chi)``, so one compilation serves every layout of those sizes.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from .. import _random
from ._u1_canonical import right_canonical
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


#: Samples drawn by one scan: the gathered blocks of a chunk stay in cache (at 5,000 samples of
#: n = 500, chi = 4 one chunk of 1,000 is 2.5x faster per string than one scan over all).
_SAMPLE_CHUNK = 1024


@functools.partial(jax.jit, static_argnums=4)
def sample_and_log_prob(blocks: jax.Array, weights: jax.Array, dims: jax.Array, key: jax.Array, num: int
                        ) -> tuple[jax.Array, jax.Array]:
    """``num`` perfect samples ``uint8 [num, n]`` and their log-probabilities ``[num]``.

    The blocks are first brought to right-canonical form (:func:`right_canonical` by CGS2, the
    norm removed), so every conditional is local: with ``v`` the unit-normalized row vector of
    the prefix ``x_<k`` (charge ``c``),
    ``p(x_k = x | x_<k) = |v B[k, x, c]|^2 / sum_x' |v B[k, x', c]|^2``. One gather of the
    ``[2, chi, chi]`` blocks of each sample's charge per site, chunks of ``_SAMPLE_CHUNK``
    samples per scan. Blocks that would leave the charge range are zero in the layout, so a
    string off the constraint has probability zero and is never drawn. The log-probabilities
    are the product of the drawn conditionals (exact up to rounding: ~1e-4 absolute at
    n = 500 in float32).
    """
    n, _, q_num, chi, _ = blocks.shape
    rdt = jnp.finfo(blocks.dtype).dtype
    rc, _ = right_canonical(blocks, weights, dims, qr="gram-schmidt")
    by_charge = jnp.moveaxis(rc, 2, 1)  # [n, Q, 2, chi, chi]: one gather per sample and site
    chunks = -(-num // _SAMPLE_CHUNK)
    size = -(-num // chunks)
    u = _random.uniform(key, (chunks, n, size), rdt)  # drawn flat: a rank-3 draw compiles ~1 s longer

    def step(carry, xs):
        v, c, logp = carry
        blk, a, uk = xs
        w = jnp.einsum("bi,bxij->bxj", v, blk[jnp.clip(c, 0, q_num - 1)])  # [size, 2, chi]
        nx = jnp.sum(jnp.real(w * w.conj()), axis=-1)  # [size, 2]
        tot = nx[:, 0] + nx[:, 1]
        x = uk * tot < nx[:, 1]  # n_1 = 0 exactly where the charge cannot take a 1
        pick = jnp.where(x, nx[:, 1], nx[:, 0])
        ok = pick > 0  # false only on a prefix of probability zero, never drawn
        v = jnp.where(x[:, None], w[:, 1], w[:, 0]) * lax.rsqrt(jnp.where(ok, pick, 1))[:, None].astype(w.dtype)
        logp = logp + jnp.where(ok, jnp.log(jnp.where(ok, pick, 1) / jnp.where(ok, tot, 1)), -jnp.inf)
        return (v, c + a * x.astype(jnp.int32), logp), x.astype(jnp.uint8)

    def chunk(uc):
        init = (jnp.zeros((size, chi), blocks.dtype).at[:, 0].set(1), jnp.zeros((size,), jnp.int32),
                jnp.zeros((size,), rdt))
        (_, _, logp), xs = lax.scan(step, init, (by_charge, weights, uc))
        return xs.T, logp

    xs, logp = lax.map(chunk, u)
    return xs.reshape(chunks * size, n)[:num], logp.reshape(-1)[:num]
