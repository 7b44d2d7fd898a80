"""The :class:`Dataset` record (re-exported as :class:`jqgen.data.Dataset`).

It sits below the modules that build data sets (:mod:`jqgen.synthetic`) and the one that
resolves data-set names and paths (:mod:`jqgen.data`), so both can return it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["Dataset"]


class Dataset(NamedTuple):
    """A binary training set.

    Attributes:
        name: short description ("bars-stripes-4x4", a file path, ...).
        data: ``uint8 [N, n]`` training samples.
        image_shape: ``(rows, cols)`` with ``rows * cols == n`` when the samples are images,
            else ``None``.
        test: optional held-out ``uint8 [M, n]`` samples.
        space: optional solution space (:mod:`jqgen.spaces`): the valid bitstrings, for the
            generalization metrics.
        cost: optional vectorized cost ``bits [N, n] -> [N]`` (lower is better), for the
            quality-based metrics.
        target: optional exact ``[2**n]`` distribution the data were drawn from.
    """

    name: str
    data: np.ndarray
    image_shape: tuple[int, int] | None = None
    test: np.ndarray | None = None
    space: Any = None
    cost: Any = None
    target: np.ndarray | None = None

    @property
    def num_bits(self) -> int:
        return int(self.data.shape[1])

    @property
    def ideal_nll(self) -> float:
        """Lowest achievable training NLL: the entropy of the empirical distribution
        (``ln N`` when all N samples are distinct)."""
        _, counts = np.unique(self.data, axis=0, return_counts=True)
        p = counts / counts.sum()
        return float(-(p * np.log(p)).sum())
