"""Journaled, fault-tolerant batch execution through TensorCircuit's cloud interface.

:func:`run_batch` submits compiled circuits (:class:`Compiled`) to a :class:`Device`,
journals every submission before waiting on it, polls with exponential backoff and a
deadline, retries transient faults, and returns logical big-endian counts (see
:mod:`._compile`). Work whose counts are already in the journal is never resubmitted; a
journaled task without counts is polled instead of resubmitted, unless the provider cannot
find it any more (``local`` keeps tasks only in the process that made them), in which
case a ``failed`` record with ``lost: true`` is written and the circuit is resubmitted.

Idempotency: a submission whose acknowledgement is lost (the provider accepted the
circuits, the connection dropped before the task ids came back) is retried, so without
help from the provider the same work may run twice. Where the provider accepts a client
tag, pass ``find=`` to :func:`run_batch`: every circuit is then submitted with the
deterministic tag :func:`idempotency_tag` of its request key (circuit hash, shots, device
and the caller's tag, e.g. the step) and its journaled failures, and before every submission the tags are looked up
in the provider's task list (``find(tag, device) -> task or None``), so a lost
acknowledgement never costs a second run. TensorCircuit's ``submit_task`` (the default
``submit``) takes no client tag, so the default runs without this protection: the journal
prevents every resubmission except the one after a lost acknowledgement.

Tokens are never printed, logged or journaled; :func:`redact` (:mod:`._cloud`) removes them from text,
and every error raised here is redacted (and raised ``from None`` so that no unredacted
chained exception text is attached).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from .._checks import check_int
from ..qcbm import tc_settings
from ._cloud import cloud, redact
from ._compile import Compiled
from ._device import Device
from ._journal import Journal, request_key

__all__ = ["TRANSIENT_ERRORS", "TaskLost", "idempotency_tag", "redact", "run_batch"]

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError, OSError)


class TaskLost(Exception):
    """The provider does not know a journaled task id (it must be resubmitted)."""


def _task_id(task: Any) -> str:
    if isinstance(task, str):
        return task
    tid = getattr(task, "id_", None)
    return str(tid if tid is not None else task)


def idempotency_tag(key: str, attempt: int = 0) -> str:
    """The client tag of the work of request key ``key`` after ``attempt`` journaled
    failures (deterministic: the same circuit, shots, device, caller tag and journal give
    the same tag in every process; a task that failed is not adopted by its resubmission).

    Examples:
        >>> from jqgen.hardware._runner import idempotency_tag
        >>> idempotency_tag("ab" * 32, 1)
        'jqgen-abababababababababababababababab-1'
    """
    return f"jqgen-{str(key)[:32]}-{check_int(attempt, 'attempt', 0)}"


def _default_submit(circuits: list[Any], device: Device, shots: int) -> list[Any]:
    """TensorCircuit's ``apis.submit_task`` (``local`` samples on the caller's backend)."""
    apis, _ = cloud()
    with tc_settings(backend=None, dtype=None):
        out = apis.submit_task(provider=device.provider, device=device.name, circuit=list(circuits), shots=shots)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _default_poll(task: Any, device: Device) -> dict[str, int] | None:
    apis, ab = cloud()
    with tc_settings(backend=None, dtype=None):
        if isinstance(task, str):
            task = apis.get_task(task, device=device.spec)
        try:
            state = task.status()
        except ValueError as e:
            if device.provider == "local" and "no task with id" in str(e):
                raise TaskLost(_task_id(task)) from None
            raise
        if state == "completed":
            return dict(task.results(blocked=False))
        if state == "failed":
            raise ab.TaskFailed(_task_id(task), state, str(task.details().get("err", "")))
    return None


def run_batch(
    circuits: Sequence[Compiled],
    device: Device,
    shots: int,
    journal: Journal,
    tags: Sequence[Any],
    *,
    retries: int = 5,
    backoff: float = 1.0,
    max_backoff: float = 60.0,
    deadline_s: float = 3600.0,
    submit: Callable[[list[Any], Device, int], Any] | None = None,
    poll: Callable[[Any, Device], dict[str, int] | None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    find: Callable[[str, Device], Any] | None = None,
) -> list[dict[str, int]]:
    """Runs compiled circuits on ``device``; returns their logical, big-endian counts.

    Args:
        circuits: :class:`Compiled` circuits for ``device``.
        device: where to run.
        shots: shots per circuit (``1 <= shots <= device.max_shots``).
        journal: the :class:`Journal`; read first (reuse), written before any wait.
        tags: one JSON-serializable tag per circuit (e.g. ``{"step": 3, "role": "+", "k": 5}``);
            with the circuit hash, shots and device it forms the request key.
        retries: how many times a failing submission or task is retried (so at most
            ``retries + 1`` attempts) before ``RuntimeError``.
        backoff: first wait in seconds; doubles per consecutive fault or idle poll round,
            capped at ``max_backoff``.
        max_backoff: cap on one wait.
        deadline_s: ``RuntimeError`` (naming the pending tasks) once this much time passed.
        submit: ``submit(tc_circuits, device, shots) -> tasks`` (default: TensorCircuit's
            ``apis.submit_task``); a task is a ``Task`` or a task id string.
        poll: ``poll(task_or_id, device) -> physical counts | None`` (``None``: not done);
            raises ``TaskFailed`` (resubmit), :class:`TaskLost` (resubmit), ``TaskUnfinished``
            (not done) or a transient error (:data:`TRANSIENT_ERRORS`, polled again).
        sleep: waits (injectable for tests).
        clock: monotonic time in seconds (injectable for tests).
        find: for providers that accept a client tag: ``find(tag, device) -> task or None``
            looks a tag up in the provider's task list. With it, ``submit`` is called as
            ``submit(tc_circuits, device, shots, tags)`` (one :func:`idempotency_tag` per
            circuit) and every circuit whose tag is found is adopted instead of submitted
            again (see the module docstring). Without it a lost acknowledgement may run a
            circuit twice.

    Raises:
        ValueError: bad input, before anything is submitted.
        RuntimeError: retries or deadline exhausted (message redacted, names the task).
    """
    submit = submit or _default_submit
    poll = poll or _default_poll
    shots, circuits, tags, keys = _check_batch(circuits, device, shots, tags, retries)
    batch = _Batch(circuits, device, shots, journal, tags, keys, retries=retries, backoff=backoff,
                   max_backoff=max_backoff, deadline_s=deadline_s, submit=submit, poll=poll, sleep=sleep, clock=clock,
                   find=find)
    return batch.run()


def _check_batch(circuits: Sequence[Compiled], device: Device, shots: int, tags: Sequence[Any],
                 retries: int) -> tuple[int, list[Compiled], list[Any], list[str]]:
    """Validated shots, circuits and tags of a batch and its request keys (before anything is submitted)."""
    shots = device.check_shots(shots)
    circuits = list(circuits)
    tags = list(tags)
    if len(tags) != len(circuits):
        raise ValueError(f"need one tag per circuit, got {len(tags)} tags for {len(circuits)} circuits")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an int >= 0, got {retries!r}")
    for i, c in enumerate(circuits):
        if not isinstance(c, Compiled):
            raise ValueError(f"circuits[{i}] must be a Compiled circuit, got {type(c).__name__}")
        if c.num_physical > device.num_qubits:
            raise ValueError(f"circuits[{i}] has {c.num_physical} qubits, more than {device.spec} has ({device.num_qubits})")
        if c.device.spec != device.spec:
            raise ValueError(f"circuits[{i}] was compiled for {c.device.spec}, not {device.spec}")
    keys = [request_key(c.circuit_hash, shots, device.spec, t) for c, t in zip(circuits, tags)]
    if len(set(keys)) != len(keys):
        raise ValueError("two circuits of the batch have the same request key: give them distinct tags")
    return shots, circuits, tags, keys


class _Batch:
    """One :func:`run_batch` call: journal replay, submission with retries, polling."""

    def __init__(self, circuits: list[Compiled], device: Device, shots: int, journal: Journal, tags: list[Any],
                 keys: list[str], *, retries: int, backoff: float, max_backoff: float, deadline_s: float,
                 submit: Callable[..., Any], poll: Callable[..., Any], sleep: Callable[[float], None],
                 clock: Callable[[], float], find: Callable[..., Any] | None = None) -> None:
        _, ab = cloud()
        self.task_failed: tuple[type[BaseException], ...] = (ab.TaskFailed, TaskLost)
        self.task_unfinished: tuple[type[BaseException], ...] = (ab.TaskUnfinished,)
        self.circuits, self.device, self.shots, self.journal, self.tags, self.keys = (
            circuits, device, shots, journal, tags, keys)
        self.retries, self.backoff, self.max_backoff, self.deadline_s = retries, backoff, max_backoff, deadline_s
        self.submit_fn, self.poll_fn, self.sleep, self.clock, self.find_fn = submit, poll, sleep, clock, find
        self.results: list[dict[str, int] | None] = [None] * len(circuits)
        self.pending: dict[int, Any] = {}  # index -> task handle (Task or id string)
        self.errors = [0] * len(circuits)
        self.start = clock()

    def run(self) -> list[dict[str, int]]:
        to_submit: list[int] = []
        for i, k in enumerate(self.keys):  # journal replay
            e = self.journal.lookup(k)
            if e is not None and e.counts is not None:
                self.results[i] = dict(e.counts)
            elif e is not None and e.task_id is not None:
                self.pending[i] = e.task_id
            else:
                to_submit.append(i)
        if to_submit:
            self.do_submit(to_submit)
        idle = 0
        while self.pending:
            progressed, resubmit = self.poll_round()
            if resubmit:
                worst = max(self.errors[i] for i in resubmit)
                self.wait(self.backoff * 2 ** min(worst - 1, 30) if worst else 0.0, "resubmitting")
                self.do_submit(resubmit)
                continue
            if not self.pending:
                break
            idle = 0 if progressed else idle + 1
            names = ", ".join(_task_id(t) for t in self.pending.values())
            self.wait(self.backoff * 2 ** min(max(idle - 1, 0), 30),
                      f"waiting for task(s) {names} on {self.device.spec}")
        return [r if r is not None else {} for r in self.results]

    def wait(self, delay: float, what: str) -> None:
        left = self.deadline_s - (self.clock() - self.start)
        if left <= 0:
            raise RuntimeError(redact(f"deadline of {self.deadline_s} s passed while {what}")) from None
        self.sleep(min(delay, self.max_backoff, left))

    def adopt(self, idx: list[int]) -> list[int]:
        """With ``find``: journals and polls the circuits of ``idx`` whose idempotency tag the
        provider already knows (a submission whose acknowledgement was lost); returns the rest."""
        if self.find_fn is None:
            return idx
        rest = []
        for i in idx:
            task = self.find_fn(self.tag_of(i), self.device)
            if task is None:
                rest.append(i)
            else:
                self.record(i, task)
        return rest

    def tag_of(self, i: int) -> str:
        e = self.journal.lookup(self.keys[i])
        return idempotency_tag(self.keys[i], e.failures if e is not None else 0)

    def record(self, i: int, task: Any) -> None:
        c = self.circuits[i]
        self.journal.record_submit(self.keys[i], _task_id(task), circuit_hash=c.circuit_hash,
                                   params_hash=c.params_hash, shots=self.shots, device=self.device.spec,
                                   tag=self.tags[i])
        self.pending[i] = task

    def do_submit(self, idx: list[int]) -> None:
        attempt = 0
        while True:
            try:
                idx = self.adopt(idx)
                if not idx:
                    return
                circs = [self.circuits[i].tc_circuit() for i in idx]
                if self.find_fn is None:
                    tasks = self.submit_fn(circs, self.device, self.shots)
                else:
                    tasks = self.submit_fn(circs, self.device, self.shots, [self.tag_of(i) for i in idx])
                break
            except TRANSIENT_ERRORS as e:
                attempt += 1
                if attempt > self.retries:
                    raise RuntimeError(redact(
                        f"submitting {len(idx)} circuit(s) to {self.device.spec} failed after {attempt} attempts "
                        f"(tags {[self.tags[i] for i in idx]}): {type(e).__name__}: {e}")) from None
                self.wait(self.backoff * 2 ** min(attempt - 1, 30), f"retrying a submission to {self.device.spec}")
        if not isinstance(tasks, (list, tuple)):
            tasks = [tasks]
        if len(tasks) != len(idx):
            raise RuntimeError(f"{self.device.spec} returned {len(tasks)} tasks for {len(idx)} circuits")
        for i, t in zip(idx, tasks):  # journal before waiting on anything
            self.record(i, t)

    def poll_round(self) -> tuple[bool, list[int]]:
        """Polls every pending task once; returns (any finished, indices to resubmit)."""
        progressed, resubmit = False, []
        spec = self.device.spec
        for i, task in list(self.pending.items()):
            tid = _task_id(task)
            try:
                counts = self.poll_fn(task, self.device)
            except self.task_unfinished:
                counts = None
            except TaskLost:
                self.journal.record_failed(self.keys[i], tid, "task not found by the provider; resubmitting", lost=True)
                del self.pending[i]
                resubmit.append(i)
                continue
            except self.task_failed as e:
                self.errors[i] += 1
                msg = redact(f"{type(e).__name__}: {e}")
                self.journal.record_failed(self.keys[i], tid, msg)
                del self.pending[i]
                if self.errors[i] > self.retries:
                    raise RuntimeError(redact(f"task {tid} (tag {self.tags[i]!r}) on {spec} failed; giving up after "
                                              f"{self.errors[i]} faults: {msg}")) from None
                resubmit.append(i)
                continue
            except TRANSIENT_ERRORS as e:
                self.errors[i] += 1
                if self.errors[i] > self.retries:
                    raise RuntimeError(redact(f"polling task {tid} (tag {self.tags[i]!r}) on {spec} failed "
                                              f"{self.errors[i]} times: {type(e).__name__}: {e}")) from None
                continue
            if counts is None:
                continue
            logical = self.circuits[i].logical_counts(counts)
            self.journal.record_result(self.keys[i], tid, logical)
            self.results[i] = logical
            del self.pending[i]
            progressed = True
        return progressed, resubmit
