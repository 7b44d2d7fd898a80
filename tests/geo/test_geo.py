"""The GEO loop (jqgen.geo.geo): surrogate, post-selection, the journal's crash behaviour and
resume, booster mode, and finding the optimum of a small instance."""

import itertools
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jqgen
from jqgen.geo import GeoJournal, GeoSettings, geo, post_select, random_valid, softmax_weights
from tests.geo._geo_run import SETTINGS, problem, run

_HERE = pathlib.Path(__file__).resolve().parent


def test_softmax_surrogate_weights_are_right_for_hand_computed_costs():
    c = np.array([1.0, 3.0, 2.0, np.inf])
    z = (c[:3] - 2.0) / np.sqrt(2 / 3)  # standardized: mean 2, std sqrt(2/3)
    want = np.exp(-z / 0.5) / np.exp(-z / 0.5).sum()
    np.testing.assert_allclose(softmax_weights(c, 0.5), np.append(want, 0.0), rtol=1e-12)
    np.testing.assert_allclose(softmax_weights([5.0, 5.0], 1.0), [0.5, 0.5])
    with pytest.raises(ValueError, match="temperature"):
        softmax_weights([1.0], 0.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 30))
def test_post_selection_never_returns_invalid_seen_or_repeated_candidates(seed, limit):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, (60, 5), dtype=np.uint8)
    valid = x.sum(axis=1) == 2
    seen = {r.tobytes() for r in np.packbits(x[rng.random(60) < 0.3], axis=1)}
    out = post_select(x, valid, seen, limit)
    keys = [r.tobytes() for r in np.packbits(out, axis=1)]
    assert len(out) <= limit and np.all(out.sum(axis=1) == 2)
    assert len(set(keys)) == len(keys) and not set(keys) & seen
    expected = {k for k, ok in zip((r.tobytes() for r in np.packbits(x, axis=1)), valid) if ok} - seen
    assert len(out) == min(limit, len(expected))


def test_random_valid_strings_have_weight_k():
    x = random_valid(np.random.default_rng(0), 500, 9, 4)
    assert np.all(x.sum(axis=1) == 4) and len({r.tobytes() for r in x}) > 100


@pytest.mark.slow
def test_geo_finds_the_exhaustive_optimum_of_a_small_instance_for_most_seeds():
    """N = 12, k = 4 (495 valid sets), budget 150: GEO with a symmetric MPS finds the optimum
    for at least 4 of 5 seeds; random search with the same budget does with probability
    150 / 495 = 30 % per seed, so 4 of 5 would happen by luck with probability 3 %."""
    p = problem()
    every = np.array([[int(i in c) for i in range(12)] for c in itertools.combinations(range(12), 4)], np.uint8)
    optimum = p.cost(every).min()
    hits = 0
    for seed in range(5):
        res = run(None, seed=seed)
        assert res.evaluations == 150 and len({r.tobytes() for r in res.bits}) == 150  # nothing evaluated twice
        assert np.all(res.bits.sum(axis=1) == 4) and res.best_cost == res.costs.min()
        hits += abs(res.best_cost - optimum) < 1e-12
    assert hits >= 4


def test_booster_seeds_are_recorded_and_not_counted(tmp_path):
    p = problem()
    seeds = random_valid(np.random.default_rng(3), 15, 12, 4)
    res = geo(p, jqgen.mps.SymmetricMPSBornMachine(12, 4, 2), 30, key=jax.random.key(0), settings=SETTINGS,
              seed_bits=seeds, seed_costs=p.cost(seeds), journal_path=tmp_path / "j.jsonl", progress=False)
    assert res.evaluations == 30 and len(res.costs) == 45
    np.testing.assert_array_equal(res.bits[:15], seeds)
    assert not {r.tobytes() for r in res.bits[15:]} & {r.tobytes() for r in seeds}
    j = GeoJournal(tmp_path / "j.jsonl", 12)
    assert [s for _, _, s in j.seeds] == ["booster"] and j.done


def test_a_resume_with_other_settings_is_refused(tmp_path):
    run(tmp_path / "j.jsonl", budget=20)
    with pytest.raises(ValueError, match="other settings .*settings"):
        geo(problem(), jqgen.mps.SymmetricMPSBornMachine(12, 4, 2), 20, key=jax.random.key(0),
            settings=GeoSettings(batch_size=5), journal_path=tmp_path / "j.jsonl", progress=False)


class _Crash(Exception):
    pass


def _crash_after_round(r):
    def callback(stats):
        if stats["round"] == r:
            raise _Crash
    return callback


def test_a_torn_last_record_is_dropped_and_the_run_resumes(tmp_path):
    path = tmp_path / "j.jsonl"
    whole = run(tmp_path / "whole.jsonl", budget=90)
    with pytest.raises(_Crash):
        run(path, budget=90, callback=_crash_after_round(2))
    with open(path, "a") as f:
        f.write('{"type": "eval", "round": 3, "bits": ["ab')  # a write cut short by the crash
    with pytest.warns(RuntimeWarning, match="partial last record"):
        res = run(path, budget=90)
    np.testing.assert_array_equal(res.bits, whole.bits)
    assert path.read_text().endswith("\n") and GeoJournal(path, 12).done


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_uninterrupted_result_without_evaluating_twice(tmp_path):
    whole = run(tmp_path / "whole.jsonl")
    journal = tmp_path / "killed.jsonl"
    from tests.conftest import xla_cache_env

    env = dict(os.environ, PYTHONPATH=str(_HERE.parents[1]), **xla_cache_env())
    proc = subprocess.Popen([sys.executable, str(_HERE / "_geo_run.py"), str(journal), str(tmp_path / "x.npz")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if journal.exists() and journal.read_text().count('"type": "eval"') >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    j = GeoJournal(journal, 12)
    assert not j.done and 0 < len(j.evaluated()[1]) < 150
    res = run(journal)
    np.testing.assert_array_equal(res.bits, whole.bits)
    np.testing.assert_array_equal(res.costs, whole.costs)
    assert res.best_cost == whole.best_cost
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    evaluated = [b for r in records if r["type"] in ("eval", "seed") for b in r["bits"]]
    assert len(evaluated) == len(set(evaluated)) == 150  # no candidate evaluated twice


def test_bad_input_raises():
    p = problem()
    with pytest.raises(ValueError, match="budget"):
        geo(p, jqgen.mps.SymmetricMPSBornMachine(12, 4, 2), 0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="cannot produce the problem's valid strings"):
        geo(p, jqgen.mps.SymmetricMPSBornMachine(12, 3, 2), 10, key=jax.random.key(0))
    with pytest.raises(ValueError, match="generator has 10 bits"):
        geo(p, jqgen.MPSBornMachine(10, 2), 10, key=jax.random.key(0))


@pytest.mark.slow
def test_the_symmetric_generator_trains_without_nan_on_hang_seng(shared_data):
    """A regression: the README's ``jqgen geo`` settings on hangseng31 (k = 10, 2,000
    evaluations) made the symmetric MPS's gradient NaN (a charge sector of tiny trace, through
    the per-sector scale's 1/t**2) until the scale became a gauge outside the gradient."""
    from jqgen.geo import load_instance

    p = load_instance("hangseng31", shared_data).binary(10, 1.0)
    res = geo(p, jqgen.mps.SymmetricMPSBornMachine(31, 10, 4), 2000, key=jax.random.key(0), progress=False)
    assert res.evaluations == 2000 and np.isfinite(res.best_cost)
    assert all(np.isfinite(r["train_loss"]) for r in res.rounds)
