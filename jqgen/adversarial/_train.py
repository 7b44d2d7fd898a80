"""Adversarial training as a :class:`jqgen.training.Strategy`: discriminator, generator and
prior updates in one compiled step, run by :func:`jqgen.training.run`.

Step ``i`` (randomness from ``fold_in(key, i)``, so a run resumes to the identical result):

1. **Discriminator**: a minibatch ``x`` of real images and ``G(z)``, ``z ~ prior``; one
   optimizer step on the logistic loss ``-log D(x) - log(1 - D(G(z)))``.
2. **Generator**: fresh ``z ~ prior``; one step on the non-saturating loss
   ``-log D(G(z))`` (Goodfellow et al., 2014) through the updated discriminator.
3. **Prior** (every ``prior_every`` steps, as the QC-AAN paper trains its QCBM less often
   than the networks): ``prior_steps`` optimizer steps of the prior's own loss (its NLL,
   or a shot-based objective) on the binarized hidden layer of the discriminator on ``x``.
4. **Score** (every ``score_every`` steps, when a classifier is given): the Inception-style
   score of ``score_samples`` generated images, drawn with one fixed key so successive scores
   compare the generator, not the draw.

Recorded per step: ``loss`` (the discriminator's, the one the NaN/inf policy watches),
``generator_loss``, ``prior_loss`` and ``score`` (the latest values; NaN before the first).
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from .._checks import check_int
from ..training import Callback, Strategy, TrainResult, describe_settings, run
from ._data import check_images
from ._model import BINARIZE, AssociativeAdversarialNetwork
from ._networks import apply_generator
from ._scores import mean_kl_to_marginal

__all__ = ["AdversarialState", "adversarial", "train_adversarial"]


class AdversarialState(NamedTuple):
    """The strategy's state: the three optimizers' states and the latest prior loss and score
    (0 until the first; the recorded metrics say NaN there)."""

    generator: Any
    discriminator: Any
    prior: Any
    prior_loss: jax.Array
    score: jax.Array


def _check_settings(model: AssociativeAdversarialNetwork, classifier: Any, **optimizers: Any) -> None:
    """``ValueError`` for an optimizer that is not an Optax transformation, or a classifier that
    is not a :class:`TrainedClassifier` of the model's image shape."""
    for name, opt in optimizers.items():
        if opt is not None and not (callable(getattr(opt, "init", None)) and callable(getattr(opt, "update", None))):
            raise ValueError(f"{name} must be None or an optax.GradientTransformation, got {type(opt).__name__}")
    if classifier is None:
        return
    from ._classifier import TrainedClassifier

    if not isinstance(classifier, TrainedClassifier):
        raise ValueError(f"classifier must be None or a TrainedClassifier (train_classifier), got "
                         f"{type(classifier).__name__}")
    if tuple(classifier.image_shape) != model.image_shape:
        raise ValueError(f"classifier takes {tuple(classifier.image_shape)} images but the model makes "
                         f"{model.image_shape}")


def adversarial(
    model: AssociativeAdversarialNetwork,
    *,
    batch_size: int = 64,
    generator_optimizer: optax.GradientTransformation | None = None,
    discriminator_optimizer: optax.GradientTransformation | None = None,
    prior_optimizer: optax.GradientTransformation | None = None,
    prior_every: int = 5,
    prior_steps: int = 1,
    binarize: str = "sample",
    classifier: Any = None,
    score_every: int = 250,
    score_samples: int = 500,
) -> Strategy:
    """The adversarial strategy (see the module docstring).

    Args:
        model: the :class:`AssociativeAdversarialNetwork`.
        batch_size: real images (and generated ones) per step.
        generator_optimizer: an Optax transformation; default ``adam(2e-4, b1=0.5)`` (DCGAN's
            settings) for 28 x 28, ``adam(1e-3, b1=0.5)`` for 8 x 8.
        discriminator_optimizer: the same default.
        prior_optimizer: default ``adam(0.01)``.
        prior_every: steps between prior updates (``1``: every step).
        prior_steps: optimizer steps of the prior per update.
        binarize: ``"sample"`` or ``"threshold"`` (:data:`BINARIZE`).
        classifier: a trained classifier (:func:`train_classifier`) for the running score, or ``None``.
        score_every: steps between running scores.
        score_samples: generated images per running score.

    Returns:
        A compiled :class:`jqgen.training.Strategy` whose state is :class:`AdversarialState`.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from jqgen.adversarial import AssociativeAdversarialNetwork, make_prior, adversarial
        >>> from jqgen.training import run
        >>> net = AssociativeAdversarialNetwork(make_prior("bernoulli", 16))
        >>> images = jax.random.uniform(jax.random.key(0), (32, 8, 8))
        >>> res = run(adversarial(net, batch_size=8), net.init(jax.random.key(1)), images,
        ...           key=jax.random.key(2), steps=4, progress=False)
        >>> sorted(res.metrics)
        ['generator_loss', 'loss', 'prior_loss', 'score']
    """
    if not isinstance(model, AssociativeAdversarialNetwork):
        raise ValueError(f"model must be an AssociativeAdversarialNetwork, got {type(model).__name__}")
    batch_size = check_int(batch_size, "batch_size", 1)
    prior_every = check_int(prior_every, "prior_every", 1)
    prior_steps = check_int(prior_steps, "prior_steps", 1)
    score_every = check_int(score_every, "score_every", 1)
    score_samples = check_int(score_samples, "score_samples", 2)
    if binarize not in BINARIZE:
        raise ValueError(f"binarize must be one of {BINARIZE}, got {binarize!r}")
    _check_settings(model, classifier, generator_optimizer=generator_optimizer,
                    discriminator_optimizer=discriminator_optimizer, prior_optimizer=prior_optimizer)
    lr = 2e-4 if model.image_shape == (28, 28) else 1e-3
    opt_g = generator_optimizer or optax.adam(lr, b1=0.5)
    opt_d = discriminator_optimizer or optax.adam(lr, b1=0.5)
    opt_p = prior_optimizer or optax.adam(0.01)
    prior = model.prior
    trainable = bool(getattr(prior, "trainable", True))
    classify = None
    if classifier is not None:
        from ._classifier import classify_batch as classify

    def init(params: Any, key: jax.Array) -> AdversarialState:
        with jax.numpy_dtype_promotion("standard"):
            return AdversarialState(opt_g.init(params["generator"]), opt_d.init(params["discriminator"]),
                                    opt_p.init(params["prior"]), jnp.float32(0), jnp.float32(0))

    def d_loss(pd: Any, params: Any, real: jax.Array, fake: jax.Array) -> jax.Array:
        p = dict(params, discriminator=pd)
        lr_, _ = model.discriminate(p, real)
        lf, _ = model.discriminate(p, fake)
        return -jnp.mean(jax.nn.log_sigmoid(lr_)) - jnp.mean(jax.nn.log_sigmoid(-lf))

    def g_loss(pg: Any, params: Any, z: jax.Array) -> jax.Array:
        lf, _ = model.discriminate(params, apply_generator(model.sizes, pg, z))
        return -jnp.mean(jax.nn.log_sigmoid(lf))

    def prior_update(params: Any, state: AdversarialState, real: jax.Array, key: jax.Array) -> tuple[Any, Any, jax.Array]:
        feats = model.features(params, real, jax.random.fold_in(key, 0), binarize)

        def one(carry: tuple[Any, Any], k: jax.Array) -> tuple[tuple[Any, Any], jax.Array]:
            pp, sp = carry
            loss, g = prior.value_and_grad(pp, feats, k)
            with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats and int32 counts
                upd, sp = opt_p.update(g, sp, pp)
            return (optax.apply_updates(pp, upd), sp), loss

        (pp, sp), losses = lax.scan(one, (params["prior"], state.prior), jax.random.split(key, prior_steps))
        return pp, sp, losses[-1].astype(jnp.float32)

    def score(params: Any, key: jax.Array) -> jax.Array:
        images = model.generate(params, jax.random.fold_in(key, 2**31 - 1), score_samples)
        probs, _ = classify(classifier, images)
        return jnp.exp(jnp.maximum(mean_kl_to_marginal(probs, jnp), 0.0)).astype(jnp.float32)

    def step(params: Any, state: AdversarialState, data: jax.Array, i: jax.Array, key: jax.Array):
        k_batch, k_fake, k_gen, k_prior = jax.random.split(jax.random.fold_in(key, i), 4)
        real = data[jax.random.randint(k_batch, (batch_size,), 0, data.shape[0])]
        fake = lax.stop_gradient(model.generate(params, k_fake, batch_size))
        ld, gd = jax.value_and_grad(d_loss)(params["discriminator"], params, real, fake)
        with jax.numpy_dtype_promotion("standard"):
            upd, sd = opt_d.update(gd, state.discriminator, params["discriminator"])
        params = dict(params, discriminator=optax.apply_updates(params["discriminator"], upd))
        z = model.latent(params, k_gen, batch_size)
        lg, gg = jax.value_and_grad(g_loss)(params["generator"], params, z)
        with jax.numpy_dtype_promotion("standard"):
            upd, sg = opt_g.update(gg, state.generator, params["generator"])
        params = dict(params, generator=optax.apply_updates(params["generator"], upd))
        pp, sp, lp = params["prior"], state.prior, state.prior_loss
        if trainable:
            pp, sp, lp = lax.cond(i % prior_every == 0, lambda: prior_update(params, state, real, k_prior),
                                  lambda: (params["prior"], state.prior, state.prior_loss))
        params = dict(params, prior=pp)
        sc = state.score
        if classify is not None:
            sc = lax.cond((i + 1) % score_every == 0, lambda: score(params, key), lambda: state.score)
        new = AdversarialState(sg, sd, sp, lp, sc)
        nan = jnp.float32(jnp.nan)  # (a checkpoint holds finite numbers: NaN only in the metrics)
        return params, new, {"loss": ld, "generator_loss": lg, "prior_loss": lp if trainable else nan,
                             "score": jnp.where((i + 1 >= score_every) & (classify is not None), sc, nan)}

    config = {"batch_size": batch_size, "prior_every": prior_every, "prior_steps": prior_steps, "binarize": binarize,
              "generator_optimizer": describe_settings(opt_g), "discriminator_optimizer": describe_settings(opt_d),
              "prior_optimizer": describe_settings(opt_p), "score_every": score_every, "score_samples": score_samples,
              "classifier": None if classifier is None else describe_settings(getattr(classifier, "params", classifier))}
    return Strategy("adversarial", init=init, step=step, config=config)


def train_adversarial(
    model: AssociativeAdversarialNetwork,
    params: Any,
    images: Any,
    *,
    key: jax.Array,
    steps: int,
    chunk_size: int = 100,
    checkpoint_path: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    metadata: dict[str, Any] | None = None,
    callback: Callback | None = None,
    progress: bool = True,
    **settings: Any,
) -> TrainResult:
    """Trains the network on ``images [N, H, W]`` in ``[0, 1]`` (:func:`adversarial` with
    ``settings``, run by :func:`jqgen.training.run`: checkpoints, resume, progress bar).

    Raises:
        ValueError: not an :class:`AssociativeAdversarialNetwork`, params that are not its
            dict of finite values, images of another shape than the model's, values outside
            ``[0, 1]``, or bad settings.
    """
    if not isinstance(model, AssociativeAdversarialNetwork):
        raise ValueError(f"model must be an AssociativeAdversarialNetwork, got {type(model).__name__}")
    steps = check_int(steps, "steps", 1)  # as jqgen.fit: a run of no steps is a mistake
    model.check_params(params)
    images = check_images(images)
    if tuple(images.shape[1:]) != model.image_shape:
        raise ValueError(f"images have shape {tuple(images.shape[1:])} per image, the model makes {model.image_shape}")
    strategy = adversarial(model, **settings)
    return run(strategy, params, jnp.asarray(images, jnp.float32), key=key, steps=steps, model=model,
               chunk_size=chunk_size, checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every,
               metadata=metadata, callback=callback, progress=progress, desc="adversarial")
