"""PNG grids of grey-level images ``[N, H, W]`` in [0, 1] (e.g. generated digits), one grid or
several side by side (exported by :mod:`jqgen.plots`).

Like the rest of :mod:`jqgen.plots`: matplotlib's object-oriented API on the Agg canvas (no
backend selection, no ``pyplot``, no display), imported only when a function is called.
Ink is dark: a pixel of value 1 is drawn in the colour of :func:`jqgen.plots.plot_samples`'
ones, 0 in white, values between as a linear blend.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ._runs import _GAP, _OFF, _ON, _figure, _save, _save_mosaic

__all__ = ["plot_sample_grid", "plot_sample_grids"]

_PANEL_INCHES = 4.5  # the widest grid panel


def _check_grid(images: Any, name: str) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim != 3 or x.size == 0:
        raise ValueError(f"{name} must have shape [N, H, W] with N, H, W >= 1, got shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers in [0, 1], got dtype {x.dtype}")
    x = x.astype(np.float64)
    finite = np.isfinite(x)
    if not finite.all():
        raise ValueError(f"{name} has {int((~finite).sum())} non-finite values (NaN or inf); values must be "
                         f"finite, in [0, 1]")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"{name} must have values in [0, 1]; got min {x.min():.6g}, max {x.max():.6g}")
    return x


def _grid_image(images: np.ndarray, columns: int) -> np.ndarray:
    """RGB mosaic ``[rows (H + 1) + 1, cols (W + 1) + 1, 3]``, one pixel of gap between images."""
    num, h, w = images.shape
    cols = max(1, min(columns, num))
    rows = math.ceil(num / cols)
    img = np.broadcast_to(_GAP, (rows * (h + 1) + 1, cols * (w + 1) + 1, 3)).copy()
    for k in range(num):
        r, c = divmod(k, cols)
        v = images[k][..., None]
        img[1 + r * (h + 1): (r + 1) * (h + 1), 1 + c * (w + 1): (c + 1) * (w + 1)] = v * _ON + (1.0 - v) * _OFF
    return img


def _check_columns(columns: Any, name: str = "columns") -> int:
    if isinstance(columns, bool) or not isinstance(columns, (int, np.integer)) or columns < 1:
        raise ValueError(f"{name} must be a positive int, got {columns!r}")
    return int(columns)


def plot_sample_grid(images: Any, path: str | os.PathLike[str], *, title: str | None = None,
                     columns: int = 10) -> str:
    """Draws images ``[N, H, W]`` in [0, 1] as a grid, ``columns`` per row (1 = dark ink).

    Args:
        images: ``[N, H, W]`` grey levels in [0, 1] (e.g. 8x8 digits or 28x28 MNIST samples).
        path: output PNG file.
        title: optional title.
        columns: images per row.

    Returns:
        ``path`` as a string.

    Raises:
        ValueError: not ``[N, H, W]``, values outside [0, 1] or non-finite, bad ``columns``.

    Examples:
        >>> import os, tempfile, numpy as np
        >>> from jqgen.plots import plot_sample_grid
        >>> path = os.path.join(tempfile.mkdtemp(), "grid.png")
        >>> plot_sample_grid(np.random.default_rng(0).random((20, 8, 8)), path, title="noise") == path
        True
    """
    return _save_mosaic(_grid_image(_check_grid(images, "images"), _check_columns(columns)), path, title)


def plot_sample_grids(grids: dict[str, Any], path: str | os.PathLike[str], *, columns: int = 10,
                      title: str | None = None, panels_per_row: int = 3) -> str:
    """Draws several image grids side by side, each titled with its name (e.g. one per prior).

    Args:
        grids: ``name -> images [N, H, W]`` in [0, 1]; the panels follow the dict's order.
        path: output PNG file.
        columns: images per row in each grid.
        title: optional title over all panels.
        panels_per_row: grids per row of panels (more grids wrap onto further rows).

    Returns:
        ``path`` as a string.

    Raises:
        ValueError: no grids, or a grid that fails :func:`plot_sample_grid`'s checks (the
            message names it).

    Examples:
        >>> import os, tempfile, numpy as np
        >>> from jqgen.plots import plot_sample_grids
        >>> rng = np.random.default_rng(0)
        >>> grids = {"QCBM": rng.random((10, 8, 8)), "classical": rng.random((10, 8, 8))}
        >>> path = os.path.join(tempfile.mkdtemp(), "grids.png")
        >>> plot_sample_grids(grids, path, columns=5) == path
        True
    """
    if not isinstance(grids, dict) or not grids:
        got = "an empty dict" if isinstance(grids, dict) else type(grids).__name__
        raise ValueError(f"grids must be a non-empty dict of name -> images [N, H, W], got {got}")
    columns = _check_columns(columns)
    mosaics = {str(name): _grid_image(_check_grid(x, f"grids[{name!r}]"), columns) for name, x in grids.items()}
    per_row = _check_columns(panels_per_row, "panels_per_row")
    rows = math.ceil(len(mosaics) / per_row)
    cols = min(per_row, len(mosaics))
    # every panel equally wide (8x8 digits beside 28x28 MNIST stay readable), at most 8 inches high
    scales = [min(_PANEL_INCHES / m.shape[1], 8.0 / m.shape[0], 0.3) for m in mosaics.values()]
    width = max(max(1.8, m.shape[1] * s) for m, s in zip(mosaics.values(), scales))
    height = max(max(1.2, m.shape[0] * s) for m, s in zip(mosaics.values(), scales))
    fig = _figure((cols * (width + 0.2), rows * (height + 0.45) + (0.35 if title else 0)))
    axes = fig.subplots(rows, cols, squeeze=False).reshape(-1)
    for ax in axes[len(mosaics):]:
        ax.set_axis_off()
    for ax, (name, img) in zip(axes, mosaics.items()):
        ax.imshow(img, interpolation="nearest", aspect="equal")
        ax.set_axis_off()
        ax.set_title(name)
    if title:
        fig.suptitle(title)
    return _save(fig, path)
