"""Float32 range in the symmetric MPS's canonical forms and block sweeps (regressions of GEO's
``trainer="sweep"`` at N = 500, k = 50: NaN bond factorizations)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jqgen
from jqgen.mps import BlockMPS, SymmetricMPSBornMachine
from jqgen.mps._u1_canonical import left_canonical, right_canonical
from jqgen.mps._u1_sweep import _unit


def _blocks(n, k, chi, scale):
    """Random blocks in ``[0, scale)`` on the layout (numpy: nothing to compile)."""
    model = SymmetricMPSBornMachine(n, k, chi)
    mask = np.asarray(model.layout.block_mask)
    t = scale * np.random.default_rng(0).random(mask.shape) * mask
    return jnp.asarray(t, jnp.float32), jnp.ones(n, jnp.int32), jnp.asarray(model.layout.dims)


_GRAM_SCHMIDT = functools.partial(right_canonical, qr="gram-schmidt")


@pytest.mark.parametrize("canonical", [left_canonical, right_canonical, _GRAM_SCHMIDT],
                         ids=["left", "right-householder", "right-gram-schmidt"])
def test_canonical_forms_of_a_norm_beyond_float32_are_finite_and_exact_under_powers_of_two(canonical):
    """The norm carried from site to site overflowed float32 (log norm 93 at n = 500, k = 50,
    chi = 4 from the model's init; here 40 sites of entries up to 16): inf, then NaN blocks."""
    b, w, d = _blocks(40, 4, 2, 16.0)
    t, log_norm = canonical(b, w, d)
    assert bool(jnp.all(jnp.isfinite(t))) and float(log_norm) > 89  # exp(89) > float32's max
    t2, log2 = canonical(b * 2.0**-5, w, d)  # powers of two: the same blocks, bit for bit
    assert bool(jnp.all(t2 == t)) and abs(float(log_norm - log2) - 40 * 5 * np.log(2)) < 1e-3


@pytest.mark.slow
@pytest.mark.float64
def test_canonical_log_norm_beyond_float32_matches_float64():
    b, w, d = _blocks(40, 4, 2, 16.0)
    with jax.enable_x64(True):
        for canonical in (left_canonical, right_canonical):
            t64, log64 = canonical(jnp.asarray(b, jnp.float64), w, d)
            t32, log32 = canonical(b, w, d)
            assert abs(float(log32) - float(log64)) < 1e-5 * float(log64)
            np.testing.assert_allclose(np.asarray(t32), np.asarray(t64), atol=2e-5)


def test_unit_normalizes_a_step_whose_square_overflows_float32():
    th = jnp.array([3e28, -4e28, 0.0], jnp.float32)  # a gradient step after |psi| ~ 1e-30
    assert float(jnp.sqrt(jnp.sum(th**2))) == float("inf")  # the plain quotient gives 0, then 0 / 0
    np.testing.assert_allclose(np.asarray(_unit(th)), [0.6, -0.8, 0.0], rtol=1e-6)
    small = jnp.array([0.3, 0.4], jnp.float32)
    assert bool(jnp.all(_unit(small) == small / jnp.sqrt(jnp.sum(small**2))))  # bit-identical in range


@pytest.mark.slow
def test_a_training_string_of_tiny_amplitude_does_not_give_nan_blocks():
    """One training string's amplitude 1e-36 (its own block scaled down): the gradient through
    1/psi is ~1e28 and its square overflowed float32 in the normalization (NaN blocks)."""
    model = SymmetricMPSBornMachine(10, 3, 2)
    blocks = model._mask(model.init(jax.random.key(0)).blocks)
    blocks = blocks.at[2, 1, 2].multiply(1e-36)  # only 1110000000 passes through (site 2, bit 1, charge 2)
    data = np.array([[1, 1, 1] + [0] * 7] + [[0] * i + [1, 0, 1, 0, 1] + [0] * (5 - i) for i in range(6)] * 3,
                    np.uint8)
    res = jqgen.sweep_train(data, max_bond=2, loops=1, key=jax.random.key(0), lr=0.05, num_batches=1,
                            init=BlockMPS(blocks), target=3, progress=False)
    assert np.isfinite(res.history["train_nll"][0]) and bool(jnp.all(jnp.isfinite(res.mps.blocks)))


@pytest.mark.slow
def test_geo_sweep_training_at_500_sites_in_float32():
    """The reproduction: N = 500, k = 50, float32, four rounds of sweep training (round 1 failed
    on the init's canonical form, round 4 on a tiny-amplitude training string)."""
    from jqgen.geo import GeoSettings, geo, synthetic_instance

    problem = synthetic_instance(500, seed=0).binary(50, 1.0)
    res = geo(problem, SymmetricMPSBornMachine(500, 50, 4), 600, key=jax.random.key(0), progress=False,
              settings=GeoSettings(trainer="sweep", batch_size=100, seed_size=200, train_steps=2, train_size=256))
    assert len(res.rounds) == 4 and all(np.isfinite(r["train_loss"]) for r in res.rounds)
    assert res.best_cost < min(res.costs[:200])  # the sweeps' proposals improved on the random seeds


def test_gram_schmidt_and_householder_right_canonical_forms_are_the_same_state():
    """CGS2 (the sampler's QR) against LAPACK's Householder: both co-isometric per sector, equal
    up to signs of the bond basis, so the products ``B B^H`` agree; the removed norm is equal."""
    b, w, d = _blocks(12, 5, 3, 1.0)
    th, lh = right_canonical(b, w, d)
    tg, lg = _GRAM_SCHMIDT(b, w, d)
    assert abs(float(lh - lg)) < 1e-5 * abs(float(lh))
    for k in range(1, 12):  # sum_x B[k,x,q] B[k,x,q]^T: identity on the active rows of both
        gh = np.einsum("xqij,xqkj->qik", np.asarray(th[k]), np.asarray(th[k]))
        gg = np.einsum("xqij,xqkj->qik", np.asarray(tg[k]), np.asarray(tg[k]))
        np.testing.assert_allclose(gg, gh, atol=2e-5)
    model = SymmetricMPSBornMachine(12, 5, 3)
    x = model.layout.valid_bitstrings()[::7]
    np.testing.assert_allclose(np.asarray(model.log_prob(BlockMPS(tg), x)), np.asarray(model.log_prob(BlockMPS(th), x)),
                               atol=2e-5)


def test_sampler_in_several_chunks_draws_valid_strings_with_their_log_probabilities():
    """2,100 samples run as three scans of 700 (``_SAMPLE_CHUNK``): all valid, log-probabilities
    those of ``log_prob``, the chunks not copies of each other."""
    model = SymmetricMPSBornMachine(30, 9, 3)
    params = model.init(jax.random.key(0))
    x, lp = model.sample_and_log_prob(params, jax.random.key(1), 2100)
    x = np.asarray(x)
    assert x.shape == (2100, 30) and np.all(x.sum(axis=1) == 9)
    np.testing.assert_allclose(np.asarray(lp), np.asarray(model.log_prob(params, x)), atol=2e-4, rtol=1e-5)
    assert not np.array_equal(x[:700], x[700:1400])
