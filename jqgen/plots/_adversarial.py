"""The figures of an adversarial run (:mod:`jqgen.adversarial`): its loss and score curves."""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from ._runs import _figure, _save

__all__ = ["plot_adversarial_curves"]


def plot_adversarial_curves(metrics: dict[str, Any], path: str | os.PathLike[str], *, title: str | None = None,
                            smooth: int = 50) -> str:
    """The curves of an adversarial run: discriminator and generator losses (running means
    over ``smooth`` steps, raw values faint), the prior's loss, and the Inception-style score.

    Args:
        metrics: the run's per-step metrics (``loss``, ``generator_loss``, ``prior_loss``,
            ``score``; NaN where undefined), as :class:`jqgen.training.TrainResult.metrics`.
        path: output file.
        title: optional title.
        smooth: window of the running means.

    Returns:
        ``path`` as a string.

    Raises:
        ValueError: ``metrics`` not a dict, or ``smooth`` not a positive int.
    """
    if not isinstance(metrics, Mapping):
        raise ValueError(f"metrics must be a dict of name -> per-step values (TrainResult.metrics), got "
                         f"{type(metrics).__name__}")
    if isinstance(smooth, bool) or not isinstance(smooth, (int, np.integer)) or smooth < 1:
        raise ValueError(f"smooth must be a positive int (a running-mean window), got {smooth!r}")
    fig = _figure((10.0, 3.4))
    axes = fig.subplots(1, 3)
    panels = [(axes[0], (("loss", "discriminator"), ("generator_loss", "generator")), "loss (nats)"),
              (axes[1], (("prior_loss", "prior"),), "prior loss (nats)"),
              (axes[2], (("score", "Inception-style score"),), "score")]
    for ax, curves, ylabel in panels:
        for j, (name, label) in enumerate(curves):
            h = np.asarray(metrics.get(name, []), np.float64).reshape(-1)
            x = np.arange(h.size)
            ok = np.isfinite(h)
            if not ok.any():
                continue
            if name in ("loss", "generator_loss") and h.size > smooth:
                ax.plot(x[ok], h[ok], color=f"C{j}", alpha=0.2, lw=0.5)
                run = np.convolve(np.where(ok, h, 0.0), np.ones(smooth) / smooth, mode="valid")
                ax.plot(x[smooth - 1:], run, color=f"C{j}", label=f"{label} (mean of {smooth})")
            else:
                ax.plot(x[ok], h[ok], color=f"C{j}", label=label)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes, color="0.5")
    if title:
        fig.suptitle(title)
    return _save(fig, path)
