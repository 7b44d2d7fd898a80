"""Two-site sweep training (Han et al.): environments, gradient, truncation, resume."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jqgen
from jqgen.data import bars_and_stripes
from jqgen.mps._sweep import environments, merged_nll, two_site_gradient


def _random_data(n, m, seed):
    return (np.random.default_rng(seed).random((m, n)) < 0.4).astype(np.uint8)


def _direct_left(t, bits, k):
    """Contraction of sites < k for each bitstring, by explicit matrix products."""
    out = []
    for v in bits:
        e = np.zeros(t.shape[-1])
        e[0] = 1
        for j in range(k):
            e = e @ t[j][:, v[j], :]
        out.append(e)
    return np.array(out)


def test_environments_agree_with_direct_contraction():
    n, chi = 7, 4
    mps = jqgen.left_canonical(jqgen.random_mps(jax.random.key(0), n, chi, dtype=jnp.float64))
    bits = _random_data(n, 9, 1)
    carry = environments(mps.tensors, jnp.asarray(bits), jnp.asarray(jqgen.bond_dims(n, chi)))
    t = np.asarray(mps.tensors)
    for k in range(n):
        direct = _direct_left(t, bits, k)
        scaled = np.asarray(carry.left[k]) * np.exp(np.asarray(carry.left_log[k]))[:, None]
        np.testing.assert_allclose(scaled, direct, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(carry.left[3]), axis=1), 1, atol=1e-12)


def test_two_site_gradient_matches_jax_grad_of_nll():
    n, chi, k = 6, 3, 2
    mps = jqgen.canonicalize(jqgen.random_mps(jax.random.key(2), n, chi, dtype=jnp.float64), k)
    t = np.asarray(mps.tensors)
    bits = _random_data(n, 16, 3)
    left = jnp.asarray(_direct_left(t, bits, k))
    # right environments of sites > k + 1, by the mirror image of the same contraction
    mirror = np.flip(t, 0).transpose(0, 3, 2, 1)
    right = jnp.asarray(_direct_left(mirror, bits[:, ::-1], n - k - 2))
    x1, x2 = jnp.asarray(bits[:, k]), jnp.asarray(bits[:, k + 1])
    a = jnp.einsum("asb,btc->astc", t[k], t[k + 1])
    assert abs(float(jnp.sum(a * a)) - 1) < 1e-12  # mixed-canonical: Z = |A|^2 = 1

    def nll(a):
        chi_ = a.shape[0]
        la = (left @ a.reshape(chi_, 4 * chi_)).reshape(-1, 4, chi_)
        psi = jnp.sum(la[jnp.arange(len(bits)), 2 * x1 + x2] * right, axis=-1)
        return -jnp.mean(jnp.log(psi**2)) + jnp.log(jnp.sum(a * a))

    # the cached-environment NLL is the model's exact NLL
    zeros = jnp.zeros(len(bits))
    assert float(merged_nll(left, zeros, a, right, zeros, x1, x2)) == pytest.approx(
        -float(jnp.mean(jqgen.log_prob(mps, bits))), rel=1e-10)
    assert float(nll(a)) == pytest.approx(-float(jnp.mean(jqgen.log_prob(mps, bits))), rel=1e-10)
    g = two_site_gradient(left, a, right, x1, x2)
    np.testing.assert_allclose(np.asarray(g), -0.5 * np.asarray(jax.grad(nll)(a)), atol=1e-10)


def test_truncation_respects_chi_max_and_keeps_normalization():
    data = bars_and_stripes(3, 3)
    res = jqgen.sweep_train(data, chi_max=3, loops=2, key=jax.random.key(0), lr=0.05,
                            descent_steps=5, num_batches=1, cutoff=0.0, progress=False)
    assert res.bond_dims.max() <= 3 and res.bond_dims[0] == res.bond_dims[-1] == 1
    assert max(res.history["max_bond"]) <= 3
    assert float(jqgen.norm(res.mps)) == pytest.approx(1, abs=1e-5)
    p = np.asarray(jnp.exp(jqgen.log_prob(res.mps, jqgen.all_bitstrings(9))))
    assert p.sum() == pytest.approx(1, abs=1e-4)
    t = np.asarray(res.mps.tensors)
    for k in range(9):  # nothing outside the current bond dimensions
        assert not t[k, res.bond_dims[k]:].any() and not t[k, :, :, res.bond_dims[k + 1]:].any()


def test_small_lr_lowers_nll_monotonically_and_matches_exact_nll():
    data = _random_data(8, 40, 4)
    res = jqgen.sweep_train(data, chi_max=16, loops=5, key=jax.random.key(1), lr=2e-3,
                            descent_steps=1, num_batches=1, cutoff=0.0, dtype=jnp.float64, progress=False)
    nll = np.asarray(res.history["train_nll"])
    assert np.all(np.diff(nll) < 0), nll
    assert jqgen.mean_nll(res.model, res.mps, data) == pytest.approx(nll[-1], rel=1e-10)


def test_bars_and_stripes_4x4_reaches_ln30_with_the_authors_settings(shared_data):
    ref = np.load(f"{shared_data}/bars_stripes_4x4.npy").reshape(30, 16).astype(np.uint8)
    res = jqgen.sweep_train(ref, chi_max=300, loops=2, key=jax.random.key(0), lr=0.1, cutoff=5e-5,
                            descent_steps=10, num_batches=1, progress=False)
    assert res.history["train_nll"][-1] <= 3.41


def test_kill_and_resume_is_bit_identical(tmp_path):
    data = _random_data(10, 30, 5)
    kw = dict(chi_max=8, key=jax.random.key(3), lr=0.02, descent_steps=3, num_batches=3,
              cutoff=1e-3, progress=False, chunk=4)
    full = jqgen.sweep_train(data, loops=4, **kw)
    path = tmp_path / "run.npz"

    class Killed(Exception):
        pass

    def kill_after_two(loop, history):
        if loop == 2:
            raise Killed

    with pytest.raises(Killed):
        jqgen.sweep_train(data, loops=4, checkpoint_path=path, callback=kill_after_two, **kw)
    resumed = jqgen.sweep_train(data, loops=4, checkpoint_path=path, **kw)
    np.testing.assert_array_equal(np.asarray(resumed.mps.tensors), np.asarray(full.mps.tensors))
    assert resumed.history["train_nll"] == full.history["train_nll"]
    np.testing.assert_array_equal(resumed.bond_dims, full.bond_dims)


@pytest.mark.parametrize(
    "kw,match",
    [({"cutoff": -0.1}, "cutoff"), ({"chi_min": 9}, "chi_min"), ({"lr": 0.0}, "lr"),
     ({"lr": -1e-3}, "lr"), ({"loops": 0}, "loops"), ({"num_batches": 100}, "num_batches"),
     ({"lr_decay_on_rise": 2.0}, "lr_decay_on_rise"), ({"dtype": jnp.complex64}, "dtype")],
)
def test_bad_hyperparameters(kw, match):
    args = dict(chi_max=8, loops=1, key=jax.random.key(0), num_batches=1, progress=False)
    with pytest.raises(ValueError, match=match):
        jqgen.sweep_train(bars_and_stripes(2, 2), **{**args, **kw})


def test_bad_data():
    with pytest.raises(ValueError, match="0/1"):
        jqgen.sweep_train(np.full((4, 5), 2), chi_max=4, loops=1, key=jax.random.key(0), progress=False)
    with pytest.raises(ValueError, match="at least 3"):
        jqgen.sweep_train(np.zeros((4, 2), np.uint8), chi_max=4, loops=1, key=jax.random.key(0), progress=False)


def test_mnist_cutoff_schedule_that_crashes_the_reference_stays_finite(shared_data):
    """The reference code divides by psi = 0 at bond 276 in its second loop (cutoff 1e-7
    after a first loop at 0.3); normalized environments keep every psi finite."""
    data = np.load(f"{shared_data}/mnist28_binary_1k.npz")["data"]
    res = jqgen.sweep_train(data, chi_max=32, loops=3, key=jax.random.key(0), lr=lambda i: 0.05 if i == 0 else 1e-3,
                            descent_steps=10, num_batches=10,
                            cutoff=lambda i: 0.3 if i == 0 else 1e-7, progress=False)
    nll = np.asarray(res.history["train_nll"])
    assert np.all(np.isfinite(nll)) and nll[-1] < nll[0]
    assert np.isfinite(jqgen.mean_nll(res.model, res.mps, data))
