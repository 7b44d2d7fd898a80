"""The append-only journal of a GEO run: every evaluation, so that nothing is evaluated twice.

Every record is one line ``json.dumps(record, sort_keys=True) + "\\n"``, written, flushed and
``os.fsync``-ed before the call returns (the record survives a crash of the process or the
machine). Bitstrings are stored as hex strings of their bits (``np.packbits``, big-endian,
padded to whole bytes). Record types (all with ``"v": 1`` and ``"type"``):

* ``header``: ``run`` (the problem's ``describe()``, the generator's ``config()``, the
  settings and the seed: a resumed run must agree, differences are named);
* ``seed``: ``bits``, ``costs``, ``source`` -- candidates evaluated before round 1 (random
  valid strings in stand-alone mode, another solver's evaluations in booster mode);
* ``round``: ``round``, ``proposals`` (the candidates this round will evaluate, written
  *before* any of them is), ``stats`` (valid-sample rate, novelty, training loss);
* ``eval``: ``round``, ``bits``, ``costs`` -- one evaluated batch;
* ``done``: the budget is spent.

Opening a journal replays it. A last line without its newline (a write cut short by a crash)
is dropped with a warning and truncated away; any other unreadable line is an error.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from typing import Any

import numpy as np

from .._checks import check_int

__all__ = ["GeoJournal", "decode_bits", "encode_bits"]

_VERSION = 1


def encode_bits(bits: np.ndarray) -> list[str]:
    """Rows of ``bits [B, n]`` as hex strings (``np.packbits`` per row).

    Examples:
        >>> import numpy as np
        >>> encode_bits(np.array([[1, 0, 1, 1, 0, 0, 0, 0, 1]], np.uint8))
        ['b080']
    """
    return [r.tobytes().hex() for r in np.packbits(np.asarray(bits, np.uint8), axis=1)]


def decode_bits(codes: list[str], n: int) -> np.ndarray:
    """Inverse of :func:`encode_bits`: ``uint8 [len(codes), n]``.

    Raises:
        ValueError: if a code is not ``2 ceil(n / 8)`` hex digits.
    """
    if not codes:
        return np.zeros((0, n), np.uint8)
    width = 2 * (-(-n // 8))
    bad = next((c for c in codes if len(c) != width), None)
    if bad is not None:
        raise ValueError(f"a bitstring code of {n} bits must be {width} hex digits, got {bad!r}")
    packed = np.frombuffer(bytes.fromhex("".join(codes)), np.uint8).reshape(len(codes), width // 2)
    return np.unpackbits(packed, axis=1)[:, :n]


class GeoJournal:
    """A GEO run's journal at ``path`` (created if absent, replayed if present).

    Attributes:
        header: the ``header`` record's ``run`` (``None`` for a new journal).
        seeds: ``(bits, costs, sources)`` of the seed records.
        rounds: ``{round: (proposals uint8 [P, n], stats)}``.
        evals: list of ``(round, bits, costs)`` in the order written.
        done: whether a ``done`` record was written.
    """

    def __init__(self, path: str | os.PathLike[str] | None, num_bits: int) -> None:
        """``path=None`` keeps the records in memory only (a run that need not resume)."""
        self.path, self.n = (None if path is None else os.fspath(path)), check_int(num_bits, "num_bits", 1)
        self.header: dict[str, Any] | None = None
        self.seeds: list[tuple[np.ndarray, np.ndarray, str]] = []
        self.rounds: dict[int, tuple[np.ndarray, dict[str, Any]]] = {}
        self.evals: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.done = False
        if self.path is not None and os.path.exists(self.path):
            self._replay()

    def _replay(self) -> None:
        with open(self.path, "rb") as f:
            raw = f.read()
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        elif lines:  # a torn last record: drop it and truncate the file to the last newline
            warnings.warn(f"{self.path}: dropping a partial last record (a write cut short by a crash)",
                          RuntimeWarning, stacklevel=3)
            lines.pop()
            with open(self.path, "r+b") as f:
                f.truncate(raw.rfind(b"\n") + 1)
        for i, line in enumerate(lines, 1):
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise ValueError(f"{self.path}: line {i} is not a journal record ({e})") from None
            self._apply(rec, i)

    def _apply(self, rec: dict[str, Any], line: int) -> None:
        kind = rec.get("type")
        if kind == "header":
            self.header = rec["run"]
        elif kind == "seed":
            self.seeds.append((decode_bits(rec["bits"], self.n), np.asarray(rec["costs"], np.float64), rec["source"]))
        elif kind == "round":
            self.rounds[int(rec["round"])] = (decode_bits(rec["proposals"], self.n), rec.get("stats", {}))
        elif kind == "eval":
            self.evals.append((int(rec["round"]), decode_bits(rec["bits"], self.n), np.asarray(rec["costs"], np.float64)))
        elif kind == "done":
            self.done = True
        else:
            raise ValueError(f"{self.path}: line {line} has an unknown record type {kind!r}")

    def _write(self, rec: dict[str, Any]) -> None:
        rec = {"v": _VERSION, "time": time.time(), **rec}
        text = json.dumps(rec, sort_keys=True, allow_nan=True) + "\n"
        if self.path is None:
            self._apply(json.loads(text), -1)
            return
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        self._apply(json.loads(text), -1)

    def write_header(self, run: dict[str, Any]) -> None:
        self._write({"type": "header", "run": run})

    def write_seed(self, bits: np.ndarray, costs: np.ndarray, source: str) -> None:
        self._write({"type": "seed", "bits": encode_bits(bits), "costs": [float(c) for c in costs], "source": source})

    def write_round(self, round_: int, proposals: np.ndarray, stats: dict[str, Any]) -> None:
        self._write({"type": "round", "round": int(round_), "proposals": encode_bits(proposals), "stats": stats})

    def write_eval(self, round_: int, bits: np.ndarray, costs: np.ndarray) -> None:
        self._write({"type": "eval", "round": int(round_), "bits": encode_bits(bits),
                     "costs": [float(c) for c in costs]})

    def write_done(self) -> None:
        self._write({"type": "done"})

    def evaluated(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All evaluations in order: ``bits [E, n]``, ``costs [E]`` and the round of each
        (0 for seeds)."""
        parts = [(b, c, np.zeros(len(c), np.int64)) for b, c, _ in self.seeds]
        parts += [(b, c, np.full(len(c), r, np.int64)) for r, b, c in self.evals]
        if not parts:
            return np.zeros((0, self.n), np.uint8), np.zeros(0), np.zeros(0, np.int64)
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]))
