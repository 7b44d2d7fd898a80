"""Generalization metrics for generative models, from a multiset of generated samples.

Definitions (Gili, Mauri, Perdomo-Ortiz, "Evaluating generalization in classical and
quantum generative models", arXiv:2201.08770, Sec. II; quality-based metrics from Gili et
al., "Do quantum circuit Born machines generalize?", arXiv:2207.13645, Sec. II C). Let ``S``
be the solution space (valid bitstrings), ``D`` the training set (its distinct elements),
``eps = |D ∩ S| / |S|``, and ``G`` the multiset of ``Q`` generated samples. Then

* ``G_new`` = samples of ``G`` not in ``D`` (a multiset), ``G_sol`` = those of ``G_new`` in
  ``S``, ``g_sol`` = the distinct elements of ``G_sol``;
* exploration ``E = |G_new| / Q``; fidelity ``F = |G_sol| / |G_new|``; rate
  ``R = |G_sol| / Q``; normalized rate ``R~ = R / (1 - eps)`` (a generator uniform on ``S``
  has ``R = 1 - eps``); coverage ``C = |g_sol| / |S \\ D|``; normalized coverage
  ``C~ = C / (1 - (1 - 1/|S|)^Q)``, the denominator being the coverage a perfect generator
  (uniform on ``S``) reaches in expectation with the same ``Q``.
  The papers' text divides coverage by the unseen set ``|S \\ D|``; QUARK's public
  reimplementation divides by ``|S|``. We follow the paper.
* quality-based, for a cost ``c`` (lower is better): minimum value ``MV = min_{G_sol} c``;
  utility ``U`` = mean cost of the best 5% of ``G_sol`` (at least one sample); quality
  coverage ``C_q = |{x in g_sol : c(x) < min_D c}| / Q``.
* qBAS-style scores (Benedetti et al., npj Quantum Inf. 5, 45 (2019)): precision = fraction
  of all ``Q`` samples in ``S``; recall = distinct valid samples / ``|S|``; F1 their harmonic
  mean. (These count training patterns as hits; they measure memorization as much as
  generalization.)

A ratio with a zero denominator (``F`` when nothing new was generated, ``R~`` and ``C`` when
``eps = 1``, every quality metric when ``G_sol`` is empty) is ``nan`` and reported as such
(``null`` in JSON), never silently 0.

Speed: rows are packed into one ``uint64`` key each (``n <= 64``) or a fixed-width byte string
(``n > 64``), and every set operation is a sort (``np.sort`` / ``np.isin``): 10^6 samples of
64 bits take well under a second on one core (``benchmarks/metrics_bench.py``).

Examples:
    >>> import numpy as np
    >>> from jqgen.metrics import generalization_metrics
    >>> from jqgen.spaces import Cardinality
    >>> train = np.array([[1, 1, 0, 0], [0, 0, 1, 1]], np.uint8)
    >>> samples = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0]], np.uint8)
    >>> m = generalization_metrics(samples, train, Cardinality(4, 2))
    >>> m["exploration"], m["fidelity"], m["rate"], m["coverage"]
    (0.75, 0.6666666666666666, 0.5, 0.25)
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ._checks import check_fits, check_int, validate_binary
from ._memory import available_memory
from .bits import pack_bits
from .spaces import SolutionSpace

__all__ = ["pack_bits", "generalization_metrics", "quality_metrics", "precision_recall", "perfect_coverage"]

NAN = float("nan")


def perfect_coverage(space_size: int, num_samples: int) -> float:
    """Expected coverage ``1 - (1 - 1/|S|)^Q`` of a generator uniform on ``S`` (C~'s denominator)."""
    space_size, num_samples = check_int(space_size, "space_size", 1), check_int(num_samples, "num_samples", 1)
    return float(-math.expm1(num_samples * math.log1p(-1.0 / space_size))) if space_size > 1 else 1.0


def _div(a: float, b: float) -> float:
    return a / b if b else NAN


def _check_key_memory(n: int, *arrays: Any) -> None:
    """Refuses, before copying anything, inputs whose working set does not fit: per row a
    uint8 copy (``n`` bytes), its packed keys (``8 w`` with ``w = ceil(n / 64)``), their sort
    (``2 x 8 w``) and masks; the message gives the largest number of rows that fits."""
    rows = sum(int(np.shape(a)[0]) if np.ndim(a) else 0 for a in arrays)
    per_row = n + 24 * ((n + 63) // 64) + 8
    check_fits(rows * per_row, f"metrics of {rows} rows of {n} bits (packed keys and their sort)",
               largest=f"at most about {available_memory() // per_row} rows fit: evaluate a subsample")


def _split(samples: np.ndarray, train: np.ndarray, space: SolutionSpace) -> dict[str, Any]:
    """Keys, masks and counts shared by every metric."""
    ks = pack_bits(samples)
    kt, first, _ = _group(pack_bits(train))
    train_valid = int(space.contains(train[first]).sum())
    in_train = np.isin(ks, kt)
    valid = space.contains(samples)
    return {"keys": ks, "train_keys": kt, "train_distinct": train[first], "train_valid": train_valid,
            "new": ~in_train, "valid": valid}


def generalization_metrics(samples: Any, train: Any, space: SolutionSpace, *,
                           cost: Callable[[np.ndarray], np.ndarray] | None = None,
                           quality_fraction: float = 0.05) -> dict[str, Any]:
    """Fidelity, rate, coverage (and, with ``cost``, quality) metrics of generated samples.

    Args:
        samples: ``[Q, n]`` 0/1 generated samples (a multiset: repeats count).
        train: ``[T, n]`` 0/1 training samples (repeats ignored).
        space: the solution space ``S`` (:mod:`jqgen.spaces`).
        cost: optional vectorized cost ``bits [N, n] -> [N]`` for the quality metrics.
        quality_fraction: the best fraction of ``G_sol`` averaged by the utility (0.05).

    Returns:
        A dict with ``exploration``, ``fidelity``, ``rate``, ``normalized_rate``, ``coverage``,
        ``normalized_coverage``, ``precision``, ``recall``, ``f1``, the counts they come from
        (``num_samples``, ``num_new``, ``num_sol``, ``num_sol_distinct``, ``space_size``,
        ``num_train_valid``, ``num_unseen``, ``eps``), and with ``cost`` the entries of
        :func:`quality_metrics`.

    Raises:
        ValueError: empty or non-binary inputs, widths that differ from the space, or a
            training set with no valid member (``eps`` must lie in (0, 1]).
    """
    if not 0 < quality_fraction <= 1:  # NaN fails too
        raise ValueError(f"quality_fraction must be in (0, 1], got {quality_fraction!r}")
    if not (hasattr(space, "num_bits") and callable(getattr(space, "contains", None))):
        raise ValueError(f"space must be a jqgen.spaces solution space, got {type(space).__name__}")
    n = space.num_bits
    _check_key_memory(n, samples, train)
    s = validate_binary(samples, width=n, name="samples")
    t = validate_binary(train, width=n, name="train")
    sp = _split(s, t, space)
    size = int(space.size)
    eps = sp["train_valid"] / size
    if not 0 < eps <= 1:
        raise ValueError(f"eps = |train ∩ S| / |S| = {eps} must be in (0, 1]: the training set has no valid member")
    q = s.shape[0]
    new, valid = sp["new"], sp["valid"]
    sol = new & valid
    num_new, num_sol = int(new.sum()), int(sol.sum())
    num_sol_distinct = _num_distinct(sp["keys"][sol])
    unseen = size - sp["train_valid"]
    rate = num_sol / q
    coverage = _div(num_sol_distinct, unseen)
    out: dict[str, Any] = {
        "num_samples": q, "num_new": num_new, "num_sol": num_sol, "num_sol_distinct": num_sol_distinct,
        "space_size": size, "num_train_valid": sp["train_valid"], "num_unseen": unseen, "eps": eps,
        "exploration": num_new / q, "fidelity": _div(num_sol, num_new), "rate": rate,
        "normalized_rate": _div(rate, 1 - eps), "coverage": coverage,
        "normalized_coverage": coverage / perfect_coverage(size, q) if unseen else NAN,
    }
    out.update(_precision_recall(sp["keys"], valid, size))
    if cost is not None:
        out.update(_quality(sp["keys"], s, sol, sp["train_distinct"], cost, q, quality_fraction))
    return out


def quality_metrics(samples: Any, train: Any, space: SolutionSpace, cost: Callable[[np.ndarray], np.ndarray],
                    quality_fraction: float = 0.05) -> dict[str, Any]:
    """Minimum value ``MV``, utility ``U`` and quality coverage ``C_q`` (Gili et al. 2022).

    Returns ``min_value``, ``utility``, ``quality_coverage``, ``train_min_cost`` and
    ``num_better_distinct`` (the numerator of ``C_q``); ``nan`` when ``G_sol`` is empty.
    """
    m = generalization_metrics(samples, train, space, cost=cost, quality_fraction=quality_fraction)
    return {k: m[k] for k in ("min_value", "utility", "quality_coverage", "train_min_cost", "num_better_distinct")}


def _quality(keys: np.ndarray, s: np.ndarray, sol: np.ndarray, train: np.ndarray, cost: Callable, q: int,
             fraction: float) -> dict[str, Any]:
    if not 0 < fraction <= 1:
        raise ValueError(f"quality_fraction must be in (0, 1], got {fraction}")
    train_min = float(np.min(cost(train)))
    num_sol = int(sol.sum())
    if num_sol == 0:
        return {"min_value": NAN, "utility": NAN, "quality_coverage": 0.0, "train_min_cost": train_min,
                "num_better_distinct": 0}
    # the cost of each distinct member of G_sol once, weighted by its multiplicity
    rows = np.flatnonzero(sol)
    _, first, counts = _group(keys[rows])
    c = np.asarray(cost(s[rows[first]]), np.float64)
    m = max(1, math.ceil(fraction * num_sol))
    order = np.argsort(c, kind="stable")
    taken = np.minimum(counts[order], np.maximum(0, m - (np.cumsum(counts[order]) - counts[order])))
    better = int((c < train_min).sum())
    return {"min_value": float(c.min()), "utility": float((c[order] * taken).sum() / m),
            "quality_coverage": better / q, "train_min_cost": train_min, "num_better_distinct": better}


def _group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct keys, the index of one occurrence of each, and their counts (sort-based)."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    start = np.ones(k.size, bool)
    start[1:] = k[1:] != k[:-1]
    idx = np.flatnonzero(start)
    return k[idx], order[idx], np.diff(np.append(idx, k.size))


def _num_distinct(keys: np.ndarray) -> int:
    if keys.size == 0:
        return 0
    k = np.sort(keys)
    return int(1 + np.count_nonzero(k[1:] != k[:-1]))


def _precision_recall(keys: np.ndarray, valid: np.ndarray, size: int) -> dict[str, float]:
    precision = float(valid.mean())
    recall = _num_distinct(keys[valid]) / size
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def precision_recall(samples: Any, space: SolutionSpace) -> dict[str, float]:
    """qBAS-style precision, recall and F1 of samples against a solution space.

    Examples:
        >>> import numpy as np
        >>> from jqgen.metrics import precision_recall
        >>> from jqgen.spaces import BarsAndStripesSpace
        >>> s = np.array([[0, 0, 0, 0], [1, 1, 0, 0], [1, 0, 0, 1]], np.uint8)
        >>> precision_recall(s, BarsAndStripesSpace(2, 2))["recall"]
        0.3333333333333333
    """
    _check_key_memory(space.num_bits, samples)
    s = validate_binary(samples, width=space.num_bits, name="samples")
    return _precision_recall(pack_bits(s), space.contains(s), int(space.size))
