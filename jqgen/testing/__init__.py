"""Property testing for models built on jqgen: conformance checkers and hypothesis strategies.

Checkers take a model (any :class:`jqgen.GenerativeModel`) and its parameters and raise an
``AssertionError`` that names the property that failed, the model, the key and the numbers:
:func:`check_generative_model` runs them all (:data:`CHECKS`); each is public on its own:
:func:`check_shapes_and_dtypes`, :func:`check_input_validation`, :func:`check_normalized`,
:func:`check_sampling` (a G-test whose power is stated: :func:`g_test_power`,
:func:`detectable_tv`), :func:`check_deterministic`, :func:`check_transforms` (jit, vmap,
grad), :func:`check_config_round_trip`, :func:`check_checkpoint_round_trip` and
:func:`check_compiles_once` (with :func:`compile_log`, the programs compiled in a block). The strategies (also in :mod:`jqgen.testing.strategies`) draw
models with parameters, binary data sets with a chosen structure and solution spaces.

jqgen's own conformance suite (``tests/test_protocol_conformance.py``) runs on these. The
package needs ``hypothesis`` (``pip install "jqgen[testing]"``); ``import jqgen`` never
imports it.

Examples:
    >>> import jax, jqgen
    >>> from jqgen.testing import check_generative_model, check_normalized
    >>> model = jqgen.MPSBornMachine(3, 2)
    >>> params = model.init(jax.random.key(0))
    >>> check_normalized(model, params)
    >>> bad = jqgen.mps.MPS(params.tensors[:2])
    >>> check_generative_model(model, bad)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: shapes and dtypes failed for MPSBornMachine(...) with params {.tensors: float32[2, 2, 2, 2]}: params do not have the structure, shapes and dtypes init gives: {.tensors: float32[3, 2, 2, 2]}
"""

try:
    import hypothesis  # noqa: F401 - the strategies need it
except ImportError as e:  # pragma: no cover - tested in a subprocess
    raise ImportError("jqgen.testing needs hypothesis, a test dependency that jqgen itself does not install: "
                      "pip install \"jqgen[testing]\" (or pip install \"hypothesis>=6.100\")") from e

from . import strategies
from ._model_check import CHECKS, check_generative_model
from ._properties import (check_deterministic, check_input_validation, check_normalized, check_sampling,
                          check_shapes_and_dtypes)
from ._roundtrip import check_checkpoint_round_trip, check_config_round_trip
from ._stats import ALPHA, GTest, detectable_tv, g_test, g_test_power, g_test_pvalue
from ._transforms import check_compiles_once, check_transforms, compile_log
from .strategies import (ansatze, bars_and_stripes_data, binary_datasets, cardinality_data, conserving_qcbms,
                         givens_ansatze, independent_bits, mps_models, planted_patterns, qcbm_params, qcbms,
                         solution_spaces, symmetric_mps_models)

__all__ = [
    "ALPHA",
    "CHECKS",
    "GTest",
    "ansatze",
    "bars_and_stripes_data",
    "binary_datasets",
    "cardinality_data",
    "check_checkpoint_round_trip",
    "check_compiles_once",
    "check_config_round_trip",
    "check_deterministic",
    "check_generative_model",
    "check_input_validation",
    "check_normalized",
    "check_sampling",
    "check_shapes_and_dtypes",
    "check_transforms",
    "compile_log",
    "conserving_qcbms",
    "detectable_tv",
    "g_test",
    "g_test_power",
    "g_test_pvalue",
    "givens_ansatze",
    "independent_bits",
    "mps_models",
    "planted_patterns",
    "qcbm_params",
    "qcbms",
    "solution_spaces",
    "strategies",
    "symmetric_mps_models",
]
