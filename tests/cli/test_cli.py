"""The ``jqgen`` command line, run in-process through ``jqgen.cli.main``."""

import json
import math
import os

import jax
import numpy as np
import optax
import pytest

import jqgen
from jqgen.checkpoint import load_checkpoint
from jqgen.cli import main
from jqgen.data import bars_and_stripes

FILES = ["checkpoint.npz", "entropies.png", "samples.png", "summary.json", "training_curve.png"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One real training run on bars-and-stripes 2x2, shared by the tests below."""
    out = tmp_path_factory.mktemp("run")
    argv = ["train", "mps", "--data", "bars-stripes-2x2", "--chi-max", "4", "--steps", "200", "--no-progress",
            "--out", str(out)]
    return out, main(argv)


@pytest.mark.slow
def test_train_writes_everything_and_learns(trained_run, capsys):
    out, rc = trained_run
    assert rc == 0
    assert sorted(os.listdir(out)) == FILES
    for name in FILES:
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == PNG_MAGIC
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ok"
    assert summary["ideal_nll"] == pytest.approx(math.log(6))
    assert summary["train_nll"] < math.log(6) + 0.05
    assert summary["gap"] == pytest.approx(summary["train_nll"] - summary["ideal_nll"])
    assert summary["history_len"] == 200 and summary["num_bits"] == 4 and summary["num_data"] == 6
    assert summary["hyperparameters"]["chi_max"] == 4 and summary["hyperparameters"]["batch_size"] == 6
    assert len(summary["entropies"]) == 3 and all(0 <= e <= math.log(4) + 1e-6 for e in summary["entropies"])
    assert summary["test_nll"] is None and summary["jqgen_version"] == jqgen.__version__
    assert summary["fit_s"] > 0 and summary["wall_s"] >= summary["fit_s"]

    ck = load_checkpoint(out / "checkpoint.npz", optimizer=optax.adam(0.01))
    assert ck.model == jqgen.MPSBornMachine(num_bits=4, chi_max=4)
    assert ck.metadata["data"] == "bars-stripes-2x2" and ck.metadata["image_shape"] == [2, 2]
    assert ck.metadata["steps"] == 200 and ck.metadata["seed"] == 0 and ck.metadata["lr"] == 0.01
    assert ck.metadata["nll"] == pytest.approx(summary["train_nll"])
    assert int(ck.opt_state[0].count) == 200
    nll = jqgen.mean_nll(ck.model, ck.params, bars_and_stripes(2, 2))
    assert nll == pytest.approx(summary["train_nll"], abs=1e-5)


def test_sample_from_checkpoint(trained_run, tmp_path, capsys):
    out, rc = trained_run
    assert rc == 0
    png, npy = tmp_path / "s.png", tmp_path / "bits"  # the .npy name is kept exactly as given
    assert main(["sample", str(out / "checkpoint.npz"), "--num", "8", "--out", str(png), "--npy", str(npy)]) == 0
    assert png.read_bytes()[:8] == PNG_MAGIC
    bits = np.load(npy)
    assert bits.shape == (8, 4) and bits.dtype == np.uint8 and set(np.unique(bits)) <= {0, 1}
    valid = {tuple(r) for r in bars_and_stripes(2, 2)}
    assert sum(tuple(r) in valid for r in bits) >= 7
    printed = capsys.readouterr().out
    assert str(png) in printed and str(npy) in printed
    # without --out the grid goes into the run folder, beside the run's own samples.png
    assert main(["sample", str(out / "checkpoint.npz"), "--num", "4", "--seed", "3"]) == 0
    assert (out / "samples-seed3.png").read_bytes()[:8] == PNG_MAGIC
    assert str(out / "samples-seed3.png") in capsys.readouterr().out
    (out / "samples-seed3.png").unlink()  # the run's file list stays as the other tests expect
    # same seed, same samples; another seed, other samples (of a 6-pattern distribution)
    assert main(["sample", str(out / "checkpoint.npz"), "--num", "8", "--out", str(png), "--npy", str(npy)]) == 0
    np.testing.assert_array_equal(np.load(npy), bits)


@pytest.mark.slow
def test_npz_data_with_test_split_and_default_out(tmp_path, monkeypatch, capsys):
    data = bars_and_stripes(2, 2)
    np.savez(tmp_path / "tiny.npz", data=data[:4], data_test=data[4:])
    monkeypatch.chdir(tmp_path)
    rc = main(["train", "mps", "--data", "tiny.npz", "--chi-max", "2", "--steps", "30", "--batch-size", "2",
               "--chunk-size", "7", "--no-progress"])
    assert rc == 0
    out = tmp_path / "runs" / "mps-tiny"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["num_test"] == 2 and summary["test_nll"] > 0 and summary["history_len"] == 30
    assert summary["hyperparameters"]["batch_size"] == 2 and summary["image_shape"] == [2, 2]
    printed = capsys.readouterr().out
    assert "test NLL" in printed and "ideal ln 4 = 1.38629" in printed and str(os.path.join("runs", "mps-tiny")) in printed


@pytest.mark.slow
def test_float64_run_restores_x64_setting(tmp_path, capsys):
    before = jax.config.jax_enable_x64
    with jax.enable_x64(False):
        rc = main(["train", "mps", "--data", "bas-2x2", "--chi-max", "2", "--steps", "5", "--dtype", "float64",
                   "--no-progress", "--out", str(tmp_path)])
        assert rc == 0
        assert not jax.config.jax_enable_x64
        assert main(["sample", str(tmp_path / "checkpoint.npz"), "--num", "3", "--out", str(tmp_path / "s.png")]) == 0
        assert not jax.config.jax_enable_x64
    assert jax.config.jax_enable_x64 == before
    with jax.enable_x64(True):
        assert load_checkpoint(tmp_path / "checkpoint.npz").params.tensors.dtype == np.float64


@pytest.mark.slow
def test_non_finite_loss_saves_last_good_checkpoint(tmp_path, capsys):
    rc = main(["train", "mps", "--data", "bas-2x2", "--chi-max", "2", "--steps", "50", "--lr", "1e30",
               "--no-progress", "--out", str(tmp_path)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "non-finite" in err and "checkpoint.npz" in err
    ck = load_checkpoint(tmp_path / "checkpoint.npz")  # loads: the saved params are finite
    assert ck.metadata["status"] != "ok"
    summary = json.loads((tmp_path / "summary.json").read_text())  # strict JSON (no NaN)
    assert summary["status"] != "ok" and summary["error"]


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["train", "mps", "--data", "no-such-dataset", "--no-progress"], "no-such-dataset"),
        (["train", "mps", "--data", "missing.npy", "--no-progress"], "not found"),
        (["train", "mps", "--data", "bas-1x1", "--no-progress"], "n (number of sites)"),
        (["train", "mps", "--chi-max", "0"], "--chi-max"),
        (["train", "mps", "--steps", "-3"], "--steps"),
        (["train", "mps", "--lr", "nan"], "--lr"),
        (["train", "mps", "--dtype", "float16"], "--dtype"),
        (["train", "qcbm", "--loss", "hinge"], "--loss"),
        (["train", "ghost"], "ghost"),
        (["train"], "required"),
        ([], "required"),
        (["sample", "does-not-exist.npz"], "not found"),
        (["sample", "CORRUPT", "--num", "2"], "not a readable jqgen checkpoint"),
        (["sample", "x.npz", "--num", "0"], "--num"),
        (["train", "mps", "--method", "sweep", "--steps", "5"], "--steps applies to --method gradient"),
        (["train", "mps", "--loops", "5"], "--loops applies to --method sweep"),
        (["train", "mps", "--method", "sweep", "--dtype", "complex64"], "float32 or float64"),
        (["train", "mps", "--method", "sweep", "--chi-max", "4", "--chi-min", "5"], "--chi-min"),
        (["train", "mps", "--method", "sweep", "--data", "bas-2x2", "--num-batches", "7"], "--num-batches"),
        (["train", "mps", "--method", "sweep", "--data", "bas-1x2"], "at least 3 bits"),
        (["train", "mps", "--method", "sweep", "--lr-decay-on-rise", "2"], "--lr-decay-on-rise"),
        (["train", "mps", "--method", "adam"], "--method"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, needle, tmp_path, monkeypatch, capsys):
    """Usage errors exit 2; a missing or unreadable --data set or checkpoint exits 3."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "CORRUPT").write_bytes(b"garbage" * 50)
    bad_input = needle in ("no-such-dataset", "not found", "not a readable jqgen checkpoint")
    assert main(argv) == (3 if bad_input else 2)
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert needle in err and "error" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_version(capsys):
    assert main(["--version"]) == 0
    assert jqgen.__version__ in capsys.readouterr().out


def test_plots_validate_and_write(tmp_path):
    from jqgen.plots import plot_bond_dims, plot_entropies, plot_samples, plot_training_curve

    bits = bars_and_stripes(2, 3)
    for shape, ncols in [((2, 3), 4), (None, 3), ([2, 3], 100)]:
        p = plot_samples(bits, shape, tmp_path / "s.png", ncols=ncols, title="t")
        assert p == str(tmp_path / "s.png") and (tmp_path / "s.png").read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="image_shape"):
        plot_samples(bits, (3, 3), tmp_path / "x.png")
    with pytest.raises(ValueError, match="0/1"):
        plot_samples(bits * 2, (2, 3), tmp_path / "x.png")
    with pytest.raises(ValueError, match="shape"):
        plot_samples(bits[:0], (2, 3), tmp_path / "x.png")
    history = np.r_[np.linspace(3.0, 1.0, 40), np.inf, np.nan]  # a run stopped by a NaN/inf loss
    assert plot_training_curve(history, tmp_path / "c.png").endswith("c.png")
    assert plot_training_curve(history, tmp_path / "c2.png", ideal=0.9, title="t").endswith("c2.png")
    assert plot_entropies([0.1, 0.5, 0.2], tmp_path / "e.png", chi_max=2).endswith("e.png")
    test = np.r_[np.linspace(3.5, 1.5, 40), np.nan, np.nan]
    assert plot_training_curve(history, tmp_path / "c3.png", ideal=0.9, test=test, xlabel="loop").endswith("c3.png")
    with pytest.raises(ValueError, match="test"):
        plot_training_curve(history, tmp_path / "x.png", test=test[:3])
    assert plot_bond_dims([1, 2, 4, 3, 2, 1], tmp_path / "b.png", chi_max=4, title="t").endswith("b.png")
    assert plot_bond_dims(np.r_[1, np.full(200, 7), 1], tmp_path / "b2.png").endswith("b2.png")
    assert not (tmp_path / "x.png").exists()
    import sys

    if "matplotlib.pyplot" in sys.modules:  # the plots never register figures with pyplot
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


SWEEP_FILES = sorted(FILES + ["bond_dims.png"])
# Han et al.'s bars-and-stripes settings: lr 0.1, 10 descent steps, full batch, cutoff 5e-5
SWEEP_BAS = ["train", "mps", "--method", "sweep", "--data", "bars-stripes-3x3", "--chi-max", "16", "--lr", "0.1",
             "--descent-steps", "10", "--num-batches", "1", "--cutoff", "5e-5", "--no-normalized-grad",
             "--lr-decay-on-rise", "1", "--min-improvement", "0", "--no-progress"]


@pytest.mark.slow
def test_sweep_learns_bars_and_stripes_writes_everything_and_resumes(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(SWEEP_BAS + ["--loops", "2", "--out", str(out)]) == 0
    assert sorted(os.listdir(out)) == SWEEP_FILES
    for name in SWEEP_FILES:
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == PNG_MAGIC
    printed = capsys.readouterr().out
    assert "ideal ln 14 = 2.63906" in printed and "resume" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["method"] == "sweep" and summary["loops_done"] == 2
    assert summary["train_nll"] == pytest.approx(math.log(14), abs=2e-3)
    assert summary["train_nll"] == pytest.approx(summary["history"]["train_nll"][-1], abs=1e-4)
    assert summary["test_nll"] is None and summary["ideal_nll"] == pytest.approx(math.log(14))
    assert summary["bond_dims"][0] == summary["bond_dims"][-1] == 1 and len(summary["bond_dims"]) == 10
    assert 2 <= summary["max_bond"] <= 16 and summary["hyperparameters"]["cutoff"] == 5e-5
    assert summary["first_loop_s"] > 0 and summary["wall_s"] >= summary["fit_s"]

    ck = load_checkpoint(out / "checkpoint.npz")
    assert ck.model.num_bits == 9 and ck.model.chi_max <= 16  # the final bond bucket
    assert ck.metadata["kind"] == "sweep" and ck.metadata["loop"] == 2 and ck.metadata["image_shape"] == [3, 3]
    assert jqgen.mean_nll(ck.model, ck.params, bars_and_stripes(3, 3)) == pytest.approx(summary["train_nll"], abs=1e-5)

    # jqgen sample works on the sweep checkpoint
    npy = tmp_path / "bits.npy"
    assert main(["sample", str(out / "checkpoint.npz"), "--num", "16", "--out", str(tmp_path / "s.png"),
                 "--npy", str(npy)]) == 0
    bits = np.load(npy)
    valid = {tuple(r) for r in bars_and_stripes(3, 3)}
    assert bits.shape == (16, 9) and sum(tuple(r) in valid for r in bits) >= 15
    assert "16 samples of 9 bits" in capsys.readouterr().out

    # re-running with the same --out resumes: one more loop, the first two kept
    assert main(SWEEP_BAS + ["--loops", "3", "--out", str(out)]) == 0
    assert "resumed from loop 2" in capsys.readouterr().out
    again = json.loads((out / "summary.json").read_text())
    assert again["loops_done"] == 3 and again["resumed_from_loop"] == 2
    assert again["history"]["train_nll"][:2] == summary["history"]["train_nll"]
    # ... and refuses other settings
    assert main(SWEEP_BAS[:-1] + ["--loops", "3", "--lr", "0.2", "--out", str(out)]) == 2
    assert "--lr 0.1 (now 0.2)" in capsys.readouterr().err


@pytest.mark.slow
def test_sweep_with_test_split_stop_rule_and_default_out(tmp_path, monkeypatch, capsys):
    data = bars_and_stripes(3, 3)
    np.savez(tmp_path / "bas9.npz", data=data[:10], data_test=data[10:])
    monkeypatch.chdir(tmp_path)
    # the default (capacity) settings; the stop rule ends the run before 30 loops
    rc = main(["train", "mps", "--method", "sweep", "--data", "bas9.npz", "--chi-max", "8", "--loops", "30",
               "--lr", "0.05", "--no-progress"])
    assert rc == 0
    out = tmp_path / "runs" / "mps-sweep-bas9"
    assert sorted(os.listdir(out)) == SWEEP_FILES
    summary = json.loads((out / "summary.json").read_text())
    h = summary["history"]
    assert summary["num_test"] == 4 and summary["test_nll"] > summary["train_nll"]
    assert len(h["test_nll"]) == summary["loops_done"] and all(v is not None for v in h["test_nll"])
    assert summary["loops_done"] < 30 and summary["stop_reason"].startswith("converged")
    assert 0 <= h["train_nll"][-2] - h["train_nll"][-1] < 0.002
    hp = summary["hyperparameters"]
    assert hp["normalized_grad"] is True and hp["num_batches"] == 1 and hp["descent_steps"] == 1
    assert hp["cutoff"] == 0.0 and hp["lr_decay_on_rise"] == 0.2 and hp["min_improvement"] == 0.002
    printed = capsys.readouterr().out
    assert "test NLL" in printed and "ideal ln 10 = 2.30259" in printed
    # a converged run re-run with the same --out does not train on
    assert main(["train", "mps", "--method", "sweep", "--data", "bas9.npz", "--chi-max", "8", "--loops", "30",
                 "--lr", "0.05", "--no-progress"]) == 0
    assert json.loads((out / "summary.json").read_text())["loops_done"] == summary["loops_done"]
    assert "nothing left to train" in capsys.readouterr().out


@pytest.mark.slow  # the gradient float64 run checks the same restore
def test_sweep_float64_restores_x64_setting(tmp_path, capsys):
    sweep = ["train", "mps", "--method", "sweep", "--data", "bars-stripes-3x3", "--chi-max", "4", "--no-progress"]
    with jax.enable_x64(False):
        rc = main(sweep + ["--loops", "1", "--dtype", "float64", "--out", str(tmp_path)])
        assert rc == 0 and not jax.config.jax_enable_x64
        assert main(["sample", str(tmp_path / "checkpoint.npz"), "--num", "3", "--out", str(tmp_path / "s.png")]) == 0
    with jax.enable_x64(True):
        assert load_checkpoint(tmp_path / "checkpoint.npz").params.tensors.dtype == np.float64


@pytest.mark.slow
def test_the_command_keeps_compiled_programs_on_disk(tmp_path, monkeypatch, capsys):
    """``jqgen`` (the process owner) enables jax's persistent compilation cache in
    ``$JQGEN_COMPILE_CACHE`` (default ``~/.cache/jqgen/xla``); ``none`` turns it off. The
    default runs in a subprocess: the setting is process-wide. (A second run loading the
    programs: benchmarks/sweep_vs_han.py measures it.)"""
    import subprocess
    import sys

    home = tmp_path / "home"
    home.mkdir()
    argv = ["train", "mps", "--data", "bars-stripes-2x2", "--chi-max", "2", "--steps", "10", "--chunk-size", "10",
            "--no-progress"]
    # none (as in this process, tests/conftest.py): nothing is written
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("JQGEN_COMPILE_CACHE", "none")
    before = jax.config.jax_compilation_cache_dir  # the test run's own (tests/conftest.py)
    assert main(argv + ["--out", str(tmp_path / "a")]) == 0
    assert not (home / ".cache" / "jqgen").exists() and jax.config.jax_compilation_cache_dir == before
    # the default, in a fresh process
    code = f"import sys; from jqgen.cli import main; sys.exit(main({argv + ['--out', str(tmp_path / 'b')]!r}))"
    env = {**os.environ, "HOME": str(home), "JAX_PLATFORMS": "cpu"}
    env.pop("JQGEN_COMPILE_CACHE", None)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert any((home / ".cache" / "jqgen" / "xla").iterdir())
