"""Progress of the ``jqgen`` commands: the trainers' tqdm bar on a terminal, plain lines in a log.

A tqdm bar redraws itself with carriage returns; written to a file (``2> train.log``) its
redraws pile up on one line, and a bar that is redrawn for the count and again for the
loss shows each update twice. So the commands draw the bar only when stderr is a
terminal, and otherwise print one line per chunk of steps (loops, rounds) to stderr with
:class:`ProgressLines`, each update once.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Mapping

__all__ = ["ProgressLines", "bar_wanted"]


def _stderr_is_terminal() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def bar_wanted(no_progress: bool) -> bool:
    """Whether a trainer should draw its tqdm bar: progress asked for and stderr a terminal."""
    return not no_progress and _stderr_is_terminal()


class ProgressLines:
    """One progress line per call on stderr, when progress is asked for and stderr is not a
    terminal (where the trainer's bar is drawn instead, :func:`bar_wanted`).

    Args:
        no_progress: ``--no-progress``.
        desc: what trains (the line's start, as the bar's description).
        total: how many ``unit`` the command asked for.
        unit: ``"steps"``, ``"loops"``, ``"generations"``, ``"evaluations"``.
    """

    def __init__(self, no_progress: bool, desc: str, total: int, unit: str) -> None:
        self.enabled = not no_progress and not _stderr_is_terminal()
        self.desc, self.total, self.unit = desc, int(total), unit
        self.t0 = time.perf_counter()

    def __call__(self, done: int, loss: float | None = None, **extra: Any) -> None:
        """Prints ``desc: done/total unit, loss L, k=v ..., (t s)`` (nothing when disabled)."""
        if not self.enabled:
            return
        parts = [f"{self.desc}: {int(done)}/{self.total} {self.unit}"]
        if loss is not None:
            parts.append(f"loss {float(loss):.5g}")
        parts += [f"{k} {v}" for k, v in extra.items()]
        print(", ".join(parts) + f" ({time.perf_counter() - self.t0:.1f} s)", file=sys.stderr, flush=True)

    def chunk(self, done: int, history: Mapping[str, Any]) -> None:
        """The line of a training runner's callback: ``done`` and the last ``history["loss"]``."""
        losses = history.get("loss")
        self(done, None if losses is None or not len(losses) else float(losses[-1]))
