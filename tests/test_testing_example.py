"""The property test that docs/testing.md shows (tests/test_testing.py checks that the page
quotes this file verbatim, from ``import jax`` on)."""

import jax
from hypothesis import given, settings

import jqgen
from jqgen.testing import check_generative_model, check_normalized, strategies as jst


@settings(max_examples=3, deadline=None)
@given(jst.mps_models(num_bits=3, chi=2, dtypes="float32", init_noise=0.5))
def test_drawn_mps_pass_every_protocol_check(model_params):
    model, params = model_params  # random MPS parameters (init or Gaussian, canonical)
    check_generative_model(model, params, key=jax.random.key(1))


@settings(max_examples=3, deadline=None)
@given(jst.qcbms(ansatz=jqgen.qcbm.HardwareEfficient(3, 2)))
def test_circuits_with_drawn_angles_are_normalized(model_params):
    check_normalized(*model_params)
