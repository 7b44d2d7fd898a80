"""Synthetic generalization data sets (jqgen.synthetic), the evaluation report and `jqgen evaluate`."""

from __future__ import annotations

import json
import math

import jax
import numpy as np
import pytest

import jqgen
from jqgen.cli import main
from jqgen.data import load_dataset
from jqgen.metrics import pack_bits


def _keys(x: np.ndarray) -> set:
    return set(pack_bits(x).tolist())


@pytest.mark.parametrize("n, k, eps", [(6, 3, 0.3), (12, 6, 0.05), (5, 0, 1.0), (8, 2, 1e-9)])
def test_cardinality_dataset_partitions_space(n, k, eps):
    ds = jqgen.cardinality_dataset(n, k, eps, seed=3)
    size = math.comb(n, k)
    assert ds.space.size == size and ds.data.shape[0] == max(1, round(eps * size))
    train = _keys(ds.data)
    assert len(train) == ds.data.shape[0] and ds.space.contains(ds.data).all()
    test = _keys(ds.test) if ds.test is not None else set()
    assert not train & test and len(train | test) == size
    again = jqgen.cardinality_dataset(n, k, eps, seed=3)
    assert np.array_equal(again.data, ds.data)
    other = jqgen.cardinality_dataset(12, 6, 0.3, seed=4)
    assert not np.array_equal(other.data, jqgen.cardinality_dataset(12, 6, 0.3, seed=5).data)


def test_cost_dataset_hides_the_best_and_reweights():
    ds = jqgen.cardinality_cost_dataset(10, 5, 0.3, seed=1, exclude_best=0.1, max_repeat=10)
    members = ds.space.enumerate()
    c = ds.cost(members)
    best = members[c <= np.quantile(c, 0.1)]
    assert not _keys(best) & _keys(ds.data)  # "better than anything in training" exists
    distinct, counts = np.unique(pack_bits(ds.data), return_counts=True)
    assert distinct.size == round(0.3 * 252) and counts.min() >= 1 and counts.max() == 10
    order = np.argsort(ds.cost(jqgen.index_to_bits(distinct.astype(np.uint32), 10)))
    assert counts[order[0]] == 10  # the cheapest training member is the most frequent
    with pytest.raises(ValueError, match="exclude_best"):
        jqgen.cardinality_cost_dataset(10, 5, 0.95, exclude_best=0.1)


def test_gaussian_mixture():
    p = jqgen.gaussian_mixture(8)
    assert p.shape == (256,) and math.isclose(p.sum(), 1.0)
    peaks = sorted(np.argsort(p)[-2:])
    assert abs(peaks[0] - 256 * 2 / 7) <= 1 and abs(peaks[1] - 256 * 5 / 7) <= 1
    ds = jqgen.gaussian_mixture_dataset(8, num_samples=20000, seed=0)
    emp = np.bincount(np.asarray(jqgen.bits_to_index(ds.data)), minlength=256) / 20000
    assert jqgen.total_variation(emp, p) < 0.1 and ds.target is not None


@pytest.mark.parametrize("name, n, has_cost", [("cardinality-9-3-0.25-s2", 9, False),
                                               ("cardinality-cost-9-3-0.25", 9, True),
                                               ("bas-2x3", 6, False), ("gaussian-mixture-5-s1", 5, False)])
def test_load_dataset_names(name, n, has_cost):
    ds = load_dataset(name)
    assert ds.num_bits == n and (ds.cost is not None) == has_cost


@pytest.mark.parametrize("bad", [dict(n=6, k=7, eps=0.3), dict(n=6, k=3, eps=0.0), dict(n=6, k=3, eps=1.5),
                                 dict(n=0, k=0, eps=0.5), dict(n=6, k=3.0, eps=0.5)])
def test_cardinality_bad_input(bad):
    with pytest.raises(ValueError):
        jqgen.cardinality_dataset(**bad)


def test_bad_dataset_names():
    with pytest.raises(ValueError, match="eps"):
        load_dataset("cardinality-6-3-0")
    with pytest.raises((ValueError, FileNotFoundError)):
        load_dataset("cardinality-6-3")


@pytest.mark.slow
def test_evaluate_report_agrees_with_metrics_and_exact_mass():
    ds = load_dataset("cardinality-cost-8-4-0.3")
    model = jqgen.MPSBornMachine(8, 4)
    params = model.init(jax.random.key(0))
    r = jqgen.evaluate(model, params, 7, ds, num_samples=3000)
    assert r["num_samples"] == 3000 and r["seed"] == 7 and r["dataset"] == ds.name
    samples = np.asarray(model.sample(params, jax.random.key(7), 3000))
    direct = jqgen.generalization_metrics(samples, ds.data, ds.space, cost=ds.cost)
    assert r["generalization"] == pytest.approx(direct, nan_ok=True)
    p = np.asarray(model.probs(params), np.float64)
    valid = np.asarray(ds.space.contains(np.asarray(jqgen.all_bitstrings(8))))
    assert r["distances"]["mass_on_space"] == pytest.approx(p[valid].sum(), rel=1e-5)
    # the sample precision estimates the exact mass on S
    assert abs(r["generalization"]["precision"] - p[valid].sum()) < 4 * math.sqrt(0.25 / 3000)
    assert r["likelihood"]["train"]["nll"] == pytest.approx(jqgen.mean_nll(model, params, ds.data))
    json.dumps(r)  # JSON-ready (NaN aside, which the CLI maps to null)
    text = jqgen.format_report(r)
    assert "quality coverage C_q" in text and "seed 7" in text


@pytest.mark.slow
def test_evaluate_large_model_uses_sample_mmd_and_counts_zero_prob_rows():
    ds = jqgen.Dataset("wide", np.random.default_rng(0).integers(0, 2, (50, 24)).astype(np.uint8),
                       test=np.ones((3, 24), np.uint8))
    model = jqgen.MPSBornMachine(24, 2)
    params = model.init(jax.random.key(1))
    r = jqgen.evaluate(model, params, jax.random.key(3), ds, num_samples=200, max_dense_bits=16)
    assert "generalization" not in r and r["seed"] is None and len(r["key_data"]) >= 2
    assert r["distances"]["method"].startswith("sample MMD") and r["distances"]["train"]["mmd"] >= 0
    assert "test" in r["likelihood"]


def test_evaluate_bad_input():
    ds = load_dataset("cardinality-6-3-0.5")
    model = jqgen.MPSBornMachine(6, 2)
    params = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match="num_samples"):
        jqgen.evaluate(model, params, 0, ds, num_samples=0)
    with pytest.raises(ValueError, match="bits per sample"):
        jqgen.evaluate(jqgen.MPSBornMachine(7, 2), jqgen.MPSBornMachine(7, 2).init(jax.random.key(0)), 0, ds)
    with pytest.raises(ValueError, match="key"):
        jqgen.evaluate(model, params, "seed", ds)


@pytest.mark.slow
def test_cli_evaluate(tmp_path, capsys):
    ds = load_dataset("cardinality-6-3-0.5-s1")
    model = jqgen.MPSBornMachine(6, 3)
    params = model.init(jax.random.key(0))
    ck = tmp_path / "checkpoint.npz"
    jqgen.save_checkpoint(ck, model, params, metadata={"data": "cardinality-6-3-0.5-s1"})
    assert main(["evaluate", str(ck), "--samples", "500", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "normalized coverage C~" in out and ds.name in out
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["num_samples"] == 500 and report["seed"] == 4
    assert report["generalization"]["space_size"] == 20
    assert main(["evaluate", str(ck), "--data", "bas-3x3"]) == 2
    assert "bits per sample" in capsys.readouterr().err
    jqgen.save_checkpoint(tmp_path / "bare.npz", model, params)
    assert main(["evaluate", str(tmp_path / "bare.npz")]) == 2
