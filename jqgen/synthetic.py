"""Synthetic data sets for generalization studies, all seeded and built in memory.

* :func:`cardinality_dataset`: ``S = {x : sum x = k}``; the training set is a random
  fraction ``eps`` of ``S`` and the rest of ``S`` is the held-out (unseen valid) set
  (Gili et al., arXiv:2201.08770 and arXiv:2207.13645).
* :func:`cardinality_cost_dataset`: the same space with a synthetic cost; training members
  are drawn from the part of ``S`` above the ``exclude_best`` cost quantile and re-weighted
  towards low cost, so that samples *better than anything in training* exist and a model
  that learns the bias can find them (quality-based generalization, arXiv:2207.13645).
* :func:`gaussian_mixture` / :func:`gaussian_mixture_dataset`: a discretized two-peak
  Gaussian mixture on the integers ``0 .. 2^n - 1`` (Liu & Wang, PRA 98, 062324 (2018):
  peaks at 2/7 and 5/7 of the range), bits big-endian.

Examples:
    >>> from jqgen.synthetic import cardinality_dataset
    >>> ds = cardinality_dataset(6, 3, eps=0.3, seed=0)
    >>> ds.data.shape, ds.test.shape, ds.space.size
    ((6, 6), (14, 6), 20)
"""

from __future__ import annotations

import numpy as np

from ._checks import check_fits
from ._dataset import Dataset
from .bits import index_to_bits
from .spaces import Cardinality, random_quadratic_cost

__all__ = ["cardinality_dataset", "cardinality_cost_dataset", "gaussian_mixture", "gaussian_mixture_dataset"]

_MAX_ENUM = 1 << 22


def _check_nk(n: int, k: int) -> None:
    for name, v in (("n", n), ("k", k)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise ValueError(f"{name} must be an integer, got {v!r}")
    if not 1 <= n <= 64:
        raise ValueError(f"n must be in [1, 64], got {n}")
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n] = [0, {n}], got {k}")


def _check_eps(eps: float) -> float:
    eps = float(eps)
    if not 0 < eps <= 1:
        raise ValueError(f"eps (the training fraction of S) must be in (0, 1], got {eps}")
    return eps


def _enumerate(space: Cardinality) -> np.ndarray:
    if space.size > _MAX_ENUM:
        raise ValueError(f"cardinality space n={space.num_bits} k={space.k} has {space.size} members; "
                         f"at most {_MAX_ENUM} can be enumerated")
    return space.enumerate()


def cardinality_dataset(n: int, k: int, eps: float, seed: int = 0) -> Dataset:
    """Cardinality-constrained data: a seeded random fraction ``eps`` of ``S = {x : |x| = k}``.

    ``round(eps |S|)`` members (at least one) form ``data``; the other members of ``S`` form
    ``test`` (empty when ``eps = 1``: then ``test`` is ``None``).

    Raises:
        ValueError: ``n`` outside [1, 64], ``k`` outside [0, n], ``eps`` outside (0, 1], or
            ``|S|`` too large to enumerate.
    """
    _check_nk(n, k)
    eps = _check_eps(eps)
    space = Cardinality(int(n), int(k))
    members = _enumerate(space)
    m = max(1, int(round(eps * space.size)))
    perm = np.random.default_rng(seed).permutation(space.size)
    train, rest = np.sort(perm[:m]), np.sort(perm[m:])
    return Dataset(f"cardinality-{n}-{k}-{eps:g}-s{seed}", members[train], None,
                   members[rest] if rest.size else None, space=space)


def cardinality_cost_dataset(n: int, k: int, eps: float, seed: int = 0, *, exclude_best: float = 0.1,
                             temperature: float = 1.0, max_repeat: int = 10) -> Dataset:
    """Cardinality data with a synthetic cost, for quality-based generalization.

    The cost is :func:`jqgen.spaces.random_quadratic_cost` ``(n, seed)`` (a mean-variance
    portfolio objective; lower is better). ``round(eps |S|)`` distinct training members are
    drawn uniformly from the members of ``S`` whose cost is above the ``exclude_best``
    quantile, so the best ``exclude_best`` fraction of ``S`` is never seen in training. The
    training distribution is re-weighted towards low cost: member ``x`` appears
    ``1 + floor((max_repeat - 1) w(x))`` times in ``data``, with
    ``w(x) = exp(-(c(x) - c_min) / (temperature * std(c)))`` over the training members
    (so every member appears, and the cheapest ``max_repeat`` times).

    Raises:
        ValueError: bad ``n``, ``k``, ``eps``; ``exclude_best`` outside [0, 1); ``eps`` larger
            than ``1 - exclude_best``; ``temperature <= 0`` or ``max_repeat < 1``.
    """
    _check_nk(n, k)
    eps = _check_eps(eps)
    if not 0 <= exclude_best < 1:
        raise ValueError(f"exclude_best must be in [0, 1), got {exclude_best}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not isinstance(max_repeat, (int, np.integer)) or max_repeat < 1:
        raise ValueError(f"max_repeat must be an integer >= 1, got {max_repeat!r}")
    space = Cardinality(int(n), int(k))
    members = _enumerate(space)
    cost = random_quadratic_cost(int(n), seed)
    c = cost(members)
    pool = np.flatnonzero(c > np.quantile(c, exclude_best)) if exclude_best > 0 else np.arange(space.size)
    m = max(1, int(round(eps * space.size)))
    if m > pool.size:
        raise ValueError(f"eps = {eps} needs {m} training members but only {pool.size} lie above the "
                         f"exclude_best = {exclude_best} cost quantile; use eps <= {1 - exclude_best:g}")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(pool, size=m, replace=False))
    ct = c[chosen]
    scale = temperature * (ct.std() if ct.std() > 0 else 1.0)
    w = np.exp(-(ct - ct.min()) / scale)
    reps = 1 + np.floor((max_repeat - 1) * w).astype(np.int64)
    data = np.repeat(members[chosen], reps, axis=0)
    rest = np.setdiff1d(np.arange(space.size), chosen)
    return Dataset(f"cardinality-cost-{n}-{k}-{eps:g}-s{seed}", data, None, members[rest] if rest.size else None,
                   space=space, cost=cost)


def gaussian_mixture(n: int, centers: tuple[float, ...] = (2 / 7, 5 / 7), width: float = 1 / 8) -> np.ndarray:
    """Dense ``float64 [2^n]`` mixture ``p(x) ∝ sum_i exp(-(x - c_i 2^n)^2 / (2 (width 2^n)^2))``.

    Examples:
        >>> from jqgen.synthetic import gaussian_mixture
        >>> p = gaussian_mixture(6)
        >>> round(float(p.sum()), 12), int(p.argmax()) in (18, 45)
        (1.0, True)
    """
    if not isinstance(n, (int, np.integer)) or not 1 <= n <= 30:
        raise ValueError(f"n must be an integer in [1, 30], got {n!r}")
    if not width > 0 or not centers:
        raise ValueError(f"width must be > 0 and centers non-empty, got width={width}, centers={centers}")
    size = 2**n
    x = np.arange(size, dtype=np.float64)
    sigma = width * size
    p = sum(np.exp(-((x - c * size) ** 2) / (2 * sigma**2)) for c in centers)
    return p / p.sum()


def gaussian_mixture_dataset(n: int, num_samples: int = 10000, seed: int = 0, *,
                             centers: tuple[float, ...] = (2 / 7, 5 / 7), width: float = 1 / 8) -> Dataset:
    """``num_samples`` seeded draws from :func:`gaussian_mixture` (and as many held out).

    ``Dataset.target`` holds the exact distribution, so distances to the ground truth (not
    only to the sampled training set) can be reported.
    """
    if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    check_fits(2 * num_samples * (8 + 2 * int(n)), f"gaussian_mixture_dataset of 2 x {num_samples} samples",
               largest="use fewer samples")
    p = gaussian_mixture(n, centers, width)
    rng = np.random.default_rng(seed)
    idx = rng.choice(p.size, size=2 * num_samples, p=p)
    bits = np.asarray(index_to_bits(idx.astype(np.uint32), n), np.uint8)
    return Dataset(f"gaussian-mixture-{n}-s{seed}", bits[:num_samples], None, bits[num_samples:], target=p)
