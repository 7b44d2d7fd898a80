"""``jqgen train mps --cardinality K`` (gradient and sweep), then ``jqgen sample`` and
``jqgen evaluate`` on its checkpoints."""

import json

import numpy as np

import jqgen
from jqgen.cli import main


def test_cardinality_runs_by_gradient_and_sweep_sample_and_evaluate(tmp_path, capsys):
    data = "cardinality-8-3-0.5"
    assert main(["train", "mps", "--data", data, "--cardinality", "3", "--chi-max", "3", "--steps", "60",
                 "--no-progress", "--out", str(tmp_path / "g")]) == 0
    assert main(["train", "mps", "--method", "sweep", "--data", data, "--cardinality", "3", "--chi-max", "6",
                 "--loops", "2", "--no-progress", "--out", str(tmp_path / "s")]) == 0
    for run in ("g", "s"):
        ck = jqgen.load_checkpoint(tmp_path / run / "checkpoint.npz")
        assert isinstance(ck.model, jqgen.mps.SymmetricMPSBornMachine) and ck.model.target == 3
        summary = json.loads((tmp_path / run / "summary.json").read_text())
        assert summary["hyperparameters"]["cardinality"] == 3 and np.isfinite(summary["train_nll"])
        npy = tmp_path / f"{run}.npy"
        assert main(["sample", str(tmp_path / run / "checkpoint.npz"), "--num", "50", "--npy", str(npy),
                     "--out", str(tmp_path / f"{run}.png")]) == 0
        assert np.all(np.load(npy).sum(axis=1) == 3)
        assert main(["evaluate", str(tmp_path / run / "checkpoint.npz"), "--samples", "500"]) == 0
        report = json.loads((tmp_path / run / "evaluation.json").read_text())
        assert report["generalization"]["fidelity"] == 1.0  # every sample is a valid string
        assert abs(report["distances"]["mass_on_space"] - 1) < 1e-6
    assert json.loads((tmp_path / "s" / "summary.json").read_text())["sector_dims"] is not None
    capsys.readouterr()


def test_data_of_another_weight_is_refused_with_exit_2(tmp_path, capsys):
    code = main(["train", "mps", "--data", "cardinality-8-3-0.5", "--cardinality", "2", "--steps", "5",
                 "--no-progress", "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert code == 2 and "outside the support" in err and "sum_i a_i x_i = 2" in err
    code = main(["train", "mps", "--method", "sweep", "--data", "cardinality-8-3-0.5", "--cardinality", "3",
                 "--normalized-grad", "--loops", "1", "--no-progress", "--out", str(tmp_path / "bad2")])
    assert code == 2 and "--normalized-grad" in capsys.readouterr().err
