"""The exact cardinality-constrained frontier of the binary equal-weight portfolio form.

For each ``q`` of a grid, the optimum of :class:`BinaryPortfolio` ``(k, q)``, i.e. the
``k``-subset ``x`` minimizing ``q v(x) - r(x)`` with ``v(x) = (x/k)^T Sigma (x/k)`` and
``r(x) = mu^T (x/k)``. Its points ``(v, r)`` are the exact constrained frontier at those
``q``: no ``k``-asset equal-weight portfolio lies above and to the left of it (each point is
the optimum of a supporting line of slope ``q``; the points between two of them that only a
non-convex frontier has are not reached by any ``q``).

Two ways, as :func:`exact_optimum`:

* **enumeration** when ``C(n, k) <= max_enumeration``: every ``k``-subset once (numpy, in
  batches), its variance and return from the ``k x k`` block of ``Sigma``, every ``q`` of
  the grid in the same pass; every point is optimal (ties go to the first subset in
  lexicographic order);
* **MIQP by SCIP** (optional ``pyscipopt``) otherwise, one solve per ``q``. ``time_limit`` is
  the total for the whole grid: each solve gets the time left divided by the points left,
  so quick solves leave more to the later ones. A point where SCIP stopped at its limit is
  the best portfolio it found, flagged ``optimal=False``; a ``q`` where it found none is
  left out (listed in :attr:`ExactFrontier.unsolved`).

:func:`frontier_q_grid` proposes a grid that spans the frontier from the largest return
(``q = 0``) towards the least variance.

Examples:
    >>> import numpy as np
    >>> from jqgen.geo import exact_frontier, synthetic_instance
    >>> f = exact_frontier(synthetic_instance(10, seed=0), 3, [0.0, 10.0, 1000.0])
    >>> f.method, f.optimal.tolist(), bool(np.all(np.diff(f.variance) <= 0))
    ('enumerate', [True, True, True], True)
    >>> sorted(f.records()[0])
    ['cost', 'optimal', 'q', 'return', 'variance']
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np

from ._baselines import _enumerator, exact_optimum
from ._problem import BinaryPortfolio

__all__ = ["ExactFrontier", "exact_frontier", "frontier_q_grid", "scip_available"]


@dataclasses.dataclass(frozen=True, eq=False)
class ExactFrontier:
    """The optimum of the binary form at each ``q`` (module docstring).

    Attributes:
        q: ``[m]`` the risk aversions solved (the grid, less :attr:`unsolved`), in grid order.
        variance, returns: ``[m]`` the optimal portfolios' variance and mean return.
        cost: ``[m]`` their cost ``q v - r``.
        optimal: ``[m]`` bool, proven optimal (always True for enumeration).
        bits: uint8 ``[m, n]`` the portfolios.
        k: assets held.
        method: ``"enumerate"`` or ``"miqp-scip"``.
        seconds: wall time.
        unsolved: the ``q`` where SCIP found no portfolio within its time.
    """

    q: np.ndarray
    variance: np.ndarray
    returns: np.ndarray
    cost: np.ndarray
    optimal: np.ndarray
    bits: np.ndarray
    k: int
    method: str
    seconds: float
    unsolved: tuple[float, ...] = ()

    def records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per point: ``q``, ``variance``, ``return``, ``cost``, ``optimal``."""
        return [{"q": float(q), "variance": float(v), "return": float(r), "cost": float(c), "optimal": bool(o)}
                for q, v, r, c, o in zip(self.q, self.variance, self.returns, self.cost, self.optimal)]


def _mu_cov(instance: Any) -> tuple[np.ndarray, np.ndarray]:
    if not (hasattr(instance, "mu") and hasattr(instance, "cov")):
        raise ValueError(f"instance must be a PortfolioInstance or a BinaryPortfolio (with mu and cov), got "
                         f"{type(instance).__name__}")
    return np.asarray(instance.mu, np.float64), np.asarray(instance.cov, np.float64)


def _check_k(k: Any, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k must be an int in [1, n={n}], got {k!r}")
    return int(k)


def _check_qs(qs: Any) -> np.ndarray:
    q = np.asarray(qs, np.float64).reshape(-1) if np.ndim(qs) <= 1 else None
    if q is None or q.size == 0:
        raise ValueError(f"qs must be a non-empty 1-D sequence of numbers >= 0, got {qs!r}")
    bad = ~np.isfinite(q) | (q < 0)
    if bad.any():
        raise ValueError(f"qs must be finite and >= 0; qs[{int(np.argmax(bad))}] = {float(q[bad][0])!r}")
    return q


def scip_available() -> bool:
    """True when the optional ``pyscipopt`` (SCIP's MIQP) can be imported."""
    try:
        import pyscipopt  # noqa: F401
    except ImportError:
        return False
    return True


def _enumerate_all(mu: np.ndarray, cov: np.ndarray, k: int, q: np.ndarray,
                   batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best subset per ``q`` over all ``C(n, k)`` (unranked in batches by the same jitted
    enumerator as :func:`exact_optimum`): ``(bits [m, n], variance [m], return [m])``."""
    n = mu.size
    total = math.comb(n, k)
    best = np.full(q.size, np.inf)
    best_bits, best_v, best_r = np.zeros((q.size, n), np.uint8), np.zeros(q.size), np.zeros(q.size)
    for lo in range(0, total, batch_size):
        index = np.minimum(np.arange(lo, lo + batch_size, dtype=np.int64), total - 1)  # fixed size: compile once
        bits = np.asarray(_enumerator(n, k)(index.astype(np.int32)))
        w = bits.astype(np.float64) / k
        v = np.einsum("bi,ij,bj->b", w, cov, w)
        r = w @ mu
        costs = v[:, None] * q[None, :] - r[:, None]  # [batch, m]
        i = np.argmin(costs, axis=0)
        c = costs[i, np.arange(q.size)]
        better = c < best  # ties: the first subset in the enumerator's order
        best = np.where(better, c, best)
        best_bits[better], best_v[better], best_r[better] = bits[i[better]], v[i[better]], r[i[better]]
    return best_bits, best_v, best_r


def exact_frontier(instance: Any, k: int, qs: Any, *, time_limit: float = 60.0, method: str = "auto",
                   max_enumeration: int = 2_000_000, batch_size: int = 65536, seed: int = 0) -> ExactFrontier:
    """The exact constrained frontier of the binary form at each ``q`` of ``qs`` (module docstring).

    Args:
        instance: a :class:`PortfolioInstance` or a :class:`BinaryPortfolio` (its ``mu``
            and ``cov``; its own ``k`` and ``q`` are not used).
        k: assets held.
        qs: the risk aversions (finite, >= 0), e.g. :func:`frontier_q_grid`.
        time_limit: total seconds of the SCIP solves (> 0; not used by enumeration).
        method: ``"auto"`` (enumeration when ``C(n, k) <= max_enumeration``, else SCIP),
            ``"enumerate"`` or ``"miqp"``.
        max_enumeration: the most subsets ``"auto"`` enumerates.
        batch_size: subsets per batch of the enumeration.
        seed: SCIP's random seed shift.

    Returns:
        :class:`ExactFrontier`.

    Raises:
        ValueError: a bad argument (naming it and its value).
        ImportError: SCIP is needed and pyscipopt is not installed.
    """
    t0 = time.perf_counter()
    mu, cov = _mu_cov(instance)
    k, q = _check_k(k, mu.size), _check_qs(qs)
    if method not in ("auto", "enumerate", "miqp"):
        raise ValueError(f"method must be 'auto', 'enumerate' or 'miqp', got {method!r}")
    if not (np.isfinite(time_limit) and time_limit > 0):
        raise ValueError(f"time_limit must be a finite number > 0, got {time_limit!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    total = math.comb(mu.size, k)
    if method == "enumerate" and total > 50_000_000:
        raise ValueError(f"method='enumerate' handles at most 50,000,000 subsets, got C({mu.size}, {k}) = {total}")
    if method == "enumerate" or (method == "auto" and total <= max_enumeration):
        bits, v, r = _enumerate_all(mu, cov, k, q, int(batch_size))
        return ExactFrontier(q, v, r, q * v - r, np.ones(q.size, bool), bits, k, "enumerate",
                             time.perf_counter() - t0)
    rows, unsolved = [], []
    for j, qj in enumerate(q):
        left = max(time_limit - (time.perf_counter() - t0), 0.0)
        p = BinaryPortfolio(mu, cov, k, float(qj))
        try:
            res = exact_optimum(p, method="miqp", time_limit=max(left / (q.size - j), 0.05), seed=seed)
        except RuntimeError:  # SCIP found no portfolio in its time
            unsolved.append(float(qj))
            continue
        v, r = p.risk_return(res.best_bits[None])
        rows.append((float(qj), float(v[0]), float(r[0]), res.best_cost, bool(res.info["optimal"]), res.best_bits))
    cols = list(zip(*rows)) if rows else [()] * 6
    return ExactFrontier(np.array(cols[0], np.float64), np.array(cols[1], np.float64), np.array(cols[2], np.float64),
                         np.array(cols[3], np.float64), np.array(cols[4], bool),
                         np.array(cols[5], np.uint8).reshape(len(rows), mu.size), k, "miqp-scip",
                         time.perf_counter() - t0, tuple(unsolved))


def frontier_q_grid(instance: Any, k: int, points: int = 12) -> np.ndarray:
    """``points`` risk aversions spanning the binary form's frontier: 0 (the largest return)
    and a geometric grid from ``q* / 30`` to ``30 q*``, where ``q* = (r1 - r0) / (v1 - v0)``
    is the slope between the largest-return portfolio ``(v1, r1)`` (the ``k`` largest ``mu``)
    and a greedy low-variance one ``(v0, r0)`` (assets added one at a time, each the one that
    least raises the variance). On Hang Seng and DAX at ``k = 10`` (40 values of ``q``
    solved) the frontier's corners lie between ``q* / 15`` and ``27 q*``.

    Examples:
        >>> from jqgen.geo import frontier_q_grid, synthetic_instance
        >>> g = frontier_q_grid(synthetic_instance(10, seed=0), 3, points=5)
        >>> g.shape, float(g[0])
        ((5,), 0.0)
    """
    mu, cov = _mu_cov(instance)
    k = _check_k(k, mu.size)
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 2:
        raise ValueError(f"points must be an int >= 2, got {points!r}")
    top = np.argsort(-mu, kind="stable")[:k]
    held = [int(np.argmin(np.diag(cov)))]
    while len(held) < k:
        rest = np.setdiff1d(np.arange(mu.size), held)
        grow = 2 * cov[np.ix_(rest, held)].sum(axis=1) + np.diag(cov)[rest]
        held.append(int(rest[np.argmin(grow)]))
    v1, r1 = cov[np.ix_(top, top)].sum() / k**2, mu[top].mean()
    v0, r0 = cov[np.ix_(held, held)].sum() / k**2, mu[held].mean()
    slope = (r1 - r0) / (v1 - v0) if v1 > v0 and r1 > r0 else 1.0
    return np.concatenate([[0.0], np.geomspace(slope / 30, slope * 30, int(points) - 1)])
