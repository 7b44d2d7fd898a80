"""The hand-written gradients of the symmetric MPS's likelihood kernels (jqgen.mps._u1_likelihood)
against reverse-mode autodiff of the same scans, and against an independent dense reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from jqgen.mps import BlockMPS, SymmetricMPSBornMachine
from jqgen.mps._u1_likelihood import _log_amp_auto, _log_norm_right, log_amp_sq, log_norm_sq
from tests.mps.test_symmetric_mps import _dense_reference


def _case(n, target, chi, weights, seed, dtype):
    """Random normal blocks on the layout, 6 valid strings (drawn from all of them, or sampled
    from the blocks for n > 20) and 4 random, mostly invalid, rows. numpy where it can: an eager
    jax.random.normal, model.init and the sampler each compile once per shape."""
    model = SymmetricMPSBornMachine(n, target, chi_max=chi, weights=weights, dtype=dtype)
    rng = np.random.default_rng(seed)
    mask = model.layout.block_mask
    noise = rng.normal(size=mask.shape)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        noise = (noise + 1j * rng.normal(size=mask.shape)) / np.sqrt(2)
    blocks = jnp.asarray(noise * mask, dtype)
    if n <= 20:
        every = model.layout.valid_bitstrings()
        bits = every[rng.choice(len(every), 6)]
    else:
        bits = np.asarray(model.sample(BlockMPS(blocks), jax.random.key(seed + 1), 6))
    bits = np.concatenate([bits, rng.integers(0, 2, (4, n), dtype=np.uint8)])  # mostly invalid rows
    g = jnp.asarray(rng.normal(size=len(bits)), dtype)
    return model, blocks, model._w(), jnp.asarray(bits), g


def _loss(amp, norm, w, bits, g):
    def f(b):
        la = amp(b, w, bits)
        return jnp.sum(jnp.where(jnp.isfinite(la), g * la, jnp.zeros_like(la))) - 3 * norm(b, w)
    return f


@pytest.mark.float64
def test_written_gradients_equal_autodiff_on_a_weighted_layout():
    model, blocks, w, bits, g = _case(6, 4, 3, (1, 2, 0, 1, 3, 1), 5, jnp.float64)
    valid = np.asarray(model.in_support(bits))
    assert 0 < valid.sum() < len(valid)
    # jitted: autodiff of the scans, run eagerly, costs seconds more than its compilation
    written = jax.jit(jax.grad(_loss(log_amp_sq, log_norm_sq, w, bits, g)))(blocks)
    auto = jax.jit(jax.grad(_loss(_log_amp_auto, lambda b, w: _log_norm_right(b, w)[0], w, bits[valid],
                                  g[valid])))(blocks)
    np.testing.assert_allclose(written, auto, rtol=1e-10, atol=1e-10 * float(jnp.max(jnp.abs(auto))))


@pytest.mark.slow
@pytest.mark.float64
@settings(max_examples=8, deadline=None)
@given(n=st.integers(3, 9), chi=st.integers(1, 4), seed=st.integers(0, 10**6), data=st.data())
def test_written_gradients_equal_autodiff_in_float64(n, chi, seed, data):
    weights = tuple(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    reach = sum(weights)
    target = data.draw(st.integers(0, reach))
    try:
        model, blocks, w, bits, g = _case(n, target, chi, weights, seed, jnp.float64)
    except ValueError:  # no string meets the target within this bond dimension
        assume(False)
    # the written gradient of an invalid row is exactly 0; autodiff of the masked log is NaN there,
    # so the reference sees the valid rows only
    valid = np.asarray(model.in_support(bits))
    # jitted: autodiff of the scans, run eagerly, costs seconds more than its compilation
    written = jax.jit(jax.grad(_loss(log_amp_sq, log_norm_sq, w, bits, g)))(blocks)
    auto = jax.jit(jax.grad(_loss(_log_amp_auto, lambda b, w: _log_norm_right(b, w)[0], w, bits[valid],
                                  g[valid])))(blocks)
    np.testing.assert_allclose(written, auto, rtol=1e-10, atol=1e-10 * float(jnp.max(jnp.abs(auto))))


@pytest.mark.slow
@pytest.mark.float64
def test_norm_gradient_matches_the_dense_reference():
    model, blocks, w, _, _ = _case(7, 3, 3, None, 4, jnp.float64)
    dense = jax.grad(lambda b: jnp.log(jnp.sum(_dense_reference(model, b, xp=jnp) ** 2)))(blocks)
    np.testing.assert_allclose(jax.grad(log_norm_sq)(blocks, w), dense, rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_float32_long_chain_gradients_agree_with_float64():
    """n = 200, k = 20 in float32 (sectors far apart in scale): the written gradients of a
    weighted NLL are finite and agree with the float64 ones."""
    model, blocks, w, bits, g = _case(200, 20, 4, None, 1, jnp.float32)
    valid = bits[:6]
    f32 = jax.grad(_loss(log_amp_sq, log_norm_sq, w, valid, g[:6]))(blocks)
    with jax.enable_x64(True):
        b64 = blocks.astype(jnp.float64)
        f64 = jax.grad(_loss(log_amp_sq, log_norm_sq, w.astype(jnp.int32), valid, g[:6].astype(jnp.float64)))(b64)
        f64 = np.asarray(f64)
    assert np.all(np.isfinite(np.asarray(f32)))
    np.testing.assert_allclose(np.asarray(f32), f64, atol=2e-4 * np.max(np.abs(f64)))


@pytest.mark.slow
def test_complex_blocks_take_the_autodiff_path():
    model, blocks, w, bits, g = _case(6, 2, 2, None, 3, jnp.complex64)
    blocks = blocks + 0.3j * blocks[::-1]
    grad = jax.grad(lambda b: jnp.real(log_norm_sq(b, w)))(blocks)
    assert grad.dtype == jnp.complex64 and bool(jnp.all(jnp.isfinite(grad)))
