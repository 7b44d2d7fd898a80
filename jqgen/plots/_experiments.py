"""The summary figure of an experiment (:mod:`jqgen.experiments`): every run's loss curve,
and a final metric against the grid's first setting other than the seed."""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from ._runs import _figure, _legend_outside, _save

__all__ = ["plot_experiment"]


def plot_experiment(runs: Sequence[dict[str, Any]], grid: Sequence[str], path: str | os.PathLike[str], *,
                    metric: str = "loss", title: str | None = None) -> str:
    """Two panels: the loss curves of all runs (coloured by the grid's first non-seed key),
    and the final ``metric`` of every run against that key (one dot per run, the median
    as a line; the run index when the grid has only seeds).

    Args:
        runs: the runs of :class:`jqgen.experiments.ExperimentResult` (``settings``,
            ``final``, ``curve``).
        grid: the grid's keys, in file order.
        path: output file.
        metric: the final metric of the second panel.
        title: optional title.

    Returns:
        ``path`` as a string.

    Raises:
        ValueError: no runs.
    """
    if not runs:
        raise ValueError("plot_experiment needs at least one run")
    key = next((k for k in grid if k != "seed"), None)
    values = [r["settings"].get(key) for r in runs] if key else [None] * len(runs)
    levels = list(dict.fromkeys(values))
    fig = _figure((10.0, 3.6))
    ax_curves, ax_final = fig.subplots(1, 2)
    for r, v in zip(runs, values):
        curve = np.asarray(r["curve"], np.float64)
        ax_curves.plot(np.arange(curve.size), curve, color=f"C{levels.index(v) % 10}", alpha=0.5, lw=0.8)
    if key:
        for i, v in enumerate(levels):
            ax_curves.plot([], [], color=f"C{i % 10}", label=f"{key} = {v}")
        _legend_outside(ax_curves)
    ax_curves.set_xlabel("step")
    ax_curves.set_ylabel("loss")
    ax_curves.set_yscale("log" if all(np.nanmin(np.asarray(r["curve"] or [1.0])) > 0 for r in runs) else "linear")
    finals = np.array([r["final"].get(metric, np.nan) for r in runs], np.float64)
    if key:
        x = np.array([levels.index(v) for v in values], np.float64)
        ax_final.scatter(x, finals, s=12, alpha=0.7)
        medians = [np.nanmedian(finals[x == i]) if np.isfinite(finals[x == i]).any() else np.nan
                   for i in range(len(levels))]
        ax_final.plot(range(len(levels)), medians, color="k", lw=1, label="median")
        ax_final.set_xticks(range(len(levels)), [str(v) for v in levels])
        ax_final.set_xlabel(key)
        ax_final.legend(fontsize="small")
    else:
        ax_final.scatter(np.arange(len(runs)), finals, s=12)
        ax_final.set_xlabel("run")
    ax_final.set_ylabel(f"final {metric}")
    if title:
        fig.suptitle(title)
    return _save(fig, path)
