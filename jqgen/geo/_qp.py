"""A batched convex QP with box and budget constraints, in JAX (float64):

    minimize  1/2 w^T Q w + c^T w   subject to  sum(w) = 1,  lower <= w <= upper,

with ``Q`` symmetric positive semidefinite (``Q = 0``, a linear program, included). This is
the weight problem of Chang et al.'s cardinality-constrained portfolio once the asset set is
fixed (:class:`ChangPortfolio`): ``K`` (about 10) variables, solved for thousands of sets at
once (``vmap``).

Method: a primal-dual interior-point method (Mehrotra predictor-corrector) on the box, with
the budget row eliminated through the Schur complement of a Cholesky factor (``K x K`` per
iteration); it starts from the strictly feasible point ``lower + t (upper - lower)`` (which
satisfies the budget exactly, and every Newton step keeps it) and stops at a relative
duality gap of 1e-13 or after ``max_iter`` steps. Then a *polish* step: the bounds the
interior point marks as active are fixed and the equality-constrained QP on the rest is
solved exactly (the budget eliminated, one ``K x K`` Cholesky solve); the polished point replaces the interior one
when it is feasible and not worse, which gives the vertex solutions of ``Q = 0`` and the
exact optimum otherwise to machine precision.

Examples:
    >>> import numpy as np
    >>> from jqgen.geo import box_budget_qp
    >>> w, obj = box_budget_qp(np.eye(2)[None], np.array([[-1.0, 0.0]]), 0.0, 1.0)
    >>> w.round(6).tolist(), obj.round(6).tolist()
    ([[1.0, 0.0]], [-0.5])
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["box_budget_qp"]


def _step_length(x: jax.Array, dx: jax.Array) -> jax.Array:
    """Largest ``a`` in (0, 1] with ``x + a dx >= 0`` (for ``x > 0``)."""
    ratio = jnp.where(dx < 0, -x / jnp.where(dx < 0, dx, -1.0), jnp.inf)
    return jnp.minimum(1.0, jnp.min(ratio))


def _cholesky(a: jax.Array) -> jax.Array:
    """Lower Cholesky factor by columns (written out: the batched LAPACK call under ``vmap``
    and ``while_loop`` wedged XLA's CPU runtime for large batches, jax 0.10)."""
    k = a.shape[0]
    rows = jnp.arange(k)

    def column(j, low):
        v = a[:, j] - low @ low[j, :]
        d = jnp.sqrt(v[j])
        return low.at[:, j].set(jnp.where(rows > j, v / d, jnp.where(rows == j, d, 0.0)))

    return jax.lax.fori_loop(0, k, column, jnp.zeros_like(a))


def _cho_solve(low: jax.Array, b: jax.Array) -> jax.Array:
    """Solves ``L L^T x = b`` (``b [K, m]``) by forward and back substitution."""
    k = low.shape[0]

    def forward(i, y):
        return y.at[i].set((b[i] - low[i] @ y) / low[i, i])

    def backward(t, x):
        i = k - 1 - t
        return x.at[i].set((y[i] - low[:, i] @ x) / low[i, i])

    y = jax.lax.fori_loop(0, k, forward, jnp.zeros_like(b))
    return jax.lax.fori_loop(0, k, backward, jnp.zeros_like(b))


def _newton(q, sl, su, zl, zu, rd, rl, ru):
    """Solves the reduced KKT system; returns ``(dw, dzl, dzu)`` (the budget row stays satisfied)."""
    low = _cholesky(q + jnp.diag(zl / sl + zu / su))
    rhs = -rd + rl / sl - ru / su
    ab = _cho_solve(low, jnp.stack([rhs, jnp.ones_like(rhs)], axis=1))
    a, b = ab[:, 0], ab[:, 1]
    dy = -jnp.sum(a) / jnp.sum(b)
    dw = a + dy * b
    return dw, (rl - zl * dw) / sl, (ru + zu * dw) / su


def _ipm(q: jax.Array, c: jax.Array, lo: jax.Array, hi: jax.Array, max_iter: int) -> jax.Array:
    k = c.shape[0]
    t = (1.0 - jnp.sum(lo)) / jnp.sum(hi - lo)
    w0 = lo + t * (hi - lo)
    z0 = jnp.ones_like(c)

    def residuals(w, zl, zu):
        grad = q @ w + c
        y = jnp.mean(grad - zl + zu)  # least-squares budget multiplier
        return grad - y - zl + zu

    def cond(state):
        it, w, zl, zu = state
        gap = (jnp.sum((w - lo) * zl) + jnp.sum((hi - w) * zu)) / (2 * k)
        rd = jnp.max(jnp.abs(residuals(w, zl, zu)))
        return (it < max_iter) & ((gap > 1e-13) | (rd > 1e-12))

    def body(state):
        it, w, zl, zu = state
        sl, su = w - lo, hi - w
        rd = residuals(w, zl, zu)
        mu = (jnp.sum(sl * zl) + jnp.sum(su * zu)) / (2 * k)
        dw, dzl, dzu = _newton(q, sl, su, zl, zu, rd, -sl * zl, -su * zu)
        ap = jnp.minimum(_step_length(sl, dw), _step_length(su, -dw))
        ad = jnp.minimum(_step_length(zl, dzl), _step_length(zu, dzu))
        mu_aff = (jnp.sum((sl + ap * dw) * (zl + ad * dzl)) + jnp.sum((su - ap * dw) * (zu + ad * dzu))) / (2 * k)
        sigma = (mu_aff / mu) ** 3
        rl = -sl * zl + sigma * mu - dw * dzl
        ru = -su * zu + sigma * mu + dw * dzu
        dw, dzl, dzu = _newton(q, sl, su, zl, zu, rd, rl, ru)
        ap = 0.995 * jnp.minimum(_step_length(sl, dw), _step_length(su, -dw))
        ad = 0.995 * jnp.minimum(_step_length(zl, dzl), _step_length(zu, dzu))
        return it + 1, w + ap * dw, zl + ad * dzl, zu + ad * dzu

    _, w, zl, zu = jax.lax.while_loop(cond, body, (0, w0, z0, z0))
    return w, zl, zu


def _polish(q, c, lo, hi, w, zl, zu):
    """Fixes the bounds the interior point marks active and solves the rest exactly: the
    budget is eliminated through the most interior free weight ``p`` (``w = base + Z u``,
    ``Z[:, i] = e_i - e_p`` for the other free ``i``), then ``(Z^T Q Z) u = -Z^T (Q base + c)``."""
    k = c.shape[0]
    at_lo, at_hi = (w - lo) < zl, (hi - w) < zu
    free = ~(at_lo | at_hi)
    p = jnp.argmax(jnp.where(free, jnp.minimum(w - lo, hi - w), -jnp.inf))
    eye = jnp.eye(k, dtype=c.dtype)
    inner = free & (jnp.arange(k) != p)
    fixed_sum = jnp.sum(jnp.where(at_lo, lo, jnp.where(at_hi, hi, 0.0)))
    base = jnp.where(at_lo, lo, jnp.where(at_hi, hi, 0.0)) + (1.0 - fixed_sum) * eye[p]
    z = jnp.where(inner[None, :], eye - eye[p][:, None], 0.0)
    h = z.T @ q @ z + jnp.diag(jnp.where(inner, 0.0, 1.0))
    rhs = jnp.where(inner, -z.T @ (q @ base + c), 0.0)
    u = _cho_solve(_cholesky(h), rhs[:, None])[:, 0]
    return base + z @ u


def _objective(q, c, w):
    return 0.5 * w @ q @ w + c @ w


def _solve_one(q, c, lo, hi, max_iter: int):
    scale = 1.0 / jnp.maximum(jnp.maximum(jnp.max(jnp.abs(q)), jnp.max(jnp.abs(c))), 1e-300)
    qs, cs = q * scale, c * scale
    w, zl, zu = _ipm(qs, cs, lo, hi, max_iter)
    wp = _polish(qs, cs, lo, hi, w, zl, zu)
    tol = 1e-12
    ok = jnp.all(jnp.isfinite(wp)) & jnp.all(wp >= lo - tol) & jnp.all(wp <= hi + tol) \
        & (jnp.abs(jnp.sum(wp) - 1.0) < tol)
    wp = jnp.clip(jnp.where(ok, wp, w), lo, hi)
    better = ok & (_objective(qs, cs, wp) <= _objective(qs, cs, w) + 1e-15 * (1.0 + jnp.abs(_objective(qs, cs, w))))
    w = jnp.where(better, wp, w)
    return w, _objective(q, c, w)


_solve_batch = jax.jit(jax.vmap(_solve_one, in_axes=(0, 0, 0, 0, None)), static_argnums=4)


def solve_kernel(q: jax.Array, c: jax.Array, lo: jax.Array, hi: jax.Array, max_iter: int = 60):
    """The jitted batched solver on JAX arrays (float64 under ``jax.enable_x64``); no checks.
    ``q [B, K, K]``, ``c, lo, hi [B, K]``; the box must have ``sum(lo) < 1 < sum(hi)``."""
    return _solve_batch(q, c, lo, hi, max_iter)


def box_budget_qp(q: Any, c: Any, lower: Any, upper: Any, *, max_iter: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Solves a batch of ``min 1/2 w^T Q w + c^T w, sum w = 1, lower <= w <= upper``.

    Args:
        q: ``[B, K, K]`` symmetric positive semidefinite matrices.
        c: ``[B, K]`` linear terms.
        lower: lower bounds, a scalar or an array broadcastable to ``[B, K]``.
        upper: upper bounds, likewise, with ``lower <= upper`` and
            ``sum(lower) <= 1 <= sum(upper)`` for every problem.
        max_iter: most interior-point steps (about 15-25 are taken).

    Returns:
        ``(w [B, K], objective [B])`` as float64 NumPy arrays.

    Raises:
        ValueError: shapes that do not match, non-finite input, a ``q`` that is not symmetric,
            or an empty feasible set.
    """
    q, c = np.asarray(q, np.float64), np.asarray(c, np.float64)
    if q.ndim != 3 or c.ndim != 2 or q.shape != (c.shape[0], c.shape[1], c.shape[1]) or c.shape[1] < 1:
        raise ValueError(f"q must be [B, K, K] and c [B, K], got {q.shape} and {c.shape}")
    try:
        lo, hi = (np.broadcast_to(np.asarray(v, np.float64), c.shape).copy() for v in (lower, upper))
    except ValueError:
        raise ValueError(f"lower and upper must broadcast to {c.shape}, got {np.shape(lower)} and "
                         f"{np.shape(upper)}") from None
    for label, a in (("q", q), ("c", c), ("lower", lo), ("upper", hi)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{label} must be finite")
    if not np.allclose(q, np.swapaxes(q, 1, 2), rtol=1e-10, atol=1e-14):
        raise ValueError("q must be symmetric")
    if np.any(lo > hi):
        raise ValueError("lower must be <= upper")
    slack_lo, slack_hi = 1.0 - lo.sum(axis=1), hi.sum(axis=1) - 1.0
    if np.any(slack_lo < -1e-12) or np.any(slack_hi < -1e-12):
        b = int(np.argmax((slack_lo < -1e-12) | (slack_hi < -1e-12)))
        raise ValueError(f"problem {b} is infeasible: sum(lower) = {lo[b].sum()!r}, sum(upper) = {hi[b].sum()!r}, "
                         "need sum(lower) <= 1 <= sum(upper)")
    if not (isinstance(max_iter, int) and max_iter >= 1):
        raise ValueError(f"max_iter must be an int >= 1, got {max_iter!r}")
    fixed = (slack_lo <= 1e-12) | (slack_hi <= 1e-12)  # a single feasible point
    w = np.where((slack_lo <= 1e-12)[:, None], lo, hi)
    if not fixed.all():
        parts = [a[~fixed] for a in (q, c, lo, hi)]
        v = parts[0].shape[0]
        size = max(8, 1 << (v - 1).bit_length())  # batch-size buckets: one compile per power of two
        parts = [np.concatenate([a, np.broadcast_to(a[:1], (size - v,) + a.shape[1:])]) for a in parts]
        with jax.enable_x64(True):
            ws, _ = solve_kernel(*(jnp.asarray(a) for a in parts), max_iter=max_iter)
            w[~fixed] = np.asarray(ws)[:v]
    return w, 0.5 * np.einsum("bi,bij,bj->b", w, q, w) + np.einsum("bi,bi->b", c, w)
