"""Two-site sweep training (Han et al.): environments, gradient, truncation, resume."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jqgen
from jqgen.checkpoint import load_checkpoint, save_checkpoint
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


@pytest.mark.slow
@pytest.mark.float64
def test_environments_agree_with_direct_contraction():
    n, chi = 7, 4
    mps = jqgen.mps.left_canonical(jqgen.mps.random_mps(jax.random.key(0), n, chi, dtype=jnp.float64))
    bits = _random_data(n, 9, 1)
    carry = environments(mps.tensors, jnp.asarray(bits), jnp.asarray(jqgen.mps.bond_dims(n, chi)))
    t = np.asarray(mps.tensors)
    for k in range(n):
        direct = _direct_left(t, bits, k)
        scaled = np.asarray(carry.left[k]) * np.exp(np.asarray(carry.left_log[k]))[:, None]
        np.testing.assert_allclose(scaled, direct, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(carry.left[3]), axis=1), 1, atol=1e-12)


@pytest.mark.slow
@pytest.mark.float64
def test_two_site_gradient_matches_jax_grad_of_nll():
    n, chi, k = 6, 3, 2
    mps = jqgen.mps.canonicalize(jqgen.mps.random_mps(jax.random.key(2), n, chi, dtype=jnp.float64), k)
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
        -float(jnp.mean(jqgen.mps.log_prob(mps, bits))), rel=1e-10)
    assert float(nll(a)) == pytest.approx(-float(jnp.mean(jqgen.mps.log_prob(mps, bits))), rel=1e-10)
    g = two_site_gradient(left, a, right, x1, x2)
    np.testing.assert_allclose(np.asarray(g), -0.5 * np.asarray(jax.grad(nll)(a)), atol=1e-10)


@pytest.mark.slow
def test_truncation_respects_chi_max_and_keeps_normalization():
    data = bars_and_stripes(3, 3)
    res = jqgen.sweep_train(data, max_bond=3, loops=2, key=jax.random.key(0), lr=0.05,
                            descent_steps=5, num_batches=1, cutoff=0.0, progress=False)
    assert res.bond_dims.max() <= 3 and res.bond_dims[0] == res.bond_dims[-1] == 1
    assert max(res.history["max_bond"]) <= 3
    assert float(jqgen.mps.norm(res.mps)) == pytest.approx(1, abs=1e-5)
    p = np.asarray(jnp.exp(jqgen.mps.log_prob(res.mps, jqgen.all_bitstrings(9))))
    assert p.sum() == pytest.approx(1, abs=1e-4)
    t = np.asarray(res.mps.tensors)
    for k in range(9):  # nothing outside the current bond dimensions
        assert not t[k, res.bond_dims[k]:].any() and not t[k, :, :, res.bond_dims[k + 1]:].any()


@pytest.mark.slow
@pytest.mark.float64
def test_small_lr_lowers_nll_monotonically_and_matches_exact_nll():
    data = _random_data(8, 40, 4)
    res = jqgen.sweep_train(data, max_bond=16, loops=5, key=jax.random.key(1), lr=2e-3,
                            descent_steps=1, num_batches=1, cutoff=0.0, dtype=jnp.float64, progress=False)
    nll = np.asarray(res.history["train_nll"])
    assert np.all(np.diff(nll) < 0), nll
    assert jqgen.mean_nll(res.model, res.mps, data) == pytest.approx(nll[-1], rel=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("dtype, tol", [pytest.param(jnp.float64, 1e-9, marks=pytest.mark.float64), (jnp.float32, 2e-3)])
def test_gram_split_matches_the_svd_split(dtype, tol):
    # a smooth regime (full batch, small steps): with minibatches and large steps the sweep
    # amplifies any rounding difference chaotically, whichever split is used. A normal start:
    # the uniform one's spectra fall below sqrt(eps) s_0 in float32, where the two splits
    # keep different rounding-level directions (cutoff 0 keeps them all)
    data = _random_data(10, 60, 7)
    kw = dict(max_bond=6, loops=3, key=jax.random.key(2), lr=2e-3, descent_steps=1, num_batches=1, cutoff=0.0,
              dtype=dtype, progress=False, init="normal")
    a = jqgen.sweep_train(data, svd="lapack", **kw)
    b = jqgen.sweep_train(data, svd="gram", **kw)
    assert np.allclose(a.history["train_nll"], b.history["train_nll"], rtol=tol)
    assert list(a.bond_dims) == list(b.bond_dims)
    # the same state (the tensors may differ by a gauge: compare amplitudes)
    bits = jqgen.all_bitstrings(10)
    pa = np.exp(np.asarray(jqgen.mps.log_prob(a.mps, bits), np.float64))
    pb = np.exp(np.asarray(jqgen.mps.log_prob(b.mps, bits), np.float64))
    assert np.abs(pa - pb).max() < 50 * tol * pa.max()
    t = np.asarray(b.mps.tensors, np.float64)
    for k in range(8):  # sites 0 .. n-3 are left-canonical after the final left-to-right half-sweep
        d0, d1 = b.bond_dims[k], b.bond_dims[k + 1]
        m = t[k, :d0, :, :d1].reshape(-1, d1)
        assert np.abs(m.T @ m - np.eye(d1)).max() < 100 * tol
    with pytest.raises(ValueError, match="svd"):
        jqgen.sweep_train(data, svd="eigh", **kw)


@pytest.mark.slow  # a reproduction (Han et al.'s BAS 4x4 result); the smaller sweep tests run by default
def test_bars_and_stripes_4x4_reaches_ln30_with_the_authors_settings(shared_data):
    ref = np.load(f"{shared_data}/bars_stripes_4x4.npy").reshape(30, 16).astype(np.uint8)
    res = jqgen.sweep_train(ref, max_bond=300, loops=2, key=jax.random.key(0), lr=0.1, cutoff=5e-5,
                            descent_steps=10, num_batches=1, progress=False)
    assert res.history["train_nll"][-1] <= 3.41


@pytest.mark.slow
def test_kill_and_resume_is_bit_identical(tmp_path):
    data = _random_data(10, 30, 5)
    kw = dict(max_bond=8, key=jax.random.key(3), lr=0.02, descent_steps=3, num_batches=3,
              cutoff=1e-3, progress=False, chunk=4)
    full = jqgen.sweep_train(data, loops=4, **kw)
    path = tmp_path / "run.npz"

    class Killed(Exception):
        pass

    def kill_after_two(loop, mps, state, history):
        if loop == 2:
            raise Killed

    with pytest.raises(Killed):
        jqgen.sweep_train(data, loops=4, checkpoint_path=path, callback=kill_after_two, **kw)
    meta = load_checkpoint(path).metadata["training"]
    assert meta["steps_done"] == 2 and meta["status"] == "running" and meta["strategy"] == "sweep"
    assert meta["key"] == {"impl": "threefry2x32", "data": [0, 3]}
    assert meta["config"]["descent_steps"] == 3 and meta["data"]["shape"] == [30, 10]
    assert meta["metrics"]["lr_base"] == [0.02, 0.02] and meta["metrics"]["cutoff"] == [1e-3, 1e-3]
    resumed = jqgen.sweep_train(data, loops=4, checkpoint_path=path, **kw)
    np.testing.assert_array_equal(np.asarray(resumed.mps.tensors), np.asarray(full.mps.tensors))
    assert resumed.history["train_nll"] == full.history["train_nll"]
    np.testing.assert_array_equal(resumed.bond_dims, full.bond_dims)

    # the key is restored from the checkpoint when none is given
    path2 = tmp_path / "run2.npz"
    with pytest.raises(Killed):
        jqgen.sweep_train(data, loops=4, checkpoint_path=path2, callback=kill_after_two, **kw)
    no_key = {k: v for k, v in kw.items() if k != "key"}
    restored = jqgen.sweep_train(data, loops=4, checkpoint_path=path2, **no_key)
    np.testing.assert_array_equal(np.asarray(restored.mps.tensors), np.asarray(full.mps.tensors))
    assert restored.history["train_nll"] == full.history["train_nll"]

    # a model checkpoint that is not a training run's holds no key
    path3 = tmp_path / "run3.npz"
    save_checkpoint(path3, resumed.model, resumed.mps)
    with pytest.raises(ValueError, match="no PRNG key"):
        jqgen.sweep_train(data, loops=4, checkpoint_path=path3, **no_key)


def test_a_new_run_needs_a_key(tmp_path):
    with pytest.raises(ValueError, match="key"):
        jqgen.sweep_train(bars_and_stripes(2, 2), max_bond=4, loops=1, num_batches=1, progress=False)
    with pytest.raises(ValueError, match="key"):
        jqgen.sweep_train(bars_and_stripes(2, 2), max_bond=4, loops=1, num_batches=1, progress=False,
                          checkpoint_path=tmp_path / "none.npz")
    with pytest.raises(ValueError, match="key"):
        jqgen.sweep_train(bars_and_stripes(2, 2), max_bond=4, loops=1, num_batches=1, progress=False, key=0)


_RESUME_KW = dict(max_bond=4, key=jax.random.key(5), lr=0.02, descent_steps=2, num_batches=2, cutoff=1e-3,
                  min_bond=1, progress=False)


@pytest.fixture(scope="module")
def one_loop_checkpoint(tmp_path_factory):
    data = _random_data(6, 12, 7)
    path = tmp_path_factory.mktemp("resume") / "run.npz"
    jqgen.sweep_train(data, loops=1, checkpoint_path=path, **_RESUME_KW)
    return data, path


@pytest.mark.slow
@pytest.mark.parametrize(
    "change,match",
    [({"lr": 0.03}, r"lr \(values"), ({"lr": lambda i: 0.02 * 0.5**i}, None),
     ({"descent_steps": 3}, "descent_steps"), ({"num_batches": 3}, "num_batches"),
     ({"cutoff": 1e-4}, r"cutoff \(values"), ({"min_bond": 2}, "min_bond"), ({"max_bond": 5}, "max_bond"),
     ({"init_bond": 3}, "init_bond"), ({"normalized_grad": True}, "normalized_grad"),
     ({"lr_decay_on_rise": 0.5}, "lr_decay_on_rise"), ({"min_improvement": 0.1}, "min_improvement"),
     pytest.param({"dtype": jnp.float64}, "dtype", marks=pytest.mark.float64), ({"key": jax.random.key(6)}, r"key: \{"),
     ({"key": jax.random.key(5, impl="rbg")}, r"key: \{"), ("data", "data")],
)
def test_resume_with_other_settings_is_refused(one_loop_checkpoint, change, match):
    data, path = one_loop_checkpoint
    before = path.read_bytes()
    if change == "data":
        data, change = data.copy(), {}
        data[3, 2] ^= 1
    kw = {**_RESUME_KW, **change}
    if match is None:  # a schedule that agrees with the constant in loop 1 resumes
        jqgen.sweep_train(data, loops=1, checkpoint_path=path, **kw)
    else:
        with pytest.raises(ValueError, match=match) as info:
            jqgen.sweep_train(data, loops=2, checkpoint_path=path, **kw)
        assert "other settings" in str(info.value) and str(info.value).count(" in this run") == 1
    assert path.read_bytes() == before  # nothing was trained or written


@pytest.mark.slow
def test_resuming_a_run_the_stop_rule_ended_returns_its_result(tmp_path):
    data = _random_data(8, 40, 4)
    kw = dict(max_bond=16, key=jax.random.key(1), lr=2e-3, descent_steps=1, num_batches=1, cutoff=0.0,
              progress=False, min_improvement=1e9,  # every decrease is too small
              test_data=_random_data(8, 10, 9))
    path = tmp_path / "run.npz"
    first = jqgen.sweep_train(data, loops=6, checkpoint_path=path, **kw)
    assert first.history["loop"] == [1, 2]  # loop 2 improved by less than min_improvement
    assert load_checkpoint(path).metadata["training"]["status"] == "stopped: min_improvement"
    before = path.read_bytes()
    calls = []
    again = jqgen.sweep_train(data, loops=6, checkpoint_path=path, callback=lambda *a: calls.append(a), **kw)
    assert calls == [] and path.read_bytes() == before
    assert again.history == first.history and again.model == first.model
    np.testing.assert_array_equal(np.asarray(again.mps.tensors), np.asarray(first.mps.tensors))
    np.testing.assert_array_equal(again.bond_dims, first.bond_dims)


@pytest.mark.float64
def test_failed_svd_falls_back_to_the_qr_algorithm(monkeypatch):
    from jqgen.mps import _sweep

    if _sweep._SVD_FALLBACK is None:
        pytest.skip("this jax has no selectable SVD algorithm")
    m = jax.random.normal(jax.random.key(0), (6, 6), jnp.float64)
    u, s, vh, fell_back = jax.jit(_sweep._svd)(m)
    assert int(fell_back) == 0
    np.testing.assert_allclose(np.asarray((u * s) @ vh), np.asarray(m), atol=1e-12)
    svd = jnp.linalg.svd

    def failing_svd(x, **kw):  # what jax returns when the GPU's Jacobi SVD does not converge
        return tuple(jnp.full_like(y, jnp.nan) for y in svd(x, **kw))

    monkeypatch.setattr(jnp.linalg, "svd", failing_svd)
    u, s, vh, fell_back = jax.jit(lambda x: _sweep._svd(x))(m)  # a new function: traced anew
    assert int(fell_back) == 1
    np.testing.assert_allclose(np.asarray((u * s) @ vh), np.asarray(m), atol=1e-12)


@pytest.mark.slow
@pytest.mark.float64
def test_failed_gram_eigensolver_falls_back_to_the_svd(monkeypatch):
    from jqgen.mps import _sweep

    a = jax.random.normal(jax.random.key(1), (4, 2, 2, 4), jnp.float64)
    hyper = _sweep.SweepHyper(jnp.float64(0.01), jnp.float64(0.0), jnp.int32(2), jnp.int32(4))
    args = (a, jnp.int32(4), jnp.int32(4), hyper, jnp.int32(8), True)
    ref = _sweep._split(*args, "lapack")
    ok = jax.jit(lambda *x: _sweep._split(*x, "gram"), static_argnums=5)(*args)
    assert int(ok[3]) == 0
    merged = lambda r: np.einsum("asb,btc->astc", np.asarray(r[0]), np.asarray(r[1]))  # noqa: E731
    np.testing.assert_allclose(merged(ok), merged(ref), atol=1e-12)
    eigh = jax.lax.linalg.eigh
    monkeypatch.setattr(jax.lax.linalg, "eigh", lambda x, **kw: tuple(jnp.full_like(y, jnp.nan) for y in eigh(x, **kw)))
    bad = jax.jit(lambda *x: _sweep._split(*x, "gram"), static_argnums=5)(*args)
    assert int(bad[3]) == 1
    np.testing.assert_allclose(merged(bad), merged(ref), atol=1e-12)


@pytest.mark.parametrize(
    "kw,match",
    [({"cutoff": -0.1}, "cutoff"), ({"min_bond": 9}, "min_bond"), ({"lr": 0.0}, "lr"),
     ({"lr": -1e-3}, "lr"), ({"loops": 0}, "loops"), ({"num_batches": 100}, "num_batches"),
     ({"lr_decay_on_rise": 2.0}, "lr_decay_on_rise"), ({"dtype": jnp.complex64}, "dtype"),
     ({"init": "zeros"}, "init"), ({"blas_threads": 0}, "blas_threads"), ({"blas_threads": 1.5}, "blas_threads"),
     ({"dtype": jnp.float64}, "float64 needs 64-bit JAX")],  # float32 mode: float64 is refused, not truncated
)
def test_bad_hyperparameters(kw, match):
    args = dict(max_bond=8, loops=1, key=jax.random.key(0), num_batches=1, progress=False)
    with pytest.raises(ValueError, match=match):
        jqgen.sweep_train(bars_and_stripes(2, 2), **{**args, **kw})


def test_bad_data():
    with pytest.raises(ValueError, match="0/1"):
        jqgen.sweep_train(np.full((4, 5), 2), max_bond=4, loops=1, key=jax.random.key(0), progress=False)
    with pytest.raises(ValueError, match="at least 3"):
        jqgen.sweep_train(np.zeros((4, 2), np.uint8), max_bond=4, loops=1, key=jax.random.key(0), progress=False)


@pytest.mark.slow  # an MNIST reproduction of a reference crash
def test_mnist_cutoff_schedule_that_crashes_the_reference_stays_finite(shared_data):
    """The reference code divides by psi = 0 at bond 276 in its second loop (cutoff 1e-7
    after a first loop at 0.3); normalized environments keep every psi finite."""
    data = np.load(f"{shared_data}/mnist28_binary_1k.npz")["data"]
    res = jqgen.sweep_train(data, max_bond=32, loops=2, key=jax.random.key(0), lr=lambda i: 0.05 if i == 0 else 1e-3,
                            descent_steps=10, num_batches=10,
                            cutoff=lambda i: 0.3 if i == 0 else 1e-7, progress=False)
    nll = np.asarray(res.history["train_nll"])
    assert np.all(np.isfinite(nll)) and nll[-1] < nll[0]
    assert np.isfinite(jqgen.mean_nll(res.model, res.mps, data))


@pytest.mark.slow
@pytest.mark.parametrize("init", ["uniform", "normal"])
@pytest.mark.float64
def test_initial_states_are_normalized_and_left_canonical(init):
    from jqgen.mps import SweepConfig
    from jqgen.mps._sweep_config import initial_sweep_state

    mps, state = initial_sweep_state(SweepConfig(8, init=init, dtype=jnp.float64), jax.random.key(3), 12)
    tensors, dims = mps.tensors, state.dims
    assert list(dims) == list(jqgen.mps.bond_dims(12, 2))
    mps = jqgen.mps.MPS(tensors)
    assert float(jqgen.mps.log_norm(mps)) == pytest.approx(0.0, abs=1e-12)
    t = np.asarray(tensors)
    for k in range(11):
        m = t[k, : dims[k], :, : dims[k + 1]].reshape(-1, dims[k + 1])
        np.testing.assert_allclose(m.T @ m, np.eye(dims[k + 1]), atol=1e-12)
    if init == "uniform":  # all amplitudes of the authors' start are positive
        assert np.all(np.exp(np.asarray(jqgen.mps.log_prob(mps, jqgen.all_bitstrings(12)))) > 0)


def test_auto_split_takes_the_svd_only_where_it_resolves_the_cutoff():
    from jqgen.mps._sweep_config import split_method as _split_method

    f32, f64 = jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)
    assert [_split_method("auto", c, f32) for c in (0.0, 1e-7, 1e-5, 1e-4, 5e-4, 2e-3, 0.3)] == [
        "gram", "gram", "lapack", "lapack", "lapack", "gram", "gram"]
    assert [_split_method("auto", c, f64) for c in (0.0, 1e-14, 1e-9, 1e-7)] == ["gram", "lapack", "lapack", "gram"]
    assert _split_method("lapack", 0.3, f32) == "lapack" and _split_method("gram", 1e-5, f32) == "gram"


@pytest.mark.slow
def test_blas_threads_are_limited_during_the_run_and_restored():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    seen = []

    def blas_threads():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    jqgen.sweep_train(bars_and_stripes(2, 3), max_bond=4, loops=1, key=jax.random.key(0), num_batches=1,
                      progress=False, callback=lambda *_: seen.append(blas_threads()))
    if jax.default_backend() == "cpu":
        assert seen and seen[0] and all(n == 1 for n in seen[0])
    assert blas_threads() == before


@pytest.mark.slow
@pytest.mark.parametrize("dtype, chi, svd", [(jnp.float32, 8, "gram"),
                                             pytest.param(jnp.float64, 32, "lapack", marks=pytest.mark.float64)])
def test_sweep_left_environments_equal_recomputed_ones_bit_for_bit(dtype, chi, svd):
    """sweep_train reuses a loop's left environments in the next loop on the CPU; a resumed
    run recomputes them, so both must give the same bits."""
    from jqgen.mps._sweep import SweepHyper, half_sweep

    n, m = 12, 200
    data = jnp.asarray(_random_data(n, m, 11))
    mps = jqgen.mps.left_canonical(jqgen.mps.random_mps(jax.random.key(4), n, chi, dtype=dtype))
    rdt = jnp.finfo(dtype).dtype
    hyper = SweepHyper(jnp.asarray(1e-2, rdt), jnp.asarray(0.0, rdt), jnp.int32(2), jnp.int32(chi))
    carry = environments(mps.tensors, data, jnp.asarray(jqgen.mps.bond_dims(n, chi)))
    for move_right in (False, True):
        for start in range(0, n - 2, 4):
            carry, _ = half_sweep(carry, data, jax.random.key(int(move_right)), jnp.int32(start), hyper,
                                  move_right=move_right, chunk=4, descent_steps=3, batch_size=50,
                                  normalized_grad=False, svd=svd)
    fresh = environments(jnp.array(carry.tensors), data, carry.dims)
    np.testing.assert_array_equal(np.asarray(carry.left[: n - 1]), np.asarray(fresh.left[: n - 1]))
    np.testing.assert_array_equal(np.asarray(carry.left_log[: n - 1]), np.asarray(fresh.left_log[: n - 1]))


@pytest.mark.slow
def test_a_run_can_start_from_a_given_mps():
    from jqgen.mps._sweep_config import initial_sweep_state

    data = _random_data(9, 40, 12)
    kw = dict(max_bond=8, key=jax.random.key(0), lr=0.05, num_batches=1, progress=False)
    first = jqgen.sweep_train(data, loops=2, **kw)
    # continue from the trained state: the initial state is its (normalized) left-canonical form
    from jqgen.mps import SweepConfig

    mps, state = initial_sweep_state(SweepConfig(8), None, 9, first.mps)
    tensors, dims = mps.tensors, state.dims
    assert list(dims) == list(jqgen.mps.bond_dims(9, first.mps.chi_max))
    bits = jqgen.all_bitstrings(9)
    np.testing.assert_allclose(np.exp(np.asarray(jqgen.mps.log_prob(jqgen.mps.MPS(tensors), bits))),
                               np.exp(np.asarray(jqgen.mps.log_prob(first.mps, bits))), atol=1e-5)
    more = jqgen.sweep_train(data, loops=1, init=first.mps, **kw)
    assert more.history["train_nll"][0] < first.history["train_nll"][0]
    small = jqgen.mps.random_mps(jax.random.key(1), 9, 4)
    assert jqgen.sweep_train(data, loops=1, init=small, **kw).mps.num_sites == 9
    for bad in (jqgen.mps.random_mps(jax.random.key(1), 8, 4), jqgen.mps.random_mps(jax.random.key(1), 9, 16),
                jqgen.mps.random_mps(jax.random.key(1), 9, 4, dtype=jnp.complex64)):
        with pytest.raises(ValueError, match="init"):
            jqgen.sweep_train(data, loops=1, init=bad, **kw)
