"""``jqgen train adversarial``: a GAN for digits whose latent vector comes from a learned
prior (QC-AAN: a QCBM with multi-basis readout; or an MPS, Bernoulli, uniform bits or
Gaussian noise).

Trains a classifier on the labelled real images first (the judge of the samples, independent
of the GAN), then the network with :func:`jqgen.adversarial.train_adversarial`, which
checkpoints into ``--out`` (a re-run resumes), and writes ``checkpoint.npz``,
``summary.json`` (``inception_score``, ``frechet_distance``, ``class_coverage``,
``classifier_accuracy``, the same scores of held-out real images as the reference),
``samples.png`` and ``training_curve.png``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import jax
import numpy as np

from ._args import add_out_arguments, add_progress_argument, add_seed_argument, positive_float, positive_int
from ._progress import ProgressLines, bar_wanted
from ._report import versions
from ._rundir import TrainingStopped, device_name, prepare_run, slug

__all__ = ["FILES", "command", "register"]

FILES = ("checkpoint.npz", "summary.json", "samples.png", "training_curve.png")
PRIORS = ("qcbm", "mps", "bernoulli", "uniform", "gaussian")
#: Generated images the scores are computed on.
NUM_EVAL = 1000


def register(families: Any) -> None:
    """Adds the ``adversarial`` parser to the ``train`` subparsers."""
    s = families.add_parser(
        "adversarial", help="GAN with a learned prior over bits (QC-AAN: a QCBM prior)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="An associative adversarial network (Rudolph et al., PRX 12, 031010 (2022)): the generator\n"
        "draws its latent bits from --prior, which learns the binarized hidden layer of the discriminator on\n"
        "real images (every --prior-every steps). Scores from a classifier trained on the labelled real\n"
        "images: Inception-style score, Frechet distance to held-out images, class coverage.")
    s.add_argument("--data", default="digits",
                   help="digits (scikit-learn's 8x8 digits, bundled), mnist28 (../shared/data) or a directory / "
                        "mnist28_binary_1k.npz path (default: %(default)s)")
    s.add_argument("--prior", choices=PRIORS, default="qcbm", help="latent prior (default: %(default)s)")
    s.add_argument("--qubits", type=positive_int, default=8, help="QCBM qubits (default: %(default)s)")
    s.add_argument("--bases", type=positive_int, default=2, choices=(1, 2, 3),
                   help="QCBM readout bases: 1 z; 2 z, x; 3 z, x, y (default: %(default)s)")
    s.add_argument("--layers", type=positive_int, default=None, help="QCBM layers (default: the prior's)")
    s.add_argument("--shots", type=positive_int, default=None, help="train the QCBM prior on shots (default: exact)")
    s.add_argument("--chi", type=positive_int, default=8, help="MPS prior bond dimension (default: %(default)s)")
    s.add_argument("--latent", type=positive_int, default=None,
                   help="latent size of the other priors (default: qubits x bases)")
    s.add_argument("--width", type=positive_int, default=None,
                   help="hidden units (8x8) or first-layer channels (28x28) of both networks (default: 64, 16)")
    s.add_argument("--steps", type=positive_int, default=5000, help="training steps (default: %(default)s)")
    s.add_argument("--batch-size", type=positive_int, default=64, help="(default: %(default)s)")
    s.add_argument("--lr", type=positive_float, default=None,
                   help="generator and discriminator Adam rate (default: 1e-3 for 8x8, 2e-4 for 28x28)")
    s.add_argument("--prior-lr", type=positive_float, default=0.01, help="(default: %(default)s)")
    s.add_argument("--prior-every", type=positive_int, default=5, help="steps between prior updates (default: %(default)s)")
    s.add_argument("--classifier-steps", type=positive_int, default=None, help="(default: the classifier's)")
    add_seed_argument(s)
    add_out_arguments(s, "runs/adversarial-<prior>-<data>")
    add_progress_argument(s)
    s.set_defaults(func=command)


def _prior(args: argparse.Namespace) -> Any:
    from ..adversarial import make_prior

    latent = args.latent if args.latent is not None else args.qubits * args.bases
    if args.prior == "qcbm":
        opts: dict[str, Any] = {"num_qubits": args.qubits, "bases": args.bases, "shots": args.shots}
        if args.layers is not None:
            opts["layers"] = args.layers
        return make_prior("qcbm", latent, **opts)
    if args.prior == "mps":
        return make_prior("mps", latent, chi=args.chi)
    return make_prior(args.prior, latent)


def command(args: argparse.Namespace) -> int:
    """Runs ``jqgen train adversarial``; returns 0 or raises (see :mod:`jqgen.cli`)."""
    import optax

    try:
        from ..adversarial import AssociativeAdversarialNetwork, load_images, train_adversarial, train_classifier
    except ImportError as e:
        raise ValueError(f"jqgen train adversarial: {e}") from None
    from ..training import NonFiniteLossError

    t0 = time.perf_counter()
    try:
        data = load_images(args.data)
    except ImportError as e:  # scikit-learn missing
        raise ValueError(f"jqgen train adversarial: {e}") from None
    net = AssociativeAdversarialNetwork(_prior(args), tuple(data.train_images.shape[1:]), args.width)
    name = f"adversarial-{args.prior}-{slug(data.name)}"
    run = prepare_run(args.out, default_name=name, files=FILES, overwrite=args.overwrite, unit="steps",
                      total=args.steps)
    k_clf, k_init, k_train, k_eval = jax.random.split(jax.random.key(args.seed), 4)
    clf_opts = {} if args.classifier_steps is None else {"steps": args.classifier_steps}
    classifier = train_classifier(data, k_clf, **clf_opts)
    settings: dict[str, Any] = {"batch_size": args.batch_size, "prior_every": args.prior_every,
                                "prior_optimizer": optax.adam(args.prior_lr), "classifier": classifier,
                                "score_every": max(1, min(250, args.steps))}
    if args.lr is not None:
        settings["generator_optimizer"] = optax.adam(args.lr, b1=0.5)
        settings["discriminator_optimizer"] = optax.adam(args.lr, b1=0.5)
    hparams = {k: getattr(args, k) for k in ("data", "prior", "qubits", "bases", "layers", "shots", "chi", "latent",
                                            "width", "steps", "batch_size", "lr", "prior_lr", "prior_every", "seed")}
    metadata = {"dataset": data.name, "hyperparameters": hparams}
    lines = ProgressLines(args.no_progress, f"adversarial {args.prior}", args.steps, "steps")

    def on_chunk(done: int, params: Any, state: Any, history: Any) -> None:
        run.progress(done)
        score = history.get("score")
        lines(done, float(history["loss"][-1]), score=f"{score[-1]:.3f}" if score is not None else "n/a")

    status, error, t_fit = "ok", None, time.perf_counter()
    try:
        with run.resuming():
            res = train_adversarial(net, net.init(k_init), data.train_images, key=k_train, steps=args.steps,
                                    checkpoint_path=run.checkpoint, metadata=metadata, callback=on_chunk,
                                    progress=bar_wanted(args.no_progress), **settings)
        params, state, metrics = res.params, res.state, res.metrics
    except NonFiniteLossError as e:
        params, state, metrics = e.params, e.opt_state, {"loss": e.history}
        status, error = "non-finite loss", str(e)
    fit_s = time.perf_counter() - t_fit
    summary = _evaluate(net, params, classifier, data, k_eval)
    _write_outputs(run, net, params, state, metrics, summary, metadata, data.name, args.prior)
    run.write_summary({"status": status, "error": error, "dataset": data.name, "image_shape": list(net.image_shape),
                       "prior": net.prior.config(), "hyperparameters": hparams, **summary,
                       "steps_done": int(len(metrics["loss"])), "fit_s": fit_s, "wall_s": time.perf_counter() - t0,
                       "device": device_name(), **versions()})
    _print(args, data, net, summary, fit_s, run)
    if error is not None:
        raise TrainingStopped(f"{error} The last good parameters were saved to {run.checkpoint}.")
    return 0


def _evaluate(net: Any, params: Any, classifier: Any, data: Any, key: jax.Array) -> dict[str, Any]:
    """The scores of ``NUM_EVAL`` generated images against the held-out real images, and
    the same scores of the real training images (what a perfect generator would get)."""
    from ..adversarial import evaluate_images

    generated = np.asarray(net.generate(params, key, NUM_EVAL), np.float32)
    scores = evaluate_images(classifier, generated, data.test_images)
    real = evaluate_images(classifier, data.train_images[:NUM_EVAL], data.test_images)
    return {**scores, "classifier_accuracy": float(classifier.test_accuracy),
            "real_images": {k: real[k] for k in ("inception_score", "frechet_distance", "class_coverage")},
            "num_generated": NUM_EVAL, "generated_sample": generated[:100]}


def _write_outputs(run: Any, net: Any, params: Any, state: Any, metrics: Any, summary: dict[str, Any],
                   metadata: dict[str, Any], dataset: str, prior: str) -> None:
    from ..plots import plot_adversarial_curves, plot_sample_grid

    grid = summary.pop("generated_sample")
    plot_sample_grid(grid, run["samples.png"], title=f"{prior} prior: IS {summary['inception_score']:.2f}, "
                     f"FD {summary['frechet_distance']:.2f}, coverage {summary['class_coverage']:.0%}")
    plot_adversarial_curves(metrics, run["training_curve.png"], title=f"adversarial network, {prior} prior, {dataset}")
    run.write_final_checkpoint(net, params, state, {**metadata, **{k: v for k, v in summary.items()
                                                                  if k != "class_histogram"}})


def _print(args: argparse.Namespace, data: Any, net: Any, s: dict[str, Any], fit_s: float, run: Any) -> None:
    real = s["real_images"]
    print(f"jqgen train adversarial: {data.name} ({data.train_images.shape[0]} images "
          f"{net.image_shape[0]}x{net.image_shape[1]}), {args.prior} prior ({net.num_latent} latent), {args.steps} steps")
    print(f"  classifier held-out accuracy {s['classifier_accuracy']:.3f}")
    print(f"  generated  Inception-style score {s['inception_score']:.3f} (real images {real['inception_score']:.3f}), "
          f"Frechet distance {s['frechet_distance']:.3f} (real {real['frechet_distance']:.3f}), "
          f"class coverage {s['class_coverage']:.0%}")
    print(f"  time       {fit_s:.1f} s training; device {device_name()}")
    run.print_paths()
