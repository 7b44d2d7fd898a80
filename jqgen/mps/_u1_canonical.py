"""Canonical forms, Schmidt values and dense conversions of a U(1)-symmetric MPS, block by block.

Every factorization acts on one charge sector at a time, so the symmetry is exact after it.
Left-canonicalizing site ``k`` factors, for each charge ``q'`` of bond ``k + 1``, the column
block of all entries that end in ``q'``::

             rows (x=0, i in sector q')            [ B[k, 0, q'] ]          [ Q_0 ]
    M[q'] =  rows (x=1, i in sector q' - a_k)  =  [ B[k, 1, q' - a_k] ]  =  [ Q_1 ] R[q']

and pushes ``R[q']`` into the blocks of site ``k + 1`` that leave charge ``q'``; the mirror image
(rows of one left charge, ``[B[k,0,q] | B[k,1,q]] = R Q``) right-canonicalizes. Rows outside the
layout's block sizes are moved behind the active ones before the QR (a traced stable sort), so
Householder reflections never touch them and the masked factors are exact.

``right_canonical(..., qr="gram-schmidt")`` factors by classical Gram-Schmidt applied twice
(CGS2, "twice is enough": orthogonal to rounding for any matrix that is numerically of full
rank; a column whose remainder falls below ``64 eps`` of its norm is dropped, the exact-rank
case of padded rows). Its columns are combinations of the input's, so inactive rows stay
exactly zero with no sort; it is some 10x faster than LAPACK's Householder QR on the many tiny
blocks of a site (``[Q, 2 chi, chi]``) and is what the sampler uses.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from ._u1_env import shift_down as _shift_down, shift_up as _shift_up, small_matmul

__all__ = ["left_canonical", "right_canonical", "schmidt_values"]


def _qr_active(m: jax.Array, active: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Thin QR ``m[s] = q[s] r[s]`` of ``m [S, r, c]`` with the ``active [S, r]`` rows ordered first
    (the others are zero); ``q``'s inactive rows are exactly zero."""

    def one(mm, act):
        perm = jnp.argsort(~act, stable=True)
        qq, rr = jnp.linalg.qr(mm[perm])
        qq = jnp.zeros_like(qq).at[perm].set(qq)
        return qq * act[:, None].astype(qq.dtype), rr

    return jax.vmap(one)(m, active)


def _qr_gram_schmidt(m: jax.Array, active: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Thin QR ``m[s] = q[s] r[s]`` of ``m [S, r, c]`` by CGS2, column by column (``c`` is a small
    static size); rows outside ``active`` must be zero in ``m`` and stay zero in ``q``."""
    del active  # zero rows of m are zero rows of q
    cols, rcols = [], []
    tol = 64 * jnp.finfo(m.dtype).eps
    for j in range(m.shape[-1]):
        a = m[..., j]
        v, h = a, jnp.zeros(m.shape[:-2] + (j,), m.dtype)
        if j:
            qs = jnp.stack(cols, axis=-1)  # [S, r, j]
            for _ in range(2):
                d = jnp.sum(qs.conj() * v[..., None], axis=-2)  # broadcasts: see small_matmul
                v, h = v - jnp.sum(qs * d[:, None, :], axis=-1), h + d
        nrm = jnp.sqrt(jnp.sum(jnp.abs(v) ** 2, axis=-1))
        keep = nrm > tol * jnp.sqrt(jnp.sum(jnp.abs(a) ** 2, axis=-1))
        cols.append(jnp.where(keep[:, None], v / jnp.where(keep, nrm, 1).astype(m.dtype)[:, None], 0))
        rcols.append(jnp.concatenate([h, jnp.where(keep, nrm, 0).astype(m.dtype)[:, None],
                                      jnp.zeros(m.shape[:-2] + (m.shape[-1] - j - 1,), m.dtype)], axis=-1))
    return jnp.stack(cols, axis=-1), jnp.stack(rcols, axis=-1)


_QR = {"householder": _qr_active, "gram-schmidt": _qr_gram_schmidt}


def _dims_mask(dims: jax.Array, chi: int) -> jax.Array:
    """``[Q, chi]`` bool: the active indices of one bond."""
    return jnp.arange(chi, dtype=jnp.int32)[None, :] < dims[:, None]


def _rescale(t: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``t`` times the power of two ``2**-e`` that brings its largest entry into ``[0.5, 1)``,
    and ``e`` (int32; 0 for a zero ``t``). The factor carried from site to site multiplies
    the norms of all sites before it (``exp(93)`` for a random state of 500 sites, ``k = 50``:
    past float32's range, a NaN factorization in the sweeps); scaling by a power of two is
    exact, so nothing else changes."""
    m = jnp.max(jnp.abs(t))
    _, e = jnp.frexp(jnp.where(m > 0, m, jnp.ones_like(m)))
    return t * jnp.ldexp(jnp.ones((), m.dtype), -e).astype(t.dtype), e.astype(jnp.int32)


def _left_site(blk, nxt, a, d_left, d_right):
    """Left-canonical site: ``blk [2, Q, chi, chi]`` of weight ``a``, ``nxt`` the next site's
    blocks, ``d_left``, ``d_right`` ``[Q]`` the bond sizes around ``blk``; returns the isometric
    blocks, ``nxt`` with ``R`` absorbed, and ``R [Q, chi, chi]``."""
    chi = blk.shape[2]
    act = _dims_mask(d_left, chi)
    m = jnp.concatenate([blk[0], _shift_up(blk[1], a)], axis=1)  # [Q', 2chi, chi]: rows (x, i)
    act_rows = jnp.concatenate([act, _shift_up(act, a)], axis=1)
    qq, rr = _qr_active(m, act_rows)
    cols = _dims_mask(d_right, chi).astype(blk.dtype)
    qq = qq * cols[:, None, :]
    rr = rr * cols[:, :, None]
    new = jnp.stack([qq[:, :chi], _shift_down(qq[:, chi:], a)])  # back to [x, left charge]
    nxt = small_matmul(rr[None], nxt)
    return new, nxt, rr


@jax.jit
def left_canonical(blocks: jax.Array, weights: jax.Array, dims: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Left-canonical blocks (sites ``0 .. n-2`` isometric, the norm in the last site) and
    ``log`` of the norm removed (the state is returned normalized)."""

    def step(carry, xs):
        blk, e = carry
        nxt, a, dl, dr = xs
        new, nxt, _ = _left_site(blk, nxt, a, dl, dr)
        nxt, de = _rescale(nxt)
        return (nxt, e + de), new

    n = blocks.shape[0]
    (last, e), body = lax.scan(step, (blocks[0], jnp.int32(0)), (blocks[1:], weights[:-1], dims[: n - 1], dims[1:n]))
    nrm = jnp.sqrt(jnp.sum(jnp.abs(last) ** 2))
    out = jnp.concatenate([body, (last / nrm.astype(last.dtype))[None]], axis=0)
    return out, jnp.log(nrm) + e.astype(nrm.dtype) * jnp.log(jnp.asarray(2, nrm.dtype))


@functools.partial(jax.jit, static_argnames="qr")
def right_canonical(blocks: jax.Array, weights: jax.Array, dims: jax.Array, qr: str = "householder"
                    ) -> tuple[jax.Array, jax.Array]:
    """Right-canonical blocks (sites ``1 .. n-1`` co-isometric, the norm in site 0), normalized,
    and ``log`` of the norm removed; ``qr`` names the factorization (``"householder"`` or
    ``"gram-schmidt"``, see the module docstring)."""
    chi = blocks.shape[-1]
    factor = _QR[qr]

    def step(carry, xs):
        blk, e = carry
        prev, a_prev, a, dl, dr = xs  # site k-1, its weight; site k's weight, bonds k, k+1
        act = jnp.concatenate([_dims_mask(dr, chi), _dims_mask(_shift_down(dr, a), chi)], axis=1)  # columns (x, j)
        m = jnp.concatenate([blk[0], blk[1]], axis=2).transpose(0, 2, 1).conj()  # [Q, 2chi, chi]
        qq, rr = factor(m, act)
        rows = _dims_mask(dl, chi).astype(blk.dtype)
        qq, rr = qq * rows[:, None, :], rr * rows[:, :, None]
        qh, rh = qq.transpose(0, 2, 1).conj(), rr.transpose(0, 2, 1).conj()  # blk = rh @ qh
        new = jnp.stack([qh[:, :, :chi], qh[:, :, chi:]])
        prev = small_matmul(prev, jnp.stack([rh, _shift_down(rh, a_prev)]))
        prev, de = _rescale(prev)
        return (prev, e + de), new

    n = blocks.shape[0]
    xs = (blocks[: n - 1], weights[: n - 1], weights[1:], dims[1:n], dims[2:])
    (first, e), body = lax.scan(step, (blocks[n - 1], jnp.int32(0)), xs, reverse=True)
    nrm = jnp.sqrt(jnp.sum(jnp.abs(first) ** 2))
    out = jnp.concatenate([(first / nrm.astype(first.dtype))[None], body], axis=0)
    return out, jnp.log(nrm) + e.astype(nrm.dtype) * jnp.log(jnp.asarray(2, nrm.dtype))


@jax.jit
def schmidt_values(blocks: jax.Array, weights: jax.Array, dims: jax.Array) -> jax.Array:
    """``[n - 1, Q, chi]`` Schmidt values of bonds ``1 .. n-1`` by charge sector (descending in
    each sector, zero-padded; ``sum`` of squares over a bond is 1)."""
    t, _ = right_canonical(blocks, weights, dims)
    n = t.shape[0]

    def step(carry, xs):
        blk = carry
        nxt, a, dl, dr = xs
        new, nxt, rr = _left_site(blk, nxt, a, dl, dr)
        s = jnp.linalg.svd(rr, compute_uv=False)
        return nxt, s

    _, s = lax.scan(step, t[0], (t[1:], weights[:-1], dims[: n - 1], dims[1:n]))
    return s / jnp.sqrt(jnp.sum(s**2, axis=(1, 2), keepdims=True)).astype(s.dtype)
