"""jqgen.hardware foundation: journal, devices, compilation, journaled fault-tolerant runner.

All offline: runner faults are injected through ``submit``/``poll``/``sleep``/``clock``; real
submissions go to TensorCircuit's ``local::testing`` provider.
"""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jqgen
from jqgen.hardware import (
    Compiled,
    Device,
    Journal,
    TaskLost,
    compile_qcbm,
    logical_counts,
    params_hash,
    parse_device,
    redact,
    request_key,
    run_batch,
)

qiskit = pytest.importorskip("qiskit")

TOKEN = "tok-Zq81xVb02LmNp7"


# ------------------------------------------------------------------------------------ journal
def _text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def _records(path):
    return [json.loads(line) for line in _text(path).splitlines()]


def _submit(j, key, tid, shots=100):
    j.record_submit(key, tid, circuit_hash="ch", params_hash="ph", shots=shots, device="local::testing", tag={"step": 0})


def test_journal_round_trip_and_budget(tmp_path):
    path = tmp_path / "sub" / "j.jsonl"
    j = Journal(path)
    assert j.lookup("a") is None and j.budget() == {"tasks": 0, "shots": 0}
    _submit(j, "a", "t1", 100)
    _submit(j, "b", "t2", 50)
    j.record_result("a", "t1", {"01": 60, "10": 40})
    j.record_failed("b", "t2", "boom")
    _submit(j, "b", "t3", 50)
    for jj in (j, Journal(path)):  # in memory and replayed
        a, b = jj.lookup("a"), jj.lookup("b")
        assert a.task_id == "t1" and a.counts == {"01": 60, "10": 40} and a.submits == 1
        assert b.task_id == "t3" and b.counts is None and b.submits == 2 and b.failures == 1
        assert jj.budget() == {"tasks": 3, "shots": 200}
    lines = path.read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    assert [r["type"] for r in recs] == ["submit", "submit", "result", "failed", "submit"]
    assert all(r["v"] == 1 and isinstance(r["time"], float) for r in recs)
    assert recs[0]["device"] == "local::testing" and recs[0]["params_hash"] == "ph" and recs[0]["shots"] == 100


def test_journal_fsyncs_every_record(tmp_path, monkeypatch):
    j = Journal(tmp_path / "j.jsonl")
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    _submit(j, "a", "t1")
    j.record_result("a", "t1", {"0": 100})
    j.record_failed("a", "t1", "x")
    assert len(calls) == 3
    assert (tmp_path / "j.jsonl").read_text().endswith("\n")


def test_journal_truncated_last_line_is_dropped_with_warning(tmp_path):
    path = tmp_path / "j.jsonl"
    j = Journal(path)
    _submit(j, "a", "t1")
    j.record_result("a", "t1", {"0": 100})
    good = path.read_bytes()
    with open(path, "ab") as f:
        f.write(b'{"type": "submit", "key": "b", "task_')  # a crash mid-write
    with pytest.warns(RuntimeWarning, match="truncated last line"):
        j2 = Journal(path)
    assert path.read_bytes() == good  # partial line removed
    assert j2.lookup("a").counts == {"0": 100} and j2.lookup("b") is None
    _submit(j2, "b", "t2")
    j3 = Journal(path)  # no warning now (warnings are errors in this suite)
    assert j3.lookup("b").task_id == "t2" and j3.budget()["tasks"] == 2


def test_journal_corrupt_middle_line_is_an_error(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"type": "submit", "key": "a", "task_id": "t", "shots": 1}\nnot json\n{"type": "failed", "key": "a"}\n')
    with pytest.raises(ValueError, match="line 2"):
        Journal(path)


def test_request_key_depends_on_every_part():
    base = request_key("c", 10, "local::testing", {"step": 1})
    assert base == request_key("c", 10, "local::testing", {"step": 1})
    others = [
        request_key("d", 10, "local::testing", {"step": 1}),
        request_key("c", 11, "local::testing", {"step": 1}),
        request_key("c", 10, "tencent::x", {"step": 1}),
        request_key("c", 10, "local::testing", {"step": 2}),
    ]
    assert len({base, *others}) == 5


# ------------------------------------------------------------------------------------ devices
def _offline_provider_check():
    """A remote provider's description is read through TensorCircuit; a failure (here
    injected: no network in CI) is a ValueError with the token redacted."""
    import os
    from unittest import mock

    from jqgen.hardware import _cloud

    class FakeApis:
        @staticmethod
        def get_device(provider, device):
            raise ConnectionError(f"cannot reach {provider} with token tok-ABCD-9876")

        @staticmethod
        def get_token(provider=None):
            return None

    with mock.patch.dict(os.environ, {"TENCENT_TOKEN": "tok-ABCD-9876"}), \
            mock.patch.object(_cloud, "cloud", lambda: (FakeApis, None)):
        with pytest.raises(ValueError) as e:
            parse_device("tencent::tianji_s2")
    assert "tencent::tianji_s2" in str(e.value) and "tok-ABCD-9876" not in str(e.value)


def test_device_local_and_parse():
    d = Device.local(3)
    assert d.spec == "local::testing" and d.coupling_map == ((0, 1), (1, 2)) and d.native_gates == ("rz", "sx", "x", "cx")
    assert Device.local(3, coupling=None).coupling_map is None
    assert parse_device("local::testing", num_qubits=6).num_qubits == 6
    assert parse_device("LOCAL::testing").provider == "local"
    for bad in ("local", "nope::x", "local::other", "a::b::c"):
        with pytest.raises(ValueError):
            parse_device(bad)
    _offline_provider_check()
    with pytest.raises(ValueError):
        Device("local", "testing", 2, coupling_map=((0, 2),))
    with pytest.raises(ValueError):
        Device.local(2, coupling="ring")
    for bad in (0, -1, 1.5, True, d.max_shots + 1):
        with pytest.raises(ValueError):
            d.check_shots(bad)


# -------------------------------------------------------------------------------- compilation
def _exact(model, params):
    return np.asarray(model.probs(params), np.float64)


def _vec(counts, n):
    return np.array([counts.get(format(i, f"0{n}b"), 0.0) for i in range(2**n)], np.float64)


@pytest.mark.parametrize("ansatz", [jqgen.qcbm.HardwareEfficient(4, 2, "line"), jqgen.qcbm.SU4Brickwork(4, 1)], ids=["hea", "su4"])
@pytest.mark.parametrize(
    "device,initial_layout",
    [
        (Device.local(6), [3, 1, 0, 2]),  # line, forced scattered layout: routing with SWAPs
        (Device.local(4, coupling=[(2, 0), (0, 3), (3, 1)]), None),  # relabelled line
    ],
    ids=["line6-forced", "line4-relabelled"],
)
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.float64
def test_compiled_circuit_has_the_original_distribution(ansatz, device, initial_layout, seed):
    from qiskit.quantum_info import Statevector

    model = jqgen.QCBM(ansatz, dtype=jnp.float64)
    params = model.init(jax.random.key(seed))
    c = compile_qcbm(model, params, device, initial_layout=initial_layout)
    assert c.layout != tuple(range(4))  # non-trivial layout
    assert set(c.circuit.count_ops()) <= set(device.native_gates)
    edges = {frozenset(e) for e in device.coupling_map}
    for inst in c.circuit.data:
        if len(inst.qubits) == 2:
            assert frozenset(c.circuit.find_bit(q).index for q in inst.qubits) in edges
    exact = _exact(model, params)
    # qiskit simulation (little-endian keys), layout undone
    sv = Statevector(c.circuit).probabilities_dict()
    np.testing.assert_allclose(_vec(c.logical_counts(sv, little_endian=True), 4), exact, atol=1e-10)
    # the tc.Circuit that providers receive (big-endian over physical qubits)
    st = np.abs(np.asarray(c.tc_circuit().state(), np.complex128)) ** 2
    phys = {format(i, f"0{c.num_physical}b"): float(v) for i, v in enumerate(st)}
    np.testing.assert_allclose(_vec(c.logical_counts(phys), 4), exact, atol=1e-5)
    assert c.params_hash == params_hash(params)


def test_circuit_hash_is_deterministic_and_sensitive():
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(3, 1))
    p = model.init(jax.random.key(0))
    d = Device.local(3)
    h1 = compile_qcbm(model, p, d).circuit_hash
    assert h1 == compile_qcbm(model, p, d).circuit_hash
    q = dict(p, first=p["first"].at[0, 0].set(jnp.nextafter(p["first"][0, 0], jnp.inf)))  # one ulp (float32)
    assert compile_qcbm(model, q, d).circuit_hash != h1
    assert params_hash(q) != params_hash(p)


def test_logical_counts_convention():
    # physical big-endian: char j = physical qubit j; logical 0 on physical 2, logical 1 on physical 0
    assert logical_counts({"100": 5, "001": 2, "101": 1}, [2, 0]) == {"01": 5, "10": 2, "11": 1}
    # qiskit little-endian: last char = qubit 0
    assert logical_counts({"001": 5}, [2, 0], little_endian=True) == {"01": 5}
    with pytest.raises(ValueError):
        logical_counts({"01": 1}, [2, 0])


def test_compile_rejects_wide_circuits():
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 1))
    with pytest.raises(ValueError, match="more than"):
        compile_qcbm(model, model.init(jax.random.key(0)), Device.local(3))


# ------------------------------------------------------------------------------------- runner
@pytest.fixture(scope="module")
def small():
    """Two distinct compiled 2-qubit circuits for an all-to-all 2-qubit local device."""
    dev = Device.local(2, coupling=None)
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(2, 1))
    cs = [compile_qcbm(model, model.init(jax.random.key(s)), dev) for s in range(2)]
    return dev, cs


class FakeProvider:
    """Records submissions; tasks complete with ``{"10": shots}`` (physical)."""

    def __init__(self, submit_faults=(), poll_faults=()):
        self.submitted = []
        self.polled = []
        self.submit_faults = list(submit_faults)
        self.poll_faults = list(poll_faults)

    def submit(self, circuits, device, shots):
        if self.submit_faults:
            raise self.submit_faults.pop(0)
        ids = [f"t{len(self.submitted) + k}" for k in range(len(circuits))]
        self.submitted += ids
        self.shots = shots
        return ids

    def poll(self, task, device):
        self.polled.append(task)
        if self.poll_faults:
            f = self.poll_faults.pop(0)
            if f is None:
                return None
            raise f
        return {"10": self.shots}


def test_run_batch_reuses_journaled_counts(tmp_path, small):
    dev, cs = small
    j = Journal(tmp_path / "j.jsonl")
    p = FakeProvider()
    out = run_batch(cs, dev, 30, j, ["a", "b"], submit=p.submit, poll=p.poll, sleep=lambda s: None)
    assert out == [{"10": 30}, {"10": 30}] and p.submitted == ["t0", "t1"]
    assert Journal(j.path).budget() == {"tasks": 2, "shots": 60}

    def no_submit(*a):
        raise AssertionError("resubmitted journaled work")

    out2 = run_batch(cs, dev, 30, Journal(j.path), ["a", "b"], submit=no_submit, poll=no_submit, sleep=lambda s: None)
    assert out2 == out
    # a new tag is new work; the journaled one is still reused
    p2 = FakeProvider()
    run_batch(cs, dev, 30, Journal(j.path), ["a", "c"], submit=p2.submit, poll=p2.poll, sleep=lambda s: None)
    assert p2.submitted == ["t0"] and Journal(j.path).budget()["tasks"] == 3


class Killed(BaseException):
    """Stands in for SIGKILL between the journal write and the result."""


def test_run_killed_after_submitting_polls_instead_of_resubmitting(tmp_path, small):
    dev, cs = small
    j = Journal(tmp_path / "j.jsonl")
    p = FakeProvider()

    def dying_poll(task, device):
        raise Killed

    with pytest.raises(Killed):
        run_batch(cs, dev, 30, j, [0, 1], submit=p.submit, poll=dying_poll, sleep=lambda s: None)
    assert p.submitted == ["t0", "t1"]
    j2 = Journal(j.path)  # "restarted process"
    assert j2.lookup(request_key(cs[0].circuit_hash, 30, dev.spec, 0)).task_id == "t0"
    out = run_batch(cs, dev, 30, j2, [0, 1], submit=p.submit, poll=p.poll, sleep=lambda s: None)
    assert out == [{"10": 30}, {"10": 30}]
    assert p.submitted == ["t0", "t1"] and p.polled == ["t0", "t1"]  # polled by id, nothing resubmitted
    assert Journal(j.path).budget() == {"tasks": 2, "shots": 60}


def test_lost_task_is_resubmitted_and_recorded(tmp_path, small):
    dev, cs = small
    j = Journal(tmp_path / "j.jsonl")
    p = FakeProvider(poll_faults=[TaskLost("t0")])
    out = run_batch(cs[:1], dev, 30, j, ["x"], submit=p.submit, poll=p.poll, sleep=lambda s: None)
    assert out == [{"10": 30}] and p.submitted == ["t0", "t1"]
    recs = _records(j.path)
    assert [r["type"] for r in recs] == ["submit", "failed", "submit", "result"]
    assert recs[1]["lost"] is True and recs[3]["task_id"] == "t1"


def test_transient_faults_are_retried_with_exponential_backoff(tmp_path, small):
    dev, cs = small
    p = FakeProvider(submit_faults=[ConnectionError("reset"), ConnectionError("reset")], poll_faults=[TimeoutError("slow"), None, OSError("net")])
    sleeps = []
    out = run_batch(cs[:1], dev, 30, Journal(tmp_path / "j.jsonl"), ["x"], submit=p.submit, poll=p.poll, sleep=sleeps.append, backoff=0.5)
    assert out == [{"10": 30}] and p.submitted == ["t0"]
    assert sleeps[:2] == [0.5, 1.0]  # submit retries double
    assert all(s > 0 for s in sleeps)


def test_failed_task_is_resubmitted(tmp_path, small):
    from tensorcircuit.cloud.abstraction import TaskFailed

    dev, cs = small
    j = Journal(tmp_path / "j.jsonl")
    p = FakeProvider(poll_faults=[TaskFailed("t0", "failed", "calibration")])
    out = run_batch(cs[:1], dev, 30, j, ["x"], submit=p.submit, poll=p.poll, sleep=lambda s: None)
    assert out == [{"10": 30}] and p.submitted == ["t0", "t1"]
    assert Journal(j.path).budget() == {"tasks": 2, "shots": 60}


def test_persistent_failure_raises_redacted_runtime_error(tmp_path, small, monkeypatch):
    dev, cs = small
    monkeypatch.setenv("JQGEN_TEST_TOKEN", TOKEN)
    calls = []

    def bad_submit(circuits, device, shots):
        calls.append(1)
        raise ConnectionError(f"401 for Bearer {TOKEN}")

    j = Journal(tmp_path / "j.jsonl")
    with pytest.raises(RuntimeError) as ei:
        run_batch(cs[:1], dev, 30, j, ["x"], submit=bad_submit, retries=3, sleep=lambda s: None)
    msg = str(ei.value)
    assert TOKEN not in msg and "***" in msg and "4 attempts" in msg
    assert ei.value.__cause__ is None and ei.value.__suppress_context__
    assert len(calls) == 4

    # a task that keeps failing: the final error names the task; journal holds no token
    from tensorcircuit.cloud.abstraction import TaskFailed

    p = FakeProvider(poll_faults=[TaskFailed(f"t{k}", "failed", f"bad token {TOKEN}") for k in range(3)])
    with pytest.raises(RuntimeError, match="task t2") as ei:
        run_batch(cs[:1], dev, 30, j, ["y"], submit=p.submit, poll=p.poll, retries=2, sleep=lambda s: None)
    assert TOKEN not in str(ei.value)
    assert TOKEN not in _text(j.path)


def test_deadline_names_the_pending_task(tmp_path, small):
    dev, cs = small
    now = [0.0]

    def sleep(s):
        now[0] += s

    p = FakeProvider(poll_faults=[None] * 1000)
    with pytest.raises(RuntimeError, match="deadline.*t0"):
        run_batch(cs[:1], dev, 30, Journal(tmp_path / "j.jsonl"), ["x"], submit=p.submit, poll=p.poll, sleep=sleep, clock=lambda: now[0], deadline_s=100.0)
    assert 90.0 <= now[0] <= 100.0


def test_bad_input_raises_before_submitting(tmp_path, small):
    dev, cs = small
    j = Journal(tmp_path / "j.jsonl")

    def no_submit(*a):
        raise AssertionError("submitted")

    kw = dict(submit=no_submit, poll=no_submit, sleep=lambda s: None)
    for shots in (0, -3, dev.max_shots + 1, 2.5):
        with pytest.raises(ValueError):
            run_batch(cs, dev, shots, j, ["a", "b"], **kw)
    with pytest.raises(ValueError, match="one tag per circuit"):
        run_batch(cs, dev, 10, j, ["a"], **kw)
    with pytest.raises(ValueError, match="distinct tags"):
        run_batch([cs[0], cs[0]], dev, 10, j, ["a", "a"], **kw)
    with pytest.raises(ValueError, match="more than"):
        run_batch(cs, Device.local(1, coupling=None), 10, j, ["a", "b"], **kw)
    with pytest.raises(ValueError, match="compiled for"):
        run_batch(cs, Device("tencent", "x", 2), 10, j, ["a", "b"], **kw)
    assert j.budget() == {"tasks": 0, "shots": 0}


def test_redact(monkeypatch):
    monkeypatch.setenv("SOME_API_TOKEN", TOKEN)
    assert redact(f"x {TOKEN} y {TOKEN}") == "x *** y ***"
    assert redact("nothing secret") == "nothing secret"


# ------------------------------------------------------------------------ local::testing
def _g_test_pvalue(counts, probs, shots):
    from scipy import stats

    obs = _vec(counts, int(np.log2(len(probs))))
    exp = probs * shots
    big = exp >= 5
    o = np.append(obs[big], obs[~big].sum())
    e = np.append(exp[big], exp[~big].sum())
    keep = e > 0
    o, e = o[keep], e[keep] * (o[keep].sum() / e[keep].sum())
    return stats.power_divergence(o, e, lambda_="log-likelihood").pvalue


def test_local_provider_counts_match_exact_probabilities(tmp_path, monkeypatch):
    """A real submission to local::testing of a routed 4-qubit circuit on a 5-qubit line
    (the provider samples all 5 qubits; the runner marginalizes and undoes the layout)."""
    from jqgen.qcbm._tc import tensorcircuit

    tc = tensorcircuit()
    tc.backend.set_random_state(1234)
    monkeypatch.setenv("JQGEN_TEST_TOKEN", TOKEN)
    dev = Device.local(5)
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 2, "all"))
    params = model.init(jax.random.key(3))
    c = compile_qcbm(model, params, dev, initial_layout=[4, 2, 0, 1])
    assert isinstance(c, Compiled) and c.num_physical == 5
    shots = 4000
    j = Journal(tmp_path / "j.jsonl")
    (out,) = run_batch([c], dev, shots, j, [{"step": 0}])
    assert sum(out.values()) == shots and all(len(k) == 4 for k in out)
    p = _g_test_pvalue(out, _exact(model, params), shots)
    assert p > 1e-3, p
    # restart with the same journal: nothing is submitted again
    (again,) = run_batch([c], dev, shots, Journal(j.path), [{"step": 0}], submit=lambda *a: pytest.fail("resubmitted"))
    assert again == out
    # a journaled but unfinished local task from an "earlier process" is lost: resubmitted and recorded
    from tensorcircuit.cloud import local

    j2 = Journal(tmp_path / "j2.jsonl")
    with pytest.raises(Killed):
        run_batch([c], dev, 100, j2, ["k"], poll=lambda t, d: (_ for _ in ()).throw(Killed()))
    local.task_list.clear()
    (res,) = run_batch([c], dev, 100, Journal(j2.path), ["k"])
    assert sum(res.values()) == 100
    recs = _records(j2.path)
    assert [r["type"] for r in recs] == ["submit", "failed", "submit", "result"] and recs[1]["lost"]
    text = _text(j.path) + _text(j2.path)
    assert TOKEN not in text


def test_noisy_gates_sample_the_depolarized_density_matrix(tmp_path):
    from jqgen.hardware import noisy_gates
    from jqgen.hardware._runner import _default_submit
    from jqgen.qcbm._tc import tensorcircuit

    tc = tensorcircuit()
    tc.backend.set_random_state(7)
    dev = Device.local(3, coupling=None)
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(3, 1, "line"))
    params = model.init(jax.random.key(5))
    c = compile_qcbm(model, params, dev)
    captured = []

    def capture(circs, d, s):
        captured.extend(circs)
        return _default_submit(circs, d, s)

    shots = 20000
    (out,) = run_batch([c], dev, shots, Journal(tmp_path / "j.jsonl"), ["noisy"], submit=noisy_gates(0.03, 0.08, submit=capture))
    rho = np.real(np.diag(np.asarray(captured[0].densitymatrix())))
    phys = {format(i, "03b"): float(v) for i, v in enumerate(rho)}
    logical = c.logical_counts(phys)
    p_noisy = np.array([logical.get(format(i, "03b"), 0.0) for i in range(8)])
    p_noisy = p_noisy / p_noisy.sum()
    assert _g_test_pvalue(out, p_noisy, shots) > 1e-3
    assert 0.5 * np.abs(p_noisy - _exact(model, params)).sum() > 0.02  # the noise is visible
    with pytest.raises(ValueError, match="depolarizing"):
        noisy_gates(0.9)
