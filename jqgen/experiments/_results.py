"""An experiment's results table: every run's settings, status, final metrics and curve,
gathered from the shard files; written as ``results.json``, ``results.csv`` and
``summary.png``."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np

from ._spec import Experiment

__all__ = ["ExperimentResult", "collect_results", "write_atomically"]


class ExperimentResult(NamedTuple):
    """What :func:`~jqgen.experiments.run_experiment` returns.

    Attributes:
        runs: one dict per run, by run index: ``run``, ``shard``, ``settings`` (seed, model
            and trainer settings), ``status`` (``"completed"`` or ``"failed: ..."``),
            ``final`` (``loss`` and the reported metrics), ``curve`` (the loss per step).
        info: devices, processes, platform, seconds, shard count, shard seconds.
        files: the files written (empty on processes other than 0).
    """

    runs: list[dict[str, Any]]
    info: dict[str, Any]
    files: tuple[str, ...] = ()

    def column(self, name: str) -> np.ndarray:
        """The final metric ``name`` of every run (``loss``, ``nll``, ``kl``, ...), float64."""
        return np.array([r["final"].get(name, math.nan) for r in self.runs], np.float64)


def collect_results(experiment: Experiment, out: str, shard_ids: Sequence[str], *, write: bool,
                    info: Mapping[str, Any] | None = None) -> ExperimentResult:
    """Reads the shards' files; with ``write`` writes the table files (see the module)."""
    runs, seconds = [], {}
    for sid in shard_ids:
        with open(os.path.join(out, "shards", f"{sid}.json")) as f:
            shard = json.load(f)
        runs += shard["runs"]
        seconds[sid] = shard["seconds"]
    runs.sort(key=lambda r: r["run"])
    info = dict(info or {}, shard_seconds=seconds)
    if not write:
        return ExperimentResult(runs, info)
    grid = experiment.varying
    payload = {"experiment": experiment.to_dict(), "digest": experiment.digest(), "grid": grid, "info": info,
               "runs": runs}
    files = [write_atomically(os.path.join(out, "results.json"), json.dumps(payload, indent=1, default=_nan_safe)),
             _write_csv(os.path.join(out, "results.csv"), runs, grid)]
    if runs:
        from ..plots import plot_experiment

        files.append(plot_experiment(runs, grid, os.path.join(out, "summary.png"), metric=_main_metric(experiment),
                                     title=experiment.name))
    return ExperimentResult(runs, info, tuple(files))


def _main_metric(experiment: Experiment) -> str:
    return experiment.metrics[0] if experiment.metrics else "loss"


def _nan_safe(obj: Any) -> Any:
    return float(obj)


def write_atomically(path: str, text: str) -> str:
    """Writes ``text`` to ``path`` through a temporary file, fsynced and renamed over it (a
    reader, or a resumed experiment after a kill, never sees a partial file)."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def _write_csv(path: str, runs: list[dict[str, Any]], grid: list[str]) -> str:
    settings = sorted({k for r in runs for k in r["settings"]} - set(grid))
    finals = list(dict.fromkeys(k for r in runs for k in r["final"]))
    f = io.StringIO()
    w = csv.writer(f)
    w.writerow(["run", "shard", "status", *grid, *settings, *(f"final_{k}" for k in finals), "steps_done"])
    for r in runs:
        s = r["settings"]
        w.writerow([r["run"], r["shard"], r["status"], *(s.get(k) for k in grid), *(s.get(k) for k in settings),
                    *(r["final"].get(k) for k in finals), len(r["curve"])])
    return write_atomically(path, f.getvalue())
