"""``jqgen geo``: a stand-alone and a booster run on an OR-Library instance and on a synthetic
one; the run folder's files and summary; a finished run is not overwritten."""

import json

import numpy as np
import pytest

from jqgen.cli import main


def _argv(out, *extra):
    return ["geo", "--k", "5", "--budget", "120", "--batch", "20", "--seed-size", "20", "--train-steps", "20",
            "--train-size", "64", "--chi-max", "2", "--no-progress", "--out", str(out), *extra]


@pytest.mark.slow
def test_geo_on_hang_seng_writes_everything_and_refuses_a_finished_run(tmp_path, shared_data, capsys):
    out = tmp_path / "run"
    assert main(_argv(out, "--problem", "hangseng31", "--data-dir", shared_data, "--baselines")) == 0
    for name in ("journal.jsonl", "best_solutions.json", "summary.json", "best_so_far.png", "frontier.png"):
        assert (out / name).stat().st_size > 0
    s = json.loads((out / "summary.json").read_text())
    assert len(s["best_bits"]) == 31 and sum(s["best_bits"]) == 5 and s["evaluations"] == 120
    assert s["k"] == 5 and s["q"] == 1.0 and set(s["baselines"]) == {"sa-swap", "random"}
    assert np.isfinite(s["best_cost"]) and s["best_cost"] <= min(r["best_cost"] for r in s["rounds"])
    best = json.loads((out / "best_solutions.json").read_text())["best"]
    assert best[0]["cost"] == s["best_cost"] and len(best[0]["assets"]) == 5
    assert "best cost" in capsys.readouterr().out
    assert main(_argv(out, "--problem", "hangseng31", "--data-dir", shared_data)) == 2
    assert "finished run" in capsys.readouterr().err


@pytest.mark.slow
def test_geo_booster_mode_on_a_synthetic_instance(tmp_path, capsys):
    out = tmp_path / "boost"
    assert main(_argv(out, "--problem", "synthetic-40", "--mode", "booster", "--seed-solver", "random",
                      "--seed-budget", "50")) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["mode"] == "booster" and s["evaluations"] == 120 and s["evaluated_total"] == 170
    capsys.readouterr()


def test_geo_names_a_missing_instance(tmp_path, capsys):
    assert main(_argv(tmp_path / "x", "--problem", "nosuch", "--data-dir", str(tmp_path))) == 2
    assert "nosuch" in capsys.readouterr().err


@pytest.mark.slow
def test_geo_chang_form_records_lambda_and_weights_by_qp(tmp_path, capsys):
    out = tmp_path / "chang"
    assert main(_argv(out, "--problem", "synthetic-20", "--form", "chang", "--lam", "0.3")) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["form"] == "chang" and s["lam"] == 0.3 and s["q"] is None and s["baselines"] == {}
    assert sum(s["best_bits"]) == 5 and np.isfinite(s["best_cost"])
    capsys.readouterr()
