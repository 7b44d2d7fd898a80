"""An append-only JSON-lines journal of hardware submissions and results.

Every record is one line ``json.dumps(record, sort_keys=True) + "\\n"``, written, flushed
and ``os.fsync``-ed before the call returns, so a record that a caller saw written survives
a crash of the process or the machine. Record types (all carry ``"v": 1``, ``"type"``,
``"key"`` (the request key) and ``"time"`` (Unix seconds)):

* ``submit``: ``task_id``, ``circuit_hash``, ``params_hash`` (or ``null``), ``shots``,
  ``device`` (``"provider::name"``), ``tag``;
* ``result``: ``task_id``, ``counts`` (logical bitstring -> count, see :mod:`._compile`);
* ``failed``: ``task_id``, ``error`` (redacted text), ``lost`` (``true`` when the task
  could not be found any more and was resubmitted).

A journal cannot see a submission whose acknowledgement was lost (the provider accepted
it, no task id came back): with TensorCircuit's default ``submit_task``, which takes no
client tag, the retry may run that work a second time, unjournaled. ``run_batch(find=...)``
closes the gap for providers that take a client tag (see :mod:`._runner`).

Opening a journal replays it. A last line without its newline (a write cut short by a
crash) is dropped with a warning and truncated away; any other unreadable line is an
error. Tokens are never written: callers pass no tokens, and ``failed`` error texts are
redacted by the runner.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import warnings
from typing import Any

from .._checks import check_int

__all__ = ["Journal", "JournalEntry", "request_key"]

_VERSION = 1


def request_key(circuit_hash: str, shots: int, device: str, tag: Any) -> str:
    """The identity of one unit of work: sha256 of (circuit hash, shots, device, tag).

    ``tag`` is any JSON-serializable value chosen by the caller so that the same circuit
    run twice on purpose (e.g. at different training steps or roles) gets distinct keys.

    Examples:
        >>> k = request_key("abc", 100, "local::testing", {"step": 0, "role": "plus"})
        >>> len(k), k == request_key("abc", 100, "local::testing", {"role": "plus", "step": 0})
        (64, True)
    """
    shots = check_int(shots, "shots", 1)
    try:
        text = json.dumps([str(circuit_hash), shots, str(device), tag], sort_keys=True, separators=(",", ":"))
    except TypeError as e:
        raise ValueError(f"tag must be JSON-serializable, got {tag!r} ({e})") from None
    return hashlib.sha256(text.encode()).hexdigest()


@dataclasses.dataclass
class JournalEntry:
    """What the journal knows about one request key.

    Attributes:
        task_id: the latest submitted task (``None`` if never submitted).
        counts: the stored counts (``None`` until a result arrives).
        submits: how many times the key was submitted.
        failures: how many ``failed`` records the key has.
        shots: shots of the latest submission.
    """

    task_id: str | None = None
    counts: dict[str, int] | None = None
    submits: int = 0
    failures: int = 0
    shots: int = 0


class Journal:
    """Append-only JSON-lines journal (see the module docstring for the format).

    Args:
        path: the journal file; created (with its directory) if absent.

    Examples:
        >>> import os, tempfile
        >>> j = Journal(os.path.join(tempfile.mkdtemp(), "run.jsonl"))
        >>> j.record_submit("k1", "t1", circuit_hash="c", params_hash=None, shots=10, device="local::testing")
        >>> j.record_result("k1", "t1", {"01": 10})
        >>> Journal(j.path).lookup("k1").counts, j.budget()
        ({'01': 10}, {'tasks': 1, 'shots': 10})
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._entries: dict[str, JournalEntry] = {}
        self._tasks = 0
        self._shots = 0
        self.records: list[dict[str, Any]] = []
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        if os.path.exists(self.path):
            self._replay()
        else:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.fsync(fd)
            os.close(fd)
            _fsync_dir(parent)

    # ----------------------------------------------------------------- replay
    def _replay(self) -> None:
        with open(self.path, "rb") as f:
            data = f.read()
        good_end = 0
        pos = 0
        lines = data.split(b"\n")
        for i, raw in enumerate(lines):
            last = i == len(lines) - 1
            if last and raw == b"":
                break
            try:
                if last:  # no trailing newline: the write was cut short
                    raise ValueError("unterminated line")
                rec = json.loads(raw.decode())
                if not isinstance(rec, dict) or "type" not in rec:
                    raise ValueError("not a journal record")
            except ValueError as e:
                if last:
                    warnings.warn(
                        f"journal {self.path}: ignoring a truncated last line ({len(raw)} bytes) from an interrupted write",
                        RuntimeWarning,
                        stacklevel=3,
                    )
                    with open(self.path, "r+b") as f:
                        f.truncate(good_end)
                        f.flush()
                        os.fsync(f.fileno())
                    return
                raise ValueError(f"journal {self.path}: line {i + 1} is not a valid record ({e})") from None
            pos += len(raw) + 1
            good_end = pos
            self._apply(rec)

    def _apply(self, rec: dict[str, Any]) -> None:
        self.records.append(rec)
        kind = rec["type"]
        key = rec.get("key")
        if key is None:
            return
        e = self._entries.setdefault(key, JournalEntry())
        if kind == "submit":
            e.task_id = rec.get("task_id")
            e.submits += 1
            e.shots = int(rec.get("shots", 0))
            self._tasks += 1
            self._shots += e.shots
        elif kind == "result":
            e.counts = {str(k): int(v) for k, v in rec["counts"].items()}
            if rec.get("task_id") is not None:
                e.task_id = rec["task_id"]
        elif kind == "failed":
            e.failures += 1
            if rec.get("task_id") == e.task_id:
                e.task_id = None  # that task will not deliver: resubmit

    # ------------------------------------------------------------------ write
    def _append(self, rec: dict[str, Any]) -> None:
        rec = {"v": _VERSION, "time": time.time(), **rec}
        line = json.dumps(rec, sort_keys=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self._apply(rec)

    def record_submit(
        self,
        key: str,
        task_id: str,
        *,
        circuit_hash: str,
        params_hash: str | None,
        shots: int,
        device: str,
        tag: Any = None,
    ) -> None:
        """Appends a ``submit`` record (call it before waiting on the task)."""
        self._append(
            {
                "type": "submit",
                "key": key,
                "task_id": str(task_id),
                "circuit_hash": circuit_hash,
                "params_hash": params_hash,
                "shots": int(shots),
                "device": device,
                "tag": tag,
            }
        )

    def record_result(self, key: str, task_id: str | None, counts: dict[str, int]) -> None:
        """Appends a ``result`` record with the counts of ``task_id``."""
        self._append({"type": "result", "key": key, "task_id": task_id, "counts": {str(k): int(v) for k, v in counts.items()}})

    def record_failed(self, key: str, task_id: str | None, error: str, *, lost: bool = False) -> None:
        """Appends a ``failed`` record; ``error`` must already be redacted."""
        self._append({"type": "failed", "key": key, "task_id": task_id, "error": str(error), "lost": bool(lost)})

    # ------------------------------------------------------------------- read
    def lookup(self, key: str) -> JournalEntry | None:
        """What is known about ``key`` (``None`` if nothing)."""
        e = self._entries.get(key)
        return None if e is None else dataclasses.replace(e, counts=None if e.counts is None else dict(e.counts))

    def budget(self) -> dict[str, int]:
        """Tasks and shots submitted so far, counted from the journal's ``submit`` records."""
        return {"tasks": self._tasks, "shots": self._shots}


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
