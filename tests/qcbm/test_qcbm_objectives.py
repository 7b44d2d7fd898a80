"""QCBM objectives (parameter-shift gradients) and shot sampling; the losses themselves are
tested in test_distributions.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jqgen
from jqgen.data import bars_and_stripes
from jqgen.qcbm import QCBM, HardwareEfficient, LiuWang, SU4Brickwork
from tests.conftest import ALPHA, g_test_pvalue


# one layer on 3 qubits: every gate kind of each ansatz, entangling, with a shift rule per
# angle (the rule is local to each gate: more layers or qubits add only more of the same)
@pytest.mark.slow
@pytest.mark.parametrize("ansatz", [HardwareEfficient(3, 1, "all"), LiuWang(3, 1), SU4Brickwork(3, 1)])
@pytest.mark.parametrize("loss", ["mmd", "kl"])
@pytest.mark.float64
def test_exact_parameter_shift_equals_autodiff(ansatz, loss):
    model = QCBM(ansatz, dtype=jnp.float64)
    params = model.init(jax.random.key(1))
    data = jnp.asarray(np.random.default_rng(0).integers(0, 2, (10, ansatz.num_qubits)), jnp.uint8)
    # each loss as one compiled program (as fit runs it), not op by op
    v1, g1 = jax.jit(jqgen.qcbm.make_loss(model, loss))(params, data, jax.random.key(0))
    v2, g2 = jax.jit(jqgen.qcbm.make_loss(model, loss, gradient="parameter-shift"))(params, data, jax.random.key(0))
    assert float(v1) == pytest.approx(float(v2), rel=1e-12)
    for k in g1:
        np.testing.assert_allclose(np.asarray(g2[k]), np.asarray(g1[k]), atol=1e-10)


@pytest.mark.slow
def test_shot_parameter_shift_is_unbiased_for_mmd():
    """The mean of R shot-based gradients lies within 5 standard errors of autodiff's."""
    model = QCBM(HardwareEfficient(3, 1))
    params = model.init(jax.random.key(2))
    data = jnp.asarray(bars_and_stripes(1, 3))
    exact_fn = jax.jit(jqgen.qcbm.make_loss(model, "mmd"))
    exact = jax.flatten_util.ravel_pytree(exact_fn(params, data, jax.random.key(0))[1])[0]
    shot_fn = jqgen.qcbm.make_loss(model, "mmd", shots=200)
    r = 400
    # the R independent estimates in one vmapped program (not R calls)
    keys = jax.vmap(jax.random.key)(jnp.arange(r))
    _, g = jax.jit(jax.vmap(shot_fn, in_axes=(None, None, 0)))(params, data, keys)
    grads = np.asarray(jax.vmap(lambda t: jax.flatten_util.ravel_pytree(t)[0])(g))
    assert grads.shape == (r, exact.size)
    mean, se = grads.mean(0), grads.std(0, ddof=1) / np.sqrt(r)
    assert np.all(np.abs(mean - np.asarray(exact)) <= 5 * se + 1e-12), (mean, exact, se)
    assert np.all(se > 0)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [jnp.float32, pytest.param(jnp.float64, marks=pytest.mark.float64)])
def test_shots_match_probs_g_test(dtype):
    model = QCBM(HardwareEfficient(5, 2, "star"), dtype=dtype)
    params = model.init(jax.random.key(4))
    p = np.asarray(model.probs(params), np.float64)
    p = p / p.sum()
    samples = np.asarray(model.sample(params, jax.random.key(5), 40_000))
    assert g_test_pvalue(samples, p) > ALPHA
    counts = np.asarray(model.sample_counts(params, jax.random.key(6), 40_000))
    assert counts.sum() == 40_000 and counts[p == 0].sum() == 0
    expanded = np.repeat(np.asarray(jqgen.all_bitstrings(5)), counts, axis=0)
    assert g_test_pvalue(expanded, p) > ALPHA
    # power: a 3 % distortion of p is rejected
    q = p * (1 + 0.3 * (np.arange(p.size) % 2 - 0.5))
    assert g_test_pvalue(samples, q / q.sum()) < ALPHA


def test_samples_reproducible_by_key_and_counts_helper():
    model = QCBM(LiuWang(4, 1))
    params = model.init(jax.random.key(0))
    a = model.sample(params, jax.random.key(1), 100)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(model.sample(params, jax.random.key(1), 100)))
    assert not np.array_equal(np.asarray(a), np.asarray(model.sample(params, jax.random.key(2), 100)))
    c = jqgen.distributions.histogram(a, 4)
    assert int(c.sum()) == 100 and c.shape == (16,)
    np.testing.assert_array_equal(np.asarray(model.sample_counts(params, jax.random.key(3), 50)),
                                  np.asarray(model.sample_counts(params, jax.random.key(3), 50)))


def test_deterministic_circuit_samples_exactly():
    model = QCBM(HardwareEfficient(3, 1))
    params = jax.tree_util.tree_map(jnp.zeros_like, model.init(jax.random.key(0)))
    params["first"] = params["first"].at[1, 0].set(np.pi)  # RX(pi) on qubit 1: |010>
    assert np.all(np.asarray(model.sample(params, jax.random.key(0), 64)) == np.array([0, 1, 0]))
    assert int(model.sample_counts(params, jax.random.key(0), 64)[2]) == 64
