"""The :class:`Dataset` record (re-exported as :class:`jqgen.data.Dataset`).

It sits below the modules that build data sets (:mod:`jqgen.synthetic`) and the one that
resolves data-set names and paths (:mod:`jqgen.data`), so both can return it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ._checks import check_probability_vector, validate_binary

__all__ = ["Dataset"]


class _DatasetFields(NamedTuple):
    name: str
    data: np.ndarray
    image_shape: tuple[int, int] | None = None
    test: np.ndarray | None = None
    space: Any = None
    cost: Any = None
    target: np.ndarray | None = None


class Dataset(_DatasetFields):
    """A binary training set (validated: ``data`` and ``test`` must be non-empty 0/1
    samples of one width, ``image_shape`` must cover it, ``target`` a ``[2**n]``
    probability vector).

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

    __slots__ = ()

    def __new__(cls, name: str, data: Any, image_shape: Any = None, test: Any = None, space: Any = None,
                cost: Any = None, target: Any = None) -> "Dataset":
        data = validate_binary(data, name="data")
        n = data.shape[1]
        if test is not None:
            test = validate_binary(test, width=n, name="test")
        if image_shape is not None:
            shape = tuple(int(v) for v in image_shape)
            if len(shape) != 2 or shape[0] * shape[1] != n or min(shape) < 1:
                raise ValueError(f"image_shape must be (rows, cols) with rows * cols = {n}, got {image_shape!r}")
            image_shape = shape
        if target is not None:
            target = check_probability_vector(target, "target")
            if target.shape[0] != 2**n:
                raise ValueError(f"target must have length 2**{n} = {2**n}, got {target.shape[0]}")
        return super().__new__(cls, name, data, image_shape, test, space, cost, target)

    @property
    def num_bits(self) -> int:
        return int(self.data.shape[1])

    @property
    def ideal_nll(self) -> float:
        """Lowest achievable training NLL: the entropy of the empirical distribution
        (``ln N`` when all N samples are distinct; ``0.0``, never ``-0.0``, when they are all
        the same).

        Example:
            >>> import numpy as np
            >>> from jqgen.data import Dataset
            >>> Dataset("same", np.zeros((5, 4), np.uint8)).ideal_nll
            0.0
        """
        _, counts = np.unique(self.data, axis=0, return_counts=True)
        p = counts / counts.sum()
        return max(0.0, float(-(p * np.log(p)).sum()))
