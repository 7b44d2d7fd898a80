"""Log-likelihood kernels of a U(1)-symmetric MPS, with hand-written gradients.

``log <psi|psi>`` and ``log |psi(x)|^2`` over the block layout of :mod:`jqgen.mps._u1_layout`,
for the blocks masked to the layout and the weights as an int array. Both are a scan over the
sites; reverse-mode autodiff of such a scan stores every step's intermediates and
transposes every small product and gather one site at a time, several times slower than
the forward pass. For real blocks (float32, float64) the gradients are written out from
environments instead, the textbook derivative of a Born machine (Han et al., PRX 8, 031012
(2018), eq. 6)::

    d log Z / d B[k,x,q]  =  2 L_k[q] B[k,x,q] R_{k+1}[q + a_k x] / Z          (L, R symmetric)

    d log |psi(s)|^2 / d B[k, s_k, c_k]  =  2 u_k(s)^T w_{k+1}(s) / psi(s)

with ``L, R`` the per-charge environments of :mod:`jqgen.mps._u1_env`, ``u_k`` the prefix row
vector ``e_0^T B[0] ... B[k-1]`` and ``w_{k+1}`` the suffix column ``B[k+1] ... B[n-1] e_0``,
all carried normalized with log-scales, so the factors ``e^{l_L + l_R - log Z}`` are formed in
log space. The norm's gradient is one batched product over all sites after one more
environment sweep; the likelihood's one reverse scan of vectors. Complex blocks use autodiff
(Wirtinger conventions are then JAX's own). Measured at n = 500, k = 50, chi = 4, a batch of
256 strings (2-core EPYC): the norm's gradient 28 -> ~7 ms, the likelihoods' 19 -> ~7 ms.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from ._core import unit_rows
from ._u1_env import left_environments, right_environments, triple_product

__all__ = ["log_amp_sq", "log_norm_sq"]


def _log_norm_right(blocks: jax.Array, weights: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    renv, rlog = right_environments(blocks, weights)
    return rlog[0, 0] + jnp.log(jnp.real(renv[0, 0, 0, 0])), (renv, rlog)


@jax.custom_vjp
def _log_norm_real(blocks: jax.Array, weights: jax.Array) -> jax.Array:
    return _log_norm_right(blocks, weights)[0]


def _norm_fwd(blocks, weights):
    lz, (renv, rlog) = _log_norm_right(blocks, weights)
    return lz, (blocks, weights, renv, rlog, lz)


def _norm_bwd(res, g):
    blocks, weights, renv, rlog, lz = res
    q_num = blocks.shape[2]
    lenv, llog, _, _ = left_environments(blocks, weights)  # [n, Q, chi, chi], [n, Q]
    up = (jnp.arange(q_num, dtype=jnp.int32)[None, None, :]
          + weights[:, None, None] * jnp.arange(2, dtype=jnp.int32)[None, :, None])  # [n, 2, Q]
    upc = jnp.clip(up, 0, q_num - 1)
    r_next = jnp.take_along_axis(renv[1:][:, None], upc[..., None, None], axis=2)  # R_{k+1}[q + a_k x]
    lr = jnp.where(up < q_num, jnp.take_along_axis(rlog[1:][:, None], upc, axis=2), -jnp.inf)
    scale = (2 * g) * jnp.exp(llog[:, None, :] + lr - lz)  # [n, 2, Q]; an empty sector gives 0
    lbr = triple_product(lenv[:, None], blocks, r_next)  # L^T B R = L B R (L symmetric)
    return lbr * scale.astype(blocks.dtype)[..., None, None], None


_log_norm_real.defvjp(_norm_fwd, _norm_bwd)


@jax.jit
def log_norm_sq(blocks: jax.Array, weights: jax.Array) -> jax.Array:
    """``log <psi|psi>`` of masked ``blocks [n, 2, Q, chi, chi]`` (right environments, one
    log-scale per sector); its gradient from the environments for real blocks.

    Examples:
        >>> import jax, jax.numpy as jnp, jqgen
        >>> m = jqgen.mps.SymmetricMPSBornMachine(num_bits=6, target=2, chi_max=2)
        >>> b, w = m._mask(m.init(jax.random.key(0)).blocks), m._w()
        >>> auto = jax.grad(lambda b: _log_norm_right(b, w)[0])(b)
        >>> bool(jnp.allclose(jax.grad(log_norm_sq)(b, w), auto, atol=1e-5))
        True
    """
    if jnp.iscomplexobj(blocks):
        return _log_norm_right(blocks, weights)[0]
    return _log_norm_real(blocks, weights)


def _charges_before(weights: jax.Array, bits: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Running charges ``c_k`` before each site ``[batch, n]`` and the final charges ``[batch]``."""
    steps = bits.astype(jnp.int32) * weights[None, :]
    after = jnp.cumsum(steps, axis=1)
    return after - steps, after[:, -1]


def _amp_forward(blocks: jax.Array, weights: jax.Array, bits: jax.Array):
    """Prefix vectors ``u_k`` (normalized) and their log-scales before every site, the final
    ones, and the final charges."""
    batch = bits.shape[0]
    q_num, chi = blocks.shape[2], blocks.shape[3]
    rdt = jnp.finfo(blocks.dtype).dtype
    c_before, c_end = _charges_before(weights, bits)
    v0 = jnp.zeros((batch, chi), blocks.dtype).at[:, 0].set(1)

    def step(carry, xs):
        v, logs = carry
        blk, a, x, c = xs
        xi = x.astype(jnp.int32)
        v_new = jnp.einsum("bi,bij->bj", v, blk[xi, jnp.clip(c, 0, q_num - 1)])
        v_new = jnp.where((c + a * xi < q_num)[:, None], v_new, jnp.zeros_like(v_new))  # charge past b: 0
        v_new, lg = unit_rows(v_new)
        return (v_new, logs + lg), (v, logs)

    (v, logs), (us, lus) = lax.scan(step, (v0, jnp.zeros((batch,), rdt)), (blocks, weights, bits.T, c_before.T))
    return us, lus, v, logs, c_before, c_end


def _amp_value(v: jax.Array, logs: jax.Array, c_end: jax.Array, q_num: int) -> jax.Array:
    out = 2 * (logs + jnp.log(jnp.abs(v[:, 0])))
    return jnp.where(c_end == q_num - 1, out, -jnp.inf)


def _log_amp_auto(blocks: jax.Array, weights: jax.Array, bits: jax.Array) -> jax.Array:
    _, _, v, logs, _, c_end = _amp_forward(blocks, weights, bits)
    return _amp_value(v, logs, c_end, blocks.shape[2])


@jax.custom_vjp
def _log_amp_real(blocks: jax.Array, weights: jax.Array, bits: jax.Array) -> jax.Array:
    return _log_amp_auto(blocks, weights, bits)


def _amp_fwd(blocks, weights, bits):
    us, lus, v, logs, c_before, c_end = _amp_forward(blocks, weights, bits)
    out = _amp_value(v, logs, c_end, blocks.shape[2])
    return out, (blocks, bits, us, lus, v[:, 0], logs, c_before, c_end)


def _amp_bwd(res, g):
    blocks, bits, us, lus, v_end, log_end, c_before, c_end = res
    q_num, chi = blocks.shape[2], blocks.shape[3]
    ok = (c_end == q_num - 1) & (v_end != 0)
    log_abs = log_end + jnp.log(jnp.where(ok, jnp.abs(v_end), jnp.ones_like(log_end)))
    coef = jnp.where(ok, 2 * g * jnp.sign(v_end), jnp.zeros_like(g))  # d out / d psi * |psi|
    w0 = jnp.zeros((bits.shape[0], chi), blocks.dtype).at[:, 0].set(1)

    def step(carry, xs):
        w, lw = carry
        blk, x, c, u, lu = xs
        xi, ci = x.astype(jnp.int32), jnp.clip(c, 0, q_num - 1)
        f = jnp.where(ok, coef * jnp.exp(lu + lw - log_abs), jnp.zeros_like(coef))
        contrib = u[:, :, None] * w[:, None, :] * f.astype(blocks.dtype)[:, None, None]  # [batch, chi, chi]
        grad_k = jnp.zeros(blk.shape, blk.dtype).at[xi, ci].add(contrib)
        w_new, lg = unit_rows(jnp.einsum("bij,bj->bi", blk[xi, ci], w))
        return (w_new, lw + lg), grad_k

    init = (w0, jnp.zeros_like(log_end))
    _, grads = lax.scan(step, init, (blocks, bits.T, c_before.T, us, lus), reverse=True)
    return grads, None, None


_log_amp_real.defvjp(_amp_fwd, _amp_bwd)


@jax.jit
def log_amp_sq(blocks: jax.Array, weights: jax.Array, bits: jax.Array) -> jax.Array:
    """``log |psi(bits)|^2`` for uint8 ``bits [batch, n]`` (``-inf`` off the constraint): the
    boundary vector renormalized at every site; the gradient from prefix and suffix vectors
    for real blocks.

    Examples:
        >>> import jax, jax.numpy as jnp, jqgen
        >>> m = jqgen.mps.SymmetricMPSBornMachine(num_bits=6, target=2, chi_max=2)
        >>> b, w = m._mask(m.init(jax.random.key(0)).blocks), m._w()
        >>> x = m.sample(m.init(jax.random.key(0)), jax.random.key(1), 5)
        >>> f = lambda b: log_amp_sq(b, w, x).sum()
        >>> auto = jax.grad(lambda b: _log_amp_auto(b, w, x).sum())(b)
        >>> bool(jnp.allclose(jax.grad(f)(b), auto, atol=1e-4))
        True
    """
    if jnp.iscomplexobj(blocks):
        return _log_amp_auto(blocks, weights, bits)
    return _log_amp_real(blocks, weights, bits)
