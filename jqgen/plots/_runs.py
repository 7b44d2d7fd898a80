"""The figures of the CLI's run folders: loss curves, sample grids of bit strings, bond
entanglement entropies and dimensions, distributions, stages, best-so-far curves, frontiers
(matplotlib's object-oriented API on the Agg canvas, as :mod:`jqgen.plots` describes).
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence

import numpy as np

__all__ = ["plot_best_so_far", "plot_bond_dims", "plot_distribution", "plot_entropies", "plot_frontier", "plot_samples",
           "plot_training_curve"]

_ON = np.array([0.08, 0.08, 0.12])  # pixel value 1
_OFF = np.array([1.0, 1.0, 1.0])  # pixel value 0
_GAP = np.array([0.72, 0.78, 0.86])  # grid lines between samples
_STRIPS_PER_COLUMN = 16  # samples drawn as one-row strips: this many per column
_MAX_WIDTH = 10.0  # inches (1,000 px at 100 dpi): the widest bar plot over bonds


def _figure(figsize: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike[str]) -> str:
    path = os.fspath(path)
    fig.savefig(path)
    fig.clear()
    return path


def _legend_outside(ax: Any, **kwargs: Any) -> Any:
    """The legend of ``ax`` to the right of its axes (it covers no data)."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small", **kwargs)


def _fmt(value: float) -> str:
    """A loss for a title: 4 decimals, or 3 significant digits below 0.01 (``3.20e-05``, not ``0.0000``)."""
    v = float(value)
    return f"{v:.4f}" if v == 0 or abs(v) >= 0.01 else f"{v:.2e}"


def plot_training_curve(
    history: Any,
    path: str | os.PathLike[str],
    ideal: float | None = None,
    title: str | None = None,
    test: Any = None,
    xlabel: str = "step",
    label: str = "training loss",
    ylabel: str = "NLL (nats)",
    final: float | None = None,
    final_label: str | None = None,
    logy: bool = False,
) -> str:
    """Plots the per-step loss (mean NLL, nats) with a dashed line at ``ideal``.

    Non-finite losses (e.g. the step that stopped a diverging run) are left out. The title's
    second line gives ``final`` (e.g. the train NLL of the final parameters, which the
    command prints) as ``final_label``; without ``final``, the last finite entry of
    ``history``, labelled "last <label>" (for minibatch training, one minibatch's loss).
    Values below 0.01 are written with significant digits (``3.20e-05``). Legends sit to the
    right of the axes, never on the curves.

    Args:
        history: per-step (or per-loop) training loss.
        path: output file.
        ideal: lowest achievable loss (dashed line, and a lower panel with the gap).
        title: optional title.
        test: optional held-out loss with the same length as ``history`` (e.g. the test NLL
            of each sweep loop), drawn as a second curve.
        xlabel: label of the x axis ("step", "loop", ...).
        label: legend entry of ``history``.
        ylabel: label of the y axis.
        final: the value the title reports (default: the last finite loss).
        final_label: its name in the title (default: ``"final"``).
        logy: logarithmic loss axis (e.g. for MMD, which falls by decades); ignored when
            a finite loss is ``<= 0``.

    Returns:
        ``path`` as a string.
    """
    h = np.asarray(history, dtype=np.float64).reshape(-1)
    if h.size == 0:
        raise ValueError("history is empty")
    h = np.where(np.isfinite(h), h, np.nan)
    ht = None
    if test is not None:
        ht = np.asarray(test, dtype=np.float64).reshape(-1)
        if ht.size != h.size:
            raise ValueError(f"test has {ht.size} entries, history {h.size}")
        ht = np.where(np.isfinite(ht), ht, np.nan)
        if not np.isfinite(ht).any():
            ht = None
    steps = np.arange(1, h.size + 1)
    fig = _figure((7.4, 5.6 if ideal is not None else 4.0))
    if ideal is not None:
        ax, ax_gap = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    else:
        ax, ax_gap = fig.add_subplot(), None
    marker = "o" if h.size <= 50 else None
    ax.plot(steps, h, lw=1.2, color="C0", label=label, marker=marker, ms=3)
    if ht is not None:
        ax.plot(steps, ht, lw=1.2, color="C2", label="test NLL", marker=marker, ms=3)
    if ideal is not None:
        ax.axhline(float(ideal), ls="--", lw=1.0, color="k", label=f"ideal = {float(ideal):.4f}")
    finite = h[np.isfinite(h)]
    if logy and finite.size and finite.min() > 0 and (ht is None or np.nanmin(ht) > 0):
        ax.set_yscale("log")
    lines = [title] if title else []
    if final is not None and math.isfinite(final):
        lines.append(f"{final_label or 'final'} {_fmt(final)}")
    elif finite.size:
        lines.append(f"last {label} {_fmt(finite[-1])}")
    if lines and ht is not None and np.isfinite(ht[-1]):
        lines[-1] += f" (test {_fmt(ht[-1])})"
    if lines:
        ax.set_title("\n".join(lines), fontsize="medium")
    ax.set_ylabel(ylabel)
    ax.set_xlim(1, max(2, h.size))
    ax.grid(alpha=0.3, which="both" if logy else "major")
    _legend_outside(ax)
    if ax_gap is not None:
        gap = h - float(ideal)  # type: ignore[arg-type]
        ax_gap.semilogy(steps, np.where(gap > 0, gap, np.nan), lw=1.0, color="C0", label=label)
        if ht is not None:
            gap_t = ht - float(ideal)  # type: ignore[arg-type]
            ax_gap.semilogy(steps, np.where(gap_t > 0, gap_t, np.nan), lw=1.0, color="C2", label="test NLL")
        ax_gap.set_ylabel("loss - ideal")
        ax_gap.grid(alpha=0.3, which="both")
        _legend_outside(ax_gap)
    from matplotlib.ticker import MaxNLocator

    for a in (ax, ax_gap):
        if a is not None:
            a.xaxis.set_major_locator(MaxNLocator(integer=True))
    (ax_gap if ax_gap is not None else ax).set_xlabel(xlabel)
    return _save(fig, path)


def _mosaic(samples: np.ndarray, shape: tuple[int, int], ncols: int) -> np.ndarray:
    """RGB image of the samples on a grid, one pixel of gap between cells."""
    num = samples.shape[0]
    rows, cols = shape
    ncols = max(1, min(ncols, num))
    nrows = math.ceil(num / ncols)
    img = np.broadcast_to(_GAP, (nrows * (rows + 1) + 1, ncols * (cols + 1) + 1, 3)).copy()
    for k in range(num):
        r, c = divmod(k, ncols)
        cell = samples[k].reshape(rows, cols).astype(bool)
        img[1 + r * (rows + 1) : 1 + r * (rows + 1) + rows, 1 + c * (cols + 1) : 1 + c * (cols + 1) + cols] = np.where(
            cell[..., None], _ON, _OFF
        )
    return img


def plot_samples(
    samples: Any,
    image_shape: Sequence[int] | None,
    path: str | os.PathLike[str],
    ncols: int = 8,
    title: str | None = None,
) -> str:
    """Draws 0/1 samples ``[N, n]`` as a grid of binary images (1 = dark).

    Args:
        samples: ``[N, n]`` array of 0/1 values.
        image_shape: ``(rows, cols)`` with ``rows * cols == n``; ``None`` draws each
            sample as a one-row strip of ``n`` pixels, the strips stacked in columns of at
            most 16 (so a bit is a readable square, not a sliver of a long row).
        path: output file.
        ncols: images per grid row (ignored for strips).
        title: optional title.

    Returns:
        ``path`` as a string.
    """
    s = np.asarray(samples)
    if s.ndim != 2 or s.shape[0] == 0:
        raise ValueError(f"samples must have shape [N, n] with N >= 1, got {s.shape}")
    if not np.all((s == 0) | (s == 1)):
        raise ValueError("samples must contain only 0/1 values")
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive int, got {ncols!r}")
    n = s.shape[1]
    shape = (1, n) if image_shape is None else tuple(int(d) for d in image_shape)
    if len(shape) != 2 or shape[0] * shape[1] != n:
        raise ValueError(f"image_shape {image_shape} does not match {n} bits per sample")
    if image_shape is None:
        ncols = math.ceil(s.shape[0] / _STRIPS_PER_COLUMN)
    img = _mosaic(s, shape, ncols)  # type: ignore[arg-type]
    return _save_mosaic(img, path, title)


def _save_mosaic(img: np.ndarray, path: str | os.PathLike[str], title: str | None) -> str:
    """One RGB mosaic as a figure of sane size (at most 9 inches a side), optionally titled."""
    scale = min(9.0 / img.shape[1], 9.0 / img.shape[0], 0.3)  # inches per pixel
    fig = _figure((max(2.5, img.shape[1] * scale), max(1.2, img.shape[0] * scale) + (0.4 if title else 0.1)))
    ax = fig.add_subplot()
    ax.imshow(img, interpolation="nearest", aspect="equal")
    ax.set_axis_off()
    ax.set_title(title or "")
    return _save(fig, path)


def plot_entropies(
    entropies: Any,
    path: str | os.PathLike[str],
    title: str | None = None,
    chi_max: int | None = None,
) -> str:
    """Bar plot of the bond entanglement entropies (nats), bonds ``1 .. n-1``.

    The dotted line is the largest entropy a state can have at each bond,
    ``min(b, n - b) ln 2``, and with ``chi_max`` the largest an MPS of that bond dimension
    can reach, ``min(min(b, n - b) ln 2, ln chi_max)``. The y axis is set by the data (and
    ``ln chi_max``), not by the bound, which reaches ``n/2 ln 2`` (272 nats at 784 sites):
    the bound is drawn where it is in range. The figure is at most 10 inches wide (1,000
    px) at any ``n``; beyond 64 bonds the bars become a filled step curve.

    Returns:
        ``path`` as a string.

    Example:
        >>> import os, tempfile, numpy as np
        >>> from jqgen.plots import plot_entropies
        >>> path = os.path.join(tempfile.mkdtemp(), "entropies.png")
        >>> plot_entropies(np.full(783, 1.5), path, chi_max=16) == path  # MNIST: 784 sites
        True
    """
    e = np.asarray(entropies, dtype=np.float64).reshape(-1)
    if e.size == 0:
        raise ValueError("entropies is empty")
    if chi_max is not None and (not isinstance(chi_max, (int, np.integer)) or chi_max < 1):
        raise ValueError(f"chi_max must be a positive int, got {chi_max!r}")
    bonds = np.arange(1, e.size + 1)
    n = e.size + 1
    fig = _figure((max(6.0, min(_MAX_WIDTH, 0.35 * e.size + 2.0)), 3.6))
    ax = fig.add_subplot()
    if e.size <= 64:
        ax.bar(bonds, e, color="C0", width=0.8, label="S(bond)")
    else:
        ax.fill_between(bonds, np.nan_to_num(e), step="mid", color="C0", alpha=0.35, lw=0)
        ax.step(bonds, e, where="mid", color="C0", lw=1.0, label="S(bond)")
    bound = np.minimum(bonds, n - bonds) * np.log(2.0)
    name = "largest possible:\nmin(b, n-b) ln 2"
    if chi_max is not None and math.log(chi_max) < bound.max():
        bound = np.minimum(bound, math.log(chi_max))
        name = f"largest at chi_max={chi_max}:\nmin(b, n-b) ln 2, ln {chi_max}"
    data_top = float(np.nanmax(e)) if np.isfinite(e).any() else 0.0
    shown = max(data_top, math.log(2.0))
    if chi_max is not None:
        shown = max(shown, math.log(chi_max))
    top = max(data_top, min(float(bound.max()), 2.0 * shown)) * 1.12 + 1e-9
    clipped = bool(bound.max() > top)
    ax.step(bonds, bound, where="mid", ls=":", color="0.3", label=name + (" (clipped)" if clipped else ""))
    ax.set_xlabel("bond b (between sites b-1 and b)")
    ax.set_ylabel("entanglement entropy (nats)")
    if e.size <= 32:
        ax.set_xticks(bonds)
    else:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
    ax.set_xlim(0.5, e.size + 0.5)
    ax.set_ylim(0, top)
    ax.grid(alpha=0.3, axis="y")
    _legend_outside(ax)
    if title:
        ax.set_title(title + f" (largest {data_top:.3f} nats)")
    return _save(fig, path)


def plot_bond_dims(
    bond_dims: Any,
    path: str | os.PathLike[str],
    chi_max: int | None = None,
    title: str | None = None,
) -> str:
    """Bond dimension against bond index ``1 .. n-1`` (e.g. after sweep training, where the
    SVD truncation chooses each bond's dimension).

    Args:
        bond_dims: ``[n + 1]`` bond dimensions including the two boundary bonds (as
            returned by :func:`jqgen.sweep_train`), or ``[n - 1]`` inner bonds.
        path: output file.
        chi_max: if given, a dashed line at the largest allowed bond dimension.
        title: optional title.

    The dotted line is the largest bond dimension a state of ``n`` bits can need,
    ``2 ** min(b, n - b)``.

    Returns:
        ``path`` as a string.
    """
    d = np.asarray(bond_dims, dtype=np.float64).reshape(-1)
    if d.size >= 3 and d[0] == 1 and d[-1] == 1:
        d = d[1:-1]
    if d.size == 0:
        raise ValueError("bond_dims is empty")
    if not np.all(d >= 1):  # NaN fails too
        raise ValueError(f"bond_dims must be >= 1, got {d.tolist()[:20]}")
    bonds = np.arange(1, d.size + 1)
    n = d.size + 1
    fig = _figure((max(4.0, min(10.0, 0.35 * d.size + 2.0)), 3.6))
    ax = fig.add_subplot()
    if d.size <= 64:
        ax.bar(bonds, d, color="C0", width=0.8, label="bond dimension")
    else:
        ax.step(bonds, d, where="mid", lw=1.0, color="C0", label="bond dimension")
    top = float(np.nanmax(d)) if np.isfinite(d).any() else 1.0
    bound = np.exp2(np.minimum(bonds, n - bonds).astype(np.float64))
    if chi_max is not None:
        bound = np.minimum(bound, 2.0 * chi_max)  # keep the axis readable for long chains
    if np.any(bound < (chi_max if chi_max is not None else np.inf)):
        ax.step(bonds, bound, where="mid", ls=":", color="0.4", label="max, 2^min(b, n-b)")
    if chi_max is not None:
        ax.axhline(chi_max, ls="--", lw=1.0, color="C3", label=f"chi_max = {chi_max}")
        top = max(top, float(chi_max))
    ax.set_xlabel("bond b (between sites b-1 and b)")
    ax.set_ylabel("bond dimension")
    if d.size <= 32:
        ax.set_xticks(bonds)
    ax.set_xlim(0.5, d.size + 0.5)
    ax.set_ylim(0, top * 1.15 + 1e-9)
    ax.grid(alpha=0.3, axis="y")
    ax.text(0.01, 0.97, f"max {int(np.nanmax(d))}, mean {np.nanmean(d):.1f}", transform=ax.transAxes,
            ha="left", va="top", fontsize="small")
    ax.legend(loc="upper right", fontsize="small")
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_distribution(
    model_probs: Any,
    data_probs: Any,
    path: str | os.PathLike[str],
    top: int = 40,
    title: str | None = None,
) -> str:
    """Bar chart of the model's and the data's probabilities on the ``top`` most likely
    bitstrings (by either distribution), labelled by their index. The legend, with the
    model's probability mass on the other bitstrings, sits to the right of the bars.

    Args:
        model_probs: ``[2**n]`` model distribution.
        data_probs: ``[2**n]`` data distribution.
        path: output file.
        top: number of bitstrings shown.
        title: optional title.

    Returns:
        ``path`` as a string.
    """
    pm = np.asarray(model_probs, np.float64).reshape(-1)
    pd = np.asarray(data_probs, np.float64).reshape(-1)
    if pm.shape != pd.shape or pm.size < 2:
        raise ValueError(f"model_probs and data_probs must be equal-length vectors, got {pm.shape} and {pd.shape}")
    for name, v in (("model_probs", pm), ("data_probs", pd)):
        if not np.all(np.isfinite(v) & (v >= 0)):
            raise ValueError(f"{name} must hold finite probabilities >= 0")
    if not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive int, got {top!r}")
    idx = np.argsort(-np.maximum(pm, pd), kind="stable")[: min(top, pm.size)]
    idx = np.sort(idx)
    x = np.arange(idx.size)
    fig = _figure((max(6.4, 0.18 * idx.size + 2), 3.6))
    ax = fig.add_subplot()
    ax.bar(x - 0.2, pd[idx], width=0.4, color="C7", label="data")
    ax.bar(x + 0.2, pm[idx], width=0.4, color="C0", label="model")
    ax.set_xticks(x, [str(i) for i in idx], rotation=90, fontsize=7)
    ax.set_xlabel("bitstring (big-endian index)")
    ax.set_ylabel("probability")
    other = max(0.0, 1.0 - pm[idx].sum())
    _legend_outside(ax, title=f"model mass\nelsewhere: {other:.3f}", title_fontsize="small")
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_stages(stages: Sequence[tuple[str, Any]], path: str | os.PathLike[str], ylabel: str = "KL(data || model)",
                title: str | None = None, log: bool = True) -> str:
    """Per-step losses of consecutive training stages on one step axis (e.g. MPS, then circuit),
    with a dotted line at each stage boundary.

    Args:
        stages: ``(label, history)`` pairs, in order.
        path: output file.
        ylabel: y-axis label.
        title: optional title.
        log: logarithmic y axis (positive values only are drawn).

    Returns:
        ``path`` as a string.

    Raises:
        ValueError: no stages, an entry not a ``(label, history)`` pair, a non-numeric history.
    """
    if not stages:
        raise ValueError("stages is empty")
    if isinstance(stages, (str, bytes, dict)) or any(not isinstance(s, (tuple, list)) or len(s) != 2 for s in stages):
        raise ValueError(f"stages must be a sequence of (label, history) pairs, got {str(stages)[:100]}")
    histories = []
    for label, h in stages:
        a = np.asarray(h)
        if a.dtype.kind not in "biuf":
            raise ValueError(f"the history of stage {label!r} must hold numbers, got dtype {a.dtype}")
        histories.append(a.astype(np.float64).reshape(-1))
    fig = _figure((6.4, 3.8))
    ax = fig.add_subplot()
    start = 0
    for i, ((label, _), h) in enumerate(zip(stages, histories)):
        x = start + np.arange(h.size)
        ok = np.isfinite(h) & ((h > 0) if log else True)
        ax.plot(x[ok], h[ok], color=f"C{i}", label=label)
        start += h.size
        if i < len(stages) - 1:
            ax.axvline(start - 0.5, color="0.5", ls=":")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.legend()
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_best_so_far(curves: dict[str, Any], path: str | os.PathLike[str], *, optimum: float | None = None,
                     title: str = "best cost found") -> str:
    """Best cost vs evaluations: one line per ``label -> best_so_far [E]`` (the running minimum),
    and the optimum as a dashed line when known.

    Raises:
        ValueError: no curves, or an empty curve.
    """
    if not curves or any(np.size(c) == 0 for c in curves.values()):
        raise ValueError("plot_best_so_far needs at least one non-empty curve")
    fig = _figure((6.4, 4.0))
    ax = fig.add_subplot()
    for label, curve in curves.items():
        c = np.asarray(curve, np.float64)
        ax.plot(np.arange(1, c.size + 1), c, label=label, lw=1.6)
    if optimum is not None:
        ax.axhline(optimum, color="0.3", ls="--", lw=1, label="optimum")
    ax.set_xscale("log")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best cost so far")
    ax.set_title(title)
    ax.legend(frameon=False)
    return _save(fig, path)


def plot_frontier(points: dict[str, tuple[Any, Any]], path: str | os.PathLike[str], *,
                  frontier: tuple[Any, Any] | None = None, exact: tuple[Any, Any, Any] | None = None,
                  exact_label: str = "exact constrained frontier", title: str = "return vs risk") -> str:
    """Mean return against variance: the unconstrained efficient ``frontier`` ``(variances,
    returns)`` as a line, the exact constrained frontier ``exact = (variances, returns,
    optimal)`` (e.g. from :func:`jqgen.geo.exact_frontier`: its proven-optimal points as a
    line with markers labelled ``exact_label``, the others, best found but not proven
    optimal, as crosses), and each ``label -> (variances, returns)`` as points.

    Raises:
        ValueError: nothing to draw, or a ``(variances, returns)`` pair of unequal lengths.
    """
    if not points and frontier is None and exact is None:
        raise ValueError("plot_frontier needs points, frontier or exact: nothing to draw")
    for label, (v, r) in points.items():
        if np.size(v) != np.size(r):
            raise ValueError(f"points[{label!r}] has {np.size(v)} variances but {np.size(r)} returns")
    fig = _figure((6.4, 4.2))
    ax = fig.add_subplot()
    if frontier is not None:
        ax.plot(np.asarray(frontier[0]), np.asarray(frontier[1]), color="0.35", lw=1.2,
                label="unconstrained efficient frontier")
    if exact is not None:
        v, r, ok = (np.asarray(a).reshape(-1) for a in exact)
        ok = ok.astype(bool)
        order = np.argsort(v[ok], kind="stable")
        if ok.any():
            ax.plot(v[ok][order], r[ok][order], color="k", lw=1.0, marker=".", ms=6, label=exact_label)
        if (~ok).any():
            ax.scatter(v[~ok], r[~ok], s=30, marker="x", color="k", lw=1.0,
                       label="best found, not proven optimal (time limit)")
    for (label, (v, r)), marker in zip(points.items(), "o^sDv*"):
        ax.scatter(np.asarray(v), np.asarray(r), s=18, marker=marker, label=label, alpha=0.8)
    ax.set_xlabel("variance of return")
    ax.set_ylabel("mean return")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    return _save(fig, path)
