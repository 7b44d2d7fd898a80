"""Numerical stability at MNIST scale (784 sites) in float32."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jqgen
from jqgen.data import load_binary


@pytest.mark.slow
def test_random_784_site_mps_finite_log_prob_float32():
    mps = jqgen.mps.random_mps(jax.random.key(0), 784, 32)
    # far from normalized: each site scaled by 0.1 gives a norm of 1e-784 (underflows float32)
    tiny = jqgen.mps.MPS(mps.tensors * jnp.float32(0.1))
    bits = jax.random.bernoulli(jax.random.key(1), 0.2, (16, 784)).astype(jnp.uint8)
    lp = np.asarray(jqgen.mps.log_prob(tiny, bits))
    assert lp.dtype == np.float32 and np.all(np.isfinite(lp))
    np.testing.assert_allclose(lp, np.asarray(jqgen.mps.log_prob(mps, bits)), rtol=1e-4)
    assert np.isfinite(float(jqgen.mps.log_norm(tiny)))
    assert abs(float(jqgen.mps.log_norm(tiny)) - 784 * np.log(0.1)) < 0.05
    ent = np.asarray(jqgen.mps.entanglement_entropies(tiny))
    assert np.all(np.isfinite(ent)) and ent.max() <= np.log(32) + 1e-4


@pytest.mark.slow
def test_mnist_images_finite_under_untrained_model(shared_data):
    data = load_binary(os.path.join(shared_data, "mnist28_binary_1k.npz"), width=784)
    model = jqgen.MPSBornMachine(784, 16)
    params = model.init(jax.random.key(0))
    lp = np.asarray(jax.jit(model.log_prob)(params, data[:200]))
    assert np.all(np.isfinite(lp))
    grads = jax.grad(lambda p: -jnp.mean(model.log_prob(p, data[:50])))(params)
    assert np.all(np.isfinite(np.asarray(grads.tensors)))


def test_tiny_site_factor_does_not_underflow_float32():
    """A single-site amplitude of 1e-25 (probability 1e-50, below float32's range) still
    gives a finite, exact log-probability."""
    amps = np.ones((6, 2), np.float32)
    amps[3] = [1.0, 1e-25]
    mps = jqgen.mps.product_mps(jnp.asarray(amps), chi_max=2)
    bits = np.zeros((1, 6), np.uint8)
    bits[0, 3] = 1
    expected = 5 * np.log(0.5) + np.log(1e-50)
    lp = float(jqgen.mps.log_prob(mps, bits)[0])
    assert abs(lp - expected) < 1e-3
