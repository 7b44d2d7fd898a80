"""jqgen.distributions: divergences, MMD under both kernel conventions (against dense kernel
matrices built here), histograms and counts, the loss factory, and bad input."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import stats

import jqgen
from jqgen.distributions import (
    DEFAULT_SIGMAS, KERNELS, LOSSES, counts_to_probs, cross_entropy, distribution_loss, empirical_distribution, entropy,
    histogram, kernel_matvec, kl_divergence, mmd, mmd_samples, sample_counts, total_variation,
)


def dist(seed, n, zeros=0.0):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(2**n))
    drop = rng.random(2**n) < zeros
    drop[np.argmax(p)] = False
    p[drop] = 0
    return jnp.asarray(p / p.sum())


def explicit_kernel(n, sigmas):
    bits = np.array(list(itertools.product([0, 1], repeat=n)))
    d = np.abs(bits[:, None, :] - bits[None, :, :]).sum(-1)
    return sum(np.exp(-d / (2 * s)) for s in sigmas) / len(sigmas)


def dense_kernel(n, sigmas, kernel):
    """The ``2**n x 2**n`` kernel matrix from the stated convention, entry by entry."""
    bits = list(itertools.product([0, 1], repeat=n))
    k = np.zeros((2**n, 2**n))
    for i, x in enumerate(bits):
        for j, y in enumerate(bits):
            sq = float(np.sum((np.array(x) - np.array(y)) ** 2))  # |x - y|^2 = Hamming distance
            k[i, j] = np.mean([np.exp(-sq / (2 * s)) if kernel == "liu-wang" else np.exp(-sq / (2 * s**2))
                               for s in sigmas])
    return k


# ----------------------------------------------------------------- moved from test_qcbm_objectives


@given(st.integers(1, 6), st.integers(0, 10**6))
@pytest.mark.float64
def test_kernel_matvec_equals_explicit_kernel(n, seed):
    v = np.random.default_rng(seed).normal(size=2**n)
    k = explicit_kernel(n, jqgen.distributions.DEFAULT_SIGMAS)
    np.testing.assert_allclose(np.asarray(jqgen.distributions.kernel_matvec(jnp.asarray(v))), k @ v, atol=1e-12)


@pytest.mark.slow
@given(st.integers(1, 6), st.integers(0, 10**6), st.integers(0, 10**6))
def test_mmd_is_zero_on_itself_symmetric_and_positive(n, s1, s2):
    assume(s1 != s2)  # equal seeds can draw p == q
    p, q = dist(s1, n, 0.3), dist(s2, n)
    assert abs(float(jqgen.distributions.mmd(p, p))) < 1e-15
    assert float(jqgen.distributions.mmd(p, q)) == pytest.approx(float(jqgen.distributions.mmd(q, p)), abs=1e-15)
    assert float(jqgen.distributions.mmd(p, q)) > 0


@pytest.mark.slow
@pytest.mark.float64
def test_mmd_from_samples_equals_mmd_of_histograms():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (300, 5)).astype(np.uint8)
    y = (rng.random((200, 5)) < 0.3).astype(np.uint8)
    hx = jqgen.distributions.empirical_distribution(x, 5, jnp.float64)
    hy = jqgen.distributions.empirical_distribution(y, 5, jnp.float64)
    assert float(jqgen.distributions.mmd_samples(x, y)) == pytest.approx(float(jqgen.distributions.mmd(hx, hy)), rel=1e-10)
    assert float(jqgen.distributions.mmd_samples(x, x, unbiased=True)) < float(jqgen.distributions.mmd_samples(x, x))


@given(st.integers(1, 6), st.integers(0, 10**6), st.integers(0, 10**6))
@pytest.mark.float64
def test_kl_and_nll(n, s1, s2):
    t, p = dist(s1, n, 0.5), dist(s2, n)
    kl = float(jqgen.distributions.kl_divergence(t, p))
    assert kl >= 0 and abs(float(jqgen.distributions.kl_divergence(t, t))) < 1e-12
    entropy = -float(jnp.sum(jnp.where(t > 0, t * jnp.log(jnp.where(t > 0, t, 1)), 0)))
    assert float(jqgen.distributions.cross_entropy(t, p)) == pytest.approx(kl + entropy, rel=1e-10)
    ref = stats.entropy(np.asarray(t), np.asarray(p))
    assert kl == pytest.approx(ref, rel=1e-9)


# ----------------------------------------------------------------- kernels against dense matrices


@pytest.mark.slow
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.float64
def test_both_kernels_match_the_dense_matrix(kernel, n):
    sigmas = (0.7, 1.5, 3.0)
    k = dense_kernel(n, sigmas, kernel)
    rng = np.random.default_rng(n)
    v = rng.normal(size=2**n)
    np.testing.assert_allclose(np.asarray(kernel_matvec(jnp.asarray(v), sigmas, kernel=kernel)), k @ v, atol=1e-12)
    p, q = dist(n, n, 0.3), dist(n + 1, n)
    d = np.asarray(p - q)
    assert float(mmd(p, q, sigmas, kernel=kernel)) == pytest.approx(d @ k @ d, rel=1e-10, abs=1e-15)
    x = rng.integers(0, 2, (40, n)).astype(np.uint8)
    y = rng.integers(0, 2, (30, n)).astype(np.uint8)
    ix, iy = np.asarray(jqgen.bits_to_index(x)), np.asarray(jqgen.bits_to_index(y))
    v_stat = k[ix][:, ix].mean() + k[iy][:, iy].mean() - 2 * k[ix][:, iy].mean()
    assert float(mmd_samples(x, y, sigmas, kernel=kernel)) == pytest.approx(v_stat, rel=1e-10)
    kxx, kyy = k[ix][:, ix], k[iy][:, iy]
    u_stat = ((kxx.sum() - np.trace(kxx)) / (40 * 39) + (kyy.sum() - np.trace(kyy)) / (30 * 29)
              - 2 * k[ix][:, iy].mean())
    assert float(mmd_samples(x, y, sigmas, True, kernel=kernel)) == pytest.approx(u_stat, rel=1e-10)


def test_the_kernels_differ_and_relate_by_squaring_sigma():
    p, q = dist(0, 4, 0.3), dist(1, 4)
    lw, tc = float(mmd(p, q, (0.5, 2.0))), float(mmd(p, q, (0.5, 2.0), kernel="tensorcircuit"))
    assert abs(lw - tc) > 1e-4 * lw
    assert tc == pytest.approx(float(mmd(p, q, (0.25, 4.0))), rel=1e-12)  # tensorcircuit(sigma) = liu-wang(sigma^2)


@given(st.integers(1, 5), st.integers(0, 10**6), st.integers(0, 10**6))
def test_tensorcircuit_mmd_is_zero_on_itself_symmetric_and_positive(n, s1, s2):
    assume(s1 != s2)
    p, q = dist(s1, n, 0.3), dist(s2, n)
    f = lambda a, b: float(mmd(a, b, kernel="tensorcircuit"))  # noqa: E731
    assert abs(f(p, p)) < 1e-15 and f(p, q) == pytest.approx(f(q, p), abs=1e-15) and f(p, q) > 0


# ----------------------------------------------------------------- divergences


@pytest.mark.slow
@given(st.integers(1, 6), st.integers(0, 10**6), st.integers(0, 10**6))
def test_divergences_are_non_negative_and_vanish_on_equal_arguments(n, s1, s2):
    t, p = dist(s1, n, 0.5), dist(s2, n, 0.5)
    for smoothing in ("clip", "smooth"):
        assert float(kl_divergence(t, p, smoothing=smoothing)) >= -1e-12
    assert abs(float(kl_divergence(t, t, smoothing="smooth"))) < 1e-6
    assert float(cross_entropy(t, p)) >= float(entropy(t)) - 1e-12 >= -1e-12
    assert 0 <= float(entropy(t)) <= n * np.log(2) + 1e-12
    assert float(total_variation(t, t)) == 0 and 0 <= float(total_variation(t, p)) <= 1


@given(st.integers(1, 5), st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6))
def test_total_variation_is_a_metric(n, s1, s2, s3):
    p, q, r = dist(s1, n, 0.3), dist(s2, n, 0.3), dist(s3, n, 0.3)
    tv = lambda a, b: float(total_variation(a, b))  # noqa: E731
    assert tv(p, q) == pytest.approx(tv(q, p), abs=1e-15)
    assert tv(p, r) <= tv(p, q) + tv(q, r) + 1e-12
    assert tv(p, q) > 0 or np.array_equal(np.asarray(p), np.asarray(q))


def test_total_variation_examples_and_top_level_name():
    assert float(total_variation([1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5])) == 1.0  # disjoint supports
    assert float(total_variation([0.5, 0.5], [0.75, 0.25])) == 0.25
    assert jqgen.total_variation is total_variation
    assert float(jax.jit(total_variation)(jnp.array([0.5, 0.5]), jnp.array([0.75, 0.25]))) == 0.25


@pytest.mark.float64
def test_entropy_examples():
    assert float(entropy(jnp.full(8, 1 / 8))) == pytest.approx(3 * np.log(2), rel=1e-12)
    assert float(entropy(jnp.array([1.0, 0.0, 0.0, 0.0]))) == 0.0
    p = dist(3, 4)
    assert float(entropy(p)) == pytest.approx(float(cross_entropy(p, p)), rel=1e-12)
    assert float(entropy(p)) == pytest.approx(stats.entropy(np.asarray(p)), rel=1e-12)
    assert np.all(np.isfinite(np.asarray(jax.grad(entropy)(jnp.array([0.5, 0.5, 0.0, 0.0])))))


@pytest.mark.slow
@given(st.integers(1, 5), st.integers(0, 10**6), st.integers(0, 10**6))
def test_smooth_kl_is_finite_where_clip_is_and_has_no_kink(n, s1, s2):
    t, p = dist(s1, n, 0.2), dist(s2, n, 0.7)  # p vanishes on part of t's support
    clip, smooth = float(kl_divergence(t, p)), float(kl_divergence(t, p, smoothing="smooth"))
    assert np.isfinite(clip) and np.isfinite(smooth) and smooth >= -1e-12
    g_clip = np.asarray(jax.grad(lambda q: kl_divergence(t, q))(p))
    g_smooth = np.asarray(jax.grad(lambda q: kl_divergence(t, q, smoothing="smooth"))(p))
    assert np.all(np.isfinite(g_smooth)) and np.all(np.isfinite(g_clip))
    starved = (np.asarray(t) > 0) & (np.asarray(p) < 1e-8)
    assert np.all(g_clip[starved] == 0) and np.all(g_smooth[starved] < 0)  # clip is flat below eps, smooth pulls up
    q = dist(s2, n)  # no zeros: both approach the exact KL
    exact = float(stats.entropy(np.asarray(t), np.asarray(q)))
    for s in ("clip", "smooth"):
        assert float(kl_divergence(t, q, 1e-12, smoothing=s)) == pytest.approx(exact, rel=1e-6, abs=1e-9)


# ----------------------------------------------------------------- histograms and counts


@pytest.mark.slow
@given(st.sampled_from([1, 3, 6]), st.sampled_from([1, 150]), st.integers(0, 10**6))  # few shapes: few compilations
@pytest.mark.float64
def test_histogram_counts_to_probs_round_trip(n, q, seed):
    x = np.random.default_rng(seed).integers(0, 2, (q, n)).astype(np.uint8)
    h = histogram(x, n)
    assert h.dtype == jnp.int32 and h.shape == (2**n,) and int(h.sum()) == q
    emp = np.asarray(empirical_distribution(x, n, jnp.float64))
    np.testing.assert_allclose(counts_to_probs(h, n), emp, rtol=1e-15)
    as_dict = {format(i, f"0{n}b"): int(c) for i, c in enumerate(np.asarray(h)) if c}
    np.testing.assert_array_equal(counts_to_probs(as_dict, n), counts_to_probs(h, n))
    back = np.repeat(np.asarray(jqgen.all_bitstrings(n)), np.asarray(h), axis=0)
    np.testing.assert_array_equal(np.asarray(histogram(back, n)), np.asarray(h))


@pytest.mark.slow
@given(st.sampled_from([1, 3, 6]), st.sampled_from([1, 2000]), st.integers(0, 10**6))
def test_sample_counts_sums_to_shots_and_respects_zeros(n, shots, seed):
    p = dist(seed, n, 0.4)
    c = np.asarray(sample_counts(p, jax.random.key(seed), shots))
    assert c.dtype == np.int32 and c.sum() == shots and np.all(c >= 0) and c[np.asarray(p) == 0].sum() == 0
    np.testing.assert_array_equal(c, np.asarray(sample_counts(p, jax.random.key(seed), shots)))


def test_sample_counts_is_multinomial():
    p = np.array([0.5, 0.2, 0.2, 0.1])
    draw = jax.jit(jax.vmap(lambda k: sample_counts(jnp.asarray(p), k, 100)))
    c = np.asarray(draw(jax.random.split(jax.random.key(0), 300)))
    assert np.all(np.abs(c.mean(0) - 100 * p) <= 5 * np.sqrt(100 * p * (1 - p) / 300))
    np.testing.assert_allclose(c.var(0, ddof=1), 100 * p * (1 - p), rtol=0.25)


def test_counts_to_probs_accepts_float_counts_and_jit():
    assert counts_to_probs({"10": 1.5, "01": 0.5}, 2).tolist() == [0.0, 0.25, 0.75, 0.0]
    out = jax.jit(lambda c: counts_to_probs(c, 2))(jnp.array([1, 0, 3, 0], jnp.int32))
    np.testing.assert_allclose(np.asarray(out), [0.25, 0.0, 0.75, 0.0])


# ----------------------------------------------------------------- the loss factory


def test_distribution_loss_matches_the_functions():
    t, p = dist(0, 4, 0.5), dist(1, 4, 0.3)
    assert LOSSES == ("mmd", "kl", "nll")
    assert float(distribution_loss("kl", eps=1e-6)(p, t)) == float(kl_divergence(t, p, 1e-6))
    assert float(distribution_loss("nll")(p, t)) == float(cross_entropy(t, p))
    assert float(distribution_loss("mmd")(p, t)) == float(mmd(p, t, DEFAULT_SIGMAS))
    assert float(distribution_loss("mmd", sigmas=(1.0,), kernel="tensorcircuit")(p, t)) == float(
        mmd(p, t, (1.0,), kernel="tensorcircuit"))
    g = jax.jit(jax.grad(distribution_loss("kl")))(p, t)
    assert g.shape == (16,) and np.all(np.isfinite(np.asarray(g)))


# ----------------------------------------------------------------- bad input


def test_nan_or_negative_probabilities_raise_when_concrete():
    t = jnp.array([0.5, np.nan, 0.25, 0.25])
    p = jnp.full(4, 0.25)
    with pytest.raises(ValueError, match=r"target has a non-finite entry \(nan\) at index \(1,\)"):
        kl_divergence(t, p)
    for f in (cross_entropy, total_variation, lambda a, b: mmd(a, b)):
        with pytest.raises(ValueError, match="non-finite"):
            f(t, p)
    with pytest.raises(ValueError, match=r"p has a negative entry \(-0.25\)"):
        kl_divergence(p, jnp.array([0.5, -0.25, 0.5, 0.25]))
    with pytest.raises(ValueError, match="non-finite"):
        entropy(t)
    with pytest.raises(ValueError, match="negative"):
        sample_counts(jnp.array([0.5, -0.5, 1.0, 0.0]), jax.random.key(0), 10)


def test_no_python_checks_on_tracers():
    t = jnp.array([0.5, np.nan, 0.25, 0.25])
    p = jnp.full(4, 0.25)
    assert jax.jit(kl_divergence)(t, p).shape == ()  # traced: no eager check, no error
    assert jax.vmap(total_variation)(jnp.stack([t, p]), jnp.stack([p, p])).shape == (2,)
    out = jax.jit(lambda c: counts_to_probs(c, 2))(jnp.array([1.0, -1.0, 3.0, 1.0]))
    np.testing.assert_allclose(np.asarray(out), [0.25, -0.25, 0.75, 0.25])


def test_bad_counts_name_the_problem():
    with pytest.raises(ValueError, match=r"counts\['0101'\] = -1; counts must be finite and >= 0"):
        counts_to_probs({"0101": -1, "0000": 3}, 4)
    with pytest.raises(ValueError, match="counts key '0201' is not a bitstring: character '2' at position 1"):
        counts_to_probs({"0201": 3}, 4)
    with pytest.raises(ValueError, match="counts key '010' is not a 4-bit string"):
        counts_to_probs({"010": 3}, 4)
    with pytest.raises(ValueError, match="counts key 5 is not a 4-bit string"):
        counts_to_probs({5: 3}, 4)
    with pytest.raises(ValueError, match=r"counts\['0001'\] = nan"):
        counts_to_probs({"0001": float("nan")}, 4)
    with pytest.raises(ValueError, match="must be a number"):
        counts_to_probs({"0001": "many"}, 4)
    with pytest.raises(ValueError, match="counts are empty"):
        counts_to_probs({}, 4)
    with pytest.raises(ValueError, match="counts are empty"):
        counts_to_probs({"0000": 0}, 4)
    with pytest.raises(ValueError, match=r"shape \(16,\)"):
        counts_to_probs(np.ones(8), 4)
    with pytest.raises(ValueError, match="negative entry"):
        counts_to_probs(np.array([1, -1, 0, 0]), 2)
    with pytest.raises(ValueError, match="num_bits"):
        counts_to_probs({"0": 1}, 0)


def test_bad_names_and_settings_raise():
    p = jnp.full(4, 0.25)
    for f in (lambda: mmd(p, p, kernel="gaussian"), lambda: kernel_matvec(p, kernel="rbf"),
              lambda: mmd_samples(np.zeros((2, 2)), np.zeros((2, 2)), kernel="x"),
              lambda: distribution_loss("mmd", kernel="x")):
        with pytest.raises(ValueError, match=r"kernel must be one of \('liu-wang', 'tensorcircuit'\)"):
            f()
    with pytest.raises(ValueError, match=r"smoothing must be one of \('clip', 'smooth'\)"):
        kl_divergence(p, p, smoothing="laplace")
    with pytest.raises(ValueError, match="loss must be one of"):
        distribution_loss("hinge")
    for f in (lambda: distribution_loss("kl", eps=0.0), lambda: kl_divergence(p, p, 0.0), lambda: cross_entropy(p, p, -1.0)):
        with pytest.raises(ValueError, match="eps must be > 0"):
            f()
    for s in ((), (0.0,), (1.0, -2.0), (float("nan"),)):
        with pytest.raises(ValueError, match="sigmas"):
            mmd(p, p, s)
    with pytest.raises(ValueError, match="sigmas"):
        distribution_loss("mmd", sigmas=(0.0,))
    with pytest.raises(ValueError, match="2\\*\\*n"):
        mmd(jnp.ones(3) / 3, jnp.ones(3) / 3)
    with pytest.raises(ValueError, match="equal length"):
        kl_divergence(jnp.ones(4) / 4, jnp.ones(8) / 8)
    with pytest.raises(ValueError, match="only 0/1"):
        mmd_samples(np.array([[0, 2]]), np.array([[0, 1]]))
    with pytest.raises(ValueError, match="equal width"):
        mmd_samples(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        mmd_samples(np.zeros((1, 2)), np.zeros((2, 2)), unbiased=True)
    with pytest.raises(ValueError, match="at least one sample"):
        empirical_distribution(np.zeros((0, 3), np.uint8), 3)
    with pytest.raises(ValueError, match="width 3"):
        histogram(np.zeros((2, 3), np.uint8), 2)
    with pytest.raises(ValueError, match="shots must be a positive int"):
        sample_counts(p, jax.random.key(0), 0)
