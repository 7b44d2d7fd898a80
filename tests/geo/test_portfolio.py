"""Portfolio problems: OR-Library readers (real files and malformed ones), the synthetic
factor model, Chang et al.'s form with its batched QP (against brute-force active-set
enumeration and SLSQP), and the frontier error measures on hand-made frontiers."""

import itertools
import os
import time

import numpy as np
import pytest
from scipy.optimize import minimize

from jqgen.geo import (INSTANCE_NAMES, ChangPortfolio, PortfolioInstance, box_budget_qp, frontier_errors,
                       load_frontier, load_instance, read_frontier, read_orlib, synthetic_instance)

SIZES = {"hangseng31": 31, "dax85": 85, "ftse89": 89, "sp98": 98, "nikkei225": 225}


# ---------------------------------------------------------------- real files


@pytest.mark.parametrize("name", list(INSTANCE_NAMES))
def test_reads_the_orlib_instances_and_frontiers(shared_data, name):
    t0 = time.perf_counter()
    inst = load_instance(name, shared_data)
    seconds = time.perf_counter() - t0
    n = SIZES[name]
    assert inst.n == n and inst.name == name
    assert inst.mu.shape == (n,) and inst.sd.shape == (n,) and inst.cov.shape == (n, n)
    np.testing.assert_array_equal(inst.cov, inst.cov.T)
    np.testing.assert_array_equal(np.diag(inst.corr), 1.0)
    assert np.linalg.eigvalsh(inst.cov)[0] > 0
    np.testing.assert_allclose(np.diag(inst.cov), inst.sd**2, rtol=1e-12)
    # a guard against a pathological (e.g. per-line quadratic) reader, not a timing test: ~0.1 s
    # quiet, 1.3 s seen at load average 9
    assert seconds < 10.0, f"{name} took {seconds:.2f} s to load"
    returns, variances = load_frontier(name, shared_data)
    assert returns.shape == variances.shape == (2000,)
    assert np.all(variances > 0) and np.all(np.isfinite(returns))


def test_known_values_aliases_and_paths(shared_data, monkeypatch, tmp_path):
    inst = load_instance("port1", shared_data)
    assert inst.name == "hangseng31"
    assert inst.mu[0] == pytest.approx(0.001309) and inst.sd[0] == pytest.approx(0.043208)
    assert inst.mu[1] == pytest.approx(0.004177) and inst.corr[0, 1] == pytest.approx(0.562289)
    assert inst.corr[29, 30] == pytest.approx(0.602996) == inst.corr[30, 29]
    assert inst.cov[0, 1] == pytest.approx(0.562289 * 0.043208 * 0.040258)
    path = os.path.join(shared_data, "orlib_port1_hangseng31.txt")
    np.testing.assert_array_equal(read_orlib(path).cov, inst.cov)
    np.testing.assert_array_equal(load_instance(path).mu, inst.mu)
    r, v = load_frontier("portef1", shared_data)
    assert (r[0], v[0]) == (pytest.approx(0.010865), pytest.approx(0.004775501))
    monkeypatch.setenv("JQGEN_DATA_DIR", shared_data)
    assert load_instance("HangSeng31").n == 31
    monkeypatch.delenv("JQGEN_DATA_DIR")
    monkeypatch.chdir(tmp_path)  # neither ./shared/data nor ../shared/data here
    with pytest.raises(ValueError, match="not found.*looked in"):
        load_instance("dax85")
    with pytest.raises(ValueError, match="neither a file nor an instance name"):
        load_instance("dax86")


# ---------------------------------------------------------------- malformed files

GOOD = ["3", " 0.010 0.050", " 0.020 0.040", " 0.015 0.030",
        " 1 1 1.0", " 1 2 0.3", " 1 3 0.2", " 2 2 1.0", " 2 3 0.1", " 3 3 1.0"]


def _edit(lines, line, text):
    """Replaces 1-based ``line`` with ``text`` (``None`` deletes it, a list inserts lines)."""
    out = list(lines)
    out[line - 1:line] = [] if text is None else ([text] if isinstance(text, str) else text)
    return out


MALFORMED = {
    "first line not an int": (_edit(GOOD, 1, "three"), ["line 1", "'three'"]),
    "fewer asset lines than N": (_edit(GOOD, 1, "4"), ["line 5", "only 3 asset lines", "'1 1 1.0'"]),
    "more asset lines than N": (_edit(GOOD, 1, "2"), ["line 4", "more than N = 2", "'0.015 0.030'"]),
    "non-numeric field": (_edit(GOOD, 3, " 0.020 abc"), ["line 3", "'abc'"]),
    "missing field": (_edit(GOOD, 2, " 0.010"), ["line 2", "'0.010'"]),
    "nan": (_edit(GOOD, 4, " nan 0.03"), ["line 4", "'nan'"]),
    "negative sd": (_edit(GOOD, 3, " 0.020 -0.040"), ["line 3", "'-0.040'"]),
    "correlation above 1": (_edit(GOOD, 6, " 1 2 1.5"), ["line 6", "outside [-1, 1]", "'1.5'"]),
    "correlation below -1": (_edit(GOOD, 9, " 2 3 -1.01"), ["line 9", "'-1.01'"]),
    "diagonal not 1": (_edit(GOOD, 8, " 2 2 0.9"), ["line 8", "must be 1", "'0.9'"]),
    "duplicated pair": (_edit(GOOD, 9, [" 1 2 0.3", " 3 3 1.0"])[:-1], ["line 9", "duplicated", "(1, 2)",
                                                                       "line 6"]),
    "duplicated pair reversed": (_edit(GOOD, 9, [" 2 3 0.1", " 3 2 0.1"]), ["line 10", "(2, 3)", "line 9"]),
    "missing pair": (_edit(GOOD, 7, None), ["pair (1, 3) is missing", "5 correlation lines", "expected 6"]),
    "index out of range": (_edit(GOOD, 7, " 1 4 0.2"), ["line 7", "[1, 3]", "'4'"]),
    "fractional index": (_edit(GOOD, 7, " 1 2.5 0.2"), ["line 7", "'2.5'"]),
    "not positive definite": (_edit(_edit(_edit(GOOD, 6, " 1 2 0.9"), 7, " 1 3 0.9"), 9, " 2 3 -0.9"),
                              ["not positive definite", "smallest eigenvalue -"]),
    "no correlations": (GOOD[:4], ["no correlation lines"]),
    "empty": ([], ["empty"]),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_reader_rejects_malformed_files(tmp_path, case):
    lines, expected = MALFORMED[case]
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as err:
        read_orlib(path)
    message = str(err.value)
    assert "bad.txt" in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_good_tiny_file_and_frontier_errors(tmp_path):
    path = tmp_path / "good.txt"
    path.write_text("\n".join(GOOD) + "\n\n")
    inst = read_orlib(path)
    assert inst.n == 3 and inst.corr[2, 0] == 0.2 and inst.name == "good"
    ef = tmp_path / "ef.txt"
    for text, parts in [("0.01 0.004\n0.02 x\n", ["line 2", "'x'"]), ("0.01 0.004\n0.02 -0.1\n", ["line 2", "'-0.1'"]),
                        ("0.01 0.004\n0.02\n", ["line 2", "'0.02'"]), ("0.01 0.004\n", ["at least 2"])]:
        ef.write_text(text)
        with pytest.raises(ValueError) as err:
            read_frontier(ef)
        assert all(p in str(err.value) for p in parts), str(err.value)
    with pytest.raises(ValueError, match="no such file"):
        read_orlib(tmp_path / "absent.txt")


# ---------------------------------------------------------------- synthetic instances


def test_synthetic_instance_is_seeded_and_realistic():
    a, b, c = synthetic_instance(500, seed=3), synthetic_instance(500, seed=3), synthetic_instance(500, seed=4)
    np.testing.assert_array_equal(a.cov, b.cov)
    assert not np.allclose(a.mu, c.mu)
    assert a.n == 500 and np.linalg.eigvalsh(a.cov)[0] > 0
    assert 0.015 < a.sd.min() and a.sd.max() < 0.09
    assert 0.0005 <= a.mu.min() and a.mu.max() <= 0.012 and 0.001 < np.median(a.mu) < 0.01
    p = a.binary(k=50, q=1.0)
    bits = np.zeros((2, 500), np.uint8)
    bits[0, :50] = 1
    assert np.isfinite(p.cost(bits)[0]) and np.isinf(p.cost(bits)[1])
    for kwargs in [{"n": 1}, {"factors": 0}, {"seed": -1}, {"idio_sd": (0.05, 0.01)}, {"market_sd": 0.0}]:
        with pytest.raises(ValueError):
            synthetic_instance(**{"n": 10, **kwargs})


def test_instance_validation():
    with pytest.raises(ValueError, match="not positive definite"):
        PortfolioInstance("x", np.zeros(2), np.ones(2), np.ones((2, 2)))
    with pytest.raises(ValueError, match="sd must be > 0"):
        PortfolioInstance("x", np.zeros(2), np.array([1.0, -1.0]), np.eye(2))
    with pytest.raises(ValueError, match="unit diagonal"):
        PortfolioInstance("x", np.zeros(2), np.ones(2), np.array([[1.0, 0.2], [0.3, 1.0]]))


# ---------------------------------------------------------------- the QP


def _enumerate(q, c, lo, hi):
    """Exact optimum: every assignment of each weight to {lower, upper, free}, the free ones
    from the equality-constrained KKT system; the best feasible candidate."""
    k, best = len(c), (np.inf, None)
    for state in itertools.product(range(3), repeat=k):
        state = np.array(state)
        w = np.where(state == 0, lo, hi).astype(float)
        f, x = np.nonzero(state == 2)[0], np.nonzero(state != 2)[0]
        if f.size:
            m = np.block([[q[np.ix_(f, f)], -np.ones((f.size, 1))], [np.ones((1, f.size)), np.zeros((1, 1))]])
            rhs = np.concatenate([-c[f] - q[np.ix_(f, x)] @ w[x], [1 - w[x].sum()]])
            try:
                w[f] = np.linalg.solve(m, rhs)[:-1]
            except np.linalg.LinAlgError:
                continue
        if abs(w.sum() - 1) < 1e-10 and np.all(w >= lo - 1e-12) and np.all(w <= hi + 1e-12):
            best = min(best, (0.5 * w @ q @ w + c @ w, tuple(w)))
    return best


def _check_kkt(q, c, w, lo, hi, tol=1e-9):
    assert abs(w.sum() - 1) < 1e-12 and np.all(w >= lo - 1e-14) and np.all(w <= hi + 1e-14)
    g = q @ w + c
    free = (w > lo + 1e-9) & (w < hi - 1e-9)
    y = g[free].mean() if free.any() else None
    scale = np.abs(g).max() + 1e-30
    if y is not None:
        assert np.all(np.abs(g[free] - y) < tol * scale)
        assert np.all(g[w <= lo + 1e-9] >= y - tol * scale) and np.all(g[w >= hi - 1e-9] <= y + tol * scale)


@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0])
def test_qp_matches_brute_force_enumeration(lam):
    rng = np.random.default_rng(int(lam * 10))
    k, b = 4, 24
    a = rng.normal(size=(b, k, k)) * 0.03
    q = lam * np.einsum("bij,bkj->bik", a, a)
    c = -(1 - lam) * rng.uniform(-0.002, 0.01, (b, k))
    lo, hi = 0.05, 0.6
    w, obj = box_budget_qp(q, c, lo, hi)
    for i in range(b):
        ref, _ = _enumerate(q[i], c[i], lo, hi)
        assert obj[i] == pytest.approx(ref, rel=1e-9, abs=1e-15)
        _check_kkt(q[i], c[i], w[i], lo, hi)


@pytest.mark.slow
def test_chang_portfolio_matches_slsqp_and_is_feasible():
    inst = synthetic_instance(40, seed=5)
    rng = np.random.default_rng(0)
    bits = np.zeros((8, 40), np.uint8)
    for row in bits:
        row[rng.choice(40, 10, replace=False)] = 1
    bits[7, :] = 0  # invalid: no assets
    for lam in [0.0, 0.02, 0.5, 1.0]:
        p = inst.chang(K=10, lam=lam)
        cost, w = p.cost(bits), p.weights(bits)
        assert np.isinf(cost[7]) and np.all(np.isnan(w[7]))
        var, ret = p.risk_return(bits[:7])
        np.testing.assert_allclose(cost[:7], lam * var - (1 - lam) * ret, rtol=1e-12, atol=1e-16)
        for i in range(7):
            held = np.nonzero(bits[i])[0]
            assert np.all(w[i][bits[i] == 0] == 0) and np.all(w[i][held] >= 0.01 - 1e-14)
            sig, mu = inst.cov[np.ix_(held, held)], inst.mu[held]
            _check_kkt(2 * lam * sig, -(1 - lam) * mu, w[i][held], 0.01, 1.0)
            res = minimize(lambda x: lam * x @ sig @ x - (1 - lam) * mu @ x, np.full(10, 0.1),
                           jac=lambda x: 2 * lam * sig @ x - (1 - lam) * mu, bounds=[(0.01, 1.0)] * 10,
                           constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1, "jac": lambda x: np.ones(10)}],
                           method="SLSQP", options={"ftol": 1e-15, "maxiter": 500})
            assert cost[i] == pytest.approx(res.fun, rel=1e-6, abs=1e-12)
            assert cost[i] <= res.fun + 1e-12


def test_chang_degenerate_and_validation():
    inst = synthetic_instance(6, seed=0)
    one = np.eye(6, dtype=np.uint8)[2:3]
    assert ChangPortfolio(inst, K=1, lam=0.5).weights(one)[0].tolist() == [0, 0, 1, 0, 0, 0]
    bits = np.array([[1, 1, 1, 1, 0, 0]], np.uint8)
    np.testing.assert_allclose(ChangPortfolio(inst, K=4, lam=0.3, w_min=0.25).weights(bits)[0, :4], 0.25)
    p = ChangPortfolio(inst, K=4, lam=0.3)
    assert p.num_bits == 6 and p.k == 4 and p.describe()["lam"] == 0.3 and p.valid(bits).tolist() == [True]
    for kwargs in [{"K": 0}, {"K": 7}, {"lam": 1.5}, {"lam": float("nan")}, {"w_min": 0.3}, {"w_max": 0.2},
                   {"w_min": 0.5, "w_max": 0.4}]:
        with pytest.raises(ValueError):
            ChangPortfolio(inst, **{"K": 4, "lam": 0.5, **kwargs})
    with pytest.raises(ValueError, match="PortfolioInstance"):
        ChangPortfolio(np.eye(3), K=1, lam=0.5)
    with pytest.raises(ValueError, match="0/1"):
        p.cost(np.full((1, 6), 2))
    with pytest.raises(ValueError, match="infeasible"):
        box_budget_qp(np.zeros((1, 2, 2)), np.zeros((1, 2)), 0.6, 1.0)
    with pytest.raises(ValueError, match="symmetric"):
        box_budget_qp(np.array([[[1.0, 1.0], [0.0, 1.0]]]), np.zeros((1, 2)), 0.0, 1.0)
    with pytest.raises(ValueError, match=r"\[B, K, K\]"):
        box_budget_qp(np.zeros((2, 2)), np.zeros((1, 2)), 0.0, 1.0)


# ---------------------------------------------------------------- frontier errors


def _frontier(m=200):
    r = np.linspace(0.003, 0.01, m)
    return r, 0.0006 + 40 * (r - 0.003) ** 2  # returns, variances


def test_points_on_the_frontier_score_zero():
    fr, fv = _frontier()
    pick = np.arange(0, 200, 4)
    for reference in ("points", "segments"):
        e = frontier_errors(fv[pick], fr[pick], fr[::-1], fv[::-1], reference=reference)
        for key in ("mean_euclidean", "variance_error_pct", "mean_return_error_pct", "chang_mean_pct"):
            assert e[key] == pytest.approx(0.0, abs=1e-12), (reference, key)
        assert e["points"] == 50
    mid_r, mid_v = (fr[:-1] + fr[1:]) / 2, (fv[:-1] + fv[1:]) / 2  # on the interpolated frontier
    seg = frontier_errors(mid_v, mid_r, fr, fv, reference="segments")
    assert seg["mean_euclidean"] == pytest.approx(0.0, abs=1e-15) and abs(seg["chang_mean_pct"]) < 1e-9
    assert frontier_errors(mid_v, mid_r, fr, fv)["mean_euclidean"] > 0


def test_frontier_errors_hand_computed():
    fr, fv = np.array([0.01, 0.02]), np.array([0.001, 0.004])
    e = frontier_errors([0.0011], [0.0099], fr, fv)
    assert e["mean_euclidean"] == pytest.approx(np.hypot(1e-4, 1e-4))
    assert e["variance_error_pct"] == pytest.approx(100 * 1e-4 / 0.0011)
    assert e["mean_return_error_pct"] == pytest.approx(100 * 1e-4 / 0.0099)
    # Chang: r = 0.0099 is outside the frontier's returns; at v = 0.0011 the frontier return is
    # 0.01 + 0.01 * (0.0001 / 0.003), a return error of 100 (r* - r) / r*.
    r_star = 0.01 + 0.01 * 0.0001 / 0.003
    assert e["chang_mean_pct"] == pytest.approx(100 * (r_star - 0.0099) / r_star)
    two = frontier_errors([0.0011, 0.004], [0.0099, 0.02], fr, fv)
    assert two["mean_euclidean"] == pytest.approx(np.hypot(1e-4, 1e-4) / 2)
    assert two["sum_euclidean"] == pytest.approx(np.hypot(1e-4, 1e-4))  # the published scale: xi * mean
    with pytest.raises(ValueError, match="same length"):
        frontier_errors([0.001, 0.002], [0.01], fr, fv)
    with pytest.raises(ValueError, match="variances must be > 0"):
        frontier_errors([0.0], [0.01], fr, fv)
    with pytest.raises(ValueError, match="reference"):
        frontier_errors([0.001], [0.01], fr, fv, reference="nearest")
    with pytest.raises(ValueError, match="finite"):
        frontier_errors([np.nan], [0.01], fr, fv)
