"""Compiled kernels of DMRG-style two-site sweep training (Han et al., PRX 8, 031012, 2018).

At bond ``(k, k+1)`` the MPS is in mixed-canonical form centred there, so ``Z = |A|^2`` for
the merged tensor ``A = A_k A_{k+1}``::

    L_k(v) --[  A  ]-- R_{k+1}(v)        psi(v) = L_k(v) . A[:, v_k, v_{k+1}, :] . R_{k+1}(v)
              |   |
             v_k v_{k+1}

``L_k(v)`` (contraction of sites ``< k`` with image ``v``) and ``R_{k+1}(v)`` (sites
``> k+1``) are cached for every training image as unit vectors with separate log-scales:
the gradient term ``L (x) R / psi`` is invariant under rescaling ``L`` and ``R``, so the
784-site products that underflow in the reference implementation never appear.

Design (static shapes): tensors and environments are padded to a bucket size ``chi_pad``
(a power of two from 8, or ``chi_max``); truncation zeroes singular values by a mask, so a whole
half-sweep is one ``lax.scan`` over bonds that compiles once per ``(n, N, chi_pad)``. The
driver (:func:`jqgen.mps.sweep_loop`) moves to the next bucket between half-sweeps when bonds could
outgrow the current one; a bond at most doubles per half-sweep, so a bucket of at least
twice the current maximum never constrains the truncation. This keeps early loops (small
bonds) cheap, which a single padding to ``chi_max`` would not (the SVD of the
``2 chi_pad x 2 chi_pad`` merged matrix dominates a bond update), at the price of one
compilation per bucket (about log2(chi_max) of them).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from ._core import bond_masks, unit_rows

__all__ = ["SweepCarry", "SweepHyper", "environments", "half_sweep", "half_sweep_body", "merged_nll", "pad_carry"]

_PSI_FLOOR = 1e-30  # |psi| below this is clipped in 1/psi (only exact zeros reach it)
#: Full float32 matrix products: XLA's DEFAULT precision lets GPUs use TF32 (10-bit
#: mantissa), which spoils the gradient ``<L (x) R / psi> - A`` (a difference of nearly
#: equal terms). No effect on CPU.
_HI = lax.Precision.HIGHEST
#: Fallback SVD when the default one fails (jax fills a failed SVD with NaN: on GPU the
#: default is cuSOLVER's Jacobi ``gesvdj``, which can stop without converging).
_SVD_FALLBACK = getattr(getattr(lax.linalg, "SvdAlgorithm", None), "QR", None)


class SweepHyper(NamedTuple):
    """Dynamic hyperparameters of a half-sweep (traced: changing them never recompiles)."""

    lr: jax.Array
    cutoff: jax.Array
    chi_min: jax.Array
    chi_max: jax.Array


class SweepCarry(NamedTuple):
    """Sweep state: tensors, cached environments with log-scales, and bond dimensions.

    Attributes:
        tensors: ``[n, chi_pad, 2, chi_pad]``.
        left: ``[n, N, chi_pad]``; ``left[k]`` contracts sites ``< k`` (unit vectors).
        left_log: ``[n, N]`` log-norms removed from ``left``.
        right: ``[n, N, chi_pad]``; ``right[k]`` contracts sites ``> k``.
        right_log: ``[n, N]``.
        dims: ``[n + 1]`` int32 current bond dimensions.
        svd_fallbacks: int32 count of bond factorizations that failed (NaN): with
            ``fallback`` they were recomputed by a slower algorithm (GPU Jacobi
            non-convergence), without it they were not.
    """

    tensors: jax.Array
    left: jax.Array
    left_log: jax.Array
    right: jax.Array
    right_log: jax.Array
    dims: jax.Array
    svd_fallbacks: jax.Array | int = 0


def _grow_left(l: jax.Array, a: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``L_{k+1} = L_k A_k[x_k]`` for all images, normalized."""
    chi = a.shape[0]
    w = jnp.matmul(l, a.reshape(chi, 2 * chi), precision=_HI).reshape(-1, 2, chi)
    return unit_rows(jnp.where((x == 1)[:, None], w[:, 1], w[:, 0]))


def _grow_right(r: jax.Array, a: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``R_{k-1} = A_k[x_k] R_k`` for all images, normalized."""
    chi = a.shape[0]
    w = jnp.matmul(r, a.transpose(2, 1, 0).reshape(chi, 2 * chi), precision=_HI).reshape(-1, 2, chi)
    return unit_rows(jnp.where((x == 1)[:, None], w[:, 1], w[:, 0]))


@jax.jit
def environments(tensors: jax.Array, data: jax.Array, dims: jax.Array) -> SweepCarry:
    """Carry for the start of a loop: all left environments of ``data [N, n]`` (the
    right-to-left half-sweep builds the right ones as it goes; ``right[n-1] = e_0``).

    A resumed run starts from these; an uninterrupted one recomputes them at every loop on
    GPUs and, on the CPU, reuses the left environments its last left-to-right half-sweep
    built, which are the same bits (tests/test_sweep.py), so resuming is bit-identical."""
    n, chi = tensors.shape[0], tensors.shape[-1]
    n_data = data.shape[0]
    rdt = jnp.finfo(tensors.dtype).dtype
    e0 = jnp.zeros((n_data, chi), tensors.dtype).at[:, 0].set(1)
    zeros = jnp.zeros((n_data,), rdt)

    def left_step(carry, xs):
        l, lg = carry
        a, x = xs
        l2, g = _grow_left(l, a, x)
        return (l2, lg + g), (l, lg)

    _, (left, left_log) = lax.scan(left_step, (e0, zeros), (tensors, data.T))
    right = jnp.zeros((n, n_data, chi), tensors.dtype).at[n - 1].set(e0)
    right_log = jnp.zeros((n, n_data), rdt)
    return SweepCarry(tensors, left, left_log, right, right_log, dims.astype(jnp.int32), jnp.int32(0))


def _psi(l: jax.Array, a: jax.Array, r: jax.Array, x1: jax.Array, x2: jax.Array) -> jax.Array:
    chi = a.shape[0]
    la = jnp.matmul(l, a.reshape(chi, 4 * chi), precision=_HI).reshape(-1, 4, chi)
    slot = (2 * x1 + x2).astype(jnp.int32)
    sel = jnp.take_along_axis(la, slot[:, None, None], axis=1)[:, 0]
    return jnp.sum(sel * r, axis=-1)


def merged_nll(l, l_log, a, r, r_log, x1, x2, axis: str | None = None) -> jax.Array:
    """Mean NLL of the images at a bond whose merged tensor ``a`` has unit norm (over all
    devices of the mesh axis ``axis`` inside ``shard_map``, whose shards hold the images)."""
    psi = _psi(l, a, r, x1, x2)
    terms = 2 * (l_log + r_log + jnp.log(jnp.abs(psi)))
    if axis is None:
        return -jnp.mean(terms)
    return -lax.psum(jnp.sum(terms), axis) / (terms.shape[0] * lax.axis_size(axis))


def two_site_gradient(l, a, r, x1, x2, axis: str | None = None) -> jax.Array:
    """Descent direction ``g = (1/B) sum_v conj(L (x) e_v (x) R) / conj(psi(v)) - A``; for a
    unit-norm ``A`` this is ``-1/2`` times the gradient of the mean NLL (Han et al. Eq. 7).
    With a mesh axis name ``axis`` (inside ``shard_map``) the ``B`` images are the shards'
    together: the sum is ``psum``-ed over the devices."""
    chi = a.shape[0]
    psi = _psi(l, a, r, x1, x2)
    psi = jnp.where(jnp.abs(psi) < _PSI_FLOOR, _PSI_FLOOR, psi)
    w = r.conj() / psi.conj()[:, None]  # [B, chi]
    slot = (2 * x1 + x2).astype(jnp.int32)
    onehot = jax.nn.one_hot(slot, 4, dtype=a.dtype)
    m = (onehot[:, :, None] * w[:, None, :]).reshape(-1, 4 * chi)
    if axis is None:
        g = jnp.matmul(l.conj().T, m, precision=_HI).reshape(chi, 2, 2, chi) / jnp.asarray(l.shape[0], a.dtype)
        return g - a
    g = lax.psum(jnp.matmul(l.conj().T, m, precision=_HI), axis).reshape(chi, 2, 2, chi)
    return g / jnp.asarray(l.shape[0] * lax.axis_size(axis), a.dtype) - a


def _svd(m: jax.Array, fallback: bool = True) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Thin SVD ``(u, s, vh)`` of ``m`` and whether it failed (NaN).

    jax reports a failed SVD by NaN outputs; on GPU its default (cuSOLVER Jacobi for
    sizes <= 1024) can fail to converge on these rank-deficient merged matrices, so with
    ``fallback`` the SVD is then recomputed with the QR algorithm (never needed on CPU for
    finite input)."""
    u, s, vh = jnp.linalg.svd(m, full_matrices=False)
    if _SVD_FALLBACK is None or not fallback:  # no selectable SVD algorithms, or not wanted
        return u, s, vh, (~jnp.all(jnp.isfinite(s))).astype(jnp.int32)
    failed = ~jnp.all(jnp.isfinite(s))
    u, s, vh = lax.cond(failed, lambda: tuple(lax.linalg.svd(m, full_matrices=False, algorithm=_SVD_FALLBACK)),
                        lambda: (u, s, vh))
    return u, s, vh, failed.astype(jnp.int32)


def _gram_factors(m: jax.Array, chi: int, move_right: bool, valid: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Truncated factors of ``m`` from the eigendecomposition of a Gram matrix (no SVD).

    Moving right: ``m m^H = U diag(s^2) U^H``; returns ``(U_chi, s, U_chi^H m)``, the second
    factor being ``diag(s) V^H`` computed without dividing by ``s``. Moving left, the mirror
    image from ``m^H m``: ``(m V_chi, s, V_chi^H)``. ``valid`` marks the rows (moving right)
    or columns (moving left) inside the current bond dimensions: the padded directions get
    a negative eigenvalue, so the kept eigenvectors never leave the valid subspace (the
    isometric factor stays an isometry after the padding is cleared). The isometric factor
    is orthonormal to rounding; singular values below ``sqrt(eps) * s_0`` are not resolved
    (they only decide whether noise-level directions are kept).
    """
    g = jnp.matmul(m, m.conj().T, precision=_HI) if move_right else jnp.matmul(m.conj().T, m, precision=_HI)
    shift = (jnp.real(jnp.trace(g)) + 1).astype(g.dtype)
    g = g - jnp.diag(jnp.where(valid, 0, shift).astype(g.dtype))
    e, lam = lax.linalg.eigh(g, symmetrize_input=False)  # one triangle of g defines it: no (g + g^H) / 2
    iso = e[:, ::-1][:, :chi]
    s = jnp.sqrt(jnp.maximum(lam[::-1][:chi], 0))
    if move_right:
        return iso, s, jnp.matmul(iso.conj().T, m, precision=_HI)
    return jnp.matmul(m, iso, precision=_HI), s, iso.conj().T


def _split(a, dims_left, dims_right, hyper, bond_cap, move_right, svd="lapack", fallback=True):
    """SVD of the merged tensor with truncation; returns the two site tensors, the rank and
    whether the SVD needed the fallback algorithm.

    ``svd="lapack"``: a full SVD (``jnp.linalg.svd``); ``"gram"``: the eigendecomposition of
    the Gram matrix (:func:`_gram_factors`), about 3x faster on a GPU, where the SVD
    dominates a bond update."""
    chi = a.shape[0]
    m = a.reshape(2 * chi, 2 * chi)
    if svd == "gram":
        idx = jnp.arange(2 * chi, dtype=jnp.int32)
        valid = (idx // 2 < dims_left) if move_right else (idx % chi < dims_right)
        f1, s, f2 = _gram_factors(m, chi, move_right, valid)  # (U, s, diag(s) V^H) or (U diag(s), s, V^H)
        # a failed eigensolver (NaN, e.g. a non-converged GPU Jacobi) falls back to the SVD
        failed = ~(jnp.all(jnp.isfinite(s)) & jnp.all(jnp.isfinite(f1)) & jnp.all(jnp.isfinite(f2)))

        def by_svd():
            u, sv, vh, _ = _svd(m)
            u, sv, vh = u[:, :chi], sv[:chi], vh[:chi]
            return (u, sv, sv[:, None] * vh) if move_right else (u * sv[None, :], sv, vh)

        if fallback:
            f1, s, f2 = lax.cond(failed, by_svd, lambda: (f1, s, f2))
        fell_back = failed.astype(jnp.int32)
    else:
        u, s, vh, fell_back = _svd(m, fallback)
        u, s, vh = u[:, :chi], s[:chi], vh[:chi]
    above = jnp.sum(s >= hyper.cutoff * s[0]).astype(jnp.int32)
    cap = jnp.minimum(jnp.minimum(hyper.chi_max, bond_cap), chi)
    cap = jnp.minimum(cap, jnp.minimum(2 * dims_left, 2 * dims_right))
    rank = jnp.clip(jnp.maximum(above, hyper.chi_min), 1, cap)
    keep = (jnp.arange(chi, dtype=jnp.int32) < rank).astype(s.dtype)
    if svd == "gram":
        scale = (1 / jnp.sqrt(jnp.sum((s * keep) ** 2))).astype(a.dtype)  # the kept part has unit norm
        keep = keep.astype(a.dtype)
        if move_right:
            left_t, right_t = f1 * keep[None, :], (keep * scale)[:, None] * f2
        else:
            left_t, right_t = f1 * (keep * scale)[None, :], keep[:, None] * f2
    else:
        s = s * keep
        s = (s / jnp.sqrt(jnp.sum(s * s))).astype(a.dtype)
        keep = keep.astype(a.dtype)
        if move_right:
            left_t, right_t = u * keep[None, :], s[:, None] * vh
        else:
            left_t, right_t = u * s[None, :], keep[:, None] * vh
    # the SVD leaves rounding-level entries in the zero padding: clear them exactly
    rows = (jnp.arange(chi, dtype=jnp.int32) < dims_left).astype(a.dtype)
    cols = (jnp.arange(chi, dtype=jnp.int32) < dims_right).astype(a.dtype)
    left_t = left_t.reshape(chi, 2, chi) * rows[:, None, None]
    right_t = right_t.reshape(chi, 2, chi) * cols[None, None, :]
    return left_t, right_t, rank, fell_back


@functools.partial(jax.jit, static_argnames=("move_right", "chunk", "descent_steps", "batch_size", "normalized_grad",
                                             "svd", "fallback"), donate_argnames=("carry",))
def half_sweep(
    carry: SweepCarry,
    data: jax.Array,
    key: jax.Array,
    start: jax.Array,
    hyper: SweepHyper,
    *,
    move_right: bool,
    chunk: int,
    descent_steps: int,
    batch_size: int,
    normalized_grad: bool,
    svd: str = "lapack",
    fallback: bool = True,
) -> tuple[SweepCarry, jax.Array]:
    """Updates bonds ``start .. start + chunk - 1`` of a half-sweep, in sweep order: the
    ``j``-th bond is ``(k, k+1)`` with ``k = j`` moving right (``k = 0 .. n-3``) and
    ``k = n - 2 - j`` moving left (``k = n-2 .. 1``), as in Han et al.'s loop.

    Minibatch ``b`` is rows ``b * batch_size .. (b + 1) * batch_size - 1`` of ``data`` (the
    driver shuffles the rows once per run); a bond starts at a random one and cycles.
    ``fallback=True`` recomputes a factorization that returned NaN by a slower algorithm
    (needed on GPUs; off on the CPU, where it only adds a check and compile time).

    Returns the new carry and the mean NLL of all images at the last bond updated. The
    input carry is donated (its buffers are reused for the output): do not use it afterwards.
    The data-parallel version is :func:`jqgen.mps._sweep_sharded.sharded_half_sweep`.
    """
    return half_sweep_body(carry, data, key, start, hyper, move_right=move_right, chunk=chunk,
                           descent_steps=descent_steps, batch_size=batch_size, normalized_grad=normalized_grad,
                           svd=svd, fallback=fallback)


def half_sweep_body(
    carry: SweepCarry,
    data: jax.Array,
    key: jax.Array,
    start: jax.Array,
    hyper: SweepHyper,
    *,
    move_right: bool,
    chunk: int,
    descent_steps: int,
    batch_size: int,
    normalized_grad: bool,
    svd: str = "lapack",
    fallback: bool = True,
    axis: str | None = None,
) -> tuple[SweepCarry, jax.Array]:
    """The traced body of :func:`half_sweep`. ``axis``: inside ``shard_map``, the mesh axis
    whose shards hold the images (``data`` rows, environments): ``batch_size`` is then the
    rows a shard holds of each minibatch, and the gradient and NLL are summed over shards."""
    n, chi = carry.tensors.shape[0], carry.tensors.shape[-1]
    n_data = data.shape[0]
    n_batches = n_data // batch_size
    bond_cap = jnp.asarray(bond_masks(n, chi, jnp.float32).sum(axis=1), jnp.int32)
    # minibatches: consecutive blocks of ``batch_size`` rows of ``data`` (the driver shuffles
    # the rows once per run: one fixed random partition, as in the authors' code); each bond
    # starts at a random block and cycles. Slices, not gathers.

    def update(c: SweepCarry, j: jax.Array) -> SweepCarry:
        k = j if move_right else n - 2 - j
        t = c.tensors
        l, r = c.left[k], c.right[k + 1]
        x1, x2 = data[:, k], data[:, k + 1]
        a = jnp.einsum("asb,btc->astc", t[k], t[k + 1], precision=_HI)
        first = jax.random.randint(jax.random.fold_in(key, k), (), 0, n_batches)
        active = (c.dims[k] * 4 * c.dims[k + 2]).astype(jnp.finfo(a.dtype).dtype)

        def descend(i, a):
            if n_batches == 1:  # full batch
                g = two_site_gradient(l, a, r, x1, x2, axis)
            else:
                row = ((first + i) % n_batches) * batch_size

                def rows(z):
                    return lax.dynamic_slice_in_dim(z, row, batch_size)

                g = two_site_gradient(rows(l), a, rows(r), rows(x1), rows(x2), axis)
            if normalized_grad:  # Han et al.'s capacity runs: rescale small gradients up
                gnorm = jnp.sqrt(jnp.sum(jnp.abs(g) ** 2)) / active**0.25
                g = jnp.where(gnorm < 1, g / jnp.where(gnorm > 0, gnorm, 1).astype(g.dtype), g)
            a = a + (2 * hyper.lr).astype(a.dtype) * g
            return a / jnp.sqrt(jnp.sum(jnp.abs(a) ** 2)).astype(a.dtype)

        a = lax.fori_loop(0, descent_steps, descend, a)
        left_t, right_t, rank, fell_back = _split(a, c.dims[k], c.dims[k + 2], hyper, bond_cap[k + 1], move_right, svd,
                                                  fallback)
        t = t.at[k].set(left_t).at[k + 1].set(right_t)
        dims = c.dims.at[k + 1].set(rank)
        c = c._replace(svd_fallbacks=c.svd_fallbacks + fell_back)
        if move_right:
            nl, g = _grow_left(l, left_t, x1)
            return c._replace(tensors=t, dims=dims, left=c.left.at[k + 1].set(nl),
                              left_log=c.left_log.at[k + 1].set(c.left_log[k] + g))
        nr, g = _grow_right(r, right_t, x2)
        return c._replace(tensors=t, dims=dims, right=c.right.at[k].set(nr),
                          right_log=c.right_log.at[k].set(c.right_log[k + 1] + g))

    def body(c: SweepCarry, i: jax.Array) -> tuple[SweepCarry, None]:
        j = start + i
        return lax.cond(j < n - 2, update, lambda c, j: c, c, j), None

    carry, _ = lax.scan(body, carry, jnp.arange(chunk, dtype=jnp.int32))
    j_last = jnp.minimum(start + chunk - 1, n - 3)
    k = j_last if move_right else n - 2 - j_last
    t = carry.tensors
    a = jnp.einsum("asb,btc->astc", t[k], t[k + 1], precision=_HI)
    nll = merged_nll(carry.left[k], carry.left_log[k], a, carry.right[k + 1], carry.right_log[k + 1],
                     data[:, k], data[:, k + 1], axis)
    return carry, nll


def pad_carry(carry: SweepCarry, chi: int) -> SweepCarry:
    """Zero-pads tensors and environments to a larger bucket ``chi`` (exact)."""
    old = carry.tensors.shape[-1]
    p = chi - old
    return carry._replace(
        tensors=jnp.pad(carry.tensors, ((0, 0), (0, p), (0, 0), (0, p))),
        left=jnp.pad(carry.left, ((0, 0), (0, 0), (0, p))),
        right=jnp.pad(carry.right, ((0, 0), (0, 0), (0, p))),
    )
