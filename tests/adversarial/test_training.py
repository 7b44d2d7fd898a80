"""The adversarial network and its training on the runner: shapes, one step changes all three
parameter sets and is deterministic in the key, resume after an interruption, checkpoints,
bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("flax")

from jqgen import _random  # noqa: E402
from jqgen.adversarial import (  # noqa: E402
    AdversarialState, AssociativeAdversarialNetwork, adversarial, make_prior, train_adversarial,
)
from jqgen.checkpoint import load_checkpoint, model_from_config  # noqa: E402


def _images(n=48, shape=(8, 8), seed=0):
    # jax.random.uniform's values, drawn flat (a rank-3 draw compiles ~1 s longer)
    return np.asarray(_random.uniform(jax.random.key(seed), (n, *shape)), np.float32)


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def _differ(a, b):
    return [not np.array_equal(x, y) for x, y in zip(_leaves(a), _leaves(b))]


@pytest.mark.parametrize("shape", [(8, 8), pytest.param((28, 28), marks=pytest.mark.slow)])
def test_networks_make_images_in_the_unit_interval_and_binary_features(shape):
    net = AssociativeAdversarialNetwork(make_prior("bernoulli", 6), shape, width=8)
    params = net.init(jax.random.key(0))
    images = jax.jit(net.generate, static_argnums=2)(params, jax.random.key(1), 5)
    assert images.shape == (5, *shape) and images.dtype == jnp.float32
    assert float(images.min()) >= 0 and float(images.max()) <= 1
    logits, hidden = net.discriminate(params, images)
    assert logits.shape == (5,) and hidden.shape == (5, 6)
    feats = net.features(params, images, jax.random.key(2))
    assert feats.dtype == jnp.uint8 and set(np.unique(np.asarray(feats))) <= {0, 1}
    thresholded = net.features(params, images, jax.random.key(2), binarize="threshold")
    np.testing.assert_array_equal(np.asarray(thresholded), np.asarray(hidden > 0.5).astype(np.uint8))


@pytest.mark.parametrize("prior", [pytest.param("qcbm", marks=pytest.mark.slow), "bernoulli"])
def test_one_step_changes_all_three_parameter_sets_and_is_deterministic_in_the_key(prior):
    opts = {"num_qubits": 3, "bases": 2} if prior == "qcbm" else {}
    net = AssociativeAdversarialNetwork(make_prior(prior, 6, **opts), width=16)
    p0 = net.init(jax.random.key(0))
    strategy = adversarial(net, batch_size=8, prior_every=1)
    data = jnp.asarray(_images())
    state = strategy.init(p0, jax.random.key(1))
    step = jax.jit(strategy.step)
    p1, s1, m1 = step(p0, state, data, jnp.int32(0), jax.random.key(1))
    assert isinstance(s1, AdversarialState)
    for part in ("generator", "discriminator", "prior"):
        assert all(_differ(p0[part], p1[part])), part
    p1b, _, m1b = step(p0, state, data, jnp.int32(0), jax.random.key(1))
    for a, b in zip(_leaves(p1), _leaves(p1b)):
        np.testing.assert_array_equal(a, b)
    p1c, _, _ = step(p0, state, data, jnp.int32(0), jax.random.key(2))
    assert any(_differ(p1["generator"], p1c["generator"]))
    assert all(np.isfinite(float(m1[k])) for k in ("loss", "generator_loss", "prior_loss"))


# one network and one set of settings for the runs below: they share one compiled chunk
KW = dict(batch_size=8, prior_every=3, chunk_size=4, progress=False)


def test_the_prior_updates_every_m_steps_only():
    net = AssociativeAdversarialNetwork(make_prior("bernoulli", 6), width=16)
    p0 = net.init(jax.random.key(0))
    res = train_adversarial(net, p0, _images(), key=jax.random.key(1), steps=8, **KW)
    lp = res.metrics["prior_loss"]
    assert lp[0] == lp[1] == lp[2] and lp[3] == lp[4] == lp[5] and lp[0] != lp[3] != lp[6]


@pytest.mark.slow
def test_untrainable_priors_record_no_prior_loss_and_keep_no_parameters():
    net = AssociativeAdversarialNetwork(make_prior("gaussian", 6), width=16)
    res = train_adversarial(net, net.init(jax.random.key(0)), _images(), key=jax.random.key(1), steps=4, **KW)
    assert np.isnan(res.metrics["prior_loss"]).all() and np.isfinite(res.history).all()


def test_an_interrupted_run_resumes_to_the_identical_parameters(tmp_path):
    net = AssociativeAdversarialNetwork(make_prior("bernoulli", 6), width=16)
    p0, data = net.init(jax.random.key(0)), _images()
    kw = dict(key=jax.random.key(1), steps=12, **KW)
    whole = train_adversarial(net, p0, data, **kw)

    class Killed(Exception):
        pass

    def kill(done, params, state, history):
        if done == 8:  # after two chunks
            raise Killed

    path = tmp_path / "run.npz"
    with pytest.raises(Killed):
        train_adversarial(net, p0, data, checkpoint_path=path, callback=kill, **kw)
    resumed = train_adversarial(net, p0, data, checkpoint_path=path, **kw)
    for a, b in zip(_leaves(whole.params), _leaves(resumed.params)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(whole.metrics["generator_loss"], resumed.metrics["generator_loss"])
    ck = load_checkpoint(path)
    assert ck.model == net and hash(ck.model) == hash(net)
    with pytest.raises(ValueError, match="other settings.*prior_every"):
        train_adversarial(net, p0, data, checkpoint_path=path, **{**kw, "prior_every": 2})


def test_config_round_trip_and_bad_input():
    net = AssociativeAdversarialNetwork(make_prior("bernoulli", 6), (28, 28))
    assert model_from_config(net.config()) == net
    with pytest.raises(ValueError, match="image_shape"):
        AssociativeAdversarialNetwork(make_prior("bernoulli", 6), (7, 7))
    with pytest.raises(ValueError, match="prior"):
        AssociativeAdversarialNetwork("qcbm")
    net8 = AssociativeAdversarialNetwork(make_prior("bernoulli", 6))
    p = net8.init(jax.random.key(0))
    bad = np.array(_images())
    bad[0, 0, 0] = 1.5
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        train_adversarial(net8, p, bad, key=jax.random.key(0), steps=1, **KW)
    with pytest.raises(ValueError, match="shape"):
        train_adversarial(net8, p, _images(shape=(28, 28)), key=jax.random.key(0), steps=1, **KW)
    with pytest.raises(ValueError, match="binarize"):
        adversarial(net8, binarize="round")
    with pytest.raises(ValueError, match="prior_every"):
        adversarial(net8, prior_every=0)
