"""Hypothesis strategies of binary data sets with a chosen structure, and of solution spaces.

Every data strategy draws a ``uint8 [N, n]`` NumPy array of 0/1 values (``N`` samples of
``n`` bits, the layout of :mod:`jqgen.data`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..spaces import BarsAndStripesSpace, Cardinality, Enumerated, bars_and_stripes
from ._model_strategies import float_range, int_range

__all__ = ["bars_and_stripes_data", "binary_datasets", "cardinality_data", "independent_bits", "planted_patterns",
           "solution_spaces"]

_SEEDS = st.integers(0, 2**31 - 1)


def independent_bits(*, num_bits: Any = (1, 8), num_samples: Any = (1, 64),
                     marginals: Sequence[float] | None = None) -> st.SearchStrategy:
    """Samples of independent bits: bit ``i`` is 1 with probability ``marginals[i]``.

    Args:
        num_bits: range of ``n`` (ignored when ``marginals`` is given: ``n = len(marginals)``).
        num_samples: range of ``N``.
        marginals: the probabilities ``P(x_i = 1)`` in ``[0, 1]``; ``None`` draws them.

    Returns:
        A strategy of ``uint8 [N, n]`` arrays.

    Raises:
        ValueError: a malformed range or marginal.

    Examples:
        >>> from hypothesis import find
        >>> from jqgen.testing import strategies as jst
        >>> x = find(jst.independent_bits(marginals=[1.0, 0.0, 1.0], num_samples=4), lambda x: True)
        >>> x.tolist()
        [[1, 0, 1], [1, 0, 1], [1, 0, 1], [1, 0, 1]]
    """
    n_range, s_range = int_range("num_bits", num_bits, 1), int_range("num_samples", num_samples, 1)
    if marginals is not None:
        m = np.asarray(marginals, np.float64)
        if m.ndim != 1 or m.size == 0 or not np.all((m >= 0) & (m <= 1)):
            raise ValueError(f"marginals must be a non-empty sequence of probabilities in [0, 1], got {marginals!r}")
        n_range = (m.size, m.size)

    @st.composite
    def draw_data(draw: Any) -> np.ndarray:
        n, num = draw(st.integers(*n_range)), draw(st.integers(*s_range))
        probs = m if marginals is not None else np.asarray(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
        u = np.random.default_rng(draw(_SEEDS)).random((num, n))
        return (u < probs).astype(np.uint8)

    return draw_data()


def planted_patterns(*, num_bits: Any = (2, 8), num_samples: Any = (1, 64), num_patterns: Any = (1, 4),
                     flip: Any = (0.0, 0.1)) -> st.SearchStrategy:
    """Noisy copies of a few planted patterns: each sample is a drawn pattern with every bit
    flipped with probability ``flip``.

    Args:
        num_bits: range of ``n``.
        num_samples: range of ``N``.
        num_patterns: range of the number of patterns.
        flip: range of the flip probability (in ``[0, 0.5]``).

    Returns:
        A strategy of ``uint8 [N, n]`` arrays.

    Raises:
        ValueError: a malformed range.

    Examples:
        >>> from hypothesis import find
        >>> from jqgen.testing import strategies as jst
        >>> x = find(jst.planted_patterns(num_bits=4, num_samples=3, flip=0.0), lambda x: x.sum() > 0)
        >>> x.shape, len({tuple(r) for r in x.tolist()}) <= 3
        ((3, 4), True)
    """
    n_range, s_range = int_range("num_bits", num_bits, 1), int_range("num_samples", num_samples, 1)
    p_range, f_range = int_range("num_patterns", num_patterns, 1), float_range("flip", flip, 0.0)
    if f_range[1] > 0.5:
        raise ValueError(f"flip must lie in [0, 0.5], got {flip!r}")

    @st.composite
    def draw_data(draw: Any) -> np.ndarray:
        n, num, k = draw(st.integers(*n_range)), draw(st.integers(*s_range)), draw(st.integers(*p_range))
        patterns = draw(hnp.arrays(np.uint8, (k, n), elements=st.integers(0, 1)))
        which = np.asarray(draw(st.lists(st.integers(0, k - 1), min_size=num, max_size=num)), np.int64)
        noise = np.random.default_rng(draw(_SEEDS)).random((num, n)) < draw(st.floats(*f_range))
        return patterns[which] ^ noise.astype(np.uint8)

    return draw_data()


def bars_and_stripes_data(*, rows: Any = (2, 3), cols: Any = (2, 3), num_samples: Any = (1, 64)) -> st.SearchStrategy:
    """Samples (with repeats) of the bars-and-stripes patterns of a ``rows x cols`` grid
    (:func:`jqgen.data.bars_and_stripes`, pixels row-major).

    Args:
        rows: range of the grid's rows.
        cols: range of its columns.
        num_samples: range of ``N``.

    Returns:
        A strategy of ``uint8 [N, rows * cols]`` arrays.

    Raises:
        ValueError: a malformed range.

    Examples:
        >>> from hypothesis import find
        >>> from jqgen.spaces import BarsAndStripesSpace
        >>> from jqgen.testing import strategies as jst
        >>> x = find(jst.bars_and_stripes_data(rows=2, cols=3), lambda x: len(x) > 2)
        >>> bool(BarsAndStripesSpace(2, 3).contains(x).all())
        True
    """
    r_range, c_range = int_range("rows", rows, 1), int_range("cols", cols, 1)
    s_range = int_range("num_samples", num_samples, 1)
    if r_range[1] * c_range[1] > 64:
        raise ValueError(f"rows * cols must be at most 64, got ranges {rows!r} and {cols!r}")

    @st.composite
    def draw_data(draw: Any) -> np.ndarray:
        patterns = bars_and_stripes(draw(st.integers(*r_range)), draw(st.integers(*c_range)))
        num = draw(st.integers(*s_range))
        return patterns[draw(st.lists(st.integers(0, len(patterns) - 1), min_size=num, max_size=num))]

    return draw_data()


def cardinality_data(*, num_bits: Any = (2, 8), k: Any = (0, None), num_samples: Any = (1, 64)) -> st.SearchStrategy:
    """Samples of strings with exactly ``k`` ones (the support of :class:`jqgen.spaces.Cardinality`).

    Args:
        num_bits: range of ``n``.
        k: range of the cardinality (``None`` as the high end: ``n``), clipped to ``[0, n]``.
        num_samples: range of ``N``.

    Returns:
        A strategy of ``uint8 [N, n]`` arrays, every row of one drawn weight ``k``.

    Raises:
        ValueError: a malformed range.

    Examples:
        >>> from hypothesis import find
        >>> from jqgen.testing import strategies as jst
        >>> x = find(jst.cardinality_data(num_bits=5, k=2, num_samples=3), lambda x: True)
        >>> x.sum(axis=1).tolist()
        [2, 2, 2]
    """
    n_range, s_range = int_range("num_bits", num_bits, 1), int_range("num_samples", num_samples, 1)
    k_pair = (k, k) if isinstance(k, (int, np.integer)) else tuple(k)
    k_lo = int_range("k", (k_pair[0], k_pair[0]), 0)[0]
    k_hi = None if k_pair[1] is None else int_range("k", (k_lo, k_pair[1]), 0)[1]

    @st.composite
    def draw_data(draw: Any) -> np.ndarray:
        n, num = draw(st.integers(*n_range)), draw(st.integers(*s_range))
        hi = min(n if k_hi is None else k_hi, n)
        weight = draw(st.integers(min(k_lo, hi), hi))
        rng = np.random.default_rng(draw(_SEEDS))
        order = np.argsort(rng.random((num, n)), axis=1)
        return (order < weight).astype(np.uint8)

    return draw_data()


def binary_datasets(*, num_bits: Any = (2, 8), num_samples: Any = (1, 64)) -> st.SearchStrategy:
    """Any of the structured data sets above: independent bits, planted patterns,
    cardinality-constrained strings, and bars-and-stripes when a grid fits ``num_bits``.

    Args:
        num_bits: range of ``n``.
        num_samples: range of ``N``.

    Returns:
        A strategy of ``uint8 [N, n]`` arrays.

    Raises:
        ValueError: a malformed range.

    Examples:
        >>> from hypothesis import given, settings
        >>> from jqgen.testing import strategies as jst
        >>> @settings(max_examples=2, deadline=None)
        ... @given(jst.binary_datasets(num_bits=4, num_samples=2))
        ... def test_shape(data):
        ...     assert data.shape == (2, 4) and data.dtype.name == "uint8"
        >>> test_shape()
    """
    n_range, s_range = int_range("num_bits", num_bits, 1), int_range("num_samples", num_samples, 1)
    parts = [independent_bits(num_bits=n_range, num_samples=s_range),
             planted_patterns(num_bits=n_range, num_samples=s_range),
             cardinality_data(num_bits=n_range, num_samples=s_range)]
    grids = [(r, c) for r in range(1, 9) for c in range(1, 9) if n_range[0] <= r * c <= n_range[1]]
    if grids:
        parts.append(st.sampled_from(grids).flatmap(
            lambda rc: bars_and_stripes_data(rows=rc[0], cols=rc[1], num_samples=s_range)))
    return st.one_of(*parts)


def solution_spaces(*, num_bits: Any = (2, 8)) -> st.SearchStrategy:
    """Solution spaces (:mod:`jqgen.spaces`): :class:`Cardinality` ``(n, k)``,
    :class:`BarsAndStripesSpace` on a grid of ``n`` pixels, and :class:`Enumerated` sets of
    drawn members.

    Args:
        num_bits: range of ``n``.

    Returns:
        A strategy of :class:`jqgen.spaces.SolutionSpace` objects.

    Raises:
        ValueError: a malformed range.

    Examples:
        >>> from hypothesis import find
        >>> from jqgen.testing import strategies as jst
        >>> space = find(jst.solution_spaces(num_bits=4), lambda s: s.size > 1)
        >>> space.num_bits, bool(space.contains(space.enumerate()).all())
        (4, True)
    """
    n_range = int_range("num_bits", num_bits, 1)
    cards = st.integers(*n_range).flatmap(lambda n: st.builds(Cardinality, st.just(n), st.integers(0, n)))
    members = st.integers(*n_range).flatmap(
        lambda n: hnp.arrays(np.uint8, st.tuples(st.integers(1, 8), st.just(n)), elements=st.integers(0, 1)))
    parts = [cards, members.map(Enumerated)]
    grids = [(r, c) for r in range(1, 9) for c in range(1, 9) if n_range[0] <= r * c <= n_range[1]]
    if grids:
        parts.append(st.sampled_from(grids).map(lambda rc: BarsAndStripesSpace(*rc)))
    return st.one_of(*parts)
