"""The protocol as an enforced contract: every model family passes the same checks.

Every test is parametrized over the one list :data:`FAMILIES`. A new model family joins by
implementing :class:`jqgen.GenerativeModel` (including ``from_config``), registering its
class in :data:`jqgen.checkpoint.MODEL_FAMILIES`, and adding a small instance (3 bits,
default float32) here; nothing else in this file names a family.

The properties are the checkers users run on their own models (:mod:`jqgen.testing`), so
this suite tests them by use; the last tests run them on models drawn by its hypothesis
strategies.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from hypothesis import given, settings

import jqgen
from jqgen.qcbm import HardwareEfficient, LiuWang, SU4Brickwork
from jqgen.testing import strategies as jst
from jqgen.testing import (ALPHA, check_checkpoint_round_trip, check_compiles_once, check_config_round_trip,
                           check_deterministic, check_input_validation, check_normalized, check_sampling,
                           check_shapes_and_dtypes, check_transforms, g_test_pvalue)

N = 3  # small: the suite compiles every family's circuit a few times
_ANSATZE = {"hardware-efficient": HardwareEfficient(N, 2), "liu-wang": LiuWang(N, 2), "su4": SU4Brickwork(N, 1)}

#: Every model family (and variant) the protocol is checked on. The complex variants and the
#: TensorCircuit engine of two of the three ansatz families run in the slow tier only (the
#: default suite's time budget); ``python -m pytest -m slow`` checks them.
FAMILIES = [
    # init_noise 0.5: a start near uniform (the default 4.0 puts ~98% on one string at N = 3,
    # which leaves the G-test of test_samples_follow_probs no power to see its 10% tilt)
    pytest.param(jqgen.MPSBornMachine(N, 2, init_noise=0.5), id="mps-real"),
    pytest.param(jqgen.MPSBornMachine(N, 2, init_noise=0.5, dtype=jnp.complex64), id="mps-complex",
                 marks=pytest.mark.slow),
    *[
        pytest.param(jqgen.QCBM(ansatz, engine=engine), id=f"qcbm-{name}-{engine}",
                     marks=[pytest.mark.slow] if engine == "tensorcircuit" and name != "su4" else [])
        for name, ansatz in _ANSATZE.items()
        for engine in ("fused", "tensorcircuit")
    ],
    # constrained families (they have ``in_support``): only strings of weight 2
    pytest.param(jqgen.mps.SymmetricMPSBornMachine(N, 2, 2), id="symmetric-mps"),
    pytest.param(jqgen.mps.SymmetricMPSBornMachine(N, 2, 2, dtype=jnp.complex64), id="symmetric-mps-complex",
                 marks=pytest.mark.slow),
    pytest.param(jqgen.qcbm.ConservingQCBM(jqgen.qcbm.Givens(N, 2, 2)), id="qcbm-conserving"),
]

ALL_BITS = np.asarray(jqgen.all_bitstrings(N))
DATA = np.asarray([[0, 0, 0], [1, 1, 1], [0, 1, 1], [1, 1, 1], [1, 0, 0]], np.uint8)


def _leaves_equal(a: Any, b: Any) -> bool:
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    same_tree = jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    return same_tree and all(x.dtype == y.dtype and np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


@pytest.fixture(params=FAMILIES)
def model(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture
def params(model: Any) -> Any:
    return model.init(jax.random.key(0))


def test_implements_the_runtime_checkable_protocol(model):
    assert isinstance(model, jqgen.GenerativeModel)
    assert isinstance(model.num_bits, int) and model.num_bits == N
    hash(model)
    assert callable(type(model).from_config)


def test_in_support_and_fit_refuse_what_the_model_cannot_generate(model, params):
    """A constrained family says which strings it generates, and ``fit`` refuses other data."""
    if not hasattr(model, "in_support"):
        return
    np.testing.assert_array_equal(np.asarray(model.in_support(ALL_BITS)), ALL_BITS.sum(axis=1) == 2)
    with pytest.raises(ValueError, match="row 0 .* outside the support"):
        jqgen.fit(model, params, DATA, optax.sgd(0.1), key=jax.random.key(0), steps=1, progress=False)


def test_shapes_and_dtypes(model, params):
    """Hashable, num_bits an int, params shaped as init's, log_prob [...] in the real dtype,
    samples uint8 [num, n] for num an int, np.int64 or np.int32, probs [2**n]."""
    check_shapes_and_dtypes(model, params)


def test_init_and_samples_are_deterministic_in_the_key(model, params):
    check_deterministic(model, params, key=jax.random.key(5))
    assert _leaves_equal(model.init(jax.random.key(0)), params)


def test_normalization_and_log_prob_agree_with_probs(model, params):
    """Sums to 1 over all 2**n strings (over in_support, exact -inf elsewhere), agrees with probs."""
    check_normalized(model, params)
    if hasattr(model, "in_support"):  # any rows: -inf where p = 0, never NaN
        lp = np.asarray(model.log_prob(params, np.stack([DATA[:2], DATA[2:4]])))
        assert lp.shape == (2, 2) and np.all(np.isneginf(lp[0])) and np.isfinite(lp[1, 0])


def test_bad_input_raises(model, params):
    """ValueError for num in (0, -1, 2.5, True) and for bad bits, naming what is wrong."""
    check_input_validation(model, params)
    with pytest.raises(ValueError, match=f"width {N + 1}"):
        model.log_prob(params, np.zeros((2, N + 1), np.uint8))
    with pytest.raises(ValueError, match="0/1"):
        model.log_prob(params, np.full((1, N), 2, np.uint8))
    with pytest.raises(ValueError, match="num"):
        model.sample(params, jax.random.key(2), 0)


def test_config_round_trip(model):
    check_config_round_trip(model)


def test_checkpoint_round_trip(model, params):
    check_checkpoint_round_trip(model, params)


def test_jit_vmap_grad_agree_with_eager(model, params):
    """One program (jit of vmap over two parameter sets, init of split keys and grad inside)
    against eager calls per member; the gradient against central finite differences."""
    check_transforms(model, params, key=jax.random.key(4))


# Samples agree with probs: G-test at significance ALPHA on NUM_SAMPLES samples
# (jqgen.testing.check_sampling, whose docstring states its power against any distribution
# at a given total-variation distance). With 2**3 = 8 bins and 20,000 samples, a 10 % tilt
# of p (q ~ p * (1 +- 0.1) by index parity) gives G ~ 20,000 * 0.01 = 200 on 7 degrees of
# freedom, rejected at p < 1e-30: the power check asserts that the same samples reject it at
# 1e-6 for this family's p. Seeds are fixed, so each test is a deterministic pass/fail.
NUM_SAMPLES = 20_000


def test_samples_follow_probs(model, params):
    key = jax.random.key(7)
    check_sampling(model, params, key=key, num_samples=NUM_SAMPLES, alpha=ALPHA)
    p = np.asarray(model.probs(params), np.float64)
    p = p / p.sum()
    x = np.asarray(model.sample(params, key, NUM_SAMPLES))
    tilt = np.where(np.arange(p.size) % 2 == 0, 1.1, 0.9)
    assert g_test_pvalue(x, p * tilt / np.sum(p * tilt)) < 1e-6


def test_second_eager_call_on_an_equal_model_compiles_nothing(model, params):
    """The compile-once rule (tests/test_compile_once.py covers every entry point)."""
    check_compiles_once(model, params, key=jax.random.key(8))


#: Models drawn by jqgen.testing's strategies, with random parameters (Gaussian MPS, drawn
#: angles, weighted constraints), not only ``init``'s: the value properties on a few each.
DRAWN = [
    # float32 at the FAMILIES' size: the kernels mps-real compiled serve (the default tier's budget)
    pytest.param(jst.mps_models(num_bits=N, chi=2, init_noise=0.5, dtypes="float32"), id="mps"),
    pytest.param(jst.mps_models(num_bits=N, chi=(1, 3), dtypes="complex64"), id="mps-complex", marks=pytest.mark.slow),
    pytest.param(jst.symmetric_mps_models(num_bits=N, chi=2, weighted=True, dtypes="float32"), id="symmetric-mps",
                 marks=pytest.mark.slow),
    pytest.param(jst.qcbms(ansatz=jst.ansatze(num_qubits=N, layers=1)), id="qcbm", marks=pytest.mark.slow),
    pytest.param(jst.conserving_qcbms(ansatz=jst.givens_ansatze(num_qubits=N, weight=(1, 2), layers=1)),
                 id="qcbm-conserving"),
]


@pytest.mark.parametrize("strategy", DRAWN)
def test_drawn_models_are_normalized_and_sample_their_probabilities(strategy):
    @settings(max_examples=3, deadline=None)
    @given(strategy)
    def check(model_params):
        check_normalized(*model_params)
        check_sampling(*model_params, key=jax.random.key(9), num_samples=NUM_SAMPLES)

    check()
