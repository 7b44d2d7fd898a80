"""Latent priors of jqgen.adversarial: multi-basis QCBM readout (simulated and on the local
device), the Prior interface of every prior, training, gradients, bad input, configs.

Goodness of fit: the G-test (jqgen.testing) at ALPHA = 1e-3 against a dense reference built
here with numpy Kronecker products of the basis rotations on the QCBM's statevector
(independent of jqgen.adversarial's readout code). Power is stated per test against the
alternative "independent bits with the same marginals" (what reading the latent bits off
single-qubit expectation values would sample), and each test also checks that the G-test
rejects samples drawn from that alternative.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given

from jqgen.testing import strategies as jst

import jqgen
from jqgen.adversarial._classical_priors import BernoulliPrior, GaussianPrior, MPSPrior, UniformPrior
from jqgen.adversarial._device_prior import sample_on_device
from jqgen.adversarial._priors import PRIOR_NAMES, Prior, make_prior, prior_from_config
from jqgen.adversarial._qcbm_prior import QCBMPrior
from jqgen.distributions import empirical_distribution, mmd
from jqgen.testing import ALPHA, compile_log, g_test_power, g_test_pvalue

H = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
ROTATION = {"z": np.eye(2), "x": H, "y": H @ np.diag([1, -1j])}


def reference_readout(prior, params):
    """[B, 2**n] per-basis distributions: numpy kron of the rotations on the QCBM state."""
    psi = np.asarray(prior.model.state(params), np.complex128)
    out = []
    for b in prior.bases:
        r = np.array([[1.0]])
        for _ in range(prior.num_qubits):
            r = np.kron(r, ROTATION[b])
        out.append(np.abs(r @ psi) ** 2)
    return np.stack(out)


def product(ps):
    out = ps[0]
    for p in ps[1:]:
        out = np.outer(out, p).ravel()
    return out / out.sum()


def independent_bits_alternative(joint, num_bits):
    """Marginals of every bit of ``joint`` and the product distribution of independent bits."""
    bits = np.asarray(jqgen.all_bitstrings(num_bits), np.float64)
    marg = joint @ bits  # P(bit i = 1)
    q = np.prod(np.where(bits == 1, marg, 1 - marg), axis=1)
    return marg, q / q.sum()


def check_joint_and_power(samples, joint, num_latent, rng):
    """G-test of ``samples`` against ``joint``; the power against independent bits with the
    same marginals (>= 0.99) and that such samples are rejected."""
    n_samples = samples.shape[0]
    assert g_test_pvalue(samples, joint) > ALPHA
    marg, q = independent_bits_alternative(joint, num_latent)
    tv = 0.5 * np.abs(joint - q).sum()
    power = g_test_power(tv, n_samples, joint.size)
    assert tv > 0.1 and power > 0.99, (tv, power)
    alt = (rng.random((n_samples, num_latent)) < marg).astype(np.uint8)
    assert g_test_pvalue(alt, joint) < ALPHA


# ------------------------------------------------------------------ multi-basis readout
@pytest.mark.parametrize("num_qubits,bases,seed", [(3, ("z", "x"), 0), (2, ("z", "x", "y"), 3)])
def test_qcbm_sample_is_the_joint_multi_basis_distribution(num_qubits, bases, seed):
    """64 cells, 20,000 samples. Power against independent bits (TV > 0.1, asserted): >= 0.99
    (Pinsker bound, g_test_power); the alternative's samples are rejected as well."""
    prior = QCBMPrior(num_qubits=num_qubits, bases=bases, layers=2)  # (3, zx) is EXACT
    params = prior.init(jax.random.key(seed))
    ref = reference_readout(prior, params)
    np.testing.assert_allclose(np.asarray(prior.readout_probs(params)), ref, atol=2e-6)
    joint = product(list(ref))
    np.testing.assert_allclose(np.asarray(prior.latent_probs(params)), joint, atol=2e-6)
    samples = np.asarray(prior.sample(params, jax.random.key(10 + seed), 20_000))
    assert samples.dtype == np.uint8 and samples.shape == (20_000, prior.num_latent)
    check_joint_and_power(samples, joint, prior.num_latent, np.random.default_rng(seed))


XYZ = QCBMPrior(num_qubits=2, bases=("z", "x", "y"), layers=2)


@given(jst.qcbm_params(XYZ.model))
def test_readout_matches_the_dense_reference_for_any_angles(params):
    """Property over angles: every basis's distribution is normalized and equals the numpy
    Kronecker reference; the z row is the QCBM's own distribution."""
    got = np.asarray(XYZ.readout_probs(params))
    np.testing.assert_allclose(got, reference_readout(XYZ, params), atol=2e-6)
    np.testing.assert_allclose(got.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(got[0], np.asarray(XYZ.model.probs(params)), atol=1e-7)


def test_exact_nll_of_impossible_features_is_finite():
    """All angles zero: the z readout is the point mass on 000, so FEATURES' z halves have
    probability 0; the clipped NLL and its gradients stay finite."""
    prior = QCBMPrior(3, ("z", "x"), layers=2, init_scale=0.0)
    params = prior.init(jax.random.key(0))
    loss, grads = prior.value_and_grad(params, FEATURES, jax.random.key(0))
    assert np.isfinite(float(loss)) and float(loss) > 20
    assert all(np.all(np.isfinite(np.asarray(g))) for g in jax.tree_util.tree_leaves(grads))


def test_device_samples_follow_the_joint_distribution_and_are_journaled(tmp_path):
    """All three bases on the local::testing provider: 2 qubits, 64 cells, 4,000 shots per
    basis. Power against independent bits (TV > 0.1, asserted) >= 0.99. A rerun with the
    same journal and key submits nothing and returns the same samples; another key draws anew."""
    pytest.importorskip("qiskit")
    prior = XYZ
    params = prior.init(jax.random.key(3))
    device = jqgen.hardware.Device.local(3)
    path = tmp_path / "prior.jsonl"
    z = sample_on_device(prior, params, device, 4000, journal=path, key=jax.random.key(5), tag={"step": 0})
    assert z.dtype == jnp.uint8 and z.shape == (4000, 6)
    joint = product(list(reference_readout(prior, params)))
    check_joint_and_power(np.asarray(z), joint, 6, np.random.default_rng(7))
    again = sample_on_device(prior, params, device, 4000, journal=jqgen.hardware.Journal(path), key=jax.random.key(5),
                             tag={"step": 0}, submit=lambda *a: pytest.fail("resubmitted"))
    np.testing.assert_array_equal(np.asarray(again), np.asarray(z))
    assert jqgen.hardware.Journal(path).budget() == {"tasks": 3, "shots": 12_000}
    fresh = sample_on_device(prior, params, device, 4000, journal=path, key=jax.random.key(6), tag={"step": 0})
    assert not np.array_equal(np.asarray(fresh), np.asarray(z))  # another key: a new draw, not the journaled one
    assert jqgen.hardware.Journal(path).budget() == {"tasks": 6, "shots": 24_000}


# ------------------------------------------------------------------------ the interface
#: Priors shared between tests (a worker compiles each prior's kernels once).
EXACT = QCBMPrior(3, ("z", "x"), layers=2)
SHOTS = QCBMPrior(3, ("z", "x"), layers=1, shots=20_000)
MPS = MPSPrior(6, chi=3)


def _all_priors():
    return [EXACT, SHOTS, MPS, BernoulliPrior(6), UniformPrior(6), GaussianPrior(6)]


def _slow_heavy(priors):
    """The shot-based QCBM and the MPS compile longest: slow tier (the exact QCBM stays)."""
    return [pytest.param(p, marks=pytest.mark.slow) if p in (SHOTS, MPS) else p for p in priors]


@pytest.mark.parametrize("prior", _slow_heavy(_all_priors()),
                         ids=lambda p: p.config()["prior"] + str(getattr(p, "shots", "")))
def test_interface_shapes_dtypes_jit_and_determinism(prior):
    assert isinstance(prior, Prior) and prior.num_latent == 6
    params = prior.init(jax.random.key(0))
    features = (np.arange(6 * 8).reshape(8, 6) % 3 == 0).astype(np.uint8)
    k1, k2, k3 = jax.random.key(1), jax.random.key(2), jax.random.key(3)

    @jax.jit  # one program: sample (num static), value_and_grad and loss inside jit
    def program(params, features):
        return (prior.sample(params, k1, 64), prior.sample(params, k1, 64), prior.sample(params, k2, 64),
                prior.value_and_grad(params, features, k3), prior.loss(params, features, k3))

    a, b, c, (loss, grads), loss2 = program(params, features)
    want = jnp.float32 if isinstance(prior, GaussianPrior) else jnp.uint8
    assert a.shape == (64, 6) and a.dtype == want and c.dtype == want
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(prior.sample(params, k1, 64)), np.asarray(a))  # eager = jit
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    if want == jnp.uint8:
        assert set(np.unique(np.asarray(a))) <= {0, 1}
    assert loss.shape == () and loss.dtype == jnp.float32 and np.isfinite(float(loss))
    assert float(loss2) == pytest.approx(float(loss))
    assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(params)
    if not prior.trainable:
        assert float(loss) == 0.0 and params == {}


def _train(prior, features, steps, lr):
    """Adam on the prior's eager value_and_grad (its compiled kernel, shared between tests)."""
    opt = optax.adam(lr)
    params = prior.init(jax.random.key(0))
    state, losses = opt.init(params), []
    for i in range(steps):
        loss, grads = prior.value_and_grad(params, features, jax.random.key(100 + i))
        with jax.numpy_dtype_promotion("standard"):  # Optax mixes Python floats and int32 counts
            updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        losses.append(float(loss))
    return params, np.array(losses)


FEATURES = np.array([[1, 1, 0, 0, 1, 0], [1, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 1], [1, 1, 0, 1, 1, 0]], np.uint8)


@pytest.mark.parametrize("prior", [EXACT, MPS, BernoulliPrior(6)],
                         ids=["qcbm", "mps", "bernoulli"])
def test_exact_priors_train(prior):
    _, losses = _train(prior, FEATURES, 30, 0.1)
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0] - 0.5, losses


def _exact_mmd(prior, params, features):
    n, b = prior.num_qubits, len(prior.bases)
    per = np.asarray(features).reshape(-1, b, n)
    p = prior.readout_probs(params)
    return sum(mmd(p[i], empirical_distribution(per[:, i], n)) for i in range(b))


@pytest.mark.slow  # (the shot gradient's direction is checked in the default tier)
def test_shot_based_qcbm_trains_on_its_mmd():
    prior = SHOTS
    params0 = prior.init(jax.random.key(0))
    params, losses = _train(prior, FEATURES, 25, 0.1)
    assert np.all(np.isfinite(losses))
    assert float(_exact_mmd(prior, params, FEATURES)) < 0.6 * float(_exact_mmd(prior, params0, FEATURES))


# ---------------------------------------------------------------------- gradients
@pytest.mark.parametrize("prior", [EXACT, pytest.param(QCBMPrior(2, ("x", "y", "z"), layers=2), marks=pytest.mark.slow)],
                         ids=["zx", "xyz"])
def test_exact_qcbm_grads_match_an_independent_autodiff(prior):
    """The NLL rebuilt from TensorCircuit's statevector and dense Kronecker rotations."""
    bases = prior.bases
    params = prior.init(jax.random.key(4))
    tc_model = jqgen.QCBM(prior.model.ansatz, engine="tensorcircuit")
    n = prior.num_qubits
    rots = []
    for b in bases:
        r = np.array([[1.0]])
        for _ in range(n):
            r = np.kron(r, ROTATION[b])
        rots.append(jnp.asarray(r, jnp.complex64))
    idx = np.asarray(FEATURES).reshape(-1, len(bases), n) @ (2 ** np.arange(n - 1, -1, -1))

    @jax.jit
    def nll(th):
        psi = tc_model.state(th)
        logp = jnp.stack([jnp.log(jnp.abs(r @ psi) ** 2) for r in rots])
        return -jnp.mean(jnp.sum(logp[np.arange(len(bases))[None, :], idx], axis=1))

    want_v, want_g = jax.value_and_grad(nll)(params)
    got_v, got_g = prior.value_and_grad(params, FEATURES, jax.random.key(0))
    np.testing.assert_allclose(float(got_v), float(want_v), rtol=1e-5)
    for k in params:
        np.testing.assert_allclose(np.asarray(got_g[k]), np.asarray(want_g[k]), atol=2e-4)


def test_shot_gradient_points_along_the_exact_mmd_gradient():
    """Parameter shift with 20,000 shots per circuit against autodiff of the exact per-basis
    MMD (seeded; cosine > 0.9, loss within 20 %)."""
    prior = SHOTS
    params = prior.init(jax.random.key(2))
    want_v, want_g = jax.jit(jax.value_and_grad(lambda th: _exact_mmd(prior, th, FEATURES)))(params)
    got_v, got_g = prior.value_and_grad(params, FEATURES, jax.random.key(3))
    a = np.concatenate([np.ravel(got_g[k]) for k in sorted(params)])
    b = np.concatenate([np.ravel(want_g[k]) for k in sorted(params)])
    assert a @ b / np.linalg.norm(a) / np.linalg.norm(b) > 0.9
    assert abs(float(got_v) - float(want_v)) < 0.2 * float(want_v)
    assert float(prior.loss(params, FEATURES, jax.random.key(3))) == pytest.approx(float(got_v))


# ----------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call,match", [
    (lambda: make_prior("vae", 8), r"name must be one of qcbm, mps, bernoulli, uniform, gaussian; got 'vae'"),
    (lambda: make_prior("qcbm", 15), r"num_latent=15 is not a multiple of 2 \(e.g. use 14 or 16\)"),
    (lambda: make_prior("qcbm", 10, num_qubits=4), r"supplies 8 latent bits \(4 x 2\), not num_latent=10"),
    (lambda: make_prior("qcbm", 2), r"supplies at least 4 latent bits; got num_latent=2"),
    (lambda: make_prior("qcbm", 9, bases=4), r"bases \(a count\) must be an integer in \[1, 3\], got 4"),
    (lambda: make_prior("mps", 8, layers=2), r"unknown option\(s\) \['layers'\] for the 'mps' prior; allowed: chi"),
    (lambda: make_prior("uniform", 0), r"num_latent must be an integer >= 1, got 0"),
    (lambda: QCBMPrior(4, ("z", "z")), r"distinct names from \('z', 'x', 'y'\)"),
    (lambda: QCBMPrior(4, ("z", "w")), r"got \('z', 'w'\)"),
    (lambda: QCBMPrior(4, ()), r"non-empty sequence"),
    (lambda: QCBMPrior(4, shots=0), r"shots must be a positive int"),
    (lambda: QCBMPrior(4, shots=2.5), r"shots must be a positive int"),
    (lambda: QCBMPrior(4, shots=True), r"shots must be a positive int"),
    (lambda: QCBMPrior(1), r"num_qubits must be an integer >= 2, got 1"),
    (lambda: QCBMPrior(4, ansatz="chow-liu"), r"ansatz must be one of .* got 'chow-liu'"),
    (lambda: QCBMPrior(4, sigmas=(1.0, -1.0)), r"sigmas must be a non-empty sequence of positive floats"),
])
def test_bad_input_raises_clear_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_features_num_and_device_input(tmp_path):
    prior = QCBMPrior(2, ("z", "x"), layers=1)
    params = prior.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"features has width 3 .* expected shape \[\.\.\., 4\]"):
        prior.loss(params, np.zeros((5, 3), np.uint8), jax.random.key(0))
    with pytest.raises(ValueError, match=r"features must be a non-empty \[N, 4\] array"):
        prior.value_and_grad(params, np.zeros((4,), np.uint8), jax.random.key(0))
    with pytest.raises(ValueError, match=r"features must contain only 0/1 values; found 2"):
        BernoulliPrior(2).loss({"logits": jnp.zeros(2)}, np.array([[0, 2]]), jax.random.key(0))
    with pytest.raises(ValueError, match=r"num must be an integer >= 1, got 0"):
        prior.sample(params, jax.random.key(0), 0)
    with pytest.raises(ValueError, match=r"latent_probs enumerates at most 20 latent bits, this prior has 22"):
        QCBMPrior(11, ("z", "x"), layers=1).latent_probs(None)
    device = jqgen.hardware.Device.local(2, max_shots=100)
    with pytest.raises(ValueError, match=r"prior must be a QCBMPrior"):
        sample_on_device(BernoulliPrior(4), {}, device, 10, journal=tmp_path / "j", key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"shots=1000 exceeds the limit of local::testing \(100\)"):
        sample_on_device(prior, params, device, 1000, journal=tmp_path / "j", key=jax.random.key(0))


# ----------------------------------------------------------------- configs, compile once
@pytest.mark.parametrize("prior", _all_priors() + [QCBMPrior(5, "zy", layers=3, ansatz="su4", init_scale=0.1)],
                         ids=lambda p: p.config()["prior"])
def test_config_round_trip(prior):
    cfg = json.loads(json.dumps(prior.config()))
    for other in (type(prior).from_config(cfg), prior_from_config(cfg)):
        assert other == prior and hash(other) == hash(prior)
    assert cfg["prior"] in PRIOR_NAMES
    with pytest.raises(ValueError, match=r"config\['prior'\] must be"):
        prior_from_config({**cfg, "prior": "nope"})
    with pytest.raises(ValueError, match=r"config needs .* got \[.*'zzz'"):
        type(prior).from_config({**cfg, "zzz": 1})


def test_make_prior_builds_each_name():
    assert make_prior("qcbm", 12, bases=3) == QCBMPrior(4, ("z", "x", "y"))
    assert make_prior("qcbm", 8, bases="zy", num_qubits=4, shots=100) == QCBMPrior(4, ("z", "y"), shots=100)
    assert make_prior("qcbm", 8, bases=1).bases == ("z",)
    assert make_prior("mps", 5, chi=2) == MPSPrior(5, 2)
    assert [type(make_prior(n, 4)).__name__ for n in PRIOR_NAMES[2:]] == ["BernoulliPrior", "UniformPrior",
                                                                          "GaussianPrior"]


def test_eager_calls_compile_once():
    prior = EXACT
    params = prior.init(jax.random.key(0))
    calls = lambda p: [p.sample(params, jax.random.key(1), 16), p.value_and_grad(params, FEATURES, jax.random.key(2)),
                       p.readout_probs(params)]
    jax.block_until_ready(calls(prior))
    with compile_log() as names:
        jax.block_until_ready(calls(QCBMPrior.from_config(prior.config())))
    assert not names, names
