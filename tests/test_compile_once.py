"""Compile once: a second identical eager call of a public entry point compiles nothing.

Every case below runs its entry point on one model, then again on an *equal model built
separately* with equal (freshly copied) parameters, and counts XLA compilations during the
second call through ``jax.monitoring`` (the backend-compile event JAX records for every
executable it builds). Jitted functions are keyed on the model's value, not its identity
(:mod:`jqgen._compiled`), so the count must be zero.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jqgen
from jqgen._compiled import compiled
from jqgen.data import bars_and_stripes, load_dataset
from jqgen.qcbm import HardwareEfficient, LiuWang, SU4Brickwork
from jqgen.testing import compile_log

def _copy(tree: Any) -> Any:
    """Equal parameters in new buffers (nothing may be keyed on array identity either)."""
    return jax.tree_util.tree_map(lambda x: jnp.asarray(np.asarray(x)), tree)


def assert_second_call_compiles_nothing(make_model: Callable[[], Any], call: Callable[[Any, Any], Any]) -> None:
    first = make_model()
    params = first.init(jax.random.key(0))
    jax.block_until_ready(call(first, params))
    second, params2 = make_model(), _copy(params)
    assert second == first and second is not first
    with compile_log() as names:
        jax.block_until_ready(call(second, params2))
    assert names == [], f"the second identical call compiled {names}"


def test_the_counter_sees_compilations():
    with compile_log() as names:
        jax.jit(lambda x: x * 3 + 1)(jnp.arange(7))  # a new function: must compile
    assert len(names) >= 1


KEY = jax.random.key(1)
BITS = np.asarray(bars_and_stripes(2, 2))

QCBM_CALLS = {
    "init": lambda m, p: m.init(jax.random.key(3)),
    "state": lambda m, p: m.state(p),
    "probs": lambda m, p: m.probs(p),
    "log_prob": lambda m, p: m.log_prob(p, BITS),
    "sample": lambda m, p: m.sample(p, KEY, 16),
    "sample_numpy_num": lambda m, p: m.sample(p, KEY, np.int64(16)),
    "sample_counts": lambda m, p: m.sample_counts(p, KEY, 100),
    "mean_nll": lambda m, p: jqgen.mean_nll(m, p, BITS),
    "batched_log_prob": lambda m, p: jqgen.batched_log_prob(m, p, BITS, batch_size=4),
}


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["fused", "tensorcircuit"])
@pytest.mark.parametrize("name", sorted(QCBM_CALLS))
def test_qcbm_entry_points_compile_once(name, engine):
    assert_second_call_compiles_nothing(lambda: jqgen.QCBM(HardwareEfficient(4, 2), engine=engine), QCBM_CALLS[name])


@pytest.mark.parametrize("ansatz", [LiuWang(4, 2), SU4Brickwork(4, 1)], ids=["liu-wang", "su4"])
def test_qcbm_probs_compile_once_for_every_ansatz(ansatz):
    assert_second_call_compiles_nothing(lambda: jqgen.QCBM(ansatz), QCBM_CALLS["probs"])


MPS_MODEL_CALLS = {
    "init": lambda m, p: m.init(jax.random.key(3)),
    "probs": lambda m, p: m.probs(p),
    "log_prob": lambda m, p: m.log_prob(p, BITS),
    "sample": lambda m, p: m.sample(p, KEY, 16),
    "sample_numpy_num": lambda m, p: m.sample(p, KEY, np.int32(16)),
    "mean_nll": lambda m, p: jqgen.mean_nll(m, p, BITS),
    "batched_log_prob": lambda m, p: jqgen.batched_log_prob(m, p, BITS, batch_size=4),
    # the jqgen.mps functions on the model's parameters
    "mps.log_prob": lambda m, p: jqgen.mps.log_prob(p, BITS),
    "mps.sample": lambda m, p: jqgen.mps.sample(p, KEY, 16),
    "mps.probs": lambda m, p: jqgen.mps.probs(p),
    "mps.normalize": lambda m, p: jqgen.mps.normalize(p).tensors,
}


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.complex64])
@pytest.mark.parametrize("name", sorted(MPS_MODEL_CALLS))
def test_mps_entry_points_compile_once(name, dtype):
    assert_second_call_compiles_nothing(lambda: jqgen.MPSBornMachine(4, 3, dtype=dtype), MPS_MODEL_CALLS[name])


@pytest.mark.slow
@pytest.mark.parametrize(
    "make_model",
    [lambda: jqgen.MPSBornMachine(6, 2), lambda: jqgen.QCBM(HardwareEfficient(6, 1))],
    ids=["mps", "qcbm"],
)
def test_evaluate_compiles_once(make_model):
    ds = load_dataset("cardinality-6-3-0.5")
    reports = []

    def call(m: Any, p: Any) -> None:
        reports.append(jqgen.evaluate(m, p, 1, ds, num_samples=200))

    assert_second_call_compiles_nothing(make_model, call)
    assert reports[0] == reports[1]


def test_equal_models_share_the_compiled_function():
    a, b = jqgen.QCBM(HardwareEfficient(4, 2)), jqgen.QCBM(HardwareEfficient(4, 2))
    assert a is not b and compiled(a, "_probs") is compiled(b, "_probs")
    assert compiled(a, "_probs") is not compiled(jqgen.QCBM(HardwareEfficient(4, 3)), "_probs")
    assert compiled(a, "_probs") is not compiled(a, "_state")


@pytest.mark.slow
def test_user_transformations_still_trace_the_methods():
    """Inside the caller's jit/vmap/grad the methods trace (no eager validation, no nested
    cache lookups) and agree with the eager compiled path."""
    model = jqgen.QCBM(HardwareEfficient(4, 2))
    p = model.init(jax.random.key(0))
    probs, g = jax.jit(lambda q: (model.probs(q), jax.grad(lambda r: jnp.mean(model.log_prob(r, BITS)))(q)))(p)
    np.testing.assert_allclose(np.asarray(probs), np.asarray(model.probs(p)), atol=1e-6)
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(g))
    batch = jax.vmap(model.init)(jax.random.split(jax.random.key(2), 3))
    assert jax.jit(jax.vmap(model.probs))(batch).shape == (3, 16)


def test_eager_validation_runs_before_the_compiled_call():
    model = jqgen.QCBM(HardwareEfficient(4, 2))
    p = model.init(jax.random.key(0))
    k0 = sorted(p)[0]
    bad = {**p, k0: p[k0].at[(0,) * p[k0].ndim].set(jnp.nan)}
    for call in (model.probs, model.state, lambda q: model.log_prob(q, BITS), lambda q: model.sample(q, KEY, 4)):
        with pytest.raises(ValueError, match="non-finite"):
            call(bad)
    with pytest.raises(ValueError, match="width 3"):
        model.log_prob(p, np.zeros((2, 3), np.uint8))
