"""The exact constrained frontier of the binary form (jqgen/geo/_exact_frontier.py) against
brute force on n = 12 assets, k = 4 (495 subsets), and SCIP's MIQP against enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from jqgen.geo import BinaryPortfolio, exact_frontier, frontier_q_grid, scip_available, synthetic_instance

INST = synthetic_instance(12, seed=4)
K = 4


def brute_force(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per q: the least cost over all 4-subsets and the variance of the first subset that has it."""
    x = np.zeros((495, 12))
    for row, c in enumerate(itertools.combinations(range(12), K)):
        x[row, list(c)] = 1 / K
    v, r = np.einsum("bi,ij,bj->b", x, INST.cov, x), x @ INST.mu
    costs = q[None, :] * v[:, None] - r[:, None]
    return costs.min(axis=0), v[np.argmin(costs, axis=0)]


def test_enumeration_matches_brute_force_on_twelve_assets():
    qs = frontier_q_grid(INST, K, points=15)
    f = exact_frontier(INST, K, qs)
    cost, var = brute_force(qs)
    assert f.method == "enumerate" and f.optimal.all() and f.q.tolist() == qs.tolist()
    np.testing.assert_allclose(f.cost, cost, rtol=0, atol=1e-15)
    np.testing.assert_allclose(f.variance, var, rtol=1e-12)
    assert np.all(f.bits.sum(axis=1) == K)
    p = BinaryPortfolio(INST.mu, INST.cov, K, 1.0)
    v, r = p.risk_return(f.bits)
    np.testing.assert_allclose(f.variance, v, rtol=1e-12)
    np.testing.assert_allclose(f.returns, r, rtol=1e-12)
    np.testing.assert_allclose(f.cost, f.q * f.variance - f.returns, rtol=0, atol=1e-15)
    # the frontier: variance falls and return falls as q grows; q = 0 holds the k largest mu
    assert np.all(np.diff(f.variance) <= 1e-15) and np.all(np.diff(f.returns) <= 1e-15)
    assert set(np.flatnonzero(f.bits[0])) == set(np.argsort(-INST.mu)[:K])
    assert len({(round(a, 12), round(b, 12)) for a, b in zip(f.variance, f.returns)}) >= 3  # spans corners
    rec = f.records()
    assert len(rec) == 15 and rec[3] == {"q": float(qs[3]), "variance": float(f.variance[3]),
                                         "return": float(f.returns[3]), "cost": float(f.cost[3]), "optimal": True}


@pytest.mark.skipif(not scip_available(), reason="pyscipopt (SCIP) is an optional dependency")
def test_scip_miqp_agrees_with_enumeration():
    qs = [0.0, 2.0, 30.0]
    a, b = exact_frontier(INST, K, qs), exact_frontier(INST, K, qs, method="miqp", time_limit=30.0)
    assert b.method == "miqp-scip" and b.optimal.all() and b.unsolved == ()
    np.testing.assert_allclose(b.cost, a.cost, rtol=0, atol=1e-9)


@pytest.mark.parametrize("kwargs, match", [
    (dict(k=0), "k must be an int in"), (dict(k=13), "k must be an int in"),
    (dict(qs=[1.0, -2.0]), r"qs\[1\] = -2.0"), (dict(qs=[]), "qs must be a non-empty"),
    (dict(qs=[np.inf]), r"qs\[0\] = inf"), (dict(method="lp"), "method must be"),
    (dict(time_limit=0.0), "time_limit must be"), (dict(batch_size=0), "batch_size must be"),
    (dict(instance=object()), "PortfolioInstance or a BinaryPortfolio")])
def test_bad_arguments_raise_value_errors_naming_them(kwargs, match):
    args = {"instance": INST, "k": K, "qs": [0.0, 1.0], **kwargs}
    with pytest.raises(ValueError, match=match):
        exact_frontier(args.pop("instance"), args.pop("k"), args.pop("qs"), **args)
    with pytest.raises(ValueError, match="points must be"):
        frontier_q_grid(INST, K, points=1)


@pytest.mark.skipif(not scip_available(), reason="pyscipopt (SCIP) is an optional dependency")
@pytest.mark.parametrize("kind", ["singular", "indefinite"])
def test_scip_miqp_with_a_singular_or_an_indefinite_covariance(kind):
    """The risk as |F^T x|^2 needs F F^T = Sigma: a singular PSD Sigma factors by its
    eigenvectors, an indefinite one falls back to the bilinear form."""
    from jqgen.geo import exact_optimum

    a = np.random.default_rng(5).normal(0, 0.05, (8, 3))
    cov = a @ a.T if kind == "singular" else a @ a.T - 0.002 * np.eye(8)
    p = BinaryPortfolio(np.linspace(0.002, 0.01, 8), cov, 3, 4.0)
    miqp, enum = exact_optimum(p, method="miqp", time_limit=30.0), exact_optimum(p, method="enumerate")
    assert miqp.info["optimal"] and miqp.best_cost == pytest.approx(enum.best_cost, abs=1e-9)
