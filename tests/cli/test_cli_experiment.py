"""``jqgen experiment FILE.toml``: a run in-process (table, plot, summary lines), a re-run that
resumes nothing new, and one-line errors with exit code 2 for bad files and options."""

import json

import pytest

from jqgen.cli import main

FILE = """\
name = "tiny"
[data]
name = "bars-stripes-2x2"
[model]
family = "mps"
chi_max = 2
[trainer]
name = "gradient"
steps = 12
[grid]
seed = [0, 1]
lr = [0.05, 0.2]
[metrics]
report = ["nll", "kl"]
"""


def test_an_experiment_writes_its_table_and_a_rerun_reuses_it(tmp_path, capsys):
    (tmp_path / "e.toml").write_text(FILE)
    out = tmp_path / "out"
    assert main(["experiment", str(tmp_path / "e.toml"), "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "tiny: 4 runs (0 failed) on 1 device(s) x 1 process(es)" in text and "results.csv" in text
    first = json.loads((out / "results.json").read_text())["runs"]
    stamp = (out / "shards" / "g0-s0.json").stat().st_mtime_ns
    assert main(["experiment", str(tmp_path / "e.toml"), "--out", str(out), "--no-progress"]) == 0
    assert (out / "shards" / "g0-s0.json").stat().st_mtime_ns == stamp
    assert json.loads((out / "results.json").read_text())["runs"] == first
    (tmp_path / "e.toml").write_text(FILE.replace("steps = 12", "steps = 13"))
    assert main(["experiment", str(tmp_path / "e.toml"), "--out", str(out), "--no-progress"]) == 2
    assert "other settings" in capsys.readouterr().err


@pytest.mark.parametrize("text, args, message", [
    (FILE.replace('family = "mps"', 'family = "rbm"'), [], "[model].family"),
    ("[data\n", [], "not a TOML file"),
    (FILE, ["--coordinator", "127.0.0.1:1"], "go together"),
    (FILE, ["--devices", "99"], "local devices"),
    (FILE, ["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "2"], "--process-id 2"),
])
def test_bad_files_and_options_exit_2_with_one_line(tmp_path, capsys, text, args, message):
    (tmp_path / "e.toml").write_text(text)
    assert main(["experiment", str(tmp_path / "e.toml"), "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_missing_file_exits_2(tmp_path, capsys):
    assert main(["experiment", str(tmp_path / "none.toml")]) == 2
    assert "none.toml" in capsys.readouterr().err
