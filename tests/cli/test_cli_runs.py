"""Run folders of ``jqgen train``: --overwrite, Ctrl-C (exit 130, one line) and resume after
SIGKILL; the package layout of :mod:`jqgen.cli` and :func:`jqgen.qcbm.ansatz_by_name`."""

import ast
import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import jqgen
from jqgen.cli import main
from jqgen.data import bars_and_stripes

CLI_DIR = pathlib.Path(jqgen.__file__).parent / "cli"
MPS = ["train", "mps", "--data", "bars-stripes-2x2", "--chi-max", "2", "--steps", "20", "--no-progress"]


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ------------------------------------------------------------------------------ --overwrite
@pytest.mark.slow
def test_a_finished_run_is_refused_without_overwrite_and_replaced_with_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(MPS + ["--out", str(out)]) == 0
    first = json.loads((out / "summary.json").read_text())
    capsys.readouterr()

    assert main(MPS + ["--steps", "30", "--out", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("jqgen: error:") and "finished run" in line and "--overwrite" in line and str(out) in line
    assert json.loads((out / "summary.json").read_text()) == first  # untouched

    (out / "stray.txt").write_text("not a run file")
    assert main(MPS + ["--steps", "30", "--overwrite", "--out", str(out)]) == 0
    again = json.loads((out / "summary.json").read_text())
    assert again["history_len"] == 30 and again["hyperparameters"]["steps"] == 30
    assert (out / "stray.txt").exists()  # only the run's own files are deleted
    ck = jqgen.load_checkpoint(out / "checkpoint.npz")
    assert ck.metadata["training"]["steps_done"] == 30 and ck.metadata["status"] == "ok"


@pytest.mark.slow
def test_an_unfinished_run_of_other_settings_is_refused_with_the_overwrite_hint(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(MPS + ["--out", str(out)]) == 0
    (out / "summary.json").unlink()  # as if killed before it was written
    capsys.readouterr()
    assert main(MPS + ["--lr", "0.02", "--out", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "other settings" in line and "--overwrite" in line
    assert main(MPS + ["--lr", "0.02", "--overwrite", "--out", str(out)]) == 0


@pytest.mark.slow  # --overwrite itself is tested on the MPS command
def test_overwrite_applies_to_qcbm_and_synergy_runs_too(tmp_path, capsys):
    qcbm = ["train", "qcbm", "--data", "bars-stripes-2x2", "--ansatz", "all", "--layers", "1", "--steps", "5",
            "--no-progress", "--out", str(tmp_path / "q")]
    assert main(qcbm) == 0
    assert main(qcbm) == 2 and "--overwrite" in capsys.readouterr().err
    assert main(qcbm + ["--overwrite"]) == 0
    synergy = ["train", "synergy", "--data", "bars-stripes-2x3", "--chi", "2", "--layers-from-mps", "1",
               "--extra-layers", "0", "--mps-steps", "5", "--circuit-steps", "5", "--no-progress",
               "--out", str(tmp_path / "s")]
    assert main(synergy) == 0
    assert main(synergy) == 2 and "finished run" in capsys.readouterr().err


@pytest.mark.slow
def test_a_sweep_continues_its_finished_run_and_overwrite_restarts_it(tmp_path, capsys):
    sweep = ["train", "mps", "--method", "sweep", "--data", "bars-stripes-3x3", "--chi-max", "4", "--lr", "0.1",
             "--min-improvement", "0", "--no-progress", "--out", str(tmp_path)]
    assert main(sweep + ["--loops", "1"]) == 0
    assert main(sweep + ["--loops", "2"]) == 0  # continues: no --overwrite needed
    assert json.loads((tmp_path / "summary.json").read_text())["resumed_from_loop"] == 1
    assert main(sweep + ["--loops", "1", "--overwrite"]) == 0  # starts afresh
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["loops_done"] == 1 and summary["resumed_from_loop"] == 0
    capsys.readouterr()


# ------------------------------------------------------------------------------ Ctrl-C
def _env():
    # as in this process (tests/conftest.py): JAX's x64 mode of the test (float32 by
    # default), strict promotion, the test run's compile cache
    import jax

    from tests.conftest import XLA_CACHE

    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JQGEN_COMPILE_CACHE": XLA_CACHE,
           "JAX_ENABLE_X64": "1" if jax.config.jax_enable_x64 else "0", "JAX_NUMPY_DTYPE_PROMOTION": "strict"}
    env["PYTHONPATH"] = os.pathsep.join([str(CLI_DIR.parent.parent), env.get("PYTHONPATH", "")])
    return env


# ``python -m jqgen.cli`` with Python's own SIGINT handler (KeyboardInterrupt), as in a
# terminal: a process started from a background job inherits SIGINT ignored, and so would
# the child of a test run from one.
_CLI = "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); " \
       "runpy.run_module('jqgen.cli', run_name='__main__', alter_sys=True)"


@contextlib.contextmanager
def _started(argv):
    """The CLI in a subprocess; killed (and its pipes closed) if the test fails first."""
    proc = subprocess.Popen([sys.executable, "-c", _CLI, *argv], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _wait_for(path, proc, timeout=240.0):
    t0 = time.monotonic()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "the checkpoint never appeared"
        time.sleep(0.01)


@pytest.mark.slow
def test_ctrl_c_exits_130_with_one_line_naming_the_checkpoint(tmp_path):
    out = tmp_path / "run"
    with _started(["train", "mps", "--data", "bars-stripes-3x3", "--chi-max", "4", "--steps", "1000000",
                   "--chunk-size", "20", "--no-progress", "--out", str(out)]) as proc:
        _wait_for(out / "checkpoint.npz", proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    line = _one_line(err)
    assert line.startswith("jqgen: interrupted after ") and "of 1000000 steps" in line
    assert line.endswith(f"re-run the same command to resume from {out / 'checkpoint.npz'}")
    assert not (out / "summary.json").exists()  # not finished: the re-run resumes instead of being refused


def test_ctrl_c_before_training_is_one_line_too(monkeypatch, capsys):
    import jqgen.cli.train_mps as train_mps

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_mps, "train_gradient", interrupted)
    assert main(MPS) == 130
    assert _one_line(capsys.readouterr().err) == "jqgen: interrupted before training started; nothing was saved"


# ------------------------------------------------------------------------------ resume
# Short runs with a checkpoint every 2 steps: the kill comes right after the first one, and
# the ~100 chunks left (each writes a checkpoint, ~0.4 s in all) keep the child running
# well past it, so the kill still lands mid-run.
RESUMABLE = {
    "mps": ["train", "mps", "--data", "bars-stripes-3x3", "--chi-max", "4", "--steps", "200", "--chunk-size", "2",
            "--batch-size", "7"],
    "qcbm": ["train", "qcbm", "--data", "bars-stripes-2x2", "--ansatz", "all", "--layers", "2", "--steps", "200",
             "--chunk-size", "2"],
    "qcbm-cmaes": ["train", "qcbm", "--data", "bars-stripes-2x2", "--ansatz", "line", "--layers", "1",
                   "--optimizer", "cmaes", "--steps", "200", "--chunk-size", "2"],
    "sweep": ["train", "mps", "--method", "sweep", "--data", "bars-stripes-3x3", "--chi-max", "4", "--lr", "0.05",
              "--loops", "40"],
}


# The default suite kills the gradient and the sweep MPS runs; the QCBM ones are slow (the runner's resume
# of those trainers is tested in-process in tests/training, the synergy kill below
# resumes a QCBM stage from the CLI).
@pytest.mark.parametrize("name", [n if n in ("mps", "sweep") else pytest.param(n, marks=pytest.mark.slow)
                                  for n in sorted(RESUMABLE)])
def test_a_killed_run_resumes_to_the_uninterrupted_result(name, tmp_path, capsys):
    if name == "qcbm-cmaes":
        pytest.importorskip("evosax")
    argv = RESUMABLE[name] + ["--no-progress"]
    steps = int(argv[argv.index("--steps" if "--steps" in argv else "--loops") + 1])
    assert main(argv + ["--out", str(tmp_path / "whole")]) == 0
    whole = jqgen.load_checkpoint(tmp_path / "whole" / "checkpoint.npz")
    steps = whole.metadata["training"]["steps_done"]  # a sweep's stop rule may end it before --loops

    out = tmp_path / "killed"
    with _started(argv + ["--out", str(out)]) as proc:
        _wait_for(out / "checkpoint.npz", proc)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    done = jqgen.checkpoint_info(out / "checkpoint.npz")["metadata"]["training"]["steps_done"]
    assert 0 < done < steps and not (out / "summary.json").exists()

    capsys.readouterr()
    assert main(argv + ["--out", str(out)]) == 0  # the same command resumes
    resumed = jqgen.load_checkpoint(out / "checkpoint.npz")
    for a, b in zip(jax_leaves(whole.params), jax_leaves(resumed.params)):
        np.testing.assert_array_equal(a, b)
    assert resumed.metadata["training"]["steps_done"] == steps and resumed.metadata["status"] == "ok"
    assert resumed.metadata["dataset"] == whole.metadata["dataset"] and "hyperparameters" in resumed.metadata
    summary = json.loads((out / "summary.json").read_text())
    whole_summary = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert summary.get("history_len") == whole_summary.get("history_len")  # a sweep's summary has none


def jax_leaves(tree):
    import jax

    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


# ------------------------------------------------------------------------------ layout
def _private_imports(path: pathlib.Path) -> list[str]:
    """Private names (``_x``) imported from another module, and private modules outside
    jqgen.cli (except ``jqgen._version``, the version's home below every layer)."""
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            outside = node.level > 1 or (node.level == 0 and not module.startswith("jqgen.cli"))
            private = [part for part in module.split(".")
                       if part.startswith("_") and part not in ("__future__", "_version")]
            if outside and private:
                bad.append(f"{path.name}: from {'.' * node.level}{module}")
            bad += [f"{path.name}: {alias.name} from {module}" for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")]
    return bad


def test_the_cli_package_shares_helpers_by_public_names_in_small_functions():
    files = sorted(CLI_DIR.glob("*.py"))
    assert {f.name for f in files} >= {"__init__.py", "_main.py", "_args.py", "_rundir.py", "train_mps.py",
                                        "train_sweep.py", "train_qcbm.py", "train_synergy.py", "train_qcbm_device.py",
                                        "sample.py", "evaluate.py", "run_device.py"}
    assert not (CLI_DIR.parent / "cli.py").exists() and not list(CLI_DIR.parent.glob("_cli_*.py"))
    assert [b for f in files for b in _private_imports(f)] == []
    for f in files:
        source = f.read_text()
        assert len(source.splitlines()) <= 400, f.name
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno - node.lineno < 100, f"{f.name}: {node.name}"


def test_ansatz_by_name():
    from jqgen.qcbm import ANSATZ_NAMES, HardwareEfficient, LiuWang, SU4Brickwork, ansatz_by_name, chow_liu_tree

    data = bars_and_stripes(2, 2)
    assert ANSATZ_NAMES == ("line", "all", "star", "cnot-line", "chow-liu", "su4")
    assert ansatz_by_name("star", 4, 2) == HardwareEfficient(4, 2, topology="star")
    assert ansatz_by_name("cnot-line", 4, 1) == LiuWang(4, 1)
    assert ansatz_by_name("chow-liu", 4, 1, data) == LiuWang(4, 1, cnots=chow_liu_tree(data))
    assert ansatz_by_name("su4", 4, 3) == SU4Brickwork(4, 3)
    with pytest.raises(ValueError, match=r"name must be one of line, all, star.*'ring'"):
        ansatz_by_name("ring", 4, 1)
    with pytest.raises(ValueError, match="chow-liu.*needs data"):
        ansatz_by_name("chow-liu", 4, 1)
    with pytest.raises(ValueError, match="layers"):
        ansatz_by_name("line", 4, 0)


@pytest.mark.slow
def test_synergy_resumes_its_stages_after_sigkill(tmp_path, capsys):
    """SIGKILL during the circuit stage; the re-run trains only what was left, to the same circuit."""
    argv = ["train", "synergy", "--data", "bars-stripes-2x3", "--chi", "2", "--layers-from-mps", "1",
            "--extra-layers", "1", "--mps-steps", "60", "--circuit-steps", "600", "--no-progress"]
    assert main(argv + ["--out", str(tmp_path / "whole")]) == 0
    out = tmp_path / "killed"
    with _started(argv + ["--out", str(out)]) as proc:
        _wait_for(out / "circuit_stage.npz", proc)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    assert (out / "mps_stage.npz").exists() and not (out / "summary.json").exists()
    assert main(argv + ["--out", str(out)]) == 0
    a, b = jqgen.load_checkpoint(tmp_path / "whole" / "checkpoint.npz"), jqgen.load_checkpoint(out / "checkpoint.npz")
    np.testing.assert_array_equal(np.asarray(a.params["gates"]), np.asarray(b.params["gates"]))
