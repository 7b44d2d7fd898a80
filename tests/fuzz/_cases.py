"""Bad-input cases for every public callable of jqgen (the fuzz suite's registry).

``CASES`` maps each public object (by its canonical ``module.qualname``) to a list of
calls ``f(c) -> None`` on bad input, where ``c`` is the shared :class:`Ctx` of small valid
objects. Every call must raise ``ValueError`` or ``TypeError`` (a clear refusal) within the
time limit; a call wrapped in :func:`legal` is degenerate but legal input and must return
a finite, correct answer instead (its checker asserts it). ``EXEMPT`` names the public
objects that take no input of their own (result records, exception types, protocols),
with the reason. tests/fuzz/test_fuzz.py fails for a public name in neither.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

NAN = float("nan")
INF = float("inf")
HUGE = 10**12


class Ctx:
    """Small valid objects shared by the cases, built on first use."""

    @functools.cached_property
    def key(self) -> jax.Array:
        return jax.random.key(0)

    @functools.cached_property
    def tmp(self) -> str:
        return tempfile.mkdtemp(prefix="jqgen-fuzz-")

    @functools.cached_property
    def mps(self) -> Any:
        import jqgen

        return jqgen.mps.random_mps(self.key, 4, 2)

    @functools.cached_property
    def nan_mps(self) -> Any:
        import jqgen

        return jqgen.mps.MPS(jnp.full((4, 2, 2, 2), jnp.nan))

    @functools.cached_property
    def zero_mps(self) -> Any:
        import jqgen

        return jqgen.mps.MPS(jnp.zeros((4, 2, 2, 2)))

    @functools.cached_property
    def mps_model(self) -> Any:
        import jqgen

        return jqgen.MPSBornMachine(4, 2)

    @functools.cached_property
    def qcbm(self) -> Any:
        import jqgen

        return jqgen.QCBM(jqgen.qcbm.HardwareEfficient(3, 1))

    @functools.cached_property
    def qcbm4(self) -> Any:
        import jqgen

        return jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 1))

    @functools.cached_property
    def qparams4(self) -> Any:
        return self.qcbm4.init(self.key)

    @functools.cached_property
    def qparams(self) -> Any:
        return self.qcbm.init(self.key)

    @functools.cached_property
    def nan_qparams(self) -> Any:
        return {k: jnp.full_like(v, jnp.nan) for k, v in self.qparams.items()}

    @functools.cached_property
    def dataset(self) -> Any:
        import jqgen

        return jqgen.load_dataset("bas-2x2")

    @functools.cached_property
    def bits4(self) -> np.ndarray:
        return self.dataset.data

    @functools.cached_property
    def device(self) -> Any:
        from jqgen.hardware import Device

        return Device.local(5)

    @functools.cached_property
    def portfolio(self) -> Any:
        from jqgen.geo import BinaryPortfolio

        return BinaryPortfolio(np.array([0.1, 0.2, 0.15, 0.05]), np.eye(4) * 0.01, 2)

    @functools.cached_property
    def instance(self) -> Any:
        from jqgen.geo import synthetic_instance

        return synthetic_instance(6, seed=0)

    @functools.cached_property
    def truncated_npz(self) -> str:
        good = os.path.join(self.tmp, "good.npz")
        np.savez(good, data=np.eye(4, dtype=np.uint8))
        with open(good, "rb") as f:
            raw = f.read()
        path = os.path.join(self.tmp, "truncated.npz")
        with open(path, "wb") as f:
            f.write(raw[: len(raw) // 2])
        return path

    @functools.cached_property
    def garbage(self) -> str:
        path = os.path.join(self.tmp, "garbage.txt")
        with open(path, "w") as f:
            f.write("not a file jqgen reads\n" * 5)
        return path

    @functools.cached_property
    def checkpoint(self) -> str:
        import jqgen

        path = os.path.join(self.tmp, "ck.npz")
        jqgen.save_checkpoint(path, self.mps_model, self.mps_model.init(self.key))
        return path

    @functools.cached_property
    def journal(self) -> Any:
        from jqgen.hardware import Journal

        return Journal(os.path.join(self.tmp, "j.jsonl"))


    # ------------------------------------------------------------------ adversarial (small, no training)
    @functools.cached_property
    def aan(self) -> Any:
        from jqgen.adversarial import AssociativeAdversarialNetwork, make_prior

        return AssociativeAdversarialNetwork(make_prior("bernoulli", 4))

    @functools.cached_property
    def aan_params(self) -> Any:
        """Zero weights of the right shapes (no init to compile: the cases refuse before using them)."""
        shapes = jax.eval_shape(self.aan.init, self.key)
        return jax.tree_util.tree_map(lambda a: np.zeros(a.shape, a.dtype), shapes)

    @functools.cached_property
    def nan_aan_params(self) -> Any:
        return jax.tree_util.tree_map(lambda v: np.full_like(v, np.nan), self.aan_params)

    @functools.cached_property
    def qprior(self) -> Any:
        from jqgen.adversarial import QCBMPrior

        return QCBMPrior(2, ("z", "x"), layers=1)

    @functools.cached_property
    def qprior_params(self) -> Any:
        return self.qprior.init(self.key)

    @functools.cached_property
    def nan_qprior_params(self) -> Any:
        return {k: jnp.full_like(v, jnp.nan) for k, v in self.qprior_params.items()}

    @functools.cached_property
    def images8(self) -> np.ndarray:
        return np.random.default_rng(0).random((16, 8, 8)).astype(np.float32)

    @functools.cached_property
    def image_data(self) -> Any:
        from jqgen.adversarial import ImageData

        labels = (np.arange(16) % 10).astype(np.int32)
        return ImageData(self.images8, labels, self.images8[:8], labels[:8], "tiny")

    @functools.cached_property
    def classifier(self) -> Any:
        """A valid 8x8 classifier of zero weights (nothing computed or compiled: the cases refuse first)."""
        from flax import nnx

        from jqgen.adversarial import Classifier, ClassifierConfig, TrainedClassifier

        graphdef, state = nnx.split(nnx.eval_shape(lambda: Classifier(ClassifierConfig((8, 8)), nnx.Rngs(0))))
        params = jax.tree_util.tree_map(lambda a: np.zeros(a.shape, a.dtype), nnx.to_pure_dict(state))
        return TrainedClassifier(graphdef, params, float("nan"), (8, 8))

    def mnist_dir(self, kind: str) -> str:
        """A folder of MNIST files that load_mnist28 must refuse: ``"shape"`` (images of the
        wrong width) or ``"truncated"`` (the data archive cut short)."""
        from jqgen.adversarial._data import MNIST_FILE, MNIST_LABELS_FILE

        folder = os.path.join(self.tmp, f"mnist-{kind}")
        if not os.path.isdir(folder):
            os.makedirs(folder)
            z = np.zeros((3, 10), np.uint8)
            np.savez(os.path.join(folder, MNIST_FILE), data=z, data_test=z)
            np.savez(os.path.join(folder, MNIST_LABELS_FILE), labels=np.zeros(3, np.int32),
                     labels_test=np.zeros(3, np.int32))
            if kind == "truncated":
                with open(os.path.join(folder, MNIST_FILE), "rb") as f:
                    raw = f.read()
                with open(os.path.join(folder, MNIST_FILE), "wb") as f:
                    f.write(raw[: len(raw) // 2])
        return folder


class Legal:
    """A degenerate but legal call and the check of its answer."""

    def __init__(self, call: Callable[[Ctx], Any], check: Callable[[Any], bool]) -> None:
        self.call, self.check = call, check


def legal(call: Callable[[Ctx], Any], check: Callable[[Any], bool]) -> Legal:
    return Legal(call, check)


def _finite(x: Any) -> bool:
    return bool(np.all(np.isfinite(np.asarray(x, dtype=np.float64))))


P_NAN = np.array([NAN, 0.5, 0.25, 0.25], np.float32)
P_NEG = np.array([-0.5, 0.5, 0.5, 0.5], np.float32)
P_OK = np.full(4, 0.25, np.float32)
BITS_BAD = np.array([[2, 0, 1, 0]])
BITS_NAN = np.array([[NAN, 0, 1, 0]])
EMPTY2 = np.zeros((0, 4), np.uint8)


def _q(name: str) -> Callable[..., Any]:
    import importlib

    mod, attr = name.rsplit(".", 1)
    return getattr(importlib.import_module(mod), attr)


def cases() -> dict[str, list[Any]]:
    """``canonical name -> bad calls`` (built lazily: importing jqgen is the caller's job)."""
    import jqgen
    import jqgen.cli
    import jqgen.plots
    from jqgen import distributions as D
    from jqgen import geo as G
    from jqgen import hardware as H
    from jqgen import mps as M
    from jqgen import plots as PL
    from jqgen import qcbm as Q
    from jqgen import synergy as S
    from jqgen import training as T

    out: dict[str, list[Any]] = {}

    def add(obj: Any, *calls: Any) -> None:
        out[f"{obj.__module__}.{obj.__qualname__}"] = list(calls)

    # ------------------------------------------------------------------ bits, spaces, data
    add(jqgen.all_bitstrings, lambda c: jqgen.all_bitstrings(0), lambda c: jqgen.all_bitstrings(HUGE),
        lambda c: jqgen.all_bitstrings(2.5))
    add(jqgen.bits_to_index, lambda c: jqgen.bits_to_index(BITS_BAD), lambda c: jqgen.bits_to_index(np.zeros((2, 40))),
        lambda c: jqgen.bits_to_index(np.int64(3)), lambda c: jqgen.bits_to_index(BITS_NAN))
    add(jqgen.index_to_bits, lambda c: jqgen.index_to_bits(np.array([-1]), 3),
        lambda c: jqgen.index_to_bits(np.array([8]), 3), lambda c: jqgen.index_to_bits(np.array([0.5]), 3),
        lambda c: jqgen.index_to_bits(np.array([1]), -2), lambda c: jqgen.index_to_bits(np.array([1]), 64))
    add(jqgen.pack_bits, lambda c: jqgen.pack_bits(BITS_BAD), lambda c: jqgen.pack_bits(np.zeros(4)),
        lambda c: jqgen.pack_bits(BITS_NAN), lambda c: jqgen.pack_bits(np.array([["a", "b"]])),
        legal(lambda c: jqgen.pack_bits(EMPTY2), lambda r: r.shape == (0,)))
    add(jqgen.Cardinality, lambda c: jqgen.Cardinality(4, 5), lambda c: jqgen.Cardinality(0, 0),
        lambda c: jqgen.Cardinality(4, -1), lambda c: jqgen.Cardinality(4.0, 2),
        lambda c: jqgen.Cardinality(64, 32).enumerate() if jqgen.Cardinality(64, 32).size > 0 else None)
    add(jqgen.BarsAndStripesSpace, lambda c: jqgen.BarsAndStripesSpace(0, 3),
        lambda c: jqgen.BarsAndStripesSpace(2, -1), lambda c: jqgen.BarsAndStripesSpace(2, 2).contains(BITS_BAD[:, :3]))
    add(jqgen.Enumerated, lambda c: jqgen.Enumerated(EMPTY2), lambda c: jqgen.Enumerated(BITS_BAD),
        lambda c: jqgen.Enumerated(np.zeros(4)))
    add(jqgen.QuadraticCost, lambda c: jqgen.QuadraticCost(np.zeros(3), np.zeros((2, 2))),
        lambda c: jqgen.QuadraticCost(np.array([NAN, 0.0]), np.zeros((2, 2))))
    add(jqgen.random_quadratic_cost, lambda c: jqgen.random_quadratic_cost(0),
        lambda c: jqgen.random_quadratic_cost(4, risk=NAN), lambda c: jqgen.random_quadratic_cost(HUGE))
    add(jqgen.spaces.bars_and_stripes, lambda c: jqgen.spaces.bars_and_stripes(0, 2),
        lambda c: jqgen.spaces.bars_and_stripes(2, 2.5), lambda c: jqgen.spaces.bars_and_stripes(40, 40))
    add(jqgen.Dataset, lambda c: jqgen.Dataset("x", BITS_BAD), lambda c: jqgen.Dataset("x", EMPTY2))
    add(jqgen.load_dataset, lambda c: jqgen.load_dataset(c.truncated_npz), lambda c: jqgen.load_dataset(c.garbage),
        lambda c: jqgen.load_dataset("cardinality-4-5-0.5"), lambda c: jqgen.load_dataset("bas-0x3"),
        lambda c: jqgen.load_dataset("gaussian-mixture-0"), lambda c: jqgen.load_dataset(3))
    add(jqgen.data.load_binary, lambda c: jqgen.data.load_binary(c.truncated_npz),
        lambda c: jqgen.data.load_binary(c.garbage), lambda c: jqgen.data.load_binary(c.checkpoint))
    add(jqgen.cardinality_dataset, lambda c: jqgen.cardinality_dataset(4, 5, 0.5),
        lambda c: jqgen.cardinality_dataset(4, 2, NAN), lambda c: jqgen.cardinality_dataset(4, 2, -0.1),
        lambda c: jqgen.cardinality_dataset(HUGE, 2, 0.5))
    add(jqgen.cardinality_cost_dataset, lambda c: jqgen.cardinality_cost_dataset(4, 5, 0.5),
        lambda c: jqgen.cardinality_cost_dataset(6, 3, 0.5, temperature=NAN),
        lambda c: jqgen.cardinality_cost_dataset(6, 3, 0.5, exclude_best=2.0))
    add(jqgen.gaussian_mixture, lambda c: jqgen.gaussian_mixture(0), lambda c: jqgen.gaussian_mixture(4, width=NAN),
        lambda c: jqgen.gaussian_mixture(4, width=-1.0), lambda c: jqgen.gaussian_mixture(HUGE))
    add(jqgen.gaussian_mixture_dataset, lambda c: jqgen.gaussian_mixture_dataset(4, num_samples=0),
        lambda c: jqgen.gaussian_mixture_dataset(4, num_samples=HUGE))

    # ------------------------------------------------------------------ metrics
    add(jqgen.generalization_metrics,
        lambda c: jqgen.generalization_metrics(BITS_BAD, c.bits4, jqgen.Cardinality(4, 2)),
        lambda c: jqgen.generalization_metrics(c.bits4, c.bits4, jqgen.Cardinality(5, 2)),
        lambda c: jqgen.generalization_metrics(EMPTY2, c.bits4, jqgen.Cardinality(4, 2)),
        lambda c: jqgen.generalization_metrics(c.bits4, c.bits4, jqgen.Cardinality(4, 2), quality_fraction=NAN))
    add(jqgen.precision_recall, lambda c: jqgen.precision_recall(BITS_BAD, jqgen.Cardinality(4, 2)),
        lambda c: jqgen.precision_recall(EMPTY2, jqgen.Cardinality(4, 2)),
        lambda c: jqgen.precision_recall(c.bits4, jqgen.Cardinality(3, 2)))
    add(jqgen.quality_metrics,
        lambda c: jqgen.quality_metrics(c.bits4, c.bits4, jqgen.Cardinality(4, 2), jqgen.random_quadratic_cost(4),
                                        quality_fraction=-1.0),
        lambda c: jqgen.quality_metrics(BITS_BAD, c.bits4, jqgen.Cardinality(4, 2), jqgen.random_quadratic_cost(4)))
    add(jqgen.metrics.perfect_coverage, lambda c: jqgen.metrics.perfect_coverage(0, 5),
        lambda c: jqgen.metrics.perfect_coverage(4, -1), lambda c: jqgen.metrics.perfect_coverage(NAN, 3),
        legal(lambda c: jqgen.metrics.perfect_coverage(1, 1), lambda r: r == 1.0))

    # ------------------------------------------------------------------ distributions
    add(D.total_variation, lambda c: D.total_variation(P_NAN, P_OK), lambda c: D.total_variation(P_NEG, P_OK),
        lambda c: D.total_variation(P_OK, P_OK[:2]), lambda c: D.total_variation(np.zeros(0), np.zeros(0)),
        legal(lambda c: D.total_variation(P_OK, P_OK), lambda r: float(r) == 0.0))
    add(D.kl_divergence, lambda c: D.kl_divergence(P_NAN, P_OK), lambda c: D.kl_divergence(P_OK, P_NAN),
        lambda c: D.kl_divergence(P_OK, P_OK, eps=-1.0), lambda c: D.kl_divergence(P_OK, P_OK, smoothing="nope"),
        legal(lambda c: D.kl_divergence(P_OK, P_OK), lambda r: abs(float(r)) < 1e-6))
    add(D.cross_entropy, lambda c: D.cross_entropy(P_NAN, P_OK), lambda c: D.cross_entropy(P_OK, P_NEG),
        lambda c: D.cross_entropy(P_OK, P_OK, eps=0.0))
    add(D.entropy, lambda c: D.entropy(P_NAN), lambda c: D.entropy(P_NEG), lambda c: D.entropy(np.zeros(0)),
        legal(lambda c: D.entropy(np.array([1.0, 0.0])), lambda r: float(r) == 0.0))
    add(D.mmd, lambda c: D.mmd(P_NAN, P_OK), lambda c: D.mmd(P_OK, P_OK[:3]), lambda c: D.mmd(P_OK, P_OK, sigmas=[-1.0]),
        lambda c: D.mmd(P_OK, P_OK, kernel="nope"))
    add(D.mmd_samples, lambda c: D.mmd_samples(EMPTY2, c.bits4), lambda c: D.mmd_samples(c.bits4, EMPTY2),
        lambda c: D.mmd_samples(BITS_BAD, c.bits4), lambda c: D.mmd_samples(c.bits4, c.bits4[:, :3]),
        lambda c: D.mmd_samples(c.bits4[:1], c.bits4, unbiased=True))
    add(D.kernel_matvec, lambda c: D.kernel_matvec(P_NAN), lambda c: D.kernel_matvec(P_OK[:3]),
        lambda c: D.kernel_matvec(P_OK, sigmas=[NAN]))
    add(D.sample_counts, lambda c: D.sample_counts(P_NAN, c.key, 100), lambda c: D.sample_counts(P_NEG, c.key, 100),
        lambda c: D.sample_counts(P_OK, c.key, 0), lambda c: D.sample_counts(P_OK, c.key, 2.5),
        lambda c: D.sample_counts(np.zeros(4), c.key, 10))
    add(D.counts_to_probs, lambda c: D.counts_to_probs({"0101": -1, "0000": 3}, 4),
        lambda c: D.counts_to_probs({"0201": 3}, 4), lambda c: D.counts_to_probs({"01": 3}, 4),
        lambda c: D.counts_to_probs({"0101": NAN}, 4), lambda c: D.counts_to_probs({}, 4),
        lambda c: D.counts_to_probs({"0101": 0}, 4), lambda c: D.counts_to_probs({"0101": 1}, 0))
    add(D.histogram, lambda c: D.histogram(BITS_BAD, 4), lambda c: D.histogram(c.bits4, 3),
        lambda c: D.histogram(c.bits4, 40))
    add(D.empirical_distribution, lambda c: D.empirical_distribution(EMPTY2, 4),
        lambda c: D.empirical_distribution(BITS_NAN, 4), lambda c: D.empirical_distribution(c.bits4, 0))
    add(D.distribution_loss, lambda c: D.distribution_loss("hinge"), lambda c: D.distribution_loss("kl", eps=-1.0),
        lambda c: D.distribution_loss("mmd", sigmas=[]), lambda c: D.distribution_loss("kl")(P_NAN, P_OK))

    # ------------------------------------------------------------------ MPS
    add(M.bond_dims, lambda c: M.bond_dims(1, 2), lambda c: M.bond_dims(4, 0), lambda c: M.bond_dims(4.0, 2),
        legal(lambda c: M.bond_dims(10**6, 1), lambda r: len(r) == 10**6 + 1 and max(r) == 1))
    add(M.MPS, lambda c: M.log_norm(M.MPS(jnp.zeros((4, 2, 3, 2)))))
    add(M.random_mps, lambda c: M.random_mps(c.key, 2000, 4096), lambda c: M.random_mps(c.key, 1, 2),
        lambda c: M.random_mps(c.key, 4, -1), lambda c: M.random_mps(c.key, 4, 2, dtype=jnp.int32),
        lambda c: M.random_mps(c.key, HUGE, 2))
    add(M.product_mps, lambda c: M.product_mps(np.zeros((4, 2))), lambda c: M.product_mps(np.full((4, 2), NAN)),
        lambda c: M.product_mps(np.ones((4, 3))), lambda c: M.product_mps(np.ones((4, 2)), chi_max=10**7))
    add(M.from_tensors, lambda c: M.from_tensors(np.zeros((4, 2, 2, 2), np.float32)),
        lambda c: M.from_tensors(np.full((4, 2, 2, 2), NAN, np.float32)),
        lambda c: M.from_tensors(np.ones((4, 2, 2, 2), np.int32)), lambda c: M.from_tensors(np.ones((4, 2, 2))))
    add(M.from_dense, lambda c: M.from_dense(np.zeros(8)), lambda c: M.from_dense(np.ones(6)),
        lambda c: M.from_dense(np.array([NAN, 1, 1, 1])), lambda c: M.from_dense(np.ones(8), chi_max=0))
    add(M.to_dense, lambda c: M.to_dense(c.nan_mps), lambda c: M.to_dense("mps"))
    add(M.probs, lambda c: M.probs(c.nan_mps), lambda c: M.probs(c.zero_mps))
    add(M.log_prob, lambda c: M.log_prob(c.mps, BITS_BAD), lambda c: M.log_prob(c.mps, np.zeros((1, 5))),
        lambda c: M.log_prob(c.zero_mps, np.zeros((1, 4))), lambda c: M.log_prob(c.nan_mps, np.zeros((1, 4))))
    add(M.log_amplitude_sq, lambda c: M.log_amplitude_sq(c.mps, BITS_NAN), lambda c: M.log_amplitude_sq(c.mps, 3))
    add(M.sample, lambda c: M.sample(c.mps, c.key, 10**10), lambda c: M.sample(c.mps, c.key, 0),
        lambda c: M.sample(c.mps, c.key, 2.5), lambda c: M.sample(c.zero_mps, c.key, 3))
    add(M.sample_and_log_prob, lambda c: M.sample_and_log_prob(c.mps, c.key, -1),
        lambda c: M.sample_and_log_prob(c.nan_mps, c.key, 3))
    add(M.canonicalize, lambda c: M.canonicalize(c.mps, np.int64(-1)), lambda c: M.canonicalize(c.mps, 4),
        lambda c: M.canonicalize(c.mps, 1.5), lambda c: M.canonicalize(c.mps, True))
    add(M.left_canonical, lambda c: M.left_canonical(c.nan_mps))
    add(M.right_canonical, lambda c: M.right_canonical(c.nan_mps))
    add(M.normalize, lambda c: M.normalize(c.zero_mps), lambda c: M.normalize(c.nan_mps))
    add(M.norm, lambda c: M.norm(c.nan_mps), legal(lambda c: M.norm(c.zero_mps), lambda r: float(r) == 0.0))
    add(M.log_norm, lambda c: M.log_norm(np.ones((4, 2, 2, 2))))
    add(M.entanglement_entropies, lambda c: M.entanglement_entropies(c.nan_mps))
    add(M.schmidt_values, lambda c: M.schmidt_values(c.nan_mps))
    add(jqgen.MPSBornMachine, lambda c: jqgen.MPSBornMachine(100, 10**6), lambda c: jqgen.MPSBornMachine(1, 2),
        lambda c: jqgen.MPSBornMachine(4, 2, init_noise=NAN), lambda c: jqgen.MPSBornMachine(4, 2, dtype="int8"),
        lambda c: jqgen.MPSBornMachine(4, 2, max_bytes=-1))
    add(M.SymmetricMPSBornMachine, lambda c: M.SymmetricMPSBornMachine(4, 5, 2),
        lambda c: M.SymmetricMPSBornMachine(4, 2, 0), lambda c: M.SymmetricMPSBornMachine(2000, 1000, 4096))
    add(M.BlockMPS, lambda c: M.SymmetricMPSBornMachine(4, 2, 2).log_prob(M.BlockMPS(jnp.zeros((4, 2, 3, 2))),
                                                                          np.zeros((1, 4))))
    add(M.ChargeLayout, lambda c: M.ChargeLayout((1, 1, 1), 5, 2), lambda c: M.ChargeLayout((1, -1), 0, 2),
        lambda c: M.ChargeLayout((1, 1), 1, 0))
    add(M.SweepConfig, lambda c: M.SweepConfig(0), lambda c: M.SweepConfig(4, lr=NAN),
        lambda c: M.SweepConfig(4, num_batches=0), lambda c: M.SweepConfig(4, cutoff=-1.0))
    add(M.initial_sweep_state, lambda c: M.initial_sweep_state(M.SweepConfig(4), c.key, 1),
        lambda c: M.initial_sweep_state(M.SweepConfig(4), c.key, 4, c.zero_mps))
    add(M.sweep_loop, lambda c: M.sweep_loop(M.SweepConfig(4), jnp.zeros((4, 4, 2, 4)), np.ones(5, np.int64),
                                             jnp.asarray(BITS_BAD), c.key, 0.1, 1e-7))

    # ------------------------------------------------------------------ QCBM
    add(jqgen.QCBM, lambda c: jqgen.QCBM(Q.HardwareEfficient(40, 1)), lambda c: jqgen.QCBM("line"),
        lambda c: jqgen.QCBM(Q.HardwareEfficient(3, 1), engine="nope"),
        lambda c: jqgen.QCBM(Q.HardwareEfficient(40, 1), engine="tensorcircuit"),
        lambda c: c.qcbm.probs(c.nan_qparams))
    add(jqgen.ConservingQCBM, lambda c: jqgen.ConservingQCBM(Q.HardwareEfficient(3, 1)),
        lambda c: jqgen.ConservingQCBM(Q.Givens(60, 30, 2)))
    add(Q.HardwareEfficient, lambda c: Q.HardwareEfficient(0, 1), lambda c: Q.HardwareEfficient(3, -1),
        lambda c: Q.HardwareEfficient(3, 1, "mesh"))
    from jax.sharding import Mesh

    one = lambda: Mesh(np.array(jax.devices()[:1]), ("amps",))  # noqa: E731
    add(Q.sharded_state, lambda c: Q.sharded_state(c.mps_model, c.mps, one()),
        lambda c: Q.sharded_state(c.qcbm, c.nan_qparams, one()), lambda c: Q.sharded_state(c.qcbm, c.qparams, "mesh"),
        lambda c: Q.sharded_state(c.qcbm, c.qparams, one(), axis="x"),
        lambda c: Q.sharded_state(jqgen.QCBM(Q.LiuWang(40, 1)), jqgen.QCBM(Q.LiuWang(40, 1)).init(c.key), one()))
    add(Q.sharded_probs, lambda c: Q.sharded_probs(c.qcbm, {"x": jnp.zeros(3)}, one()))
    add(Q.devices_needed, lambda c: Q.devices_needed(40, 0), lambda c: Q.devices_needed(0, 2**30),
        lambda c: Q.devices_needed(60, 2**30), lambda c: Q.devices_needed(20, 2**30, dtype=jnp.int8))
    add(Q.LiuWang, lambda c: Q.LiuWang(0, 1), lambda c: Q.LiuWang(3, 1, cnots=((0, 5),)))
    add(Q.SU4Brickwork, lambda c: Q.SU4Brickwork(1, 1), lambda c: Q.SU4Brickwork(3, 1, order="nope"))
    add(Q.Givens, lambda c: Q.Givens(4, 5, 1), lambda c: Q.Givens(4, 2, 0), lambda c: Q.Givens(4, 2, 1, topology="x"))
    add(Q.Op, lambda c: Q.circuit_from_ops(2, [Q.Op("nope", (0,), 0.1)]))
    add(Q.ansatz_by_name, lambda c: Q.ansatz_by_name("nope", 3, 1), lambda c: Q.ansatz_by_name("line", 0, 1))
    add(Q.ansatz_from_config, lambda c: Q.ansatz_from_config({"ansatz": "nope"}),
        lambda c: Q.ansatz_from_config({"ansatz": "hardware-efficient", "num_qubits": -1, "layers": 1}))
    add(Q.available_memory, legal(lambda c: Q.available_memory(), lambda r: r > 0))
    add(Q.chow_liu_tree, lambda c: Q.chow_liu_tree(BITS_BAD), lambda c: Q.chow_liu_tree(c.bits4, root=9),
        lambda c: Q.chow_liu_tree(EMPTY2))
    add(Q.circuit_from_ops, lambda c: Q.circuit_from_ops(0, []), lambda c: Q.circuit_from_ops(2, [Q.Op("rx", (5,), 0.1)]))
    add(Q.full_support_layers, lambda c: Q.full_support_layers(4, 5), lambda c: Q.full_support_layers(0, 0),
        lambda c: Q.full_support_layers(4, 2, topology="x"))
    add(Q.make_loss, lambda c: Q.make_loss(c.qcbm, "hinge"), lambda c: Q.make_loss(c.qcbm, shots=0),
        lambda c: Q.make_loss(c.qcbm, "mmd")(c.nan_qparams, c.bits4[:, :3], c.key),
        lambda c: Q.make_loss(c.qcbm, gradient="nope"))
    add(Q.mutual_information, lambda c: Q.mutual_information(BITS_BAD), lambda c: Q.mutual_information(EMPTY2))
    add(Q.ops, lambda c: Q.ops(c.qcbm.ansatz, {}), lambda c: Q.ops(c.qcbm.ansatz, c.nan_qparams))
    add(Q.parameter_shift_grad, lambda c: Q.parameter_shift_grad(c.qcbm, c.qparams, jnp.ones(8), shots=0),
        lambda c: Q.parameter_shift_grad(c.qcbm, c.qparams, jnp.ones(8), shots=10))
    for g in (Q.rx, Q.ry, Q.rz, Q.rxx, Q.ryy, Q.rzz):
        add(g, (lambda g: lambda c: g(jnp.asarray(NAN)))(g), (lambda g: lambda c: g("x"))(g))
    add(Q.su4, lambda c: Q.su4(jnp.ones(3)), lambda c: Q.su4(jnp.full(15, NAN)))
    add(Q.statevector_bytes, lambda c: Q.statevector_bytes(-1), lambda c: Q.statevector_bytes(3, "int8"))
    add(Q.subspace_bits, lambda c: Q.subspace_bits(np.array([10]), 4, 2), lambda c: Q.subspace_bits(np.array([0]), 4, 5),
        lambda c: Q.subspace_bits(np.array([-1]), 4, 2))
    add(Q.subspace_index, legal(lambda c: Q.subspace_index(np.array([[1, 1, 1, 0]]), 2),  # documented: -1
                                lambda r: np.asarray(r).tolist() == [-1]),
        lambda c: Q.subspace_index(BITS_BAD, 2))
    add(Q.subspace_size, lambda c: Q.subspace_size(4, 5), lambda c: Q.subspace_size(-1, 0),
        legal(lambda c: Q.subspace_size(4, 0), lambda r: r == 1))
    add(Q.subspace_bytes, lambda c: Q.subspace_bytes(c.qcbm.ansatz))
    add(Q.tc_circuit, lambda c: Q.tc_circuit(c.qcbm.ansatz, {}), lambda c: Q.tc_circuit(c.qcbm.ansatz, c.nan_qparams))
    add(Q.tc_state, lambda c: Q.tc_state(c.qcbm.ansatz, c.nan_qparams), lambda c: Q.tc_state("x", c.qparams))
    add(Q.tc_settings, lambda c: Q.tc_settings(backend="nope").__enter__(),
        lambda c: Q.tc_settings(dtype="float8").__enter__())

    # ------------------------------------------------------------------ checkpoint, evaluation, training
    add(jqgen.save_checkpoint, lambda c: jqgen.save_checkpoint(os.path.join(c.tmp, "x.npz"), c.mps_model, c.nan_mps),
        lambda c: jqgen.save_checkpoint(os.path.join(c.tmp, "y.npz"), "model", c.mps),
        lambda c: jqgen.save_checkpoint(os.path.join(c.tmp, "z.npz"), c.mps_model, c.mps, metadata={"x": object()}))
    add(jqgen.load_checkpoint, lambda c: jqgen.load_checkpoint(c.truncated_npz), lambda c: jqgen.load_checkpoint(c.garbage))
    add(jqgen.checkpoint_info, lambda c: jqgen.checkpoint_info(c.truncated_npz),
        lambda c: jqgen.checkpoint_info(c.garbage))
    add(jqgen.checkpoint.model_from_config, lambda c: jqgen.checkpoint.model_from_config({"family": "nope"}),
        lambda c: jqgen.checkpoint.model_from_config({"family": "mps", "num_bits": 100, "chi_max": 10**6}),
        lambda c: jqgen.checkpoint.model_from_config({"family": "mps", "num_bits": -1, "chi_max": 2}))
    add(jqgen.checkpoint.update_metadata, lambda c: jqgen.checkpoint.update_metadata(c.garbage, {}),
        lambda c: jqgen.checkpoint.update_metadata(c.checkpoint, {"x": object()}))
    add(jqgen.protocol.check_support, lambda c: jqgen.protocol.check_support(M.SymmetricMPSBornMachine(4, 2, 2),
                                                                             np.ones((1, 4))))
    add(jqgen.batched_log_prob, lambda c: jqgen.batched_log_prob(c.mps_model, c.mps, BITS_BAD),
        lambda c: jqgen.batched_log_prob(c.mps_model, c.mps, c.bits4, batch_size=0))
    add(jqgen.mean_nll, lambda c: jqgen.mean_nll(c.mps_model, c.mps, EMPTY2),
        lambda c: jqgen.mean_nll(c.mps_model, c.zero_mps, c.bits4))
    add(jqgen.evaluate, lambda c: jqgen.evaluate(c.mps_model, c.mps, c.key, c.dataset, num_samples=0),
        lambda c: jqgen.evaluate(c.mps_model, c.mps, c.key, c.dataset, num_samples=10**10))
    add(jqgen.format_report, lambda c: jqgen.format_report("report"), lambda c: jqgen.format_report({"nll": NAN}))
    add(jqgen.fit, lambda c: jqgen.fit(c.mps_model, c.mps, BITS_BAD, None, key=c.key, steps=1),
        lambda c: jqgen.fit(c.mps_model, c.nan_mps, c.bits4, _adam(), key=c.key, steps=1, progress=False),
        lambda c: jqgen.fit(c.mps_model, c.mps, c.bits4, _adam(), key=c.key, steps=0, progress=False),
        lambda c: jqgen.fit(c.mps_model, c.mps, c.bits4, _adam(), key=c.key, steps=1, progress=False, devices="cpu"))
    add(jqgen.cmaes_fit, lambda c: jqgen.cmaes_fit(c.qcbm, c.qparams, c.bits4[:, :3], key=c.key, generations=0),
        lambda c: jqgen.cmaes_fit(c.qcbm, c.nan_qparams, c.bits4[:, :3], key=c.key, generations=1))
    add(jqgen.sweep_train, lambda c: jqgen.sweep_train(c.bits4, max_bond=2, loops=1, key=c.key, num_batches=2,
                                                       init=c.zero_mps),
        lambda c: jqgen.sweep_train(BITS_BAD, max_bond=2, loops=1, key=c.key),
        lambda c: jqgen.sweep_train(c.bits4, max_bond=0, loops=1, key=c.key),
        lambda c: jqgen.sweep_train(c.bits4, max_bond=10**8, loops=1, key=c.key, num_batches=2),
        lambda c: jqgen.sweep_train(c.bits4, max_bond=2, loops=1, key=c.key, num_batches=2, devices=[]))
    add(T.gradient, lambda c: T.gradient(c.mps_model, _adam(), batch_size=0),
        lambda c: T.gradient("model", _adam(), batch_size=4))
    add(T.cmaes, lambda c: T.cmaes(c.qcbm, c.qparams, population_size=0),
        lambda c: T.cmaes(c.qcbm, c.qparams, population_size=4, sigma0=NAN))
    add(T.sweep, lambda c: T.sweep(M.SweepConfig(2, num_batches=2), BITS_BAD, c.key))
    add(T.run, lambda c: T.run(T.gradient(c.mps_model, _adam(), batch_size=2), c.mps, c.bits4, key=c.key, steps=-1),
        lambda c: T.run("strategy", c.mps, c.bits4, key=c.key, steps=1))
    add(T.stored_state, lambda c: T.stored_state(c.garbage), lambda c: T.stored_state(c.truncated_npz))
    add(T.describe_settings, legal(lambda c: T.describe_settings(object()),  # documented: not comparable
                                   lambda r: r == "<not comparable across processes>"),
        legal(lambda c: T.describe_settings(np.array([NAN])), lambda r: len(r) == 64))
    add(T.default_population, lambda c: T.default_population(0), lambda c: T.default_population(2.5))
    add(T.CMAES, lambda c: T.CMAES(0), lambda c: T.CMAES(4, sigma0=-1.0))
    add(T.ModelBatch, lambda c: T.ModelBatch(c.mps_model, 0), lambda c: T.ModelBatch("model", 2))
    add(T.stacked, lambda c: T.stacked(T.gradient(c.mps_model, _adam(), batch_size=2), jax.random.key(0)),
        lambda c: T.stacked(T.Strategy("h", lambda p, k: (), host_step=lambda *a: a), jax.random.split(c.key, 2)))
    add(T.Strategy, lambda c: T.run(T.Strategy("x", None), c.mps, c.bits4, key=c.key, steps=1))
    add(jqgen.checked, lambda c: jqgen.checked(3),
        lambda c: jqgen.checked(lambda m, b: M.log_prob(m, b))(c.mps, jnp.full((1, 4), 2, jnp.uint8)))
    add(jqgen.training.LossFn, lambda c: jqgen.fit(c.mps_model, c.mps, c.bits4, _adam(), key=c.key, steps=1,
                                                   loss="not callable", progress=False))

    # ------------------------------------------------------------------ experiments
    import jqgen.experiments as X

    exp = {"data": {"name": "bars-stripes-2x2"}, "model": {"family": "mps", "chi_max": 2},
           "trainer": {"name": "gradient", "steps": 1}}
    add(X.parse_experiment, lambda c: X.parse_experiment({**exp, "grid": {"seed": [NAN]}}),
        lambda c: X.parse_experiment({**exp, "trainer": {"name": "gradient", "lr": INF}}),
        lambda c: X.parse_experiment({**exp, "model": {"family": "mps", "chi_max": -1}}),
        lambda c: X.parse_experiment("not a table"))
    add(X.load_experiment, lambda c: X.load_experiment(c.garbage))
    add(X.run_experiment, lambda c: X.run_experiment("experiment", c.tmp),
        lambda c: X.run_experiment(X.parse_experiment(exp), c.tmp, devices=[]),
        lambda c: X.run_experiment(X.parse_experiment(exp), c.tmp, chunk_size=0))
    add(X.plan_shards, lambda c: X.plan_shards(X.parse_experiment(exp), 0))

    # ------------------------------------------------------------------ synergy
    add(S.circuit_from_mps, lambda c: S.circuit_from_mps(c.mps, 0), lambda c: S.circuit_from_mps(c.nan_mps, 1),
        lambda c: S.circuit_from_mps(c.mps, 1, extra_layers=-1))
    add(S.kak_angles, lambda c: S.kak_angles(np.eye(3)), lambda c: S.kak_angles(np.full((4, 4), NAN)),
        lambda c: S.kak_angles(np.ones((4, 4))))
    add(S.layers_fidelity, lambda c: S.layers_fidelity(c.mps, np.zeros((1, 2, 4, 4))),
        lambda c: S.layers_fidelity(c.nan_mps, np.zeros((1, 3, 4, 4))))
    add(S.layers_state, lambda c: S.layers_state(np.zeros((1, 2, 3, 3))),
        lambda c: S.layers_state(np.full((1, 3, 4, 4), NAN)))
    add(S.mps_site_list, lambda c: S.mps_site_list(c.nan_mps), lambda c: S.mps_site_list("x"))
    add(S.mps_to_layers, lambda c: S.mps_to_layers(c.mps, 0), lambda c: S.mps_to_layers(c.zero_mps, 1))
    add(S.phase_distance, lambda c: S.phase_distance(np.eye(4), np.eye(3)),
        lambda c: S.phase_distance(np.full((4, 4), NAN), np.eye(4)))
    add(S.pretrain, lambda c: S.pretrain(BITS_BAD, chi=2, layers_from_mps=1, extra_layers=0, key=c.key),
        lambda c: S.pretrain(c.bits4, chi=0, layers_from_mps=1, extra_layers=0, key=c.key))
    add(S.su4_matrix, lambda c: S.su4_matrix(np.ones(3)), lambda c: S.su4_matrix(np.full(15, NAN)))
    add(S.sweep_decomposition, lambda c: S.sweep_decomposition(c.mps, 0),
        lambda c: S.sweep_decomposition(c.zero_mps, 1), lambda c: S.sweep_decomposition(c.mps, 1, sweeps=-1))
    add(S.sweep_layers, lambda c: S.sweep_layers(c.mps, np.zeros((1, 2, 4, 4))),
        lambda c: S.sweep_layers(c.mps, np.full((1, 3, 4, 4), NAN)))

    # ------------------------------------------------------------------ hardware
    add(H.Device, lambda c: H.Device("local", "x", 0), lambda c: H.Device("local", "x", 3, max_shots=0),
        lambda c: H.Device("local", "x", 3, coupling_map=((0, 7),)))
    add(H.parse_device, lambda c: H.parse_device("nope"), lambda c: H.parse_device("local::testing", num_qubits=-1))
    add(H.compile_qcbm, lambda c: H.compile_qcbm(c.qcbm, c.nan_qparams, c.device),
        lambda c: H.compile_qcbm(c.qcbm, {}, c.device),
        lambda c: H.compile_qcbm(c.qcbm, c.qparams, c.device, initial_layout=[0, 0, 1]))
    add(H.compile_circuit, lambda c: H.compile_circuit("qc", c.device))
    add(H.CircuitTemplate, lambda c: H.CircuitTemplate(c.qcbm, c.device, initial_layout=[9, 9, 9]),
        lambda c: H.CircuitTemplate("model", c.device))
    add(H.bind, lambda c: H.bind(c.qcbm, c.nan_qparams), lambda c: H.bind(c.qcbm, {}))
    add(H.to_qiskit, lambda c: H.to_qiskit(0, []), lambda c: H.to_qiskit(2, [Q.Op("nope", (0,), 0.1)]))
    add(H.circuit_hash, lambda c: H.circuit_hash("qc"))
    add(H.params_hash, legal(lambda c: H.params_hash({"a": np.array([NAN])}), lambda r: len(r) == 64),
        lambda c: H.params_hash("x"))
    add(H.request_key, lambda c: H.request_key("h", 0, "local::testing", None),
        lambda c: H.request_key("h", 10, "local::testing", object()))
    add(H.idempotency_tag, lambda c: H.idempotency_tag("k", -1), lambda c: H.idempotency_tag("k", 1.5))
    add(H.logical_counts, lambda c: H.logical_counts({"012": 3}, [0, 1, 2]),
        lambda c: H.logical_counts({"01": -3}, [0, 1]), lambda c: H.logical_counts({"01": 3}, [0, 5]))
    add(H.mitigate_counts, lambda c: H.mitigate_counts(None, {"01": 3}, [0, 1]),
        lambda c: H.mitigate_counts(None, {"01": 3}, [0, 1], method="nope"))
    add(H.calibrate_readout, lambda c: H.calibrate_readout(c.device, [0, 9], c.journal),
        lambda c: H.calibrate_readout(c.device, [0], c.journal, shots=0))
    add(H.noisy_gates, lambda c: H.noisy_gates(-0.1), lambda c: H.noisy_gates(NAN), lambda c: H.noisy_gates(0.1, 2.0))
    add(H.noisy_readout, lambda c: H.noisy_readout(1.5), lambda c: H.noisy_readout(NAN), lambda c: H.noisy_readout(0.1, -1))
    add(H.seeded_submit, lambda c: H.seeded_submit(None, -1), lambda c: H.seeded_submit("submit", 0))
    add(H.redact, legal(lambda c: H.redact(""), lambda r: r == ""))
    add(H.run_batch, lambda c: H.run_batch([], c.device, 0, c.journal, []),
        lambda c: H.run_batch(["x"], c.device, 10, c.journal, ["t"]),
        lambda c: H.run_batch([], c.device, 10, c.journal, ["t"]))
    add(H.Journal, lambda c: H.Journal(c.garbage))
    add(H.train_on_device, lambda c: H.train_on_device(c.qcbm, c.nan_qparams, c.bits4[:, :3], c.device, shots=10,
                                                       steps=1, optimizer=_adam(), journal_path=os.path.join(c.tmp, "t.jsonl"),
                                                       key=c.key),
        lambda c: H.train_on_device(c.qcbm, c.qparams, c.bits4[:, :3], c.device, shots=0, steps=1, optimizer=_adam(),
                                    journal_path=os.path.join(c.tmp, "t2.jsonl"), key=c.key))
    add(H.cmaes_on_device, lambda c: H.cmaes_on_device(c.qcbm, c.qparams, c.bits4[:, :3], c.device, shots=10,
                                                       generations=0, journal_path=os.path.join(c.tmp, "c.jsonl"),
                                                       key=c.key),
        lambda c: H.cmaes_on_device(c.qcbm, c.nan_qparams, c.bits4[:, :3], c.device, shots=10, generations=1,
                                    journal_path=os.path.join(c.tmp, "c2.jsonl"), key=c.key))

    # ------------------------------------------------------------------ geo
    add(G.BinaryPortfolio, lambda c: G.BinaryPortfolio(np.array([NAN, 1.0]), np.eye(2), 1),
        lambda c: G.BinaryPortfolio(np.ones(3), np.eye(2), 1), lambda c: G.BinaryPortfolio(np.ones(2), np.eye(2), 5),
        lambda c: G.BinaryPortfolio(np.ones(2), np.eye(2), 1, q=NAN))
    add(G.CostFunction, lambda c: G.CostFunction("f", 4), lambda c: G.CostFunction(len, 0),
        lambda c: G.CostFunction(len, 4, k=9))
    add(G.cardinality_penalty, lambda c: G.cardinality_penalty("problem"))
    add(G.dwave_annealing, lambda c: G.dwave_annealing(c.portfolio, 0, seed=0),
        lambda c: G.dwave_annealing(c.portfolio, 10, seed=0, num_sweeps=0))
    add(G.exact_optimum, lambda c: G.exact_optimum(c.portfolio, method="nope"),
        lambda c: G.exact_optimum(c.portfolio, batch_size=0))
    add(G.random_search, lambda c: G.random_search(c.portfolio, 0, seed=0),
        lambda c: G.random_search(c.portfolio, 10, seed=0, batch_size=-1))
    add(G.run_baseline, lambda c: G.run_baseline("nope", c.portfolio, 10, seed=0))
    add(G.swap_annealing, lambda c: G.swap_annealing(c.portfolio, 0, seed=0),
        lambda c: G.swap_annealing(c.portfolio, 10, seed=0, accept_initial=2.0))
    add(G.GeoSettings, lambda c: G.GeoSettings(batch_size=0), lambda c: G.GeoSettings(trainer="nope"),
        lambda c: G.GeoSettings(lr=NAN))
    add(G.GeoJournal, lambda c: G.GeoJournal(c.garbage, 4), lambda c: G.GeoJournal(None, 0))
    add(G.geo, lambda c: G.geo(c.portfolio, c.mps_model, 0, key=c.key),
        lambda c: G.geo(c.portfolio, jqgen.MPSBornMachine(5, 2), 10, key=c.key))
    add(G.post_select, lambda c: G.post_select(BITS_BAD, np.ones(1, bool), set(), 1),
        lambda c: G.post_select(c.bits4, np.ones(2, bool), set(), 1),
        lambda c: G.post_select(c.bits4, np.ones(len(c.bits4), bool), set(), -1))
    add(G.random_valid, lambda c: G.random_valid(np.random.default_rng(0), 3, 4, 5),
        lambda c: G.random_valid(np.random.default_rng(0), -1, 4, 2),
        lambda c: G.random_valid(np.random.default_rng(0), HUGE, 4, 2))
    add(G.softmax_weights, legal(lambda c: G.softmax_weights(np.array([NAN, 1.0]), 1.0),  # documented: weight 0
                                 lambda r: r.tolist() == [0.0, 1.0]),
        lambda c: G.softmax_weights(np.array([1.0, 2.0]), 0.0), lambda c: G.softmax_weights(np.zeros(0), 1.0))
    add(G.exact_frontier, lambda c: G.exact_frontier(c.instance, 9, [0.5]),
        lambda c: G.exact_frontier(c.instance, 2, [NAN]), lambda c: G.exact_frontier(c.instance, 2, [-1.0]))
    add(G.frontier_q_grid, lambda c: G.frontier_q_grid(c.instance, 2, points=0),
        lambda c: G.frontier_q_grid(c.instance, 0, 4))
    add(G.scip_available, legal(lambda c: G.scip_available(), lambda r: isinstance(r, bool)))
    add(G.ChangPortfolio, lambda c: G.ChangPortfolio(c.instance, 0, 0.5), lambda c: G.ChangPortfolio(c.instance, 2, NAN),
        lambda c: G.ChangPortfolio(c.instance, 2, 0.5, w_min=0.9, w_max=0.1))
    add(G.PortfolioInstance, lambda c: G.PortfolioInstance("x", np.ones(2), np.ones(3), np.eye(2)),
        lambda c: G.PortfolioInstance("x", np.ones(2), -np.ones(2), np.eye(2)),
        lambda c: G.PortfolioInstance("x", np.array([NAN, 1.0]), np.ones(2), np.eye(2)))
    add(G.box_budget_qp, lambda c: G.box_budget_qp(np.eye(2), np.ones(3), np.zeros(2), np.ones(2)),
        lambda c: G.box_budget_qp(np.full((2, 2), NAN), np.ones(2), np.zeros(2), np.ones(2)),
        lambda c: G.box_budget_qp(np.eye(2), np.ones(2), np.ones(2), np.zeros(2)))
    add(G.frontier_errors, lambda c: G.frontier_errors([NAN], [1.0], [1.0, 2.0], [1.0, 2.0]),
        lambda c: G.frontier_errors([], [], [1.0, 2.0], [1.0, 2.0]),
        lambda c: G.frontier_errors([1.0], [1.0], [1.0, 2.0], [1.0, 2.0], reference="nope"))
    add(G.load_frontier, lambda c: G.load_frontier("nosuch", c.tmp), lambda c: G.load_frontier(c.garbage))
    add(G.load_instance, lambda c: G.load_instance("nosuch", c.tmp), lambda c: G.load_instance(c.garbage))
    add(G.read_frontier, lambda c: G.read_frontier(c.garbage), lambda c: G.read_frontier(c.truncated_npz))
    add(G.read_orlib, lambda c: G.read_orlib(c.garbage), lambda c: G.read_orlib(c.truncated_npz))
    add(G.synthetic_instance, lambda c: G.synthetic_instance(0), lambda c: G.synthetic_instance(4, factors=-1),
        lambda c: G.synthetic_instance(4, market_sd=NAN), lambda c: G.synthetic_instance(HUGE))

    # ------------------------------------------------------------------ adversarial
    _adversarial_cases(add, legal)

    # ------------------------------------------------------------------ plots, cli
    add(PL.plot_experiment, lambda c: PL.plot_experiment([], ["seed"], os.path.join(c.tmp, "e.png")),
        legal(lambda c: PL.plot_experiment([{"settings": {"seed": 0}, "final": {"loss": NAN}, "curve": [NAN, 1.0]}],
                                           ["seed"], os.path.join(c.tmp, "e.png")), lambda r: r.endswith("e.png")))
    add(PL.plot_adversarial_curves, lambda c: PL.plot_adversarial_curves("metrics", os.path.join(c.tmp, "p.png")),
        lambda c: PL.plot_adversarial_curves({"loss": [1.0] * 60}, os.path.join(c.tmp, "q.png"), smooth=0),
        legal(lambda c: PL.plot_adversarial_curves({"loss": [NAN, 1.0], "score": [NAN, NAN]},  # NaN: not recorded
                                                   os.path.join(c.tmp, "r.png")), lambda r: os.path.exists(r)))
    add(PL.plot_sample_grid, lambda c: PL.plot_sample_grid(np.full((2, 8, 8), NAN), os.path.join(c.tmp, "s.png")),
        lambda c: PL.plot_sample_grid(c.images8, os.path.join(c.tmp, "t.png"), columns=0),
        lambda c: PL.plot_sample_grid(np.zeros((8, 8)), os.path.join(c.tmp, "u.png")),
        lambda c: PL.plot_sample_grid(np.full((1, 2, 2), "a"), os.path.join(c.tmp, "v.png")))
    add(PL.plot_sample_grids, lambda c: PL.plot_sample_grids({}, os.path.join(c.tmp, "w.png")),
        lambda c: PL.plot_sample_grids({"a": np.full((1, 8, 8), 2.0)}, os.path.join(c.tmp, "x.png")),
        lambda c: PL.plot_sample_grids({"a": c.images8}, os.path.join(c.tmp, "y.png"), panels_per_row=0))
    add(PL.plot_stages, lambda c: PL.plot_stages([], os.path.join(c.tmp, "z.png")),
        lambda c: PL.plot_stages(["abc"], os.path.join(c.tmp, "z1.png")),
        lambda c: PL.plot_stages([("a", "xyz")], os.path.join(c.tmp, "z2.png")),
        legal(lambda c: PL.plot_stages([("a", [NAN, 1.0]), ("b", [])], os.path.join(c.tmp, "z3.png")),  # gaps
              lambda r: os.path.exists(r)))
    add(PL.plot_best_so_far, lambda c: PL.plot_best_so_far({}, os.path.join(c.tmp, "a.png")),
        legal(lambda c: PL.plot_best_so_far({"x": [NAN, 1.0]}, os.path.join(c.tmp, "b.png")),  # NaN: a gap
              lambda r: os.path.exists(r)))
    add(PL.plot_bond_dims, lambda c: PL.plot_bond_dims([], os.path.join(c.tmp, "c.png")),
        lambda c: PL.plot_bond_dims([-1, 2], os.path.join(c.tmp, "d.png")))
    add(PL.plot_distribution, lambda c: PL.plot_distribution(P_NAN, P_OK, os.path.join(c.tmp, "e.png")),
        lambda c: PL.plot_distribution(P_OK, P_OK[:2], os.path.join(c.tmp, "f.png")))
    add(PL.plot_entropies, lambda c: PL.plot_entropies([], os.path.join(c.tmp, "g.png")),
        legal(lambda c: PL.plot_entropies([NAN, 0.5], os.path.join(c.tmp, "h.png")), lambda r: os.path.exists(r)))
    add(PL.plot_frontier, lambda c: PL.plot_frontier({}, os.path.join(c.tmp, "i.png")),
        lambda c: PL.plot_frontier({"x": ([1.0], [1.0, 2.0])}, os.path.join(c.tmp, "j.png")))
    add(PL.plot_samples, lambda c: PL.plot_samples(BITS_BAD, None, os.path.join(c.tmp, "k.png")),
        lambda c: PL.plot_samples(c.bits4, (3, 3), os.path.join(c.tmp, "l.png")),
        lambda c: PL.plot_samples(EMPTY2, None, os.path.join(c.tmp, "m.png")))
    add(PL.plot_training_curve, lambda c: PL.plot_training_curve([], os.path.join(c.tmp, "n.png")),
        legal(lambda c: PL.plot_training_curve([1.0, NAN], os.path.join(c.tmp, "o.png")),  # a stopped run's NaN
              lambda r: os.path.exists(r)))
    add(jqgen.cli.main, legal(lambda c: jqgen.cli.main(["train", "mps", "--data", c.truncated_npz, "--no-progress",
                                                        "--out", os.path.join(c.tmp, "run")]), lambda r: r == 3),
        legal(lambda c: jqgen.cli.main(["sample", c.garbage]), lambda r: r == 3),
        legal(lambda c: jqgen.cli.main(["train", "mps", "--chi-max", "0"]), lambda r: r == 2))
    return out


def _adversarial_cases(add: Callable[..., None], legal: Callable[..., Legal]) -> None:
    """The cases of :mod:`jqgen.adversarial` (bad calls refused before any compilation where
    possible: the context's network, priors and classifier are tiny and never trained)."""
    from flax import nnx

    from jqgen import adversarial as A
    from jqgen.hardware import Device

    def png(c: Ctx, name: str) -> str:
        return os.path.join(c.tmp, name)

    add(A.AssociativeAdversarialNetwork,
        lambda c: A.AssociativeAdversarialNetwork(A.make_prior("bernoulli", 4), (7, 7)),
        lambda c: A.AssociativeAdversarialNetwork(A.make_prior("bernoulli", 4), width=0),
        lambda c: A.AssociativeAdversarialNetwork("qcbm"),
        lambda c: c.aan.generate(c.aan_params, c.key, 0),
        lambda c: c.aan.generate(c.aan_params, c.key, HUGE),
        lambda c: c.aan.generate(c.nan_aan_params, c.key, 2),
        lambda c: c.aan.latent({}, c.key, 2),
        lambda c: c.aan.discriminate(c.aan_params, np.zeros((2, 7, 7), np.float32)),
        lambda c: c.aan.features(c.aan_params, np.full((2, 8, 8), NAN, np.float32), c.key),
        lambda c: c.aan.features(c.aan_params, c.images8, c.key, binarize="round"),
        lambda c: A.AssociativeAdversarialNetwork.from_config({"family": "aan", "image_shape": [8, 8]}))
    add(A.BernoulliPrior, lambda c: A.BernoulliPrior(0),
        lambda c: A.BernoulliPrior(4).sample({"logits": jnp.full(4, jnp.nan)}, c.key, 3),
        lambda c: A.BernoulliPrior(4).sample({"logits": jnp.zeros(4)}, c.key, HUGE),
        lambda c: A.BernoulliPrior(4).loss({"logits": jnp.zeros(4)}, np.full((2, 4), 2), c.key))
    add(A.GaussianPrior, lambda c: A.GaussianPrior(0), lambda c: A.GaussianPrior(2).sample({}, c.key, -1),
        lambda c: A.GaussianPrior(2).sample({}, c.key, HUGE))
    add(A.UniformPrior, lambda c: A.UniformPrior(2.5), lambda c: A.UniformPrior(2).sample({}, c.key, HUGE),
        lambda c: A.UniformPrior.from_config({"prior": "uniform"}))
    add(A.MPSPrior, lambda c: A.MPSPrior(4, 0), lambda c: A.MPSPrior(10**6, 10**6),
        lambda c: A.MPSPrior(4, 2).sample(c.mps, c.key, 0),
        lambda c: A.MPSPrior(4, 2).loss(c.mps, np.ones((2, 5)), c.key))
    add(A.QCBMPrior, lambda c: A.QCBMPrior(1), lambda c: A.QCBMPrior(2, ("z", "z")),
        lambda c: A.QCBMPrior(2, shots=0), lambda c: A.QCBMPrior(2, sigmas=(NAN,)), lambda c: A.QCBMPrior(60),
        lambda c: A.QCBMPrior(2, init_scale=NAN),
        lambda c: c.qprior.sample(c.nan_qprior_params, c.key, 3),
        lambda c: c.qprior.loss(c.nan_qprior_params, np.ones((2, 4)), c.key),
        lambda c: c.qprior.sample({}, c.key, 3))
    add(A.ClassifierConfig, lambda c: A.ClassifierConfig((2, 2)), lambda c: A.ClassifierConfig((8, 8), steps=-1),
        lambda c: A.ClassifierConfig((8, 8), learning_rate=NAN), lambda c: A.ClassifierConfig((8, 8), channels=(16,)))
    add(A.Classifier, lambda c: A.Classifier("config", nnx.Rngs(0)),
        lambda c: A.Classifier(A.ClassifierConfig((8, 8)), 0))
    add(A.classify, lambda c: A.classify(c.classifier, np.full((2, 8, 8), NAN, np.float32)),
        lambda c: A.classify(c.classifier, np.zeros((2, 9, 9), np.float32)),
        lambda c: A.classify("classifier", c.images8), lambda c: A.classify(c.classifier, np.zeros((0, 8, 8), np.float32)))
    add(A.train_classifier, lambda c: A.train_classifier(c.image_data, c.key, steps=0),
        lambda c: A.train_classifier(c.image_data, c.key, steps=1, learning_rate=INF),
        lambda c: A.train_classifier(c.image_data._replace(train_labels=c.image_data.train_labels + 10), c.key, steps=1),
        lambda c: A.train_classifier(c.image_data._replace(test_labels=c.image_data.test_labels - 5), c.key, steps=1),
        lambda c: A.train_classifier(c.image_data._replace(test_images=np.full((8, 8, 8), NAN, np.float32)), c.key,
                                     steps=1),
        lambda c: A.train_classifier("digits", c.key, steps=1))
    add(A.check_images, lambda c: A.check_images(np.zeros((2, 8, 8), np.int32)), lambda c: A.check_images(np.zeros((8, 8))),
        lambda c: A.check_images(np.full((1, 8, 8), NAN)), lambda c: A.check_images(np.full((1, 8, 8), -0.5)),
        legal(lambda c: A.check_images(np.ones((1, 1, 1))), lambda r: r.dtype == np.float32 and r.shape == (1, 1, 1)))
    add(A.load_digits8, legal(lambda c: A.load_digits8(), lambda r: r.train_images.shape == (1437, 8, 8)
                              and float(r.train_images.max()) <= 1.0))
    add(A.load_images, lambda c: A.load_images(3), lambda c: A.load_images(c.mnist_dir("shape")))
    add(A.load_mnist28, lambda c: A.load_mnist28(c.mnist_dir("shape")), lambda c: A.load_mnist28(c.mnist_dir("truncated")))
    add(A.inception_score, lambda c: A.inception_score(np.array([[NAN, 1.0]])),
        lambda c: A.inception_score(np.array([[-0.5, 1.5]])), lambda c: A.inception_score(np.ones(3)),
        lambda c: A.inception_score(np.array([[0.5, 0.2]])),
        legal(lambda c: A.inception_score(np.zeros((0, 3))), lambda r: math.isnan(r)),  # documented: nan
        legal(lambda c: A.inception_score(np.eye(4)), lambda r: abs(r - 4.0) < 1e-9))
    add(A.frechet_distance, lambda c: A.frechet_distance(np.full((3, 2), NAN), np.ones((3, 2))),
        lambda c: A.frechet_distance(np.ones((3, 2)), np.ones((3, 3))), lambda c: A.frechet_distance(np.ones(3), np.ones(3)),
        legal(lambda c: A.frechet_distance(np.ones((1, 2)), np.ones((3, 2))), lambda r: math.isnan(r)),  # documented
        legal(lambda c: A.frechet_distance(np.eye(3), np.eye(3)), lambda r: abs(r) < 1e-9))
    add(A.class_coverage, lambda c: A.class_coverage([0, 1], min_fraction=0.0),
        lambda c: A.class_coverage([0, 1], min_fraction=NAN), lambda c: A.class_coverage([0, 11]),
        lambda c: A.class_coverage(np.array([0.5, 1.0])), lambda c: A.class_coverage([0], num_classes=0),
        legal(lambda c: A.class_coverage(np.zeros(0, np.int64)), lambda r: math.isnan(r)),  # documented: nan
        legal(lambda c: A.class_coverage([3, 3, 3]), lambda r: r == 0.1))
    add(A.class_histogram, lambda c: A.class_histogram([-1]), lambda c: A.class_histogram([0], num_classes=2.5),
        lambda c: A.class_histogram(np.eye(3), num_classes=10),
        legal(lambda c: A.class_histogram([1, 1], num_classes=2), lambda r: r == [0.0, 1.0]))
    add(A.evaluate_images, lambda c: A.evaluate_images("classifier", c.images8, c.images8),
        lambda c: A.evaluate_images(c.classifier, np.full((2, 8, 8), NAN, np.float32), c.images8),
        lambda c: A.evaluate_images(c.classifier, c.images8, np.full((2, 8, 8), 2.0, np.float32)),
        lambda c: A.evaluate_images(c.classifier, np.zeros((2, 9, 9), np.float32), c.images8))
    add(A.adversarial, lambda c: A.adversarial("network"), lambda c: A.adversarial(c.aan, batch_size=0),
        lambda c: A.adversarial(c.aan, binarize="round"), lambda c: A.adversarial(c.aan, score_samples=1),
        lambda c: A.adversarial(c.aan, prior_every=-1), lambda c: A.adversarial(c.aan, classifier="classifier"),
        lambda c: A.adversarial(c.aan, classifier=c.classifier._replace(image_shape=(28, 28))),
        lambda c: A.adversarial(c.aan, generator_optimizer="adam"))
    add(A.train_adversarial,
        lambda c: A.train_adversarial(c.aan, c.aan_params, np.zeros((4, 9, 9), np.float32), key=c.key, steps=1,
                                      progress=False),
        lambda c: A.train_adversarial(c.aan, c.aan_params, np.full((4, 8, 8), NAN, np.float32), key=c.key, steps=1,
                                      progress=False),
        lambda c: A.train_adversarial("network", c.aan_params, c.images8, key=c.key, steps=1, progress=False),
        lambda c: A.train_adversarial(c.aan, c.nan_aan_params, c.images8, key=c.key, steps=1, progress=False),
        lambda c: A.train_adversarial(c.aan, {}, c.images8, key=c.key, steps=1, progress=False),
        lambda c: A.train_adversarial(c.aan, c.aan_params, c.images8, key=c.key, steps=-1, progress=False),
        lambda c: A.train_adversarial(c.aan, c.aan_params, c.images8, key=c.key, steps=0, progress=False),
        lambda c: A.train_adversarial(c.aan, c.aan_params, c.images8, key=c.key, steps=1, progress=False,
                                      batch_size=0))
    add(A.make_prior, lambda c: A.make_prior("nope", 4), lambda c: A.make_prior("qcbm", 3),
        lambda c: A.make_prior("mps", 4, bases=2), lambda c: A.make_prior("bernoulli", 0),
        lambda c: A.make_prior("qcbm", 4, num_qubits=3))
    add(A.prior_from_config, lambda c: A.prior_from_config({"prior": "nope"}),
        lambda c: A.prior_from_config({"prior": "mps"}), lambda c: A.prior_from_config({"prior": "mps", "num_bits": -1}),
        lambda c: A.prior_from_config("mps"))
    add(A.sample_on_device,
        lambda c: A.sample_on_device(A.BernoulliPrior(4), {}, Device.local(4), 10, journal=png(c, "sod1.jsonl"),
                                     key=c.key),
        lambda c: A.sample_on_device(c.qprior, c.nan_qprior_params, Device.local(4), 10, journal=png(c, "sod2.jsonl"),
                                     key=c.key),
        lambda c: A.sample_on_device(c.qprior, c.qprior_params, Device.local(4), 0, journal=png(c, "sod3.jsonl"),
                                     key=c.key),
        lambda c: A.sample_on_device(c.qprior, c.qprior_params, "local", 10, journal=png(c, "sod4.jsonl"), key=c.key),
        lambda c: A.sample_on_device(c.qprior, c.qprior_params, Device.local(1), 10, journal=png(c, "sod5.jsonl"),
                                     key=c.key))


def _adam() -> Any:
    import optax

    return optax.adam(0.01)


#: Public objects that take no input of their own, with the reason.
EXEMPT = {
    "jqgen.protocol.GenerativeModel": "a Protocol (structural type); models are fuzzed by their classes",
    "jqgen.spaces.SolutionSpace": "a Protocol (structural type); spaces are fuzzed by their classes",
    "jqgen.geo._problem.Problem": "a Protocol (structural type); problems are fuzzed by their classes",
    "jqgen.training._batch.StackState": "the state record of a stacked strategy (fuzzed through stacked)",
    "jqgen.experiments._spec.Experiment": "the record parse_experiment validates and returns (fuzzed there)",
    "jqgen.experiments._spec.RunSettings": "a run of Experiment.runs() (fuzzed through parse_experiment)",
    "jqgen.experiments._run.Shard": "a record of plan_shards (fuzzed there)",
    "jqgen.experiments._results.ExperimentResult": "the result record of run_experiment (fuzzed there)",
    "jqgen.training._strategy.NonFiniteLossError": "an exception type raised by the trainers",
    "jqgen.hardware._runner.TaskLost": "an exception type raised by poll functions",
    "jqgen.checkpoint.Checkpoint": "the result record of load_checkpoint (fuzzed there)",
    "jqgen.training._strategy.TrainResult": "the result record of fit/run (fuzzed there)",
    "jqgen.training._sweep.SweepResult": "the result record of sweep_train (fuzzed there)",
    "jqgen.mps._sweep_config.SweepState": "the state record of sweep_loop (fuzzed there)",
    "jqgen.synergy._sweep.LayerSweep": "the result record of sweep_layers (fuzzed there)",
    "jqgen.synergy._sweep.SweepDecomposition": "the result record of sweep_decomposition (fuzzed there)",
    "jqgen.synergy._pipeline.SynergyResult": "the result record of pretrain (fuzzed there)",
    "jqgen.hardware._device_train.DeviceTrainResult": "the result record of train_on_device (fuzzed there)",
    "jqgen.hardware._journal.JournalEntry": "the record Journal.lookup returns (fuzzed by Journal)",
    "jqgen.geo._baselines.BaselineResult": "the result record of the baselines (fuzzed there)",
    "jqgen.geo._loop.GeoResult": "the result record of geo (fuzzed there)",
    "jqgen.hardware._compile.Compiled": "the record compile_circuit/compile_qcbm return (fuzzed there)",
    "jqgen.geo._exact_frontier.ExactFrontier": "the result record of exact_frontier (fuzzed there)",
    "jqgen.adversarial._priors.Prior": "a Protocol (structural type); priors are fuzzed by their classes",
    "jqgen.adversarial._train.AdversarialState": "the state record of the adversarial strategy (fuzzed by adversarial)",
    "jqgen.adversarial._data.ImageData": "the record load_images returns (fuzzed by train_classifier)",
    "jqgen.adversarial._classifier.TrainedClassifier": "the result record of train_classifier (fuzzed by classify)",
    "jqgen.adversarial._networks.NetworkSizes": "the static sizes AssociativeAdversarialNetwork builds (fuzzed there)",
}
