"""Hypothesis strategies for property tests of models built on jqgen (import as ``jst``).

Models with their parameters, each strategy drawing ``(model, params)``:
:func:`mps_models` (real and complex :class:`jqgen.MPSBornMachine`),
:func:`symmetric_mps_models` (:class:`jqgen.mps.SymmetricMPSBornMachine`), :func:`qcbms`
(:class:`jqgen.QCBM` on :func:`ansatze`) and :func:`conserving_qcbms`
(:class:`jqgen.qcbm.ConservingQCBM` on :func:`givens_ansatze`); :func:`qcbm_params` draws
the angles of any circuit model or ansatz from the structure of its own ``init``.
Binary data sets (``uint8 [N, n]``): :func:`independent_bits`, :func:`planted_patterns`,
:func:`bars_and_stripes_data`, :func:`cardinality_data` and any of them,
:func:`binary_datasets`. Solution spaces: :func:`solution_spaces`.

Sizes are small by default (``n`` up to 4 for models, 8 for data) so that examples are fast;
every size and range is an argument.

Examples:
    >>> from hypothesis import given, settings
    >>> from jqgen.testing import strategies as jst
    >>> @settings(max_examples=3, deadline=None)
    ... @given(jst.cardinality_data(num_bits=(3, 6), k=2))
    ... def test_rows_have_two_ones(data):
    ...     assert (data.sum(axis=1) == 2).all()
    >>> test_rows_have_two_ones()
"""

from ._data_strategies import (bars_and_stripes_data, binary_datasets, cardinality_data, independent_bits,
                               planted_patterns, solution_spaces)
from ._model_strategies import (ansatze, conserving_qcbms, givens_ansatze, mps_models, qcbm_params, qcbms,
                                symmetric_mps_models)

__all__ = [
    "ansatze",
    "bars_and_stripes_data",
    "binary_datasets",
    "cardinality_data",
    "conserving_qcbms",
    "givens_ansatze",
    "independent_bits",
    "mps_models",
    "planted_patterns",
    "qcbm_params",
    "qcbms",
    "solution_spaces",
    "symmetric_mps_models",
]
