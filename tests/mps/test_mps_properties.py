"""Property tests of the MPS core against dense and independent references (the property
tests run in float64: their references agree to 1e-9 and better), and the float32 default
paths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import jqgen
from tests.conftest import dense_reference

DTYPES = [jnp.float64, jnp.complex128]


@st.composite
def mps_cases(draw, max_n=10):
    # A fixed menu of shapes keeps compilations (cached per shape) few; the menu covers the
    # edge cases: n = 2, chi = 1 (product states), chi saturating 2**(n//2) (n = 5, chi = 5),
    # odd n, and bonds below saturation (n = 8).
    n = draw(st.sampled_from([n for n in (2, 5, 8) if n <= max_n]))
    chi = draw(st.sampled_from([1, 2, 5]))
    seed = draw(st.integers(0, 2**31 - 1))
    dtype = draw(st.sampled_from(DTYPES))
    return jqgen.mps.random_mps(jax.random.key(seed), n, chi, dtype=dtype)


def _unnormalize(mps, seed):
    """Scales each site tensor by a random factor so the state is far from normalized."""
    scales = np.exp(np.random.default_rng(seed).normal(0, 1, mps.num_sites))
    return jqgen.mps.MPS(mps.tensors * jnp.asarray(scales, mps.dtype)[:, None, None, None])


@pytest.mark.slow
@given(mps_cases())
@pytest.mark.float64
def test_probs_normalized_and_match_independent_contraction(mps):
    mps = _unnormalize(mps, 0)
    p = np.asarray(jqgen.mps.probs(mps))
    assert p.shape == (2**mps.num_sites,)
    assert abs(p.sum() - 1) < 1e-10
    ref = np.abs(dense_reference(mps.tensors)) ** 2
    np.testing.assert_allclose(p, ref / ref.sum(), rtol=1e-9, atol=1e-14)


@pytest.mark.slow
@given(mps_cases())
@pytest.mark.float64
def test_log_prob_agrees_with_to_dense(mps):
    mps = _unnormalize(mps, 1)
    n = mps.num_sites
    lp = np.asarray(jqgen.mps.log_prob(mps, jqgen.all_bitstrings(n)))
    psi = np.asarray(jqgen.mps.to_dense(mps))
    p = np.abs(psi) ** 2 / np.sum(np.abs(psi) ** 2)
    keep = p > 1e-200
    np.testing.assert_allclose(lp[keep], np.log(p[keep]), rtol=1e-9, atol=1e-9)
    assert np.all(np.isneginf(lp[~keep]) | (lp[~keep] < -400))


@given(mps_cases(), st.data())
@pytest.mark.float64
def test_canonical_tensors_are_isometries(mps, data):
    n, chi = mps.num_sites, mps.chi_max
    center = data.draw(st.integers(0, n - 1))
    t = np.asarray(jqgen.mps.canonicalize(_unnormalize(mps, 2), center).tensors)
    dims = jqgen.mps.bond_dims(n, chi)
    for k in range(n):
        a = t[k]
        if k < center:  # sum_s A^H A = projector on the right bond
            gram = np.einsum("asb,asc->bc", a.conj(), a)
            expect = np.diag((np.arange(chi) < dims[k + 1]).astype(float))
        elif k > center:  # sum_s B B^H = projector on the left bond
            gram = np.einsum("asb,csb->ac", a, a.conj())
            expect = np.diag((np.arange(chi) < dims[k]).astype(float))
        else:
            assert abs(np.sum(np.abs(a) ** 2) - 1) < 1e-10  # the norm lives in the centre
            continue
        np.testing.assert_allclose(gram, expect, atol=1e-10)


@pytest.mark.slow
@given(mps_cases(), st.data())
@pytest.mark.float64
def test_canonicalization_leaves_log_prob_unchanged(mps, data):
    n = mps.num_sites
    mps = _unnormalize(mps, 3)
    center = data.draw(st.integers(0, n - 1))
    bits = jqgen.all_bitstrings(n)
    before = np.asarray(jqgen.mps.log_prob(mps, bits))
    for form in (jqgen.mps.canonicalize(mps, center), jqgen.mps.left_canonical(mps), jqgen.mps.right_canonical(mps)):
        after = np.asarray(jqgen.mps.log_prob(form, bits))
        ok = before > -200
        np.testing.assert_allclose(after[ok], before[ok], atol=1e-8)
        assert abs(float(jqgen.mps.norm(form)) - 1) < 1e-10


@pytest.mark.slow
@given(mps_cases())
@pytest.mark.float64
def test_from_dense_to_dense_round_trip(mps):
    psi = np.asarray(jqgen.mps.to_dense(mps))
    back = jqgen.mps.from_dense(psi)
    np.testing.assert_allclose(np.asarray(jqgen.mps.to_dense(back)), psi, atol=1e-12)
    # and the round trip through the original bond dimension is exact too
    again = jqgen.mps.from_dense(psi, chi_max=mps.chi_max)
    np.testing.assert_allclose(np.asarray(jqgen.mps.to_dense(again)), psi, atol=1e-10)


@pytest.mark.slow
@given(mps_cases(max_n=8))
@pytest.mark.float64
def test_schmidt_values_match_dense_svd(mps):
    n = mps.num_sites
    psi = np.asarray(jqgen.mps.to_dense(mps))
    psi = psi / np.linalg.norm(psi)
    s = np.asarray(jqgen.mps.schmidt_values(mps))
    ent = np.asarray(jqgen.mps.entanglement_entropies(mps))
    for b in range(1, n):
        ref = np.linalg.svd(psi.reshape(2**b, -1), compute_uv=False)
        m = min(len(ref), s.shape[1])
        np.testing.assert_allclose(s[b - 1, :m], ref[:m], atol=1e-10)
        p = ref**2
        p = p[p > 1e-30]
        assert abs(ent[b - 1] - float(-(p * np.log(p)).sum())) < 1e-8


def test_log_norm_of_long_product_state_is_exact():
    n = 784
    mps = jqgen.mps.product_mps(jnp.ones((n, 2), jnp.float32), chi_max=4)
    assert jqgen.mps.log_norm(mps).dtype == jnp.float32
    assert abs(float(jqgen.mps.log_norm(mps)) - n / 2 * np.log(2)) < 1e-3
    normed = jqgen.mps.normalize(mps)
    assert abs(float(jqgen.mps.log_norm(normed))) < 1e-3


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.complex64])
def test_float32_default_paths_keep_dtype(dtype):
    mps = jqgen.mps.random_mps(jax.random.key(0), 6, 3, dtype=dtype)
    real = jnp.finfo(dtype).dtype
    assert mps.dtype == dtype
    assert jqgen.mps.log_prob(mps, jnp.zeros((2, 6), jnp.uint8)).dtype == real
    assert jqgen.mps.probs(mps).dtype == real
    assert jqgen.mps.sample_and_log_prob(mps, jax.random.key(1), 4)[1].dtype == real
    assert jqgen.mps.canonicalize(mps, 2).dtype == dtype


def test_bond_dims_and_product_state_probabilities():
    assert jqgen.mps.bond_dims(6, 3) == (1, 2, 3, 3, 3, 2, 1)
    amps = jnp.asarray([[1.0, 0.0], [0.6, 0.8], [1.0, 1.0]], jnp.float32)
    p = np.asarray(jqgen.mps.probs(jqgen.mps.product_mps(amps, chi_max=3)))
    assert p.dtype == np.float32
    ref = np.einsum("i,j,k->ijk", [1, 0], [0.36, 0.64], [0.5, 0.5]).ravel()
    # float32 (the default): probabilities <= 1 from a few roundings agree to ~1e-7
    np.testing.assert_allclose(p, ref, atol=1e-6)
