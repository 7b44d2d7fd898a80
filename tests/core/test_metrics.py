"""Generalization metrics (jqgen.metrics) and solution spaces: hand-computed cases, a naive
set-of-tuples reference, a perfect generator, a copying generator, invariances, bad input."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jqgen
from jqgen.data import bars_and_stripes
from jqgen.distributions import total_variation
from jqgen.metrics import generalization_metrics, pack_bits, perfect_coverage, precision_recall
from jqgen.spaces import BarsAndStripesSpace, Cardinality, Enumerated, QuadraticCost


def _b(rows: list[str]) -> np.ndarray:
    return np.array([[int(c) for c in r] for r in rows], np.uint8)


def naive_metrics(samples, train, contains, size, cost=None, fraction=0.05) -> dict:
    """The definitions of Gili et al. written with Python sets of tuples."""
    tr = {tuple(int(v) for v in r) for r in train}
    g = [tuple(int(v) for v in r) for r in samples]
    q = len(g)
    new = [x for x in g if x not in tr]
    sol = [x for x in new if contains(x)]
    gsol = set(sol)
    n_train_valid = sum(1 for x in tr if contains(x))
    eps = n_train_valid / size
    unseen = size - n_train_valid
    nan = float("nan")
    out = {
        "exploration": len(new) / q, "fidelity": len(sol) / len(new) if new else nan, "rate": len(sol) / q,
        "normalized_rate": (len(sol) / q) / (1 - eps) if eps < 1 else nan,
        "coverage": len(gsol) / unseen if unseen else nan,
        "precision": sum(1 for x in g if contains(x)) / q,
        "recall": len({x for x in g if contains(x)}) / size,
        "eps": eps, "num_sol_distinct": len(gsol),
    }
    exact = 1 - (1 - Fraction(1, size)) ** q  # exact rational arithmetic
    out["normalized_coverage"] = out["coverage"] / float(exact) if unseen else nan
    if cost is not None:
        def c(x):
            return float(cost(np.array([x], np.uint8))[0])

        tmin = min(c(x) for x in tr)
        cs = sorted(c(x) for x in sol)
        if cs:
            m = max(1, math.ceil(fraction * len(cs)))
            out.update(min_value=cs[0], utility=sum(cs[:m]) / m,
                       quality_coverage=len({x for x in gsol if c(x) < tmin}) / q)
        else:
            out.update(min_value=nan, utility=nan, quality_coverage=0.0)
    return out


def _close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


# --- hand-computed ---------------------------------------------------------------------------


def test_hand_computed_cardinality():
    # S = weight-2 strings of 4 bits (|S| = 6); D = {1100, 0011} -> eps = 1/3, 4 unseen.
    train = _b(["1100", "0011", "0011"])
    samples = _b(["1100", "1010", "1010", "1110", "0110", "0000"])
    m = generalization_metrics(samples, train, Cardinality(4, 2))
    # G_new = {1010, 1010, 1110, 0110, 0000} (5); G_sol = {1010, 1010, 0110} (3); g_sol 2 distinct
    assert m["num_new"] == 5 and m["num_sol"] == 3 and m["num_sol_distinct"] == 2
    assert m["exploration"] == 5 / 6 and m["fidelity"] == 3 / 5 and m["rate"] == 3 / 6
    assert m["eps"] == pytest.approx(1 / 3) and m["normalized_rate"] == pytest.approx(0.5 / (2 / 3))
    assert m["coverage"] == 2 / 4
    assert m["normalized_coverage"] == pytest.approx(0.5 / (1 - (5 / 6) ** 6))
    # precision: valid samples 1100, 1010, 1010, 0110 -> 4/6; recall: 3 distinct valid of 6
    assert m["precision"] == 4 / 6 and m["recall"] == 3 / 6
    assert m["f1"] == pytest.approx(2 * (4 / 6) * 0.5 / (4 / 6 + 0.5))


def test_hand_computed_quality():
    cost = QuadraticCost(np.array([1.0, 2.0, 3.0, 4.0]), np.zeros((4, 4)))  # c(x) = sum of chosen weights
    train = _b(["0110", "0101"])  # costs 5, 6 -> best training cost 5
    samples = _b(["1100", "1100", "1010", "0011", "0110", "1001"])  # new valid costs 3, 3, 4, 7, 5
    m = generalization_metrics(samples, train, Cardinality(4, 2), cost=cost)
    assert m["train_min_cost"] == 5.0
    assert m["min_value"] == 3.0
    assert m["utility"] == 3.0  # ceil(5% of 5) = 1 sample: the best
    # distinct new valid samples with cost < 5: 1100 (3), 1010 (4) -> 2 of Q = 6
    assert m["num_better_distinct"] == 2 and m["quality_coverage"] == 2 / 6
    m20 = generalization_metrics(samples, train, Cardinality(4, 2), cost=cost, quality_fraction=0.5)
    assert m20["utility"] == pytest.approx((3 + 3 + 4) / 3)  # ceil(2.5) = 3 best of G_sol


def test_nan_when_undefined():
    train = _b(["1100"])
    m = generalization_metrics(_b(["1100", "1100"]), train, Cardinality(4, 2), cost=QuadraticCost(np.ones(4), np.zeros((4, 4))))
    assert m["exploration"] == 0 and math.isnan(m["fidelity"]) and m["rate"] == 0
    assert math.isnan(m["min_value"]) and math.isnan(m["utility"]) and m["quality_coverage"] == 0
    full = Cardinality(2, 1).enumerate()  # eps = 1: nothing unseen
    m1 = generalization_metrics(_b(["10", "11"]), full, Cardinality(2, 1))
    assert m1["eps"] == 1 and math.isnan(m1["normalized_rate"]) and math.isnan(m1["coverage"])


def test_precision_recall_bas_and_total_variation():
    s = _b(["0000", "1100", "0011", "1001", "1100"])
    pr = precision_recall(s, BarsAndStripesSpace(2, 2))  # 1001 is not BAS; |S| = 6
    assert pr["precision"] == 4 / 5 and pr["recall"] == 3 / 6
    assert total_variation([0.5, 0.5, 0, 0], [0.25, 0.25, 0.25, 0.25]) == 0.5


def test_perfect_coverage_limits():
    assert perfect_coverage(1, 5) == 1.0
    assert perfect_coverage(10, 1) == pytest.approx(0.1)
    assert perfect_coverage(10**18, 10**6) == pytest.approx(1e-12, rel=1e-6)  # no cancellation


# --- reference implementations and invariances ----------------------------------------------


@settings(deadline=None)
@given(st.integers(1, 80), st.integers(0, 2**31 - 1), st.integers(1, 60), st.integers(1, 40), st.booleans())
def test_packed_path_matches_naive_reference(n, seed, q, t, with_cost):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(0, n + 1))
    space = Cardinality(n, k)
    # mix random strings with valid ones and with copies of training rows
    valid_rows = np.zeros((q + t, n), np.uint8)
    for row in valid_rows:
        row[rng.choice(n, k, replace=False)] = 1
    train = np.where(rng.random((t, 1)) < 0.7, valid_rows[:t], rng.integers(0, 2, (t, n))).astype(np.uint8)
    train[0] = valid_rows[0]  # eps > 0
    pick = rng.random((q, 1))
    samples = np.where(pick < 0.3, train[rng.integers(0, t, q)],
                       np.where(pick < 0.7, valid_rows[t:], rng.integers(0, 2, (q, n)))).astype(np.uint8)
    cost = QuadraticCost(rng.normal(size=n), rng.normal(size=(n, n))) if with_cost else None
    got = generalization_metrics(samples, train, space, cost=cost)
    want = naive_metrics(samples, train, lambda x: sum(x) == k, space.size, cost)
    for key, v in want.items():
        assert _close(got[key], v), (key, got[key], v)


def test_bas_and_enumerated_spaces_match_brute_force():
    allb = np.asarray(jqgen.all_bitstrings(9), np.uint8)
    members = {r.tobytes() for r in bars_and_stripes(3, 3)}
    want = np.array([r.tobytes() in members for r in allb])
    assert np.array_equal(BarsAndStripesSpace(3, 3).contains(allb), want)
    assert BarsAndStripesSpace(3, 3).size == len(members) == 14
    e = Enumerated(np.concatenate([bars_and_stripes(3, 3), bars_and_stripes(3, 3)[:3]]))
    assert e.size == 14 and np.array_equal(e.contains(allb), want)
    c = Cardinality(9, 4)
    assert np.array_equal(c.contains(allb), allb.sum(1) == 4)
    en = c.enumerate()
    assert en.shape == (math.comb(9, 4), 9) and c.contains(en).all() and np.unique(en, axis=0).shape[0] == en.shape[0]


@settings(deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_metrics_invariant_to_permuting_samples(seed):
    rng = np.random.default_rng(seed)
    ds = jqgen.cardinality_cost_dataset(8, 4, 0.3, seed=seed % 7)
    samples = rng.integers(0, 2, (300, 8)).astype(np.uint8)
    samples[:100] = ds.test[rng.integers(0, ds.test.shape[0], 100)]
    a = generalization_metrics(samples, ds.data, ds.space, cost=ds.cost)
    b = generalization_metrics(samples[rng.permutation(300)], ds.data[rng.permutation(ds.data.shape[0])], ds.space,
                               cost=ds.cost)
    assert all(_close(a[k], b[k]) for k in a)


@pytest.mark.slow
@settings(deadline=None)
@given(st.integers(1, 90), st.integers(0, 2**31 - 1))
def test_pack_bits_is_injective_and_ordered(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, (50, n)).astype(np.uint8)
    x[1] = x[0]
    keys = [k.tobytes() if isinstance(k, np.void) else int(k) for k in pack_bits(x)]
    rows = [r.tobytes() for r in x]
    for i in range(50):
        for j in range(50):
            assert (keys[i] == keys[j]) == (rows[i] == rows[j])
            assert (keys[i] < keys[j]) == (rows[i] < rows[j])
    if n <= 32:
        assert keys == np.asarray(jqgen.bits_to_index(x)).tolist()


# --- limiting generators --------------------------------------------------------------------


def test_perfect_generator_scores_one():
    ds = jqgen.cardinality_dataset(10, 5, 0.3, seed=1)  # |S| = 252, 76 in training
    members = ds.space.enumerate()
    q = 4000
    rng = np.random.default_rng(0)
    samples = members[rng.integers(0, members.shape[0], q)]
    m = generalization_metrics(samples, ds.data, ds.space)
    assert m["fidelity"] == 1.0
    # R ~ Binomial(q, 1 - eps) / q: R~ = 1 within 4 standard errors
    se = math.sqrt(m["eps"] * (1 - m["eps"]) / q) / (1 - m["eps"])
    assert abs(m["normalized_rate"] - 1) < 4 * se
    # E[C] = 1 - (1 - 1/|S|)^Q; each unseen member is covered independently-ish: sd <= sqrt(p(1-p)/U)
    p = perfect_coverage(252, q)
    assert abs(m["normalized_coverage"] - 1) < 4 * math.sqrt(p * (1 - p) / m["num_unseen"]) / p + 1e-12


def test_replaying_training_data_gives_zero():
    ds = jqgen.cardinality_dataset(10, 5, 0.3, seed=2)
    samples = ds.data[np.random.default_rng(0).integers(0, ds.data.shape[0], 1000)]
    m = generalization_metrics(samples, ds.data, ds.space)
    assert m["exploration"] == m["rate"] == m["coverage"] == 0
    assert m["precision"] == 1.0


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad, match", [
    (np.zeros((5, 5), np.uint8), "bits per sample"),
    (np.full((5, 4), 2, np.uint8), "0/1"),
    (np.full((5, 4), 0.5), "0/1"),
    (np.zeros((0, 4), np.uint8), "non-empty"),
    (np.zeros(4, np.uint8), "non-empty"),
])
def test_bad_samples_raise(bad, match):
    train = _b(["1100"])
    with pytest.raises(ValueError, match=match):
        generalization_metrics(bad, train, Cardinality(4, 2))


def test_no_valid_training_member_raises():
    with pytest.raises(ValueError, match=r"eps .* must be in \(0, 1\]"):
        generalization_metrics(_b(["1100"]), _b(["1110"]), Cardinality(4, 2))


def test_bad_quality_fraction_raises():
    with pytest.raises(ValueError, match="quality_fraction"):
        generalization_metrics(_b(["1010"]), _b(["1100"]), Cardinality(4, 2),
                               cost=QuadraticCost(np.ones(4), np.zeros((4, 4))), quality_fraction=0)
