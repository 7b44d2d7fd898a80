"""Distributions on ``{0,1}^n``: divergences, MMD, entropy, histograms and counts.

The layer below every model, trainer and metric (it imports only :mod:`jqgen.bits` and
jqgen's validation helpers). A distribution is a dense ``[2**n]`` vector in big-endian
order (:mod:`jqgen.bits`: site 0 is the most significant bit), as returned by a model's
``probs``, by :func:`empirical_distribution` of data, or by :func:`counts_to_probs` of a
device's counts. Every function is pure and works under ``jit``, ``vmap`` and ``grad``;
concrete arguments are validated eagerly (``ValueError`` naming the bad entry: NaN,
infinite or negative probabilities, bits other than 0/1, malformed bitstring keys), traced
ones are not (no cost inside compiled training steps; sample bits keep the ``checkify``
debug checks of :func:`jqgen.checked`).

* :func:`kl_divergence` (clipped as in Benedetti et al. and Liu & Wang, or smooth),
  :func:`cross_entropy`, :func:`total_variation`, :func:`entropy`;
* :func:`mmd`, :func:`mmd_samples`, :func:`kernel_matvec` with two named kernel
  conventions (:data:`KERNELS`; see :mod:`jqgen.distributions._kernels`) and Liu & Wang's
  :data:`DEFAULT_SIGMAS`;
* :func:`histogram`, :func:`empirical_distribution`, :func:`sample_counts` (multinomial
  shots), :func:`counts_to_probs`;
* :func:`distribution_loss` by name (:data:`LOSSES`), the losses of the QCBM trainers.

Examples:
    >>> import numpy as np, jqgen
    >>> from jqgen.distributions import empirical_distribution, kl_divergence, total_variation
    >>> t = empirical_distribution(np.array([[0, 0], [1, 1]]), 2)
    >>> p = jqgen.distributions.counts_to_probs({"00": 45, "11": 50, "01": 5}, 2)
    >>> round(float(total_variation(t, p)), 4), round(float(kl_divergence(t, p)), 4)
    (0.05, 0.0527)
"""

from ._divergences import SMOOTHING, cross_entropy, entropy, kl_divergence, total_variation
from ._empirical import counts_to_probs, empirical_distribution, histogram, sample_counts
from ._kernels import DEFAULT_SIGMAS, KERNELS, kernel_matvec, mmd, mmd_samples
from ._losses import LOSSES, distribution_loss

__all__ = [
    "DEFAULT_SIGMAS",
    "KERNELS",
    "LOSSES",
    "SMOOTHING",
    "counts_to_probs",
    "cross_entropy",
    "distribution_loss",
    "empirical_distribution",
    "entropy",
    "histogram",
    "kernel_matvec",
    "kl_divergence",
    "mmd",
    "mmd_samples",
    "sample_counts",
    "total_variation",
]
