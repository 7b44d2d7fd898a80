"""Fault tolerance of jqgen.hardware (issue 7, "Tests"): a randomized fault-injecting
provider wrapping ``local``, a run killed by SIGKILL in a subprocess and resumed from its
journal, and tokens that never leak into files, output, logs or exception text.

All offline (TensorCircuit's ``local::testing`` provider)."""

import json
import logging
import os
import random
import subprocess
import sys
import textwrap
import traceback
import zipfile
from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jqgen
from jqgen.data import bars_and_stripes
from jqgen.hardware import Device, Journal, compile_qcbm, request_key, run_batch, seeded_submit, train_on_device
from jqgen.hardware._runner import _default_poll, _default_submit

qiskit = pytest.importorskip("qiskit")

# Native gates that include the ansatz's own gates, all-to-all: compilation is trivial.
FAST = dict(native_gates=("rx", "rz", "rxx", "cx"), coupling=None)


def _records(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f.read().splitlines()]


def _vec(counts, n):
    return np.array([counts.get(format(i, f"0{n}b"), 0.0) for i in range(2**n)], np.float64)


def _g_stat(counts, probs):
    """G statistic and degrees of freedom of counts against exact probabilities (cells with
    expected count < 5 pooled)."""
    shots = sum(counts.values())
    obs = _vec(counts, int(np.log2(len(probs))))
    exp = np.asarray(probs, np.float64) * shots
    big = exp >= 5
    o = np.append(obs[big], obs[~big].sum())
    e = np.append(exp[big], exp[~big].sum())
    keep = e > 0
    o, e = o[keep], e[keep] * (o[keep].sum() / e[keep].sum())
    nz = o > 0
    g = 2.0 * float(np.sum(o[nz] * np.log(o[nz] / e[nz])))
    return g, int(keep.sum()) - 1


def _pvalue(stats_):
    from scipy import stats

    g = sum(s[0] for s in stats_)
    dof = sum(s[1] for s in stats_)
    return float(stats.chi2.sf(g, dof))


# ------------------------------------------------------------------- fault-injecting provider
class FaultyLocal:
    """A ``submit``/``poll`` pair wrapping the ``local`` provider that injects, from a seeded
    ``random.Random``: network errors on submit *before* submitting (nothing happened) or
    *after* submitting (a lost acknowledgement: the tasks exist but the caller never learns
    their ids), slow tasks (``None`` for a few polls), failed tasks (TensorCircuit's
    ``TaskFailed``, once per task) and connections dropped while polling."""

    def __init__(self, seed, inner_submit=None, p_before=0.2, p_after=0.0, p_slow=0.3, p_failed=0.1, p_drop=0.15):
        self.rng = random.Random(seed)
        self.inner = inner_submit or _default_submit
        self.p_before, self.p_after, self.p_slow, self.p_failed, self.p_drop = p_before, p_after, p_slow, p_failed, p_drop
        self.submitted = []  # every task id the provider really created
        self.unacknowledged = set()  # created, but the acknowledgement was "lost"
        self.fate = {}  # task id -> remaining slow polls / "failed"
        self.events = Counter()
        self.delivered = {}  # task id -> physical counts returned

    def submit(self, circuits, device, shots):
        if self.rng.random() < self.p_before:
            self.events["submit_before"] += 1
            raise ConnectionError("connection reset by peer (before the request reached the provider)")
        tasks = self.inner(circuits, device, shots)
        tasks = list(tasks) if isinstance(tasks, (list, tuple)) else [tasks]
        ids = [t if isinstance(t, str) else t.id_ for t in tasks]
        self.submitted += ids
        for tid in ids:
            r = self.rng.random()
            if r < self.p_failed:
                self.fate[tid] = "failed"
            elif r < self.p_failed + self.p_slow:
                self.fate[tid] = self.rng.randint(1, 4)
            else:
                self.fate[tid] = 0
        if self.rng.random() < self.p_after:
            self.events["submit_after"] += 1
            self.unacknowledged.update(ids)
            raise TimeoutError("read timed out (the provider accepted the request)")
        return tasks

    def poll(self, task, device):
        from tensorcircuit.cloud.abstraction import TaskFailed

        tid = task if isinstance(task, str) else task.id_
        assert tid not in self.unacknowledged, "the runner polled a task it cannot know"
        if self.rng.random() < self.p_drop:
            self.events["poll_drop"] += 1
            raise ConnectionError("connection dropped while polling")
        fate = self.fate[tid]
        if fate == "failed":
            self.fate[tid] = "dead"
            self.events["failed"] += 1
            raise TaskFailed(tid, "failed", "qubit calibration expired")
        assert fate != "dead", f"the runner polled failed task {tid} again"
        if fate > 0:
            self.fate[tid] = fate - 1
            self.events["slow"] += 1
            return None
        counts = _default_poll(task, device)
        assert counts is not None
        assert tid not in self.delivered, f"task {tid} collected twice"
        self.delivered[tid] = dict(counts)
        return counts


def _check_no_duplicates(journal_path, provider, shots, keys=None):
    """Journal-level: every key was submitted once plus once per ``failed`` record; task ids
    are unique; every key has exactly one result of ``shots`` shots from its last task.
    Provider-level: what the provider created is exactly what the journal recorded plus
    the unacknowledged (lost-acknowledgement) submissions."""
    recs = _records(journal_path)
    submits, failed, results, last_task = Counter(), Counter(), {}, {}
    for r in recs:
        if r["type"] == "submit":
            submits[r["key"]] += 1
            last_task[r["key"]] = r["task_id"]
        elif r["type"] == "failed":
            failed[r["key"]] += 1
            assert r["task_id"] == last_task[r["key"]]
        elif r["type"] == "result":
            assert r["key"] not in results, "two results for one key"
            results[r["key"]] = r
    for k, n in submits.items():
        assert n == 1 + failed[k], (k, n, failed[k])
    assert set(results) == set(submits) and (keys is None or set(keys) == set(submits))
    for k, r in results.items():
        assert r["task_id"] == last_task[k] and sum(r["counts"].values()) == shots
    journaled = [r["task_id"] for r in recs if r["type"] == "submit"]
    assert len(journaled) == len(set(journaled))
    assert Counter(provider.submitted) == Counter(journaled) + Counter(provider.unacknowledged)
    assert not set(journaled) & provider.unacknowledged
    assert sum(failed.values()) == provider.events["failed"]
    assert Journal(journal_path).budget()["tasks"] == len(journaled)
    return recs


@pytest.mark.parametrize("p_after,seed", [(0.0, 3), (0.4, 1)], ids=["no-lost-ack", "lost-ack"])
def test_run_batch_through_a_faulty_provider(tmp_path, p_after, seed):
    """Random submit failures (before, and with ``lost-ack`` also after submitting), slow
    tasks, failed tasks and dropped connections: the batch completes, every circuit's
    counts pass a G-test against its exact distribution (a mix-up of results between
    circuits would not), and the journal shows no duplicate submission. A lost
    acknowledgement makes the provider run the batch twice (documented: no idempotency
    key), but the duplicate is never journaled, polled or counted."""
    dev = Device.local(5)
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 2, "all"))
    ps = [model.init(jax.random.key(s)) for s in range(6)]
    cs = [compile_qcbm(model, p, dev, initial_layout=[4, 2, 0, 1]) for p in ps]
    tags = [{"i": i} for i in range(len(cs))]
    shots = 2000
    prov = FaultyLocal(seed, inner_submit=seeded_submit(None, 11), p_after=p_after)
    sleeps = []
    j = Journal(tmp_path / "j.jsonl")
    out = run_batch(cs, dev, shots, j, tags, submit=prov.submit, poll=prov.poll, sleep=sleeps.append, retries=40, backoff=0.5)
    assert prov.events["submit_before"] and prov.events["slow"] and prov.events["failed"] and prov.events["poll_drop"], prov.events
    assert bool(prov.events["submit_after"]) == (p_after > 0), prov.events
    assert sleeps and all(s > 0 for s in sleeps)
    stats_ = []
    for c, p, counts in zip(cs, ps, out):
        assert sum(counts.values()) == shots and all(len(k) == 4 for k in counts)
        stats_.append(_g_stat(counts, np.asarray(model.probs(p), np.float64)))
    assert _pvalue(stats_) > 1e-3, stats_
    # each circuit's counts are what the provider delivered for its (last) task
    recs = _check_no_duplicates(j.path, prov, shots, keys=None)
    by_key = {r["key"]: r for r in recs if r["type"] == "result"}
    for c, tag, counts in zip(cs, tags, out):
        r = by_key[request_key(c.circuit_hash, shots, dev.spec, tag)]
        assert r["counts"] == counts == c.logical_counts(prov.delivered[r["task_id"]])
    # a restart replays everything from the journal
    again = run_batch(cs, dev, shots, Journal(j.path), tags, submit=lambda *a: pytest.fail("resubmitted"),
                      poll=lambda *a: pytest.fail("polled"), sleep=lambda s: None)
    assert again == out


class TaggedFaultyLocal(FaultyLocal):
    """:class:`FaultyLocal` for a provider that accepts client tags and lists its tasks by tag."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.by_tag = {}

    def submit(self, circuits, device, shots, tags):
        before = len(self.submitted)
        try:
            return super().submit(circuits, device, shots)
        finally:  # the provider keeps the tags of what it created, acknowledged or not
            self.by_tag.update(zip(tags, self.submitted[before:]))

    def find(self, tag, device):
        tid = self.by_tag.get(tag)
        self.unacknowledged.discard(tid)  # the caller now knows it
        return tid


def test_lost_acknowledgements_never_run_twice_with_client_tags(tmp_path):
    """With ``find=`` (a provider with client tags) a lost acknowledgement is adopted, not
    resubmitted: the provider creates one task per circuit plus one per failed task, and
    every task it ran is journaled (fails with the plain resubmission: 40% lost acks)."""
    dev = Device.local(5)
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 2, "all"))
    cs = [compile_qcbm(model, model.init(jax.random.key(s)), dev, initial_layout=[4, 2, 0, 1]) for s in range(6)]
    tags = [{"i": i} for i in range(len(cs))]
    prov = TaggedFaultyLocal(1, inner_submit=seeded_submit(None, 11), p_after=0.4)
    j = Journal(tmp_path / "j.jsonl")
    out = run_batch(cs, dev, 500, j, tags, submit=prov.submit, poll=prov.poll, sleep=lambda s: None, retries=40,
                    find=prov.find)
    assert prov.events["submit_after"] and prov.events["failed"], prov.events
    assert all(sum(c.values()) == 500 for c in out)
    assert len(prov.submitted) == len(cs) + prov.events["failed"], (len(prov.submitted), prov.events)
    assert not prov.unacknowledged
    _check_no_duplicates(j.path, prov, 500)


def test_train_on_device_through_a_faulty_provider(tmp_path):
    """A 3-step parameter-shift run of a 4-qubit model through the faulty provider
    (submit failures before submitting, slow, failed tasks, dropped polls): it completes,
    every key is submitted once (+1 per failed task), and the counts of every circuit of
    every step pass a pooled G-test against the exact distribution of that circuit
    (parameters from the callback, shifted by +-pi/2 per the tags)."""
    from jax.flatten_util import ravel_pytree

    data = bars_and_stripes(2, 2)
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 1, "all"))
    params = model.init(jax.random.key(0))
    dev = Device.local(4, **FAST)
    shots, steps = 400, 3
    prov = FaultyLocal(5)
    seen = [params]
    res = train_on_device(
        model, params, data, dev, shots=shots, steps=steps, optimizer=optax.adam(0.1), journal_path=tmp_path / "j.jsonl",
        key=jax.random.key(7), loss="mmd", submit=prov.submit, poll=prov.poll, sleep=lambda s: None, retries=40,
        callback=lambda done, p, state, history: seen.append(p),
    )
    assert prov.events["submit_before"] and prov.events["slow"] and prov.events["failed"] and prov.events["poll_drop"], prov.events
    per_step = 2 * model.ansatz.num_params + 2
    assert res.history.shape == (steps,) and np.all(np.isfinite(res.history))
    recs = _check_no_duplicates(res.journal_path, prov, shots)
    tag_of = {r["key"]: r["tag"] for r in recs if r["type"] == "submit"}
    assert len(tag_of) == steps * per_step
    assert res.budget["tasks"] == len(prov.submitted)
    # ``submitted`` counts the tasks the provider accepted (not failed submit attempts)
    assert res.submitted == len(prov.submitted)
    unravel = ravel_pytree(params)[1]
    probs_at = jax.jit(lambda flat: model.probs(unravel(flat)))
    stats_ = []
    for r in recs:
        if r["type"] != "result":
            continue
        tag = tag_of[r["key"]]
        flat = ravel_pytree(seen[tag["step"]])[0]
        theta = np.asarray(flat, np.float64)
        if "k" in tag:
            theta[tag["k"]] += tag["sign"] * np.pi / 2
        exact = np.asarray(probs_at(jnp.asarray(theta, flat.dtype)), np.float64)
        stats_.append(_g_stat(r["counts"], exact / exact.sum()))
    assert len(stats_) == steps * per_step
    assert _pvalue(stats_) > 1e-3


# ---------------------------------------------------------------------- SIGKILL and resume
_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys

    import jax
    import numpy as np
    import optax
    from jax.flatten_util import ravel_pytree

    import jqgen
    from jqgen.data import bars_and_stripes
    from jqgen.hardware import Device, train_on_device

    journal, out, steps, kill_after, kill_at_poll = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 1, "all"))
    params = model.init(jax.random.key(0))
    dev = Device.local(4, native_gates=("rx", "rz", "rxx", "cx"), coupling=None)

    def callback(done, p, state, history):
        if done == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    polls = [0]

    def poll(task, device):  # dies between the journaled submission and the result
        from jqgen.hardware._runner import _default_poll

        polls[0] += 1
        if polls[0] == kill_at_poll:
            os.kill(os.getpid(), signal.SIGKILL)
        return _default_poll(task, device)

    res = train_on_device(model, params, bars_and_stripes(2, 2), dev, shots=200, steps=steps, optimizer=optax.adam(0.1),
                          journal_path=journal, key=jax.random.key(7), loss="mmd", callback=callback, poll=poll)
    np.save(out + ".params.npy", np.asarray(ravel_pytree(res.params)[0]))
    np.save(out + ".history.npy", res.history)
    with open(out + ".json", "w") as f:
        json.dump({"submitted": res.submitted, "budget": res.budget}, f)
    """
)


@pytest.mark.slow  # three training processes; the in-process kill-and-resume test runs by default
def test_sigkilled_run_resumes_from_its_journal(tmp_path):
    """A training run SIGKILLs itself after step 2 of 4 (after its results are journaled);
    a second process resumes from the journal: it submits nothing the journal has counts
    for, and ends with exactly the parameters and history of an uninterrupted run (a
    third process, fresh journal). Another run is SIGKILLed in the middle of step 3 (all
    of the step's tasks journaled, 10 of 46 results in): the resumed run resubmits only the
    36 tasks without counts (``local`` forgets its tasks with the process: recorded as
    lost) and completes. (4 steps: the fewest with whole steps journaled before and after
    each kill.)"""
    script = tmp_path / "train.py"
    script.write_text(_SCRIPT)
    from tests.conftest import xla_cache_env

    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONWARNINGS": "ignore", **xla_cache_env()}
    per_step = 2 * 22 + 2
    steps, kill_after = 4, 2

    def start(name, journal, kill_after=0, kill_at_poll=0):
        return subprocess.Popen([sys.executable, str(script), str(journal), str(tmp_path / name), str(steps),
                                 str(kill_after), str(kill_at_poll)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(*procs):
        for p in procs:
            _, p.err = p.communicate(timeout=300)

    jk, jf, jm = tmp_path / "killed.jsonl", tmp_path / "full.jsonl", tmp_path / "mid.jsonl"
    killed, full = start("killed", jk, kill_after=kill_after), start("full", jf)
    mid = start("mid", jm, kill_at_poll=kill_after * per_step + 11)
    finish(killed, full, mid)
    assert killed.returncode == -9 and mid.returncode == -9, (killed.err, mid.err)
    assert full.returncode == 0, full.err
    assert not (tmp_path / "killed.params.npy").exists() and not (tmp_path / "mid.params.npy").exists()
    before, before_mid = _records(jk), _records(jm)
    done = {r["key"] for r in before if r["type"] == "result"}
    assert len(done) == kill_after * per_step
    assert len({r["key"] for r in before if r["type"] == "submit"}) == kill_after * per_step
    done_mid = {r["key"] for r in before_mid if r["type"] == "result"}
    pending_mid = {r["key"] for r in before_mid if r["type"] == "submit"} - done_mid
    assert len(done_mid) == kill_after * per_step + 10 and len(pending_mid) == per_step - 10

    resumed, resumed_mid = start("resumed", jk), start("resumed_mid", jm)
    finish(resumed, resumed_mid)
    assert resumed.returncode == 0, resumed.err
    assert resumed_mid.returncode == 0, resumed_mid.err
    total = steps * per_step
    for path, old, had_counts, pending, name in ((jk, before, done, set(), "resumed"), (jm, before_mid, done_mid, pending_mid, "resumed_mid")):
        after = _records(path)
        assert after[: len(old)] == old  # append-only
        new = after[len(old):]
        new_submits = {r["key"] for r in new if r["type"] == "submit"}
        assert not new_submits & had_counts  # nothing that had counts was resubmitted
        lost = {r["key"] for r in new if r["type"] == "failed" and r["lost"]}
        assert lost == pending and pending <= new_submits
        submits = Counter(r["key"] for r in after if r["type"] == "submit")
        assert all(n == 1 or (n == 2 and k in lost) for k, n in submits.items()), submits
        assert len(submits) == total and len({r["key"] for r in after if r["type"] == "result"}) == total
        info = json.loads((tmp_path / f"{name}.json").read_text())
        assert info["submitted"] == total - len(had_counts)
        assert info["budget"] == {"tasks": total + len(pending), "shots": (total + len(pending)) * 200}
    assert json.loads((tmp_path / "full.json").read_text())["budget"]["tasks"] == total
    np.testing.assert_array_equal(np.load(tmp_path / "resumed.params.npy"), np.load(tmp_path / "full.params.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "resumed.history.npy"), np.load(tmp_path / "full.history.npy"))
    # killed mid-step: the steps before it are replayed exactly (the rest uses new shots)
    np.testing.assert_array_equal(np.load(tmp_path / "resumed_mid.history.npy")[:kill_after],
                                  np.load(tmp_path / "full.history.npy")[:kill_after])


# -------------------------------------------------------------------------------- tokens
SECRET = "tok-SECRET-1234"


def _file_texts(root):
    """(path, bytes) of every file under ``root``; the members of .npz/.zip archives are
    read decompressed."""
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                raw = f.read()
            yield path, raw
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as z:
                    for m in z.namelist():
                        yield f"{path}:{m}", z.read(m)


def _exception_text(e):
    return "".join(traceback.format_exception(type(e), e, e.__traceback__)) + repr(e) + repr(e.args)


def test_token_never_leaks(tmp_path, monkeypatch, capsys, caplog):
    """``TIANYAN_TOKEN`` (and TensorCircuit's ``TC_TOKEN``) set: the CLI's files (journal,
    checkpoint, summary, counts, metrics, plots), its stdout/stderr and every log record
    are free of the token, and so are the journal and the full traceback of errors raised
    from submissions and tasks that fail with the token in their message."""
    from tensorcircuit.cloud.abstraction import TaskFailed

    from jqgen.cli import main

    monkeypatch.setenv("TIANYAN_TOKEN", SECRET)
    monkeypatch.setenv("TC_TOKEN", SECRET)
    caplog.set_level(logging.DEBUG)
    qd = tmp_path / "qd"
    assert main(["train", "qcbm-device", "--data", "bars-stripes-2x2", "--ansatz", "all", "--layers", "1", "--steps", "2",
                 "--shots", "100", "--native-gates", "rx,rz,rxx,cx", "--coupling", "all", "--out", str(qd)]) == 0
    assert main(["run", str(qd / "checkpoint.npz"), "--device", "local::testing", "--shots", "300",
                 "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "counts.json").exists() and (qd / "journal.jsonl").exists()

    # a provider that puts the token into its error messages
    def leaky_submit(circuits, device, shots):
        raise ConnectionError(f"401 Unauthorized: token={SECRET} rejected")

    monkeypatch.setattr("jqgen.hardware._runner._default_submit", leaky_submit)
    import jqgen.hardware

    real_run_batch = jqgen.hardware.run_batch

    def quick_run_batch(*a, **kw):  # the CLI would back off for 31 s in real time
        return real_run_batch(*a, **{**kw, "retries": 2, "sleep": lambda s: None})

    monkeypatch.setattr(jqgen.hardware, "run_batch", quick_run_batch)
    assert main(["run", str(qd / "checkpoint.npz"), "--device", "local::testing", "--shots", "300", "--tag", "again",
                 "--out", str(tmp_path / "run2")]) == 2
    out, err = capsys.readouterr()
    assert "jqgen: error" in err and "***" in err
    assert SECRET not in out + err
    monkeypatch.undo()
    monkeypatch.setenv("TIANYAN_TOKEN", SECRET)

    dev = Device.local(4, **FAST)
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 1, "all"))
    c = compile_qcbm(model, model.init(jax.random.key(0)), dev)
    j = Journal(tmp_path / "api" / "j.jsonl")
    errors = []
    with pytest.raises(RuntimeError) as ei:
        run_batch([c], dev, 10, j, ["submit"], submit=leaky_submit, retries=1, sleep=lambda s: None)
    errors.append(ei.value)

    def failing_poll(task, device):
        raise TaskFailed(str(task), "failed", f"device rejected credentials {SECRET}")

    with pytest.raises(RuntimeError) as ei:
        run_batch([c], dev, 10, j, ["poll"], poll=failing_poll, retries=1, sleep=lambda s: None)
    errors.append(ei.value)

    def dropping_poll(task, device):
        raise ConnectionError(f"connection to https://x/?token={SECRET} dropped")

    with pytest.raises(RuntimeError) as ei:
        run_batch([c], dev, 10, j, ["drop"], poll=dropping_poll, retries=1, sleep=lambda s: None)
    errors.append(ei.value)
    with pytest.raises(RuntimeError) as ei:
        train_on_device(model, model.init(jax.random.key(0)), bars_and_stripes(2, 2), dev, shots=10, steps=1,
                        optimizer=optax.adam(0.1), journal_path=tmp_path / "api" / "t.jsonl", key=jax.random.key(0),
                        submit=leaky_submit, retries=1, sleep=lambda s: None)
    errors.append(ei.value)
    for e in errors:
        text = _exception_text(e)
        assert SECRET not in text and "***" in text, text
    assert any(r["type"] == "failed" for r in _records(j.path))

    out, err = capsys.readouterr()
    assert SECRET not in out + err
    for r in caplog.records:
        assert SECRET not in r.getMessage() and SECRET not in str(r.args)
    assert SECRET not in caplog.text
    files = list(_file_texts(tmp_path))
    assert len(files) > 8
    for path, raw in files:
        assert SECRET.encode() not in raw, path
