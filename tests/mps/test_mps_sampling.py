"""MPS perfect sampling matches the exact distribution (G-test with a power check)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jqgen
from tests.conftest import ALPHA, g_test_pvalue

NUM_SAMPLES = 40_000  # the power check below rejects a 3 % distortion by a wide margin


@pytest.mark.slow
@pytest.mark.parametrize(
    "n,chi,dtype,seed",
    [(6, 3, jnp.float32, 0), pytest.param(8, 4, jnp.float64, 1, marks=pytest.mark.float64), (7, 2, jnp.complex64, 2)],
)
def test_empirical_distribution_matches_probs(n, chi, dtype, seed):
    mps = jqgen.mps.random_mps(jax.random.key(seed), n, chi, dtype=dtype)
    # un-normalize and leave the canonical form: sample() must canonicalize itself
    mps = jqgen.mps.MPS(mps.tensors * jnp.asarray(3.0, dtype))
    p = np.asarray(jqgen.mps.probs(mps), np.float64)
    samples = np.asarray(jqgen.mps.sample(mps, jax.random.key(100 + seed), NUM_SAMPLES))
    assert samples.shape == (NUM_SAMPLES, n) and samples.dtype == np.uint8
    assert g_test_pvalue(samples, p) > ALPHA
    # power: the same samples against a 3 % distorted distribution must be rejected
    q = np.roll(p, 1) * 0.03 + p * 0.97
    assert g_test_pvalue(samples, q) < 1e-6


@pytest.mark.slow
@pytest.mark.float64
def test_sample_log_probs_are_exact_and_samples_differ_by_key():
    mps = jqgen.mps.random_mps(jax.random.key(3), 12, 5, dtype=jnp.float64)
    x, lp = jqgen.mps.sample_and_log_prob(mps, jax.random.key(4), 500)
    np.testing.assert_allclose(np.asarray(lp), np.asarray(jqgen.mps.log_prob(mps, x)), atol=1e-10)
    y = jqgen.mps.sample(mps, jax.random.key(5), 500)
    assert not np.array_equal(np.asarray(x), np.asarray(y))
    z = jqgen.mps.sample(mps, jax.random.key(4), 500)
    np.testing.assert_array_equal(np.asarray(x), np.asarray(z))  # reproducible by key


@pytest.mark.slow
def test_sampling_784_sites_float32():
    mps = jqgen.mps.random_mps(jax.random.key(6), 784, 16)
    x, lp = jqgen.mps.sample_and_log_prob(mps, jax.random.key(7), 64)
    assert x.shape == (64, 784)
    lp_direct = np.asarray(jqgen.mps.log_prob(mps, x))
    assert np.all(np.isfinite(lp_direct)) and np.all(np.isfinite(np.asarray(lp)))
    # sum of 784 float32 log-terms: agree to float32 accuracy relative to |log p| ~ 500
    np.testing.assert_allclose(np.asarray(lp), lp_direct, rtol=1e-4)


def test_deterministic_state_is_sampled_exactly():
    amps = jnp.asarray([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], jnp.float32)
    x = np.asarray(jqgen.mps.sample(jqgen.mps.product_mps(amps, chi_max=2), jax.random.key(0), 100))
    assert (x == np.array([1, 0, 1, 1], np.uint8)).all()
