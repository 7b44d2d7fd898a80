"""``jqgen train qcbm --cardinality K``: a weight-conserving circuit; sample and evaluate its checkpoint."""

import json

import numpy as np
import pytest

import jqgen
from jqgen.checkpoint import load_checkpoint
from jqgen.cli import main


@pytest.mark.slow
def test_train_sample_evaluate_a_conserving_qcbm(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "qcbm", "--cardinality", "3", "--data", "cardinality-7-3-0.4", "--layers", "3", "--topology",
            "all", "--loss", "nll", "--steps", "40", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["hyperparameters"]["cardinality"] == 3
    assert summary["history_len"] == 40
    assert summary["valid_rate"] > 0.6  # 14 of the 35 weight-3 strings: a uniform model has 0.4
    ck = load_checkpoint(out / "checkpoint.npz")
    assert isinstance(ck.model, jqgen.ConservingQCBM) and ck.model.weight == 3 and ck.model.ansatz.topology == "all"

    npy = tmp_path / "s.npy"
    assert main(["sample", str(out / "checkpoint.npz"), "--num", "50", "--out", str(tmp_path / "s.png"),
                 "--npy", str(npy)]) == 0
    samples = np.load(npy)
    assert samples.shape == (50, 7) and np.all(samples.sum(axis=1) == 3)

    assert main(["evaluate", str(out / "checkpoint.npz"), "--samples", "500"]) == 0
    report = json.loads((out / "evaluation.json").read_text())
    assert report["generalization"]["fidelity"] == 1.0  # every sample is valid
    assert abs(report["distances"]["mass_on_space"] - 1) < 1e-5


def test_data_of_another_weight_is_refused(tmp_path, capsys):
    argv = ["train", "qcbm", "--cardinality", "2", "--data", "bars-stripes-2x2", "--steps", "2", "--no-progress",
            "--out", str(tmp_path / "bad")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--cardinality 2" in err and "sample 0 has weight 0" in err
    assert main(["train", "qcbm", "--cardinality", "-1", "--no-progress"]) == 2
