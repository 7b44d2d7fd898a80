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
    assert main(_argv(tmp_path / "x", "--problem", "nosuch", "--data-dir", str(tmp_path))) == 3  # bad data
    assert "nosuch" in capsys.readouterr().err


def test_geo_refuses_a_malformed_instance_file_with_exit_3(tmp_path, capsys):
    bad = tmp_path / "port9.txt"
    bad.write_text("3\n0.1 0.2\n0.1 0.2\n")  # three assets announced, two given
    assert main(_argv(tmp_path / "x", "--problem", str(bad), "--data-dir", str(tmp_path))) == 3
    err = capsys.readouterr().err
    assert err.startswith("jqgen: error:") and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_geo_chang_form_records_lambda_and_weights_by_qp(tmp_path, capsys):
    out = tmp_path / "chang"
    assert main(_argv(out, "--problem", "synthetic-20", "--form", "chang", "--lam", "0.3")) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["form"] == "chang" and s["lam"] == 0.3 and s["q"] is None and s["baselines"] == {}
    assert sum(s["best_bits"]) == 5 and np.isfinite(s["best_cost"])
    capsys.readouterr()


@pytest.mark.slow
def test_geo_records_and_draws_the_exact_constrained_frontier(tmp_path, capsys):
    out = tmp_path / "exact"
    assert main(_argv(out, "--problem", "synthetic-12", "--k", "4", "--budget", "60", "--seed-size", "20",
                      "--train-steps", "5", "--exact-points", "6")) == 0
    s = json.loads((out / "summary.json").read_text())
    ef = s["exact_frontier"]
    assert len(ef) == 7 and all(set(p) == {"q", "variance", "return", "cost", "optimal"} for p in ef)
    assert all(p["optimal"] for p in ef) and s["exact_frontier_info"]["method"] == "enumerate"
    at_q = s["exact_frontier_info"]["at_q"]  # --q joins the 6-point grid: GEO's gap to the optimum
    assert at_q["q"] == 1.0 and at_q["optimal"] and at_q["gap"] == pytest.approx(s["best_cost"] - at_q["cost"])
    assert at_q["gap"] >= -1e-15 and (out / "frontier.png").stat().st_size > 0
    assert "exact constrained frontier: 7 points (7 proven optimal)" in capsys.readouterr().out


def test_geo_exact_frontier_option_and_its_skip_notes(capsys):
    from jqgen.cli._main import build_parser
    from jqgen.cli.geo import _exact_frontier, _exact_report
    from jqgen.geo import synthetic_instance

    inst = synthetic_instance(12, seed=0)

    def parse(*extra):
        return build_parser().parse_args(["geo", "--problem", "synthetic-12", "--k", "4", *extra])

    f = _exact_frontier(parse("--exact-points", "4", "--q", "0.5"), inst)
    assert f.method == "enumerate" and len(f.q) == 5 and 0.5 in f.q.tolist()  # the grid and --q
    drawn, keys, line = _exact_report(parse("--q", "0.5"), f, best_cost=float(f.cost[f.q.tolist().index(0.5)]))
    assert keys["exact_frontier_info"]["at_q"]["gap"] == 0.0 and len(keys["exact_frontier"]) == 5
    assert len(drawn) == 3 and "5 points (5 proven optimal)" in line
    assert _exact_frontier(parse("--exact-frontier", "off"), inst) == "off"
    note = _exact_frontier(parse("--form", "chang"), inst)
    assert isinstance(note, str) and "binary form only" in note
    _, keys, line = _exact_report(parse("--form", "chang"), note, best_cost=0.0)
    assert keys == {"exact_frontier": None, "exact_frontier_info": {"skipped": note}} and "skipped" in line
