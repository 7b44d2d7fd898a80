"""Two-site sweep training of a U(1)-symmetric MPS, truncating charge block by charge block.

The loop is that of :mod:`jqgen.mps._sweep` (Han et al., PRX 8, 031012, 2018: mixed-canonical
two-site updates, cached per-image environments with log-scales, a half-sweep as one
``lax.scan`` over bonds, bond buckets) with the settings of :class:`jqgen.mps.SweepConfig`; only
the tensors are block-sparse (:mod:`jqgen.mps._u1_layout`). At bond ``(k, k+1)`` the merged
tensor has one block per left charge ``q`` and bits ``(x, y)``::

    theta[x, y, q] = B[k, x, q] B[k+1, y, q + a_k x]      (charge q -> q + a_k x + a_{k+1} y)

and an image ``v`` of prefix charge ``c`` sees ``psi(v) = L(v) theta[v_k, v_{k+1}, c] R(v)``.
After the gradient steps, the middle bond is split sector by sector: for each charge ``m`` of
bond ``k + 1``::

    M[m] = [ theta[0, y, m] ; theta[1, y, m - a_k] ]  (rows (x, i), columns (y, j)) = U S V^H

one SVD per sector (``vmap``). Every sector keeps its largest singular value, floored at
``1e-6`` of the bond's largest (a sector dropped whole, or decayed to 0 because no training
string passes through it, would give its valid strings probability exactly 0 and an
infinite test NLL); the other singular values of all sectors compete for the rest of the ``max_bond``
slots of the bond (relative ``cutoff`` against the largest of them), each sector keeping at
most ``chi_pad``. Rows and columns outside the sector's blocks are cleared, so the symmetry is
exact after every truncation and every sample stays valid.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .. import _random
from ._core import unit_rows
from ._sweep import _HI, _PSI_FLOOR, SweepHyper, _svd
from ._u1_env import shift_down as _shift_down, shift_up as _shift_up
from ._u1_canonical import _rescale

#: Smallest kept singular value of a charge sector, relative to the bond's largest.
_SECTOR_FLOOR = 1e-6

__all__ = ["BlockSweepCarry", "block_environments", "block_half_sweep", "block_sweep_loop", "initial_block_state",
           "pad_block_carry"]


class BlockSweepCarry(NamedTuple):
    """Sweep state of a symmetric MPS (cf. :class:`jqgen.mps._sweep.SweepCarry`).

    Attributes:
        blocks: ``[n, 2, Q, chi_pad, chi_pad]``.
        left, left_log: ``[n, N, chi_pad]``, ``[n, N]``: ``left[k]`` contracts sites ``< k``
            with every image (unit vectors in the image's charge sector) and their log-norms.
        right, right_log: ``right[k]`` contracts sites ``> k``.
        dims: ``[n + 1, Q]`` int32 block sizes of every bond and charge.
        charges: ``[n + 1, N]`` int32 prefix charge of every image at every bond.
        svd_fallbacks: factorizations that returned NaN (recomputed with ``fallback``).
    """

    blocks: jax.Array
    left: jax.Array
    left_log: jax.Array
    right: jax.Array
    right_log: jax.Array
    dims: jax.Array
    charges: jax.Array
    svd_fallbacks: jax.Array | int = 0


def _grow_left(l, blk, x, c):
    """``L_{k+1}(v) = L_k(v) B[k, v_k, c_k(v)]`` for all images, normalized."""
    m = blk[x.astype(jnp.int32), c]
    return unit_rows(jnp.einsum("bi,bij->bj", l, m, precision=_HI))


def _grow_right(r, blk, x, c):
    """``R_{k-1}(v) = B[k, v_k, c_k(v)] R_k(v)`` for all images, normalized."""
    m = blk[x.astype(jnp.int32), c]
    return unit_rows(jnp.einsum("bij,bj->bi", m, r, precision=_HI))


@jax.jit
def block_environments(blocks: jax.Array, data: jax.Array, dims: jax.Array, weights: jax.Array) -> BlockSweepCarry:
    """Carry for the start of a loop: prefix charges and all left environments of ``data``."""
    n, chi = blocks.shape[0], blocks.shape[-1]
    n_data = data.shape[0]
    rdt = jnp.finfo(blocks.dtype).dtype
    charges = jnp.concatenate([jnp.zeros((1, n_data), jnp.int32),
                               jnp.cumsum(data.T.astype(jnp.int32) * weights[:, None], axis=0)], axis=0)
    e0 = jnp.zeros((n_data, chi), blocks.dtype).at[:, 0].set(1)

    def left_step(carry, xs):
        l, lg = carry
        blk, x, c = xs
        l2, g = _grow_left(l, blk, x, c)
        return (l2, lg + g), (l, lg)

    _, (left, left_log) = lax.scan(left_step, (e0, jnp.zeros((n_data,), rdt)), (blocks, data.T, charges[:-1]))
    right = jnp.zeros((n, n_data, chi), blocks.dtype).at[n - 1].set(e0)
    return BlockSweepCarry(blocks, left, left_log, right, jnp.zeros((n, n_data), rdt), dims.astype(jnp.int32),
                           charges, jnp.int32(0))


def _merge(b1: jax.Array, b2: jax.Array, a1: jax.Array) -> jax.Array:
    """``theta[x, y, q] = B1[x, q] B2[y, q + a1 x]``: ``[2, 2, Q, chi, chi]``."""
    nxt = jnp.stack([b2, jnp.stack([_shift_down(b2[0], a1), _shift_down(b2[1], a1)])])  # [x, y, q]
    return jnp.einsum("xqij,xyqjk->xyqik", b1, nxt, precision=_HI)


def _psi(l, theta, r, x1, x2, c):
    m = theta[x1.astype(jnp.int32), x2.astype(jnp.int32), c]
    return jnp.einsum("bi,bij,bj->b", l, m, r, precision=_HI)


def _gradient(l, theta, r, x1, x2, c):
    """``(1/B) sum_v conj(L (x) R) / conj(psi(v))`` in the image's block, minus ``theta``."""
    psi = _psi(l, theta, r, x1, x2, c)
    psi = jnp.where(jnp.abs(psi) < _PSI_FLOOR, _PSI_FLOOR, psi)
    outer = l.conj()[:, :, None] * (r.conj() / psi.conj()[:, None])[:, None, :]
    g = jnp.zeros_like(theta).at[x1.astype(jnp.int32), x2.astype(jnp.int32), c].add(outer)
    return g / jnp.asarray(l.shape[0], theta.dtype) - theta


def _unit(th: jax.Array) -> jax.Array:
    """``th / |th|``, the sum of squares taken after an exact power-of-two rescaling: an image
    of amplitude near :data:`_PSI_FLOOR` gives a gradient step of ``1e28`` whose square
    overflows float32 (then ``theta = 0`` and the split divides 0 by 0: NaN blocks, seen at
    500 sites, ``k = 50``). Bit-identical to the plain quotient when nothing overflows."""
    th, _ = _rescale(th)
    return th / jnp.sqrt(jnp.sum(jnp.abs(th) ** 2)).astype(th.dtype)


def _sector_factors(theta, a1, a2, d_left, d_right, fallback):
    """Per middle charge ``m``: ``M[m]`` ``[Q, 2chi, 2chi]`` and its masked SVD."""
    q_num, chi = theta.shape[2], theta.shape[-1]
    rows_t = jnp.stack([theta[0], jnp.stack([_shift_up(theta[1, 0], a1), _shift_up(theta[1, 1], a1)])])  # [x,y,m]
    m = rows_t.transpose(2, 0, 3, 1, 4).reshape(q_num, 2 * chi, 2 * chi)  # rows (x, i), cols (y, j)
    idx = jnp.arange(chi, dtype=jnp.int32)
    act_l = idx[None, :] < d_left[:, None]  # [Q, chi] bond k
    act_r = idx[None, :] < d_right[:, None]  # bond k+2
    rows = jnp.concatenate([act_l, _shift_up(act_l, a1)], axis=1)  # [m, 2chi]
    cols = jnp.concatenate([act_r, _shift_down(act_r, a2)], axis=1)
    m = m * (rows[:, :, None] & cols[:, None, :]).astype(m.dtype)
    u, s, vh, failed = jax.vmap(lambda mm: _svd(mm, fallback))(m)
    u = u[:, :, :chi] * rows[:, :, None].astype(u.dtype)
    vh = vh[:, :chi, :] * cols[:, None, :].astype(vh.dtype)
    cap = jnp.minimum(jnp.sum(rows, axis=1, dtype=jnp.int32), jnp.sum(cols, axis=1, dtype=jnp.int32))  # rank bounds
    # a sector whose block vanished (no data pass through it, its amplitude decayed to 0)
    # keeps a unit vector on its first active row and column (its singular value is floored
    # in _split), so its valid strings keep a nonzero probability
    dead = (cap > 0) & ~(s[:, 0] > 0)
    u0 = jax.nn.one_hot(jnp.argmax(rows, axis=1), 2 * chi, dtype=u.dtype)
    v0 = jax.nn.one_hot(jnp.argmax(cols, axis=1), 2 * chi, dtype=vh.dtype)
    u = u.at[:, :, 0].set(jnp.where(dead[:, None], u0, u[:, :, 0]))
    vh = vh.at[:, 0, :].set(jnp.where(dead[:, None], v0, vh[:, 0, :]))
    return u, s[:, :chi], vh, cap, jnp.sum(failed, dtype=jnp.int32)


def _keep(s, cap, hyper):
    """Which singular values ``s [Q, chi]`` stay: the largest of every sector (so no valid
    string loses all its amplitude), then the largest across sectors: those above
    ``cutoff * s_max`` and at least ``chi_min``, at most ``chi_max`` in all (unless the bond
    has more sectors than that)."""
    q_num, chi = s.shape
    t = jnp.arange(chi, dtype=jnp.int32)[None, :]
    lead = (t == 0) & (cap[:, None] > 0)
    valid = (t < cap[:, None]) & ((s > 0) | lead)
    flat = jnp.where(lead, jnp.inf, jnp.where(valid, s, -1)).reshape(-1)
    order = jnp.argsort(-flat, stable=True).astype(jnp.int32)
    position = jnp.zeros_like(order).at[order].set(jnp.arange(order.shape[0], dtype=jnp.int32))
    smax = jnp.max(jnp.where(valid, s, 0))
    count = functools.partial(jnp.sum, dtype=jnp.int32)
    above = count(valid & ((s >= hyper.cutoff * smax) | lead))
    rank = jnp.clip(jnp.maximum(above, hyper.chi_min), 1, jnp.minimum(hyper.chi_max, count(valid)))
    rank = jnp.maximum(rank, count(lead))
    return (position.reshape(q_num, chi) < rank) & valid


def _split(theta, a1, a2, d_left, d_right, hyper, move_right, fallback):
    """The two site blocks after the per-sector truncated SVD, the new bond sizes ``[Q]``
    and the count of failed factorizations."""
    chi = theta.shape[-1]
    u, s, vh, cap, failed = _sector_factors(theta, a1, a2, d_left, d_right, fallback)
    keep = _keep(s, cap, hyper)
    # kept values of a sector are its largest: a prefix of its columns; a sector's largest
    # is floored at _SECTOR_FLOOR * s_max (no valid string gets probability exactly 0)
    lead = keep & (jnp.arange(chi, dtype=jnp.int32)[None, :] == 0)
    sk = jnp.where(keep, s, 0)
    sk = jnp.where(lead, jnp.maximum(sk, _SECTOR_FLOOR * jnp.max(s)), sk)
    sk = (sk / jnp.sqrt(jnp.sum(sk * sk))).astype(theta.dtype)
    kf = keep.astype(theta.dtype)
    left = u * (sk if not move_right else kf)[:, None, :]  # [m, (x, i), t]
    right = (kf if not move_right else sk)[:, :, None] * vh  # [m, t, (y, j)]
    left = left.reshape(-1, 2, chi, chi)  # [m, x, i, t]
    b1 = jnp.stack([left[:, 0], _shift_down(left[:, 1], a1)])  # [x, q, i, t]: q = m - a1 x
    b2 = right.reshape(-1, chi, 2, chi).transpose(2, 0, 1, 3)  # [y, m, t, j]
    mid = jnp.sum(keep, axis=1).astype(jnp.int32)
    b1 = _floor_blocks(b1, d_left > 0, jnp.stack([mid > 0, _shift_down(mid > 0, a1)]))
    b2 = _floor_blocks(b2, jnp.broadcast_to(mid > 0, (2,) + mid.shape), jnp.stack([d_right > 0, _shift_down(d_right > 0, a2)]))
    return b1, b2, mid, failed


def _floor_blocks(b: jax.Array, rows: jax.Array, cols: jax.Array) -> jax.Array:
    """Gives every allowed block ``b[x, q]`` (``rows[..., q]`` and ``cols[x, q]``: both of its
    sectors exist) that the truncation left exactly zero a corner entry of
    ``_SECTOR_FLOOR * max|b|``: a transition no training string uses would otherwise give
    every valid string through it probability exactly 0."""
    zero = ~jnp.any(b != 0, axis=(2, 3)) & rows & cols  # [2, Q]
    corner = jnp.zeros(b.shape[2:], b.dtype).at[0, 0].set(1)
    floor = (_SECTOR_FLOOR * jnp.max(jnp.abs(b))).astype(b.dtype) * corner
    return b + jnp.where(zero[:, :, None, None], floor, jnp.zeros_like(floor))


@functools.partial(jax.jit, static_argnames=("move_right", "chunk", "descent_steps", "batch_size", "fallback"),
                   donate_argnames=("carry",))
def block_half_sweep(carry: BlockSweepCarry, data: jax.Array, weights: jax.Array, key: jax.Array, start: jax.Array,
                     hyper: SweepHyper, *, move_right: bool, chunk: int, descent_steps: int, batch_size: int,
                     fallback: bool = False) -> tuple[BlockSweepCarry, jax.Array]:
    """Bonds ``start .. start + chunk - 1`` of a half-sweep, in the order and with the
    minibatches of :func:`jqgen.mps._sweep.half_sweep`; returns the carry and the mean NLL
    of all images at the last bond updated (the carry is donated)."""
    n = carry.blocks.shape[0]
    n_batches = data.shape[0] // batch_size

    def update(c: BlockSweepCarry, j: jax.Array) -> BlockSweepCarry:
        k = j if move_right else n - 2 - j
        t = c.blocks
        a1, a2 = weights[k], weights[k + 1]
        l, r, x1, x2, ch = c.left[k], c.right[k + 1], data[:, k], data[:, k + 1], c.charges[k]
        theta = _merge(t[k], t[k + 1], a1)
        first = jax.random.randint(jax.random.fold_in(key, k), (), 0, n_batches)

        def descend(i, th):
            if n_batches == 1:
                g = _gradient(l, th, r, x1, x2, ch)
            else:
                row = ((first + i) % n_batches) * batch_size

                def rows(z):
                    return lax.dynamic_slice_in_dim(z, row, batch_size)

                g = _gradient(rows(l), th, rows(r), rows(x1), rows(x2), rows(ch))
            return _unit(th + (2 * hyper.lr).astype(th.dtype) * g)

        theta = lax.fori_loop(0, descent_steps, descend, theta)
        b1, b2, dims_mid, failed = _split(theta, a1, a2, c.dims[k], c.dims[k + 2], hyper, move_right, fallback)
        t = t.at[k].set(b1).at[k + 1].set(b2)
        c = c._replace(blocks=t, dims=c.dims.at[k + 1].set(dims_mid), svd_fallbacks=c.svd_fallbacks + failed)
        if move_right:
            nl, g = _grow_left(l, b1, x1, ch)
            return c._replace(left=c.left.at[k + 1].set(nl), left_log=c.left_log.at[k + 1].set(c.left_log[k] + g))
        nr, g = _grow_right(r, b2, x2, c.charges[k + 1])
        return c._replace(right=c.right.at[k].set(nr), right_log=c.right_log.at[k].set(c.right_log[k + 1] + g))

    def body(c: BlockSweepCarry, i: jax.Array) -> tuple[BlockSweepCarry, None]:
        j = start + i
        return lax.cond(j < n - 2, update, lambda c, j: c, c, j), None

    carry, _ = lax.scan(body, carry, jnp.arange(chunk, dtype=jnp.int32))
    j_last = jnp.minimum(start + chunk - 1, n - 3)
    k = j_last if move_right else n - 2 - j_last
    theta = _merge(carry.blocks[k], carry.blocks[k + 1], weights[k])
    psi = _psi(carry.left[k], theta, carry.right[k + 1], data[:, k], data[:, k + 1], carry.charges[k])
    nll = -jnp.mean(2 * (carry.left_log[k] + carry.right_log[k + 1] + jnp.log(jnp.abs(psi))))
    return carry, nll


def pad_block_carry(carry: BlockSweepCarry, chi: int) -> BlockSweepCarry:
    """Zero-pads blocks and environments to a larger bucket ``chi`` (exact)."""
    p = chi - carry.blocks.shape[-1]
    return carry._replace(
        blocks=jnp.pad(carry.blocks, ((0, 0), (0, 0), (0, 0), (0, p), (0, p))),
        left=jnp.pad(carry.left, ((0, 0), (0, 0), (0, p))),
        right=jnp.pad(carry.right, ((0, 0), (0, 0), (0, p))),
    )


def initial_block_state(config, key: jax.Array, weights: tuple[int, ...], target: int, init=None):
    """Left-canonical initial blocks (``config.init``: uniform or normal entries on the
    layout of bond ``init_bond``; or the :class:`~jqgen.mps.BlockMPS` ``init``) and their
    ``[n + 1, Q]`` block sizes."""
    from ._u1_canonical import left_canonical
    from ._u1_layout import ChargeLayout

    n = len(weights)
    chi = init.blocks.shape[-1] if init is not None else min(config.init_bond, config.max_bond)
    lay = ChargeLayout(weights, target, chi)
    shape = (n, 2, lay.num_charges, chi, chi)
    if init is not None:
        t = jnp.asarray(init.blocks, config.dtype)
    elif config.init == "uniform":
        t = _random.uniform(key, shape, config.dtype)
    else:
        t = _random.normal(key, shape, config.dtype)
    w, dims = jnp.asarray(weights, jnp.int32), jnp.asarray(lay.dims)
    from ._u1_born import block_mask

    t = t * block_mask(dims, w, chi, t.dtype)
    t, _ = left_canonical(t, w, dims)
    return t * block_mask(dims, w, chi, t.dtype), lay.dims.copy()


def block_sweep_loop(config, blocks: jax.Array, dims, data: jax.Array, weights: jax.Array, key: jax.Array, lr: float,
                     cutoff: float, *, carry: BlockSweepCarry | None = None, fallback: bool = False
                     ) -> tuple[BlockSweepCarry, float]:
    """One loop (right-to-left, then left-to-right half-sweep) over all bonds of a symmetric
    MPS, as :func:`jqgen.mps.sweep_loop` does for an unconstrained one (same arguments; ``dims``
    is ``[n + 1, Q]``; ``max_bond`` bounds the total of a bond's sectors and the bucket
    ``chi_pad`` each sector's block)."""
    import numpy as np

    from ._sweep_config import bucket

    n, max_bond = blocks.shape[0], config.max_bond
    rdt = jnp.finfo(config.dtype).dtype
    hyper = SweepHyper(jnp.asarray(lr, rdt), jnp.asarray(cutoff, rdt), jnp.int32(config.min_bond), jnp.int32(max_bond))
    batch_size = data.shape[0] // config.num_batches
    nll = jnp.nan
    for half, move_right in enumerate((False, True)):
        chi_pad = bucket(min(max_bond, 2 * int(np.max(dims))), max_bond)
        if half == 0 and carry is not None and chi_pad == carry.blocks.shape[-1]:
            carry = carry._replace(svd_fallbacks=jnp.int32(0))
        elif half == 0:
            p = max(0, chi_pad - blocks.shape[-1])
            t = jnp.pad(blocks, ((0, 0), (0, 0), (0, 0), (0, p), (0, p)))
            carry = block_environments(t, data, jnp.asarray(dims), weights)
        elif chi_pad > carry.blocks.shape[-1]:
            carry = pad_block_carry(carry, chi_pad)
        hkey = jax.random.fold_in(key, half)
        for start in range(0, n - 2, config.chunk):
            carry, nll = block_half_sweep(carry, data, weights, hkey, jnp.int32(start), hyper, move_right=move_right,
                                          chunk=config.chunk, descent_steps=config.descent_steps,
                                          batch_size=batch_size, fallback=fallback)
        dims = np.asarray(carry.dims)
    return carry, float(nll)
