"""Training QCBMs on devices (``jqgen.hardware.train_on_device``), offline on ``local::testing``."""

import jax
import numpy as np
import optax
import pytest

import jqgen
from jqgen.data import bars_and_stripes
from jqgen.hardware import CircuitTemplate, Device, Journal, logical_counts, train_on_device
from jqgen.hardware._runner import _default_submit

qiskit = pytest.importorskip("qiskit")

# Native gates that include the ansatz's own gates, all-to-all: compilation is trivial.
FAST = dict(native_gates=("rx", "rz", "rxx", "cx"), coupling=None)


def _valid_rate(model, params, data):
    p = np.asarray(model.probs(params))
    idx = {int("".join(str(int(b)) for b in row), 2) for row in np.asarray(data)}
    return float(p[sorted(idx)].sum())


@pytest.mark.parametrize("device", [Device.local(5), Device.local(4, **FAST)], ids=["line-rz-sx-cx", "all-native"])
def test_template_circuit_has_the_models_distribution(device):
    from qiskit.quantum_info import Statevector
    from jax.flatten_util import ravel_pytree

    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 2, "all"))
    params = model.init(jax.random.key(3))
    t = CircuitTemplate(model, device)
    flat = np.asarray(ravel_pytree(params)[0], np.float64)
    for shift in (0.0, np.pi / 2):
        theta = flat.copy()
        theta[5] += shift
        c = t.bind(theta)
        assert c.circuit.num_qubits <= device.num_qubits and not c.circuit.parameters
        probs = Statevector(c.circuit).probabilities_dict()
        got = logical_counts(probs, c.layout, little_endian=True)
        got = np.array([got.get(format(i, "04b"), 0.0) for i in range(16)])
        p2 = dict(params)
        p2 = jax.tree_util.tree_map(lambda x: x, p2)
        want_params = ravel_pytree(params)[1](jax.numpy.asarray(theta, np.float32))
        np.testing.assert_allclose(got, np.asarray(model.probs(want_params)), atol=2e-5)


@pytest.mark.slow
def test_train_on_device_descends_and_counts_its_budget(tmp_path):
    """A short parameter-shift run on local::testing (6 steps of 46 circuits, 500 shots):
    the KL estimate and the valid-pattern rate improve; every circuit is counted once.
    (The full learning run is the slow test below.)"""
    data = bars_and_stripes(2, 2)
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 1, "all"))
    params = model.init(jax.random.key(2))  # valid-pattern rate 0.48 -> 0.73 (other starts: 0.36 -> 0.41 .. 0.48)
    steps, num = 6, model.ansatz.num_params
    res = train_on_device(
        model, params, data, Device.local(4, **FAST), shots=500, steps=steps, optimizer=optax.adam(0.2),
        journal_path=tmp_path / "j.jsonl", loss="kl", key=jax.random.key(1),
    )
    assert _valid_rate(model, res.params, data) > _valid_rate(model, params, data) + 0.1
    assert res.history.shape == (steps,) and res.history[-3:].mean() < res.history[:3].mean()
    assert res.budget == {"tasks": steps * (2 * num + 2), "shots": steps * (2 * num + 2) * 500}
    assert res.submitted == steps * (2 * num + 2)
    assert Journal(tmp_path / "j.jsonl").budget() == res.budget


@pytest.mark.slow
def test_train_on_device_learns_bars_and_stripes(tmp_path):
    """Parameter-shift gradients from 1000-shot histograms on local::testing reach a
    >= 90% valid-pattern rate on BAS 2x2 (exact probabilities of the trained model).
    Slow (~15 s, 2,220 simulated device circuits): reproduces learning BAS 2x2 on a device
    end to end; the default suite runs the short run above."""
    data = bars_and_stripes(2, 2)
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 2, "all"))
    params = model.init(jax.random.key(0))
    dev = Device.local(4, **FAST)
    before = _valid_rate(model, params, data)
    steps, num = 30, model.ansatz.num_params
    res = train_on_device(
        model, params, data, dev, shots=1000, steps=steps, optimizer=optax.adam(0.1),
        journal_path=tmp_path / "j.jsonl", loss="kl", key=jax.random.key(1),
    )
    after = _valid_rate(model, res.params, data)
    assert before < 0.6 and after >= 0.9, (before, after)
    assert res.history.shape == (steps,) and res.history[-5:].mean() < res.history[:5].mean()
    assert res.budget == {"tasks": steps * (2 * num + 2), "shots": steps * (2 * num + 2) * 1000}
    assert res.submitted == steps * (2 * num + 2)
    assert Journal(tmp_path / "j.jsonl").budget() == res.budget


class _Counting:
    def __init__(self):
        self.circuits = 0
        self.calls = 0

    def __call__(self, circuits, device, shots):
        self.calls += 1
        self.circuits += len(circuits)
        return _default_submit(circuits, device, shots)


class _Kill(Exception):
    pass


@pytest.mark.slow
def test_resume_after_kill_gives_the_same_result_without_resubmitting(tmp_path):
    data = bars_and_stripes(2, 2)
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 1, "all"))
    params = model.init(jax.random.key(0))
    dev = Device.local(4, **FAST)
    per_step = 2 * model.ansatz.num_params + 2
    kw = dict(shots=200, steps=6, loss="mmd", key=jax.random.key(7))

    full = train_on_device(model, params, data, dev, optimizer=optax.adam(0.1), journal_path=tmp_path / "a.jsonl", **kw)

    def kill(done, p, state, history):
        if done == 3:
            raise _Kill

    first = _Counting()
    with pytest.raises(_Kill):
        train_on_device(model, params, data, dev, optimizer=optax.adam(0.1), journal_path=tmp_path / "b.jsonl",
                        callback=kill, submit=first, **kw)
    assert first.calls == 3 and first.circuits == 3 * per_step
    again = _Counting()
    res = train_on_device(model, params, data, dev, optimizer=optax.adam(0.1), journal_path=tmp_path / "b.jsonl",
                          submit=again, **kw)
    assert again.calls == 3 and again.circuits == 3 * per_step  # only steps 3..5
    assert res.submitted == 3 * per_step
    np.testing.assert_array_equal(res.history, full.history)
    for k in params:
        np.testing.assert_array_equal(np.asarray(res.params[k]), np.asarray(full.params[k]))
    assert res.budget == full.budget == {"tasks": 6 * per_step, "shots": 6 * per_step * 200}

    def refuse(*a):
        raise AssertionError("journaled work was resubmitted")

    replay = train_on_device(model, params, data, dev, optimizer=optax.adam(0.1), journal_path=tmp_path / "b.jsonl",
                             submit=refuse, **kw)
    assert replay.submitted == 0
    np.testing.assert_array_equal(replay.history, full.history)


def test_train_on_device_bad_input(tmp_path):
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 1, "all"))
    params = model.init(jax.random.key(0))
    data = bars_and_stripes(2, 2)
    dev = Device.local(4, **FAST)
    kw = dict(optimizer=optax.adam(0.1), journal_path=tmp_path / "j.jsonl", key=jax.random.key(0))
    with pytest.raises(ValueError, match="loss"):
        train_on_device(model, params, data, dev, shots=10, steps=1, loss="nll", **kw)
    with pytest.raises(ValueError, match="shots"):
        train_on_device(model, params, data, dev, shots=0, steps=1, **kw)
    with pytest.raises(ValueError, match="qubits"):
        train_on_device(model, params, data, Device.local(3, **FAST), shots=10, steps=1, **kw)


# ------------------------------------------------------------------------- readout mitigation
def test_readout_mitigation_moves_noisy_counts_towards_the_exact_distribution(tmp_path):
    from jqgen.distributions import counts_to_probs
    from jqgen.hardware import calibrate_readout, compile_qcbm, mitigate_counts, noisy_readout, run_batch, seeded_submit

    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 2, "line"))
    params = model.init(jax.random.key(0))
    dev = Device.local(5)
    c = compile_qcbm(model, params, dev, initial_layout=[4, 2, 1, 0])
    j = Journal(tmp_path / "j.jsonl")
    # asymmetric, per-physical-qubit readout errors
    poll = noisy_readout([0.02, 0.05, 0.08, 0.03, 0.1], [0.1, 0.04, 0.12, 0.06, 0.15], seed=1)
    mit = calibrate_readout(dev, c.layout, j, shots=20000, poll=poll, submit=seeded_submit(None, 0))
    assert j.budget() == {"tasks": 2, "shots": 40000}  # journaled like any other work
    [raw] = run_batch([c], dev, 20000, j, [{"role": "sample"}], poll=poll, submit=seeded_submit(None, 1))
    mitigated = mitigate_counts(mit, raw, c.layout)
    assert abs(sum(mitigated.values()) - 20000) < 1e-6 * 20000 and min(mitigated.values()) >= -1e-9
    exact = np.asarray(model.probs(params), np.float64)
    tv_raw = 0.5 * np.abs(counts_to_probs(raw, 4) - exact).sum()
    tv_mit = 0.5 * np.abs(counts_to_probs(mitigated, 4) - exact).sum()
    # clean 20000-shot sampling alone gives TV ~0.011 here: mitigation gets down to that level
    assert tv_raw > 0.05 and tv_mit < 0.025, (tv_raw, tv_mit)
    wrong = mitigate_counts(mit, raw, tuple(reversed(c.layout)))  # the layout matters
    assert 0.5 * np.abs(counts_to_probs(wrong, 4) - exact).sum() > 2 * tv_mit
    # the calibration is reused from the journal: nothing is resubmitted
    def refuse(*a):
        raise AssertionError("calibration resubmitted")

    mit2 = calibrate_readout(dev, c.layout, Journal(tmp_path / "j.jsonl"), shots=20000, submit=refuse, poll=refuse)
    again = mitigate_counts(mit2, raw, c.layout)
    assert again.keys() == mitigated.keys()
    np.testing.assert_allclose([again[k] for k in again], [mitigated[k] for k in again], rtol=1e-6, atol=1e-6)


def test_noisy_readout_flips_bits_at_the_given_rates():
    from jqgen.hardware._mitigation import _flip

    rng = np.random.default_rng(0)
    out = _flip({"01": 100000}, np.array([0.1, 0.0]), np.array([0.0, 0.3]), rng)
    assert set(out) <= {"01", "11", "00", "10"}
    first_one = sum(v for k, v in out.items() if k[0] == "1") / 100000
    second_zero = sum(v for k, v in out.items() if k[1] == "0") / 100000
    assert abs(first_one - 0.1) < 0.01 and abs(second_zero - 0.3) < 0.01


# ------------------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def bas_checkpoint(tmp_path_factory):
    from jqgen.cli import main

    run = tmp_path_factory.mktemp("bas") / "run"
    assert main(["train", "qcbm", "--data", "bars-stripes-2x2", "--ansatz", "all", "--layers", "2", "--steps", "60",
                 "--lr", "0.1", "--no-progress", "--out", str(run)]) == 0
    return str(run / "checkpoint.npz")


@pytest.mark.slow
def test_cli_run_samples_a_checkpoint_on_the_local_device(bas_checkpoint, tmp_path, capsys):
    import json

    from jqgen.cli import main

    ck = bas_checkpoint
    out = tmp_path / "dev"
    argv = ["run", ck, "--device", "local::testing", "--shots", "2000", "--out", str(out)]
    assert main(argv) == 0
    for name in ("counts.json", "metrics.json", "histogram.png", "journal.jsonl"):
        assert (out / name).exists(), name
    counts = json.loads((out / "counts.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert sum(counts["counts"].values()) == 2000 and all(len(k) == 4 for k in counts["counts"])
    assert counts["budget"] == {"tasks": 1, "shots": 2000} and counts["mitigated_counts"] is None
    raw = metrics["raw"]
    assert raw["valid_rate"] > 0.8 and raw["tv_model_counts"] < 0.06 and raw["generalization"]["num_samples"] == 2000
    # a rerun reuses the journaled counts: same numbers, nothing submitted
    assert main(argv) == 0
    assert json.loads((out / "counts.json").read_text())["counts"] == counts["counts"]
    assert json.loads((out / "counts.json").read_text())["budget"] == {"tasks": 1, "shots": 2000}
    # simulated readout noise, mitigated
    assert main(argv + ["--tag", "noisy", "--readout-error", "0.05", "--mitigate", "--calibration-shots", "20000"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["mitigated"]["tv_model_counts"] < m["raw"]["tv_model_counts"]
    assert m["mitigated"]["valid_rate"] > m["raw"]["valid_rate"]
    text = capsys.readouterr().out
    assert "mitigated" in text and "budget" in text


@pytest.mark.parametrize("extra,msg", [
    (["--device", "nope::x"], "unknown provider"),
    (["--device", "local::testing", "--readout-error", "1.5"], "readout-error"),
])
def test_cli_run_bad_arguments(bas_checkpoint, tmp_path, capsys, extra, msg):
    from jqgen.cli import main

    capsys.readouterr()
    assert main(["run", bas_checkpoint, "--out", str(tmp_path / "o")] + extra) == 2
    assert msg in capsys.readouterr().err


def test_seeded_submit_restores_the_backend_when_the_submission_fails():
    from jqgen.hardware import seeded_submit
    from jqgen.qcbm import tc_settings

    x64 = bool(jax.config.jax_enable_x64)

    def boom(circuits, device, shots):
        assert tc.backend.name == "numpy"
        raise ConnectionError("down")

    with tc_settings(backend="jax", dtype=None) as tc:  # a caller whose TensorCircuit runs on jax
        with pytest.raises(ConnectionError):
            seeded_submit(boom, 0)([], Device.local(2), 10)
        assert tc.backend.name == "jax" and bool(jax.config.jax_enable_x64) == x64


@pytest.mark.slow
def test_cli_train_qcbm_device_resumes_from_its_journal_and_run_samples_it(tmp_path, capsys):
    import json

    from jqgen.cli import main

    out = tmp_path / "qd"
    argv = ["train", "qcbm-device", "--data", "bars-stripes-2x2", "--ansatz", "all", "--layers", "1", "--steps", "3",
            "--shots", "200", "--native-gates", "rx,rz,rxx,cx", "--coupling", "all", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    s1 = json.loads((out / "summary.json").read_text())
    per_step = 2 * 22 + 2
    assert s1["submitted"] == 3 * per_step and s1["budget"] == {"tasks": 3 * per_step, "shots": 3 * per_step * 200}
    assert main(argv) == 0  # same journal: replayed, nothing submitted, same result
    s2 = json.loads((out / "summary.json").read_text())
    assert s2["submitted"] == 0 and s2["history"] == s1["history"] and s2["valid_rate"] == s1["valid_rate"]
    assert main(["run", str(out / "checkpoint.npz"), "--device", "local::testing", "--shots", "500"]) == 0
    assert (out / "device-local-testing" / "metrics.json").exists()
    assert "qcbm-device" in capsys.readouterr().out


def test_train_on_device_with_readout_mitigation_estimates_the_loss_better(tmp_path):
    from jqgen.hardware import CircuitTemplate, calibrate_readout, noisy_readout

    data = bars_and_stripes(2, 2)
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 1, "all"))
    params = model.init(jax.random.key(0))
    dev = Device.local(4, **FAST)
    kw = dict(shots=5000, steps=1, optimizer=optax.sgd(0.0), loss="mmd", key=jax.random.key(0))
    clean = train_on_device(model, params, data, dev, journal_path=tmp_path / "a.jsonl", **kw).history[0]
    j = tmp_path / "b.jsonl"
    poll = noisy_readout(0.08, 0.12, seed=0)
    noisy = train_on_device(model, params, data, dev, journal_path=j, poll=poll, **kw).history[0]
    mit = calibrate_readout(dev, CircuitTemplate(model, dev).layout, Journal(j), shots=20000, poll=poll)
    mitigated = train_on_device(model, params, data, dev, journal_path=j, poll=poll, readout_mitigation=mit, **kw)
    assert mitigated.submitted == 0  # the noisy counts are reused; only the post-processing differs
    assert abs(mitigated.history[0] - clean) < 0.3 * abs(noisy - clean), (clean, noisy, mitigated.history[0])


@pytest.mark.slow
def test_cli_train_qcbm_with_device_option(tmp_path, capsys):
    from jqgen.cli import main

    out = tmp_path / "dev"
    argv = ["train", "qcbm", "--data", "bars-stripes-2x2", "--ansatz", "all", "--layers", "1", "--loss", "kl",
            "--steps", "2", "--device", "local::testing", "--shots", "200", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    assert (out / "checkpoint.npz").exists() and (out / "journal.jsonl").exists()
    assert "budget" in capsys.readouterr().out
    assert main(argv[:-5] + ["--loss", "nll", "--device", "local::testing", "--out", str(out)]) == 2


@pytest.mark.slow
def test_cmaes_on_device_learns_and_replays_from_its_journal(tmp_path):
    from jqgen.data import bars_and_stripes
    from jqgen.hardware import Device, cmaes_on_device

    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 1, "all"))
    p0 = model.init(jax.random.key(0))
    dev = Device.local(4, native_gates=("rx", "rz", "rxx", "cx", "rzz", "ry", "h", "sx", "x"), coupling=None)
    kw = dict(shots=500, generations=20, journal_path=str(tmp_path / "j.jsonl"), key=jax.random.key(1), loss="kl",
              sigma0=0.5, population_size=8)
    r = cmaes_on_device(model, p0, bars_and_stripes(2, 2), dev, **kw)
    assert r.history.shape == (20,) and r.history[-5:].min() < r.history[:3].min()

    def no_submit(*_):
        raise AssertionError("journaled work was submitted again")

    again = cmaes_on_device(model, p0, bars_and_stripes(2, 2), dev, submit=no_submit, **kw)
    np.testing.assert_array_equal(again.history, r.history)
    with pytest.raises(ValueError, match="generations"):
        cmaes_on_device(model, p0, bars_and_stripes(2, 2), dev, **{**kw, "generations": 0})
