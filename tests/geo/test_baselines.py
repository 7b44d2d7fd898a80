"""GEO's baselines (jqgen/geo/_baselines.py, _anneal.py) on a small instance whose optimum is
known by brute force: n = 12 assets, k = 4, random mu and a positive-definite covariance."""

from __future__ import annotations

import itertools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jqgen.geo import (BASELINES, BaselineResult, BinaryPortfolio, CostFunction, cardinality_penalty,
                       exact_optimum, random_search, run_baseline, swap_annealing)
from jqgen.testing import compile_log

N, K, Q = 12, 4, 8.0
_rng = np.random.default_rng(3)
MU = _rng.normal(0.1, 0.05, N)
_A = _rng.normal(0.0, 0.1, (N, N))
COV = _A @ _A.T / N + 0.002 * np.eye(N)
PROBLEM = BinaryPortfolio(mu=MU, cov=COV, k=K, q=Q, name="small")
SA = dict(chains=4, calibration=8)  # one compiled anneal for every budget-240 run below
BUDGET = 240


def numpy_cost(x: np.ndarray) -> np.ndarray:
    w = x.astype(np.float64) / K
    return Q * np.einsum("bi,ij,bj->b", w, COV, w) - w @ MU


def brute_force() -> tuple[np.ndarray, float]:
    rows = []
    for c in itertools.combinations(range(N), K):
        x = np.zeros(N, np.uint8)
        x[list(c)] = 1
        rows.append(x)
    subsets = np.array(rows)
    costs = numpy_cost(subsets)
    return subsets[np.argmin(costs)], float(costs.min())


OPT_BITS, OPT_COST = brute_force()


# copies: under jax 0.10.2, jnp.asarray(a) traced under x32 makes a later jnp.asarray(a) of the
# same host array return float32 even under x64 (see test_sa_swap_is_float64_after_an_x32_conversion)
_MU_J, _COV_J = MU.copy(), COV.copy()


def jax_cost(bits: Any) -> jax.Array:
    mu, cov = jnp.asarray(_MU_J), jnp.asarray(_COV_J)
    w = bits.astype(mu.dtype) / K
    return Q * jnp.einsum("bi,ij,bj->b", w, cov, w) - w @ mu


def check_accounting(r: BaselineResult, budget: int) -> None:
    assert r.bits.dtype == np.uint8 and r.costs.dtype == np.float64
    assert r.bits.shape == (r.evaluations, N) and r.costs.shape == (r.evaluations,)
    assert r.evaluations <= budget
    np.testing.assert_array_equal(r.best_so_far, np.minimum.accumulate(r.costs))
    assert r.best_cost == r.costs.min() == r.best_so_far[-1]
    np.testing.assert_allclose(PROBLEM.cost(r.best_bits[None]), [r.best_cost], rtol=1e-9, atol=1e-12)


def test_the_brute_force_optimum_is_not_trivial():
    # neither the best return nor the least risk: both terms matter
    x = np.array([np.isin(np.arange(N), c) for c in itertools.combinations(range(N), K)]).astype(np.uint8)
    risk, ret = PROBLEM.risk_return(x)
    assert not np.array_equal(x[np.argmax(ret)], OPT_BITS) and not np.array_equal(x[np.argmin(risk)], OPT_BITS)


def test_exhaustive_search_is_exact():
    r = run_baseline("exact", PROBLEM, None, seed=0, batch_size=64)  # 495 strings in 8 batches
    np.testing.assert_array_equal(r.best_bits, OPT_BITS)
    assert r.best_cost == pytest.approx(OPT_COST, rel=1e-12)
    assert r.evaluations == 495 and r.info["optimal"] and r.info["method"] == "enumerate"


def test_exhaustive_search_of_a_cost_function_with_and_without_cardinality():
    fn = CostFunction(jax_cost, num_bits=N, k=K, jittable=True)
    r = exact_optimum(fn, batch_size=128)
    np.testing.assert_array_equal(r.best_bits, OPT_BITS)
    free = CostFunction(lambda b: (b.sum(1) - 3.0) ** 2 + b[:, 0], num_bits=6)  # best: 3 ones, bit 0 off
    e = exact_optimum(free)
    assert e.evaluations == 64 and e.best_cost == 0.0 and e.best_bits[0] == 0 and e.best_bits.sum() == 3


@pytest.mark.slow
def test_sa_swap_finds_the_optimum_for_most_seeds():
    # 240 evaluations for 495 valid strings: random search finds the optimum for about a third of the seeds
    found = [swap_annealing(PROBLEM, BUDGET, seed=s, **SA).best_cost <= OPT_COST + 1e-12 for s in range(16)]
    lucky = [random_search(PROBLEM, BUDGET, seed=s).best_cost <= OPT_COST + 1e-12 for s in range(16)]
    assert sum(found) >= 13 and sum(found) > sum(lucky) + 4, (found, lucky)


def test_sa_swap_visits_only_valid_states_and_its_costs_are_true():
    r = swap_annealing(PROBLEM, BUDGET, seed=3, **SA)
    assert np.all(r.bits.sum(axis=1) == K)
    np.testing.assert_allclose(r.costs, numpy_cost(r.bits), rtol=0, atol=1e-12)  # incremental deltas are exact
    assert 0.0 < r.info["acceptance_rate"] < 1.0 and r.info["t_initial"] > r.info["t_final"] > 0


@pytest.mark.parametrize("budget", [BUDGET, 243, 21])
def test_sa_swap_budget_accounting(budget):
    r = run_baseline("sa-swap", PROBLEM, budget, seed=1, **SA)
    check_accounting(r, budget)
    assert budget - r.evaluations < 4  # only the remainder of a last incomplete step is left
    assert r.evaluations == 2 * 8 + 4 * r.info["steps"]


def test_sa_swap_with_a_jittable_cost_function():
    fn = CostFunction(jax_cost, num_bits=N, k=K, jittable=True)
    r = swap_annealing(fn, BUDGET, seed=0, **SA)
    assert np.all(r.bits.sum(axis=1) == K)
    np.testing.assert_allclose(r.costs, numpy_cost(r.bits), rtol=1e-5, atol=1e-6)
    assert r.best_cost <= OPT_COST + 1e-6


def test_sa_swap_is_float64_after_an_x32_conversion():
    from jqgen.geo._anneal import anneal_swaps

    mu, cov = MU.copy(), COV.copy()
    jax.jit(lambda b: b.astype(jnp.float32) @ jnp.asarray(cov) @ jnp.asarray(mu))(jnp.ones((2, N), jnp.uint8))
    p = BinaryPortfolio(mu=mu, cov=cov, k=K, q=Q)
    bits, costs, _ = anneal_swaps(p, OPT_BITS[None], 50, t_initial=0.01, t_final=0.001, seed=0)
    np.testing.assert_allclose(costs.reshape(-1), numpy_cost(bits.reshape(-1, N)), rtol=0, atol=1e-12)


def test_sa_swap_compiles_once_per_size():
    other = BinaryPortfolio(mu=MU[::-1].copy(), cov=COV, k=K, q=0.5)
    swap_annealing(PROBLEM, BUDGET, seed=0, **SA)
    with compile_log() as names:
        swap_annealing(other, BUDGET, seed=5, **SA)
    assert names == [], names


def test_results_are_deterministic_given_the_seed():
    for name in ("sa-swap", "random"):
        a, b = (run_baseline(name, PROBLEM, 300, seed=4, **(SA if name == "sa-swap" else {})) for _ in range(2))
        np.testing.assert_array_equal(a.bits, b.bits)
        np.testing.assert_array_equal(a.costs, b.costs)
        c = run_baseline(name, PROBLEM, 300, seed=5, **(SA if name == "sa-swap" else {}))
        assert not np.array_equal(a.bits, c.bits)


def test_random_search_respects_the_budget_and_returns_valid_strings():
    r = random_search(PROBLEM, 250, seed=0, batch_size=64)
    check_accounting(r, 250)
    assert r.evaluations == 250 and np.all(r.bits.sum(axis=1) == K) and np.all(np.isfinite(r.costs))
    free = random_search(CostFunction(lambda b: b.sum(1), num_bits=N), 100, seed=0)
    assert len(np.unique(free.bits.sum(axis=1))) > 3  # k=None: any strings


def test_seed_set_is_distinct_valid_and_evaluated():
    r = swap_annealing(PROBLEM, BUDGET, seed=2, **SA)
    bits, costs = r.seed_set()
    assert len(np.unique(bits, axis=0)) == len(bits) < r.evaluations  # the anneal revisits strings
    assert {tuple(b) for b in bits} == {tuple(b) for b in r.bits}
    np.testing.assert_allclose(costs, numpy_cost(bits), atol=1e-12)


def test_the_penalty_makes_the_constrained_optimum_the_ground_state():
    p = cardinality_penalty(PROBLEM)
    allbits = ((np.arange(2**N)[:, None] >> np.arange(N)) & 1).astype(np.uint8)
    energy = numpy_cost(allbits) + p * (allbits.sum(1).astype(np.int64) - K) ** 2.0
    np.testing.assert_array_equal(allbits[np.argmin(energy)], OPT_BITS)
    # a much smaller penalty would not do: the cardinality then pays
    assert allbits[np.argmin(numpy_cost(allbits) + 1e-4 * (allbits.sum(1).astype(np.int64) - K) ** 2.0)].sum() != K


def test_sa_dwave_finds_the_optimum():
    pytest.importorskip("dwave.samplers")
    from jqgen.geo._baselines import _portfolio_bqm

    p = cardinality_penalty(PROBLEM)
    bqm = _portfolio_bqm(PROBLEM, p)
    x = np.random.default_rng(0).integers(0, 2, (20, N)).astype(np.uint8)
    penalized = numpy_cost(x) + p * (x.sum(1).astype(np.int64) - K) ** 2.0
    np.testing.assert_allclose(bqm.energies((x, range(N))), penalized, atol=1e-10)
    r = run_baseline("sa-dwave", PROBLEM, 100, seed=0, num_sweeps=200)
    check_accounting(r, 100)
    assert r.evaluations == 100 and 0.0 < r.info["valid_fraction"] <= 1.0
    np.testing.assert_array_equal(np.isfinite(r.costs), r.bits.sum(axis=1) == K)
    np.testing.assert_array_equal(r.best_bits, OPT_BITS)
    again = run_baseline("sa-dwave", PROBLEM, 100, seed=0, num_sweeps=200)
    np.testing.assert_array_equal(again.bits, r.bits)


def test_miqp_by_scip_is_exact():
    pytest.importorskip("pyscipopt")
    r = exact_optimum(PROBLEM, method="miqp", time_limit=30.0)
    assert r.info["optimal"] and r.info["method"] == "miqp-scip" and r.evaluations == 0
    np.testing.assert_array_equal(r.best_bits, OPT_BITS)
    assert r.best_cost == pytest.approx(OPT_COST, rel=1e-9)
    assert r.info["bound"] <= OPT_COST + 1e-6


@pytest.mark.parametrize("call, match", [
    (lambda: run_baseline("nope", PROBLEM, 10, seed=0), "name must be one of"),
    (lambda: run_baseline("random", PROBLEM, 0, seed=0), "budget must be an int >= 1"),
    (lambda: run_baseline("random", PROBLEM, 10, seed=-1), "seed must be"),
    (lambda: run_baseline("random", "not a problem", 10, seed=0), "problem must be"),
    (lambda: swap_annealing(PROBLEM, 19, seed=0, **SA), "budget=19 is too small"),
    (lambda: swap_annealing(CostFunction(jax_cost, num_bits=N, k=K), 100, seed=0), "CostFunction"),
    (lambda: swap_annealing(CostFunction(jax_cost, num_bits=N, jittable=True), 100, seed=0), "cardinality"),
    (lambda: swap_annealing(PROBLEM, 100, seed=0, chains=0), "chains must be"),
    (lambda: swap_annealing(PROBLEM, 100, seed=0, accept_final=0.9, **SA), "accept_final"),
    (lambda: swap_annealing(PROBLEM, 100, seed=0, t_initial=-1.0, **SA), "t_initial"),
    (lambda: exact_optimum(PROBLEM, method="guess"), "method must be"),
    (lambda: exact_optimum(CostFunction(jax_cost, num_bits=40, k=20), max_enumeration=10), "MIQP needs"),
])
def test_bad_input_raises_a_value_error_naming_it(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_the_names():
    assert BASELINES == ("sa-swap", "sa-dwave", "random", "exact")
