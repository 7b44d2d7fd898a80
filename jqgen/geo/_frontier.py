"""How far a heuristic frontier lies from the unconstrained efficient frontier (UEF).

The literature on the OR-Library instances (Chang, Meade, Beasley, Sharaiha, Computers & OR
27, 1271 (2000); Cura, "Particle swarm optimization approach to portfolio optimization",
Nonlinear Analysis: Real World Applications 10, 2396 (2009); Bacanin and Tuba, The
Scientific World Journal 2014, 721521, Table 5) compares the heuristic frontier, i.e. the
best portfolio found for each ``lambda`` (its variance ``v_j^h`` and mean return ``r_j^h``,
``j = 1..xi``), with the UEF points ``(v_i^s, r_i^s)`` of ``portefN.txt`` (2,000 points).

Cura (2009), the three measures quoted in later tables: for each heuristic point take the
UEF point closest to it in the (variance, return) plane,
``i_j = argmin_i sqrt((v_i^s - v_j^h)^2 + (r_i^s - r_j^h)^2)``, then

* mean Euclidean distance ``= (1/xi) sum_j sqrt((v_{i_j}^s - v_j^h)^2 + (r_{i_j}^s - r_j^h)^2)``,
* variance of return error ``= (100/xi) sum_j |v_{i_j}^s - v_j^h| / v_j^h`` (%),
* mean return error ``= (100/xi) sum_j |r_{i_j}^s - r_j^h| / r_j^h`` (%).

This is ``reference="points"`` (the default): the closest of the given UEF points, as Cura
does. ``reference="segments"`` takes the closest point on the UEF drawn as straight segments
between consecutive points (sorted by return), i.e. the linearly interpolated frontier;
with 2,000 points the two agree to a fraction of the spacing.

**The published scale** (key ``sum_euclidean``): the mean Euclidean distances quoted for
GA, TS, SA and PSO (Cura 2009, as tabulated by Bacanin and Tuba 2014, Table 5) are about 40x
the mean for frontiers of comparable percentage errors, on the Hang Seng, DAX, FTSE and S&P
instances alike; they match the **sum** over the ``xi = 51`` heuristic points (``xi`` times
the mean). That the published values are sums is our inference from the numbers (the papers
write ``1 / xi``); what was compared and what was rejected is in docs/geo.md, "Error
measures of the Chang form". ``mean_euclidean`` stays the measure as defined.

Chang et al. (2000) measured a percentage deviation by linear interpolation, reported also
(keys ``chang_mean_pct``, ``chang_median_pct``); our reading of their definition: for a
heuristic point, ``v*`` is the UEF variance at the same return ``r_j^h`` and ``r*`` the UEF
return at the same variance ``v_j^h`` (both linearly interpolated; a point outside the
UEF's range on one axis uses only the other); the variance error is
``100 (v_j^h - v*) / v*``, the return error ``100 (r* - r_j^h) / r*``, and the point's error
is the smaller of the two. A heuristic point on the UEF scores 0 in every measure.

Examples:
    >>> import numpy as np
    >>> from jqgen.geo import frontier_errors
    >>> fr = np.linspace(0.002, 0.01, 5); fv = 0.0005 + 20 * (fr - 0.002) ** 2
    >>> e = frontier_errors(fv[1:4], fr[1:4], fr, fv)
    >>> [round(e[k], 12) for k in ("mean_euclidean", "variance_error_pct", "mean_return_error_pct")]
    [0.0, 0.0, 0.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["frontier_errors"]


def _vector(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite; {name}[{int(np.argmax(~np.isfinite(a)))}] = "
                         f"{a[~np.isfinite(a)][0]!r}")
    return a


def _closest_on_segments(v: np.ndarray, r: np.ndarray, fv: np.ndarray, fr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The closest point of the polyline ``(fv, fr)`` to each ``(v, r)``."""
    a = np.stack([fv[:-1], fr[:-1]], axis=1)
    d = np.stack([np.diff(fv), np.diff(fr)], axis=1)
    p = np.stack([v, r], axis=1)
    len2 = np.maximum(np.sum(d * d, axis=1), 1e-300)
    t = np.clip(np.einsum("jsk,sk->js", p[:, None, :] - a[None], d) / len2, 0.0, 1.0)
    foot = a[None] + t[..., None] * d[None]
    best = np.argmin(np.sum((foot - p[:, None, :]) ** 2, axis=2), axis=1)
    pts = foot[np.arange(v.size), best]
    return pts[:, 0], pts[:, 1]


def _chang_errors(v: np.ndarray, r: np.ndarray, fv: np.ndarray, fr: np.ndarray) -> np.ndarray:
    by_r, by_v = np.argsort(fr), np.argsort(fv)
    in_r = (r >= fr.min()) & (r <= fr.max())
    in_v = (v >= fv.min()) & (v <= fv.max())
    v_star = np.interp(r, fr[by_r], fv[by_r])
    r_star = np.interp(v, fv[by_v], fr[by_v])
    ev = np.where(in_r, 100.0 * (v - v_star) / v_star, np.inf)
    er = np.where(in_v, 100.0 * (r_star - r) / np.abs(r_star), np.inf)
    return np.minimum(ev, er)


def frontier_errors(variances: Any, returns: Any, frontier_returns: Any, frontier_variances: Any, *,
                    reference: str = "points") -> dict[str, float]:
    """The literature's error measures of a heuristic frontier against the UEF (module docstring).

    Args:
        variances: ``[xi]`` variance (> 0) of the heuristic frontier's portfolios (the best
            one found for each ``lambda``).
        returns: ``[xi]`` their mean return (!= 0).
        frontier_returns: ``[m]`` (m >= 2) returns of the UEF points (e.g. from
            :func:`load_frontier`), in any order.
        frontier_variances: ``[m]`` their variances.
        reference: ``"points"`` (Cura 2009: the closest UEF point) or ``"segments"`` (the
            closest point of the linearly interpolated UEF).

    Returns:
        ``mean_euclidean``, ``variance_error_pct``, ``mean_return_error_pct`` (Cura 2009),
        ``sum_euclidean`` (``points * mean_euclidean``: the scale of the published GA, TS,
        SA and PSO figures, module docstring), ``chang_mean_pct``, ``chang_median_pct``
        (Chang et al. 2000, our reading; ``inf`` when a point lies outside the UEF's range on
        both axes), and ``points`` (``xi``).

    Raises:
        ValueError: arrays of the wrong shape or lengths, non-finite values, a heuristic
            variance <= 0 or return == 0, a UEF with fewer than 2 points or a negative
            variance, or an unknown ``reference``.
    """
    v, r = _vector(variances, "variances"), _vector(returns, "returns")
    fr, fv = _vector(frontier_returns, "frontier_returns"), _vector(frontier_variances, "frontier_variances")
    if v.shape != r.shape:
        raise ValueError(f"variances and returns must have the same length, got {v.size} and {r.size}")
    if fr.shape != fv.shape or fr.size < 2:
        raise ValueError(f"frontier_returns and frontier_variances must have the same length >= 2, got "
                         f"{fr.size} and {fv.size}")
    if np.any(v <= 0):
        raise ValueError(f"variances must be > 0, got {v[v <= 0][0]!r} at index {int(np.argmax(v <= 0))}")
    if np.any(r == 0):
        raise ValueError(f"returns must be != 0 (the return error is relative), got 0 at index {int(np.argmax(r == 0))}")
    if np.any(fv < 0):
        raise ValueError(f"frontier_variances must be >= 0, got {fv[fv < 0][0]!r}")
    if reference == "points":
        nearest = np.argmin((fv[None] - v[:, None]) ** 2 + (fr[None] - r[:, None]) ** 2, axis=1)
        sv, sr = fv[nearest], fr[nearest]
    elif reference == "segments":
        order = np.argsort(fr, kind="stable")
        sv, sr = _closest_on_segments(v, r, fv[order], fr[order])
    else:
        raise ValueError(f"reference must be 'points' or 'segments', got {reference!r}")
    chang = _chang_errors(v, r, fv, fr)
    return {
        "mean_euclidean": float(np.mean(np.hypot(sv - v, sr - r))),
        "sum_euclidean": float(np.sum(np.hypot(sv - v, sr - r))),
        "variance_error_pct": float(100.0 * np.mean(np.abs(sv - v) / v)),
        "mean_return_error_pct": float(100.0 * np.mean(np.abs(sr - r) / np.abs(r))),
        "chang_mean_pct": float(np.mean(chang)),
        "chang_median_pct": float(np.median(chang)),
        "points": int(v.size),
    }
