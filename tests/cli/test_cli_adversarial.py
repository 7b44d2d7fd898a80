"""``jqgen train adversarial``: the run folder and its summary, bad input, resume after SIGKILL."""

import json
import signal

import numpy as np
import pytest

pytest.importorskip("flax")
pytest.importorskip("sklearn")

import jqgen  # noqa: E402
from jqgen.cli import main  # noqa: E402

from .test_cli_runs import _started, _wait_for, jax_leaves  # noqa: E402

SMALL = ["train", "adversarial", "--data", "digits", "--steps", "20", "--batch-size", "8", "--classifier-steps", "20",
         "--no-progress"]


@pytest.mark.slow  # 17-24 s of compilation on CI's 2 cores; the example and the library tests train in the default tier
def test_a_run_writes_checkpoint_summary_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(SMALL + ["--prior", "qcbm", "--qubits", "2", "--bases", "2", "--layers", "1", "--out", str(out)]) == 0
    for name in ("checkpoint.npz", "summary.json", "samples.png", "training_curve.png"):
        assert (out / name).is_file(), name
    s = json.loads((out / "summary.json").read_text())
    for key in ("inception_score", "frechet_distance", "class_coverage", "classifier_accuracy"):
        assert isinstance(s[key], float) and np.isfinite(s[key]), key
    assert s["prior"]["prior"] == "qcbm" and s["steps_done"] == 20
    ck = jqgen.load_checkpoint(out / "checkpoint.npz")
    assert ck.model.num_latent == 4 and ck.metadata["training"]["steps_done"] == 20
    text = capsys.readouterr().out
    assert "Inception-style score" in text and "class coverage" in text


@pytest.mark.parametrize("argv, message", [
    (["--prior", "qcbm", "--qubits", "4", "--bases", "2", "--latent", "6"], "latent"),
    (["--data", "no-such-set"], "no-such-set"),
])
def test_bad_input_is_one_line_with_exit_2(argv, message, tmp_path, capsys):
    assert main(SMALL + argv + ["--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_an_unknown_prior_is_a_usage_error(capsys):
    assert main(SMALL + ["--prior", "boltzmann"]) == 2
    assert "boltzmann" in capsys.readouterr().err


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    argv = ["train", "adversarial", "--data", "digits", "--prior", "bernoulli", "--steps", "3000", "--batch-size", "16",
            "--classifier-steps", "60", "--no-progress"]
    assert main(argv + ["--out", str(tmp_path / "whole")]) == 0
    whole = jqgen.load_checkpoint(tmp_path / "whole" / "checkpoint.npz")
    out = tmp_path / "killed"
    with _started(argv + ["--out", str(out)]) as proc:
        _wait_for(out / "checkpoint.npz", proc)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    done = jqgen.checkpoint_info(out / "checkpoint.npz")["metadata"]["training"]["steps_done"]
    assert 0 < done < 3000 and not (out / "summary.json").exists()
    assert main(argv + ["--out", str(out)]) == 0
    resumed = jqgen.load_checkpoint(out / "checkpoint.npz")
    for a, b in zip(jax_leaves(whole.params), jax_leaves(resumed.params)):
        np.testing.assert_array_equal(a, b)
