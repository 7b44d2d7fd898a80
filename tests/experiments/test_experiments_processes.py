"""``jqgen experiment`` across processes and through kills: two local processes joined by
``jax.distributed.initialize`` on 127.0.0.1 split the shards and give the single-process
results; an experiment killed (SIGKILL) mid-way resumes its unfinished shards to the
uninterrupted result."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from jqgen.experiments import load_experiment, run_experiment

EXPERIMENT = """\
name = "two-groups"
[data]
name = "bars-stripes-2x2"
[model]
family = "mps"
[trainer]
name = "gradient"
lr = 0.1
steps = {steps}
[grid]
chi_max = [2, 3]
seed = [0, 1, 2]
[metrics]
report = ["kl", "nll"]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "jqgen.cli", "experiment", *args, "--no-progress"]


def _env() -> dict[str, str]:
    env = dict(os.environ, JAX_PLATFORMS="cpu", JQGEN_COMPILE_CACHE="none")
    env.pop("XLA_FLAGS", None)
    return env


def _runs(path) -> list[dict]:
    return json.loads(path.read_text())["runs"]


def test_two_processes_joined_by_jax_distributed_split_the_shards_and_equal_one_process(tmp_path):
    (tmp_path / "e.toml").write_text(EXPERIMENT.format(steps=10))
    port = _free_port()
    procs = [subprocess.Popen(_cli(str(tmp_path / "e.toml"), "--out", str(tmp_path / "two"), "--coordinator",
                                   f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i)),
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    assert "2 process(es)" in outs[0][0]
    single = run_experiment(load_experiment(tmp_path / "e.toml"), tmp_path / "one", progress=False)
    payload = json.loads((tmp_path / "two" / "results.json").read_text())
    assert payload["info"]["processes"] == 2 and payload["info"]["shards"] == 2
    two = payload["runs"]
    assert [r["run"] for r in two] == list(range(6)) and all(r["status"] == "completed" for r in two)
    for a, b in zip(two, single.runs):
        assert a["curve"] == pytest.approx(b["curve"], rel=1e-6, abs=1e-7)
        assert a["final"] == pytest.approx(b["final"], rel=1e-6, abs=1e-7)


@pytest.mark.slow
def test_an_experiment_killed_mid_way_resumes_to_the_uninterrupted_result(tmp_path):
    (tmp_path / "e.toml").write_text(EXPERIMENT.format(steps=400))
    args = _cli(str(tmp_path / "e.toml"), "--out", str(tmp_path / "cut"), "--chunk-size", "10")
    proc = subprocess.Popen(args, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shards = tmp_path / "cut" / "shards"
    deadline = time.monotonic() + 120
    while not (shards / "g0-s0.json").exists() and time.monotonic() < deadline:  # first shard done
        time.sleep(0.05)
    while not (shards / "g1-s0.npz").exists() and time.monotonic() < deadline:  # second shard under way
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "cut" / "results.json").exists()
    subprocess.run(args, env=_env(), check=True, capture_output=True, timeout=240)
    full = run_experiment(load_experiment(tmp_path / "e.toml"), tmp_path / "full", chunk_size=10, progress=False)
    for a, b in zip(_runs(tmp_path / "cut" / "results.json"), full.runs):
        assert a["curve"] == b["curve"] and a["final"] == b["final"]
