"""The G-test of samples against exact probabilities, and its power.

One implementation, used by :func:`jqgen.testing.check_sampling` and by jqgen's own test
suite (``tests/conftest.py`` re-exports :data:`ALPHA` and :func:`g_test_pvalue`).

Power: for ``N`` samples whose distribution ``q`` lies at total-variation distance
``delta`` from ``p``, the G statistic is asymptotically a noncentral chi-square with
``df = bins - 1`` degrees of freedom and noncentrality ``lambda = 2 N KL(q || p)``; Pinsker's
inequality (``KL >= 2 delta^2``) bounds ``lambda >= 4 N delta^2`` whatever the shape of ``p``
and ``q``, so the probability to reject at level ``alpha`` is at least
``ncx2.sf(chi2.isf(alpha, df), df, 4 N delta^2)`` (:func:`g_test_power`). Bins whose
expected count is below 5 are pooled into one first, so a deviation that only moves mass
among those rare strings is not seen.

Examples:
    >>> import numpy as np
    >>> from jqgen.testing import g_test_pvalue, g_test_power
    >>> rng = np.random.default_rng(0)
    >>> p = np.full(8, 1 / 8)
    >>> samples = rng.integers(0, 2, size=(2000, 3)).astype(np.uint8)
    >>> g_test_pvalue(samples, p) > 1e-3
    True
    >>> round(g_test_power(0.03, num_samples=20_000, num_bins=8), 4)
    1.0
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy import optimize, stats

__all__ = ["ALPHA", "GTest", "detectable_tv", "g_test", "g_test_power", "g_test_pvalue"]

ALPHA = 1e-3
"""Significance of the goodness-of-fit tests. With fixed seeds each test is a deterministic
pass/fail; ``alpha = 1e-3`` bounds the chance that a correct sampler fails on a newly chosen
seed to 0.1 %."""

#: Bins whose expected count is below this are pooled into one.
MIN_EXPECTED = 5.0


class GTest(NamedTuple):
    """The result of :func:`g_test`: the statistic, its degrees of freedom, the p-value."""

    statistic: float
    df: int
    pvalue: float


def _as_probs(p: Any, size: int | None = None) -> np.ndarray:
    q = np.asarray(p, np.float64).reshape(-1)
    if size is not None and q.size != size:
        raise ValueError(f"p must have {size} entries (one per count), got {q.size}")
    if q.size == 0 or not np.all(np.isfinite(q)) or np.any(q < 0) or not abs(q.sum() - 1) < 1e-4:
        raise ValueError(f"p must be a non-empty vector of non-negative probabilities summing to 1 (within 1e-4), "
                         f"got sum {q.sum() if q.size else 0.0!r} and min {q.min() if q.size else None!r}")
    return q / q.sum()


def g_test(counts: Any, p: Any) -> GTest:
    """G-test (likelihood-ratio goodness of fit) of ``counts`` against probabilities ``p``.

    Bins with expected count below 5 are pooled into one bin; ``df`` is the number of
    bins left minus one (``df = 0``, nothing to test, gives p-value 1).

    Args:
        counts: non-negative integer counts, one per outcome.
        p: the outcomes' probabilities (same length, summing to 1 within 1e-4).

    Returns:
        A :class:`GTest` ``(statistic, df, pvalue)``.

    Raises:
        ValueError: ``counts`` and ``p`` of different lengths, negative counts, ``p`` not a
            probability vector, or no counts at all.
        AssertionError: a count on an outcome of probability zero (the sampler produced
            something it cannot produce).

    Examples:
        >>> from jqgen.testing import g_test
        >>> r = g_test([48, 52], [0.5, 0.5])
        >>> r.df, round(r.pvalue, 3)
        (1, 0.689)
    """
    c = np.asarray(counts, np.float64).reshape(-1)
    q = _as_probs(p, c.size)
    if np.any(c < 0) or c.sum() <= 0:
        raise ValueError(f"counts must be non-negative with a positive total, got total {c.sum()!r}")
    zero = (q == 0) & (c > 0)
    if zero.any():
        raise AssertionError(f"sampled outcome {int(np.argmax(zero))} of probability zero "
                             f"({int(c[zero].sum())} of {int(c.sum())} samples lie outside the support)")
    expected = q * c.sum()
    small = expected < MIN_EXPECTED
    obs = np.append(c[~small], c[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    keep = exp > 0
    obs, exp = obs[keep], exp[keep]
    g = float(2 * np.sum(np.where(obs > 0, obs * np.log(np.where(obs > 0, obs, 1) / exp), 0)))
    df = int(obs.size - 1)
    return GTest(g, df, 1.0 if df == 0 else float(stats.chi2.sf(g, df)))


def _indices(samples: np.ndarray) -> np.ndarray:
    n = samples.shape[-1]
    if n > 62:
        raise ValueError(f"samples of {n} bits have no dense index (at most 62 bits)")
    return samples.astype(np.int64) @ (np.int64(1) << np.arange(n - 1, -1, -1, dtype=np.int64))


def g_test_pvalue(samples: Any, p: Any) -> float:
    """G-test p-value of sample rows (bits ``[N, n]``) against dense probabilities ``p [2**n]``
    (big-endian order, as every model's ``probs``); bins expected below 5 are pooled.

    Args:
        samples: ``[N, n]`` array of 0/1 values.
        p: ``[2**n]`` probabilities summing to 1 (within 1e-4).

    Returns:
        The p-value (small when the samples do not follow ``p``).

    Raises:
        ValueError: ``samples`` not ``[N, n]`` 0/1 values or ``p`` not of length ``2**n``.
        AssertionError: a sample of probability zero.

    Examples:
        >>> import numpy as np
        >>> from jqgen.testing import g_test_pvalue
        >>> g_test_pvalue(np.array([[0, 1]] * 10 + [[1, 0]] * 10), [0, 0.5, 0.5, 0]) > 0.5
        True
    """
    x = np.asarray(samples)
    if x.ndim != 2 or x.shape[0] == 0 or not np.all((x == 0) | (x == 1)):
        raise ValueError(f"samples must be a non-empty [N, n] array of 0/1 values, got shape {x.shape}")
    size = np.asarray(p).size
    if size != 2 ** x.shape[1]:
        raise ValueError(f"p must have 2**n = {2 ** x.shape[1]} entries for {x.shape[1]}-bit samples, got {size}")
    return g_test(np.bincount(_indices(x), minlength=size), p).pvalue


def g_test_power(tv: float, num_samples: int, num_bins: int, alpha: float = ALPHA) -> float:
    """Lower bound on the probability that the G-test at level ``alpha`` rejects samples from
    a distribution at total-variation distance ``tv`` from the tested one.

    ``ncx2.sf(chi2.isf(alpha, df), df, 4 N tv^2)`` with ``df = num_bins - 1``: the
    asymptotic distribution of ``G`` under the alternative with Pinsker's bound on its
    noncentrality (module docstring). Bins pooled for small expected counts lower ``df``
    (more power) but hide deviations among them.

    Args:
        tv: total-variation distance in ``(0, 1]``.
        num_samples: ``N``.
        num_bins: outcomes tested (``2**n`` for an ``n``-bit model, or its support size).
        alpha: significance level.

    Returns:
        The power, in ``[0, 1]``.

    Raises:
        ValueError: a value outside its range.

    Examples:
        >>> from jqgen.testing import g_test_power
        >>> round(g_test_power(0.02, 20_000, 8), 2)  # 3 bits, 20,000 samples, alpha 1e-3
        0.9
    """
    if not 0 < tv <= 1:
        raise ValueError(f"tv must be in (0, 1], got {tv!r}")
    if int(num_samples) != num_samples or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    if int(num_bins) != num_bins or num_bins < 2:
        raise ValueError(f"num_bins must be an integer >= 2, got {num_bins!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    df = int(num_bins) - 1
    return float(stats.ncx2.sf(stats.chi2.isf(alpha, df), df, 4 * int(num_samples) * tv**2))


def detectable_tv(num_samples: int, num_bins: int, alpha: float = ALPHA, power: float = 0.95) -> float:
    """The smallest total-variation distance that :func:`g_test_power` detects with
    probability ``power``.

    Args:
        num_samples: ``N``.
        num_bins: outcomes tested.
        alpha: significance level.
        power: the wanted detection probability, in ``(alpha, 1)``.

    Returns:
        ``tv`` with ``g_test_power(tv, num_samples, num_bins, alpha) == power`` (1.0 when
        even ``tv = 1`` falls short).

    Raises:
        ValueError: a value outside its range.

    Examples:
        >>> from jqgen.testing import detectable_tv
        >>> round(detectable_tv(20_000, 8), 3), round(detectable_tv(20_000, 64), 3)
        (0.021, 0.03)
    """
    if not alpha < power < 1:
        raise ValueError(f"power must be in (alpha, 1) = ({alpha}, 1), got {power!r}")
    f = lambda t: g_test_power(t, num_samples, num_bins, alpha) - power  # noqa: E731
    if f(1.0) < 0:
        return 1.0
    return float(optimize.brentq(f, 1e-9, 1.0, xtol=1e-7))
