"""Born-machine kernels of a U(1)-symmetric MPS: likelihoods, norm, dense probabilities, sampling.

The layout (``blocks [n, 2, Q, chi, chi]``, charges ``0..b = Q - 1``) is described in
:mod:`jqgen.mps._u1_layout`. A string's amplitude runs through one block per site, chosen by
its bit and its running charge ``c_k = sum_{i<k} a_i x_i``::

    psi(x) = e_0^T  B[0, x_0, c_0]  B[1, x_1, c_1] ... B[n-1, x_{n-1}, c_{n-1}]  e_0   if c_n = b, else 0

contracted left to right for a whole batch with the boundary vector renormalized at every
site (log-norms accumulated), as :mod:`jqgen.mps._born` does. The norm contracts one
environment per charge, ``E_{k+1}[q'] = sum_{x, q + a_k x = q'} B[k,x,q]^H E_k[q] B[k,x,q]``,
each sector rescaled at every site with its own log-scale: the sectors of one bond weigh
as many paths as binomial coefficients count, which differ by more than float32's range
at n = 500, k = 50. Perfect sampling needs no canonical form: right environments
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
    """``out[q] = m[q - a]`` (0 where ``q < a``) along axis 0: charges raised by ``a``. A
    dynamic slice of a zero-padded copy (its transpose is a slice update; a gather's is a
    scatter, slow on the CPU)."""
    q_num = m.shape[0]
    padded = jnp.concatenate([jnp.zeros_like(m), m], axis=0)
    return lax.dynamic_slice_in_dim(padded, q_num - a, q_num, axis=0)  # start clamps to 0 for a > Q


def _shift_down(m: jax.Array, a: jax.Array) -> jax.Array:
    """``out[q] = m[q + a]`` (0 where ``q + a > b``) along axis 0."""
    q_num = m.shape[0]
    padded = jnp.concatenate([m, jnp.zeros_like(m)], axis=0)
    return lax.dynamic_slice_in_dim(padded, a, q_num, axis=0)  # start clamps to Q for a > Q


#: Bond dimensions up to which :func:`triple_product` multiplies its small matrices by
#: broadcast products and sums (elementwise loops XLA fuses) instead of batched matrix
#: products: on the CPU a batch of ``2 Q`` tiny matmuls costs several times more (measured on
#: a 2-core Xeon, the norm of a 500-site chain of Q = 51 charges: chi = 4, 113 ms by einsum,
#: 11 ms forward and 30 ms with its gradient by broadcasts).
SMALL_CHI = 16


def _mm(a: jax.Array, b: jax.Array) -> jax.Array:
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
    return _mm(jnp.swapaxes(left, -1, -2), _mm(env, right))


def _triple_fwd(left, env, right):
    er = _mm(env, right)
    return _mm(jnp.swapaxes(left, -1, -2), er), (left, env, right, er)


def _triple_bwd(res, g):
    left, env, right, er = res
    d_left = _mm(er, jnp.swapaxes(g, -1, -2))
    d_env = _mm(_mm(left, g), jnp.swapaxes(right, -1, -2))
    d_right = _mm(_mm(jnp.swapaxes(env, -1, -2), left), g)
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


@jax.jit
def log_norm_sq(blocks: jax.Array, weights: jax.Array) -> jax.Array:
    """``log <psi|psi>`` of masked ``blocks``: left environments per charge sector, each with
    its own log-scale (rescaled at every site)."""
    _, _, q_num, chi, _ = blocks.shape
    rdt = jnp.finfo(blocks.dtype).dtype
    e0 = jnp.zeros((q_num, chi, chi), blocks.dtype).at[0, 0, 0].set(1)
    l0 = jnp.full((q_num,), -jnp.inf, rdt).at[0].set(0)

    def step(carry, xs):
        env, logs = carry
        blk, a = xs
        m = _sandwich(blk, env)
        env, logs = _combine(m[0], logs, _shift_up(m[1], a), _shift_logs(logs, a, up=True))
        return _normalize_sectors(env, logs), None

    (env, logs), _ = lax.scan(step, (e0, l0), (blocks, weights))
    return logs[q_num - 1] + jnp.log(jnp.real(env[q_num - 1, 0, 0]))


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
        t1 = triple_product(bt[1], _shift_down(env, a), bt[1].conj())  # x = 1: R_{k+1}[q + a]
        new = _normalize_sectors(*_combine(t0, logs, t1, _shift_logs(logs, a, up=False)))
        return new, new

    _, (envs, logs) = lax.scan(step, (rn, ln), (blocks, weights), reverse=True)
    return jnp.concatenate([envs, rn[None]], axis=0), jnp.concatenate([logs, ln[None]], axis=0)


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

