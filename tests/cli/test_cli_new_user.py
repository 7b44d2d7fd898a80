"""What a new user met (issue 21, part 4): readable figures at any size, ``--data`` and
``--key`` errors that say what to do, outputs in the run folder, progress lines once in a
log, and README commands that parse."""

import json
import math
import os
import re
import shlex
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jqgen.plots as plots
import jqgen.plots._runs as plot_runs
from jqgen.cli import main
from jqgen.cli._main import build_parser
from jqgen.data import DATASET_NAMES, Dataset, load_dataset

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def figures(monkeypatch):
    """What the plot functions draw, per saved figure (captured before it is cleared)."""
    seen = []
    save = plot_runs._save

    def capture(fig, path):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        axes = list(fig.axes)
        seen.append({"images": [im.get_array().shape for a in axes for im in a.images],
                     "fig_px": tuple(fig.get_size_inches() * fig.dpi), "renderer": renderer,
                     "ylim": [a.get_ylim() for a in axes], "yscale": [a.get_yscale() for a in axes],
                     "titles": [a.get_title() for a in axes], "texts": [t.get_text() for a in axes for t in a.texts],
                     "legends": [a.get_legend() for a in axes],
                     "axes_px": [a.get_window_extent(renderer) for a in axes],
                     "legend_px": [a.get_legend().get_window_extent(renderer) if a.get_legend() else None
                                   for a in axes],
                     "lines": [[(ln.get_label(), ln.get_color()) for ln in a.get_lines()] for a in axes]})
        return save(fig, path)

    monkeypatch.setattr(plot_runs, "_save", capture)
    return seen


def png_size(path):
    with open(path, "rb") as f:
        return struct.unpack(">II", f.read(24)[16:24])


def test_entropies_png_is_a_sane_size_and_scale_at_784_sites(figures, tmp_path):
    rng = np.random.default_rng(0)
    e = 2.8 * rng.random(783)  # MNIST-size chain; min(b, n-b) ln 2 reaches 271 nats
    for chi_max in (16, None):
        path = plots.plot_entropies(e, tmp_path / "e.png", title="bond entanglement entropies", chi_max=chi_max)
        w, h = png_size(path)
        assert w <= 1000 and h <= 400  # was 27,605 x 360
        (bottom, top), = figures[-1]["ylim"]
        assert bottom == 0 and e.max() <= top <= 2.0 * max(e.max(), math.log(16)) * 1.15  # real entropies fill it
    # a short chain still shows the whole bound (it is within range)
    plots.plot_entropies([0.3, 0.6, 0.2], tmp_path / "e4.png", chi_max=4)
    assert figures[-1]["ylim"][0][1] >= 2 * math.log(2)


def test_training_curves_title_the_printed_value_keep_colours_and_legends_off_the_curves(figures, tmp_path):
    mmd = 0.03 * np.exp(-np.linspace(0, 8, 300)) + 1e-6
    plots.plot_training_curve(mmd, tmp_path / "m.png", label="squared MMD", ylabel="squared MMD", logy=True,
                              final=3.2e-5, final_label="exact MMD^2 of the final parameters")
    fig = figures[-1]
    assert fig["yscale"] == ["log"]
    assert "3.20e-05" in fig["titles"][0] and "0.0000" not in fig["titles"][0]
    nll = 3.4 + np.exp(-np.linspace(0, 5, 40))
    plots.plot_training_curve(nll, tmp_path / "s.png", ideal=3.4, test=nll + 0.3, xlabel="loop", label="train NLL",
                              final=3.41234, final_label="train NLL of the final parameters")
    fig = figures[-1]
    assert "train NLL of the final parameters 3.4123" in fig["titles"][0]
    top, gap = fig["lines"]
    colours = dict(top)
    assert [(label, colours[label]) for label, _ in gap] == gap  # the same colour for a curve in both panels
    assert {label for label, _ in gap} == {"train NLL", "test NLL"}
    for f in figures:  # every legend lies beside its axes, on none of the curves
        for ax_px, leg_px in zip(f["axes_px"], f["legend_px"]):
            assert leg_px is not None and leg_px.x0 >= ax_px.x1
    # without final: the last entry, labelled as such (a minibatch loss is not the train NLL)
    plots.plot_training_curve(nll, tmp_path / "b.png", label="minibatch NLL (batch 5)")
    assert "last minibatch NLL (batch 5)" in figures[-1]["titles"][0]


def test_distribution_legend_and_text_beside_the_bars_and_strips_readable(figures, tmp_path):
    pm = np.full(512, 1 / 512)
    pd = np.zeros(512)
    pd[:14] = 1 / 14
    plots.plot_distribution(pm, pd, tmp_path / "d.png", title="valid-pattern rate 2.7%")
    f = figures[-1]
    assert f["texts"] == [] and f["legend_px"][0].x0 >= f["axes_px"][0].x1
    assert "elsewhere" in f["legends"][0].get_title().get_text()
    bits = (np.random.default_rng(1).random((32, 12)) < 0.5).astype(np.uint8)
    path = plots.plot_samples(bits, None, tmp_path / "strips.png")  # 1 x 12 strips, e.g. cardinality-12 data
    rows, cols = f_img = figures[-1]["images"][0][:2]
    assert rows <= 16 * 2 + 1 and cols < 4 * 13  # at most 16 strips a column, a few columns
    w, h = png_size(path)
    assert h / rows >= 15 and w / cols >= 15, f_img  # at least 15 px per bit


def test_data_errors_say_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.savez("pair.npz", images=np.zeros((4, 2, 2), np.uint8), labels=np.arange(4))
    Path("notes.npy").write_text("not numpy\n" * 20)
    np.save("objects.npy", np.array([[0, 1]], dtype=object), allow_pickle=True)
    np.save("deep.npy", np.zeros((5, 3, 7, 2), np.uint8))
    np.save("one.npy", np.zeros((4, 4), np.uint8))
    cases = [("pair.npz", [], "--key"), ("notes.npy", [], "not a NumPy .npy file"),
             ("objects.npy", [], "pickled (object) array"), ("deep.npy", [], "[N, rows, cols]"),
             ("no-such-set", [], "cardinality-N-K-EPS"), ("pair.npz", ["--key", "nope"], "no array 'nope'"),
             ("one.npy", ["--key", "x"], ".npy file (one array)")]
    for data, extra, needle in cases:
        assert main(["train", "mps", "--data", data, *extra, "--no-progress"]) == 3, data
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1, err
        assert "unsafely" not in err and "allow_pickle" not in err and "pickle.load" not in err
        assert all(name in err for name in DATASET_NAMES)  # the hint lists every embedded data set
    assert not Path("runs").exists()
    Path("notes.npz").write_text("not a checkpoint\n" * 20)  # nor as a checkpoint
    for command in (["sample", "notes.npz"], ["evaluate", "notes.npz"]):
        assert main(command) == 3
        err = capsys.readouterr().err
        assert "not a readable jqgen checkpoint" in err and "unsafely" not in err and "allow_pickle" not in err
    for command in (["train", "mps"], ["train", "qcbm"], ["train", "synergy"], ["train", "qcbm-device"],
                    ["evaluate", "x.npz"], ["run", "x.npz"]):
        assert main([*command, "-h"]) == 0
        out = "".join(capsys.readouterr().out.split())  # argparse wraps lines at hyphens
        assert "--keyNAME" in out and "cardinality-N-K-EPS" in out, command


def test_a_3d_array_is_images_and_a_constant_set_has_entropy_zero(tmp_path):
    from jqgen.cli._report import ideal_label

    np.save(tmp_path / "same.npy", np.zeros((5, 3, 7), np.uint8))
    ds = load_dataset(str(tmp_path / "same.npy"))
    assert ds.data.shape == (5, 21) and ds.image_shape == (3, 7)
    assert ds.ideal_nll == 0.0 and math.copysign(1, ds.ideal_nll) == 1
    assert ideal_label(ds.data, ds.ideal_nll) == "H(data) = 0.00000"
    assert Dataset("one", np.ones((1, 3), np.uint8)).ideal_nll == 0.0


def _env():
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JQGEN_COMPILE_CACHE": "none", "PYTHONPATH": str(ROOT)}
    env.pop("COLUMNS", None)
    return env


def test_progress_in_a_log_is_one_plain_line_per_update(tmp_path, monkeypatch):
    """stderr not a terminal: no bar, and each :class:`ProgressLines` update is one line;
    the training runner's own bar (library use) redraws once per update too."""
    import jax
    import optax

    import jqgen
    from jqgen.cli._progress import ProgressLines, bar_wanted
    from jqgen.data import bars_and_stripes

    with open(tmp_path / "err.log", "w") as log:
        monkeypatch.setattr(sys, "stderr", log)
        assert not bar_wanted(no_progress=False) and not bar_wanted(no_progress=True)
        lines = ProgressLines(False, "mps chi=2", 20, "steps")
        for done in (5, 10, 15, 20):
            lines.chunk(done, {"loss": np.linspace(3, 2, done)})
        ProgressLines(True, "quiet", 20, "steps")(5, 1.0)  # --no-progress: nothing
        model = jqgen.MPSBornMachine(4, 2)
        jqgen.fit(model, model.init(jax.random.key(0)), bars_and_stripes(2, 2), optax.adam(0.01),
                  key=jax.random.key(1), steps=10, chunk_size=5, progress=True, desc="lib")
    text = (tmp_path / "err.log").read_text()
    plain = [ln for ln in text.splitlines() if ln.startswith("mps chi=2")]
    assert [ln.split(",")[0] for ln in plain] == [f"mps chi=2: {k}/20 steps" for k in (5, 10, 15, 20)]
    assert "quiet" not in text
    redraws = text.split("\r")
    assert sum("5/10" in r for r in redraws) == 1 and sum("10/10" in r for r in redraws) >= 1  # was twice each


@pytest.mark.slow  # a fresh process: ~14 s on 2 busy cores
def test_a_redirected_run_logs_each_progress_line_once_and_sample_writes_into_the_run(tmp_path, capsys):
    """The CLI with stdout and stderr redirected to files (a log): one plain line per chunk,
    each once, no carriage returns; then ``jqgen sample`` without ``--out`` writes into
    the run folder, and reads the data set with the recorded ``--key``."""
    np.savez(tmp_path / "pair.npz", images=np.array([[[0, 1], [0, 1]], [[1, 0], [1, 0]]] * 2, np.uint8),
             labels=np.arange(4))
    out = tmp_path / "run"
    argv = ["train", "mps", "--data", str(tmp_path / "pair.npz"), "--key", "images", "--chi-max", "2",
            "--steps", "20", "--chunk-size", "5", "--out", str(out)]
    with open(tmp_path / "stdout.log", "w") as so, open(tmp_path / "stderr.log", "w") as se:
        code = f"import sys; from jqgen.cli import main; sys.exit(main({argv!r}))"
        r = subprocess.run([sys.executable, "-c", code], stdout=so, stderr=se, env=_env(), timeout=300)
    log = (tmp_path / "stderr.log").read_text()
    assert r.returncode == 0, log[-2000:]
    assert "\r" not in log
    progress = [ln for ln in log.splitlines() if re.match(r"mps chi=2: \d+/20 steps", ln)]
    assert [ln.split(",")[0] for ln in progress] == [f"mps chi=2: {k}/20 steps" for k in (5, 10, 15, 20)]
    assert "train NLL" in (tmp_path / "stdout.log").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hyperparameters"]["data_key"] == "images" and summary["image_shape"] == [2, 2]

    assert main(["sample", str(out / "checkpoint.npz"), "--num", "4", "--npy", "bits.npy"]) == 0
    printed = capsys.readouterr().out
    assert (out / "samples-seed0.png").exists() and (out / "bits.npy").exists()
    assert "in the training set" in printed  # the recorded data set and key were read back
    assert not Path("samples-seed0.png").exists()


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            for part in line.split("#")[0].split("&&"):
                part = part.strip()
                if part.startswith("jqgen "):
                    yield part


def test_every_readme_command_parses_and_the_device_cli_is_not_future_work():
    commands = list(_readme_commands())
    assert len(commands) >= 10
    parser = build_parser()
    for command in commands:
        try:
            parser.parse_args(shlex.split(command)[1:])
        except SystemExit:  # pragma: no cover - the message names the command
            pytest.fail(f"README command does not parse: {command}")
    text = (ROOT / "README.md").read_text()
    assert "come next" not in text and "jqgen train qcbm-device" in text and "jqgen run " in text
    assert "--out samples.png" not in text  # the sample grid goes into the run folder


def test_synergy_reports_the_progress_of_both_stages():
    """``pretrain(callback=...)``: what ``jqgen train synergy`` prints one line of per chunk
    when stderr is a log (it showed nothing there before)."""
    import jax

    from jqgen.data import bars_and_stripes
    from jqgen.synergy import pretrain

    seen = []
    pretrain(bars_and_stripes(2, 2), chi=2, layers_from_mps=1, extra_layers=0, key=jax.random.key(0), mps_steps=60,
             circuit_steps=20, callback=lambda stage, done, hist: seen.append((stage, done, len(hist["loss"]))))
    assert seen == [("mps", 50, 50), ("mps", 60, 60), ("circuit", 20, 20)]
