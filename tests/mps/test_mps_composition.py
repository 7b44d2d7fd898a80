"""jit, vmap and grad compose with the public MPS functions and agree with eager values
(float32, as users run them; the finite-difference check of the gradient in float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jqgen

# float32 tolerances: log-probabilities of 7 sites (|log p| < 30) from the same kernels
# traced inside and outside the user's jit agree to a few ulps (~1e-6 relative)
RTOL32 = 1e-5


@pytest.fixture
def mps7():
    return jqgen.mps.random_mps(jax.random.key(0), 7, 3)


@pytest.mark.slow
def test_jit_matches_eager(mps7):
    bits = jqgen.all_bitstrings(7)
    np.testing.assert_allclose(
        np.asarray(jax.jit(jqgen.mps.log_prob)(mps7, bits)), np.asarray(jqgen.mps.log_prob(mps7, bits)), rtol=RTOL32
    )
    np.testing.assert_allclose(np.asarray(jax.jit(jqgen.mps.probs)(mps7)), np.asarray(jqgen.mps.probs(mps7)),
                               rtol=RTOL32, atol=1e-8)
    can = jax.jit(jqgen.mps.canonicalize)(mps7, 3)  # traced centre
    np.testing.assert_allclose(np.asarray(can.tensors), np.asarray(jqgen.mps.canonicalize(mps7, 3).tensors), atol=1e-5)
    s1 = jax.jit(jqgen.mps.sample, static_argnums=2)(mps7, jax.random.key(1), 10)
    np.testing.assert_array_equal(np.asarray(s1), np.asarray(jqgen.mps.sample(mps7, jax.random.key(1), 10)))


@pytest.mark.slow
def test_vmap_over_a_batch_of_mps():
    keys = jax.random.split(jax.random.key(2), 4)
    batch = jax.vmap(lambda k: jqgen.mps.random_mps(k, 6, 3))(keys)
    assert batch.tensors.shape == (4, 6, 3, 2, 3) and batch.tensors.dtype == jnp.float32
    bits = jqgen.all_bitstrings(6)
    lp = jax.vmap(jqgen.mps.log_prob, in_axes=(0, None))(batch, bits)
    ent = jax.vmap(jqgen.mps.entanglement_entropies)(batch)
    samples = jax.vmap(jqgen.mps.sample, in_axes=(0, 0, None))(batch, keys, 5)
    for i in range(4):
        single = jqgen.mps.MPS(batch.tensors[i])
        np.testing.assert_allclose(np.asarray(lp[i]), np.asarray(jqgen.mps.log_prob(single, bits)), rtol=RTOL32)
        np.testing.assert_allclose(np.asarray(ent[i]), np.asarray(jqgen.mps.entanglement_entropies(single)), atol=1e-5)
        np.testing.assert_array_equal(np.asarray(samples[i]), np.asarray(jqgen.mps.sample(single, keys[i], 5)))


@pytest.mark.slow
@pytest.mark.float64
def test_grad_of_user_loss_matches_finite_differences():
    """float64: central differences with eps = 1e-6 resolve the gradient to ~1e-9 only there."""
    mps64 = jqgen.mps.random_mps(jax.random.key(0), 7, 3, dtype=jnp.float64)
    data = jnp.asarray([[0, 1, 1, 0, 1, 0, 0], [1, 1, 1, 0, 0, 0, 1]], jnp.uint8)

    def loss(tensors):
        return -jnp.mean(jqgen.mps.log_prob(jqgen.mps.MPS(tensors), data))

    g = jax.grad(loss)(mps64.tensors)
    gj = jax.jit(jax.grad(loss))(mps64.tensors)
    np.testing.assert_allclose(np.asarray(gj), np.asarray(g), atol=1e-12)
    rng = np.random.default_rng(0)
    mask = np.asarray(jqgen.mps.from_tensors(jnp.ones_like(mps64.tensors)).tensors)  # active entries
    for _ in range(3):
        d = jnp.asarray(rng.normal(size=mps64.tensors.shape) * mask)
        eps = 1e-6
        fd = (loss(mps64.tensors + eps * d) - loss(mps64.tensors - eps * d)) / (2 * eps)
        assert abs(float(jnp.sum(g * d)) - float(fd)) < 1e-6 * max(1.0, abs(float(fd)))


@pytest.mark.slow
def test_grad_under_vmap_of_batch():
    keys = jax.random.split(jax.random.key(3), 3)
    batch = jax.vmap(lambda k: jqgen.mps.random_mps(k, 5, 2))(keys)
    bits = jnp.asarray([[0, 1, 0, 1, 1]], jnp.uint8)
    grads = jax.vmap(jax.grad(lambda m: jqgen.mps.log_prob(m, bits)[0]))(batch)
    assert grads.tensors.shape == batch.tensors.shape
    assert np.all(np.isfinite(np.asarray(grads.tensors)))


def test_model_satisfies_protocol():
    model = jqgen.MPSBornMachine(num_bits=5, chi_max=3)
    assert isinstance(model, jqgen.GenerativeModel)
    params = model.init(jax.random.key(0))
    assert float(jnp.sum(model.probs(params))) == pytest.approx(1.0, abs=1e-5)
    x = model.sample(params, jax.random.key(1), 7)
    assert x.shape == (7, 5) and x.dtype == jnp.uint8
    assert model.log_prob(params, x).shape == (7,)
    hash(model)  # static: usable as a jit static argument
