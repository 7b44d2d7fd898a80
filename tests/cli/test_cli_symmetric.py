"""``jqgen train mps --cardinality K`` (gradient and sweep), then ``jqgen sample`` and
``jqgen evaluate`` on its checkpoints."""

import json

import numpy as np
import pytest

import jqgen
from jqgen.cli import main


@pytest.mark.parametrize("method", ["gradient", pytest.param("sweep", marks=pytest.mark.slow)])
def test_cardinality_runs_sample_and_evaluate(method, tmp_path, capsys):
    """(The sweep run is slow: the library's block sweeps are tested in tests/mps.)"""
    data, out = "cardinality-8-3-0.5", tmp_path / method
    opts = ["--chi-max", "3", "--steps", "60"] if method == "gradient" else ["--method", "sweep", "--chi-max", "6",
                                                                           "--loops", "2"]
    assert main(["train", "mps", "--data", data, "--cardinality", "3", *opts, "--no-progress", "--out", str(out)]) == 0
    ck = jqgen.load_checkpoint(out / "checkpoint.npz")
    assert isinstance(ck.model, jqgen.mps.SymmetricMPSBornMachine) and ck.model.target == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hyperparameters"]["cardinality"] == 3 and np.isfinite(summary["train_nll"])
    if method == "sweep":
        assert summary["sector_dims"] is not None
    npy = tmp_path / "s.npy"
    assert main(["sample", str(out / "checkpoint.npz"), "--num", "50", "--npy", str(npy),
                 "--out", str(tmp_path / "s.png")]) == 0
    assert np.all(np.load(npy).sum(axis=1) == 3)
    assert main(["evaluate", str(out / "checkpoint.npz"), "--samples", "500"]) == 0
    report = json.loads((out / "evaluation.json").read_text())
    assert report["generalization"]["fidelity"] == 1.0  # every sample is a valid string
    assert abs(report["distances"]["mass_on_space"] - 1) < 1e-6
    capsys.readouterr()


def test_data_of_another_weight_is_refused_with_exit_2(tmp_path, capsys):
    code = main(["train", "mps", "--data", "cardinality-8-3-0.5", "--cardinality", "2", "--steps", "5",
                 "--no-progress", "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert code == 2 and "outside the support" in err and "sum_i a_i x_i = 2" in err
    code = main(["train", "mps", "--method", "sweep", "--data", "cardinality-8-3-0.5", "--cardinality", "3",
                 "--normalized-grad", "--loops", "1", "--no-progress", "--out", str(tmp_path / "bad2")])
    assert code == 2 and "--normalized-grad" in capsys.readouterr().err
