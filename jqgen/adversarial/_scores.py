"""Model-independent scores of generated images, from a fixed classifier trained on real
images (:func:`jqgen.adversarial.train_classifier`).

Definitions, for ``N`` generated images ``x`` with class probabilities ``p(y|x)`` and
penultimate features ``f(x)``:

* inception score (Salimans et al., "Improved techniques for training GANs", NeurIPS 2016):
  ``IS = exp(E_x KL(p(y|x) || p(y)))`` with ``p(y) = E_x p(y|x)``. It lies in ``[1, C]``:
  ``C`` for confident predictions spread evenly over the ``C`` classes, 1 when every image
  gets the same distribution (e.g. one class only).
* Fréchet distance (Heusel et al., "GANs trained by a two time-scale update rule converge to
  a local Nash equilibrium", NeurIPS 2017; "FID" with Inception-v3 features, here with our
  classifier's): ``||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})`` between Gaussians
  fitted to two feature sets (means ``mu``, unbiased covariances ``S``). 0 for identical sets.
  Values depend on the feature network: compare them only between runs scored by the same
  trained classifier, and at equal sample sizes (the plug-in estimate is biased upward at
  small ``N``: use several hundred images or more for 64 features).
* class coverage: the fraction of the ``C`` classes that are the predicted class (argmax)
  of at least ``min_fraction`` of the images, by default ``1 / (5 C)`` (a fifth of a fair
  share: 2% for digits), so a handful of stray predictions does not count as covering a
  class. A generator of one class scores exactly ``1 / C``; one spread evenly over all, 1.

Degenerate inputs (no images; fewer than 2 feature vectors, where a covariance is undefined)
give ``nan``, never a silent 0.

Examples:
    >>> import numpy as np
    >>> from jqgen.adversarial._scores import class_coverage, inception_score
    >>> round(inception_score(np.eye(4)), 6)
    4.0
    >>> class_coverage(np.array([3, 3, 3, 3]))
    0.1
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._checks import check_int
from ._classifier import TrainedClassifier, classify
from ._data import check_images

__all__ = ["class_coverage", "class_histogram", "evaluate_images", "frechet_distance", "inception_score"]

NAN = float("nan")


def _check_probs(probs: Any, name: str = "probs") -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(f"{name} must have shape [N, C] with C >= 1, got shape {p.shape}")
    if p.size and (not np.all(np.isfinite(p)) or p.min() < 0):
        raise ValueError(f"{name} must be finite and non-negative, got min {np.nanmin(p):.6g}")
    if p.size and np.max(np.abs(p.sum(axis=1) - 1.0)) > 1e-3:
        raise ValueError(f"{name} rows must sum to 1 (probabilities); worst row sums to "
                         f"{p.sum(axis=1)[np.argmax(np.abs(p.sum(axis=1) - 1.0))]:.6g}")
    return p


def inception_score(probs: Any) -> float:
    """``exp(E_x KL(p(y|x) || p(y)))`` of the class probabilities ``probs [N, C]``.

    Computed in float64 log space, with ``0 log 0 = 0`` (a class of probability 0 adds
    nothing); rows are renormalized after a check that they sum to 1 within 1e-3.

    Args:
        probs: ``[N, C]`` class probabilities, one row per image.

    Returns:
        The score in ``[1, C]``; ``nan`` for ``N = 0``.

    Raises:
        ValueError: not ``[N, C]``, negative or non-finite values, rows not summing to 1.

    Examples:
        >>> import numpy as np
        >>> inception_score(np.tile([[1.0, 0.0]], (5, 1)))
        1.0
        >>> f"{inception_score(np.array([[0.9, 0.1], [0.1, 0.9]])):.4f}"
        '1.4449'
    """
    p = _check_probs(probs)
    if p.shape[0] == 0:
        return NAN
    kl = max(0.0, float(mean_kl_to_marginal(p, np)))  # round-off can make a zero KL slightly negative
    return float(math.exp(kl))


def mean_kl_to_marginal(probs: Any, xp: Any = np) -> Any:
    """``E_x KL(p(y|x) || p(y))`` of probabilities ``[N, C]`` (rows renormalized), with the
    array module ``xp`` (``numpy``, or ``jax.numpy`` inside a traced function such as the
    running score of :func:`jqgen.adversarial.adversarial`); the log of the Inception score."""
    p = probs / probs.sum(axis=1, keepdims=True)
    marginal = p.mean(axis=0)
    positive = p > 0  # where p(y|x) > 0, p(y) > 0 too; elsewhere the term is 0 log 0 = 0
    terms = p * (xp.log(xp.where(positive, p, 1.0)) - xp.log(xp.where(positive, marginal, 1.0)))
    return terms.sum(axis=1).mean()


def _check_features(feats: Any, name: str) -> np.ndarray:
    f = np.asarray(feats, dtype=np.float64)
    if f.ndim != 2 or f.shape[1] < 1:
        raise ValueError(f"{name} must have shape [N, F] with F >= 1, got shape {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError(f"{name} has {int((~np.isfinite(f)).sum())} non-finite values")
    return f


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix (eigenvalues clipped at 0)."""
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(feats_a: Any, feats_b: Any) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``[N, F]`` and ``[M, F]``.

    ``||mu_a - mu_b||^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a S_b)^{1/2})``, in float64, without
    scipy: ``Tr((S_a S_b)^{1/2}) = sum_i sqrt(l_i)`` with ``l_i`` the eigenvalues of the
    symmetric matrix ``S_a^{1/2} S_b S_a^{1/2}`` (similar to ``S_a S_b``), negative round-off
    eigenvalues clipped to 0; a result below 0 by round-off is reported as 0.

    Args:
        feats_a: ``[N, F]`` features of one set (e.g. generated images).
        feats_b: ``[M, F]`` features of the other (e.g. real images).

    Returns:
        The distance (>= 0); ``nan`` when either set has fewer than 2 rows.

    Raises:
        ValueError: not 2-D, different feature widths, or non-finite values.

    Examples:
        >>> import numpy as np
        >>> a = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
        >>> round(frechet_distance(a, a), 9), round(frechet_distance(a, a + 1.0), 9)
        (0.0, 2.0)
    """
    a, b = _check_features(feats_a, "feats_a"), _check_features(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feats_a has {a.shape[1]} features per row but feats_b has {b.shape[1]}")
    if a.shape[0] < 2 or b.shape[0] < 2:
        return NAN
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root_a = _sqrt_psd(s_a)
    inner = root_a @ s_b @ root_a
    eig = np.linalg.eigvalsh(0.5 * (inner + inner.T))
    trace_sqrt = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    d = float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2.0 * trace_sqrt)
    return max(d, 0.0)


def _predicted_classes(probs_or_labels: Any, num_classes: int) -> np.ndarray:
    x = np.asarray(probs_or_labels)
    if x.ndim == 2:
        if x.shape[1] != num_classes:
            raise ValueError(f"probs has {x.shape[1]} classes but num_classes is {num_classes}")
        return np.argmax(_check_probs(x), axis=1)
    if x.ndim != 1 or (x.size and not np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"probs_or_labels must be probabilities [N, C] or integer labels [N], got "
                         f"{x.dtype} of shape {x.shape}")
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise ValueError(f"labels must be in 0..{num_classes - 1}, got min {x.min()}, max {x.max()}")
    return x.astype(np.int64)


def class_histogram(probs_or_labels: Any, num_classes: int = 10) -> list[float]:
    """The fraction of images predicted (argmax) as each class, or of each integer label.

    Returns:
        ``num_classes`` fractions summing to 1; all ``nan`` for no images.

    Examples:
        >>> class_histogram([0, 0, 1, 3], num_classes=4)
        [0.5, 0.25, 0.0, 0.25]
    """
    num_classes = check_int(num_classes, "num_classes", 1)
    y = _predicted_classes(probs_or_labels, num_classes)
    if y.size == 0:
        return [NAN] * num_classes
    return [float(c) for c in np.bincount(y, minlength=num_classes) / y.size]


def class_coverage(probs_or_labels: Any, num_classes: int = 10, min_fraction: float | None = None) -> float:
    """The fraction of classes predicted for at least ``min_fraction`` of the images.

    Args:
        probs_or_labels: ``[N, C]`` class probabilities (argmax taken) or ``[N]`` integer labels.
        num_classes: ``C``.
        min_fraction: a class counts when at least this share of the images is predicted as
            it; default ``1 / (5 C)``, a fifth of a fair share. Must be in ``(0, 1]``.

    Returns:
        Covered classes / ``C``: exactly ``1 / C`` for a generator of one class, 1 for
        balanced predictions; ``nan`` for no images.

    Examples:
        >>> import numpy as np
        >>> class_coverage(np.arange(10))
        1.0
        >>> class_coverage(np.r_[np.zeros(99, int), 1])  # a stray 1% is not coverage
        0.1
    """
    num_classes = check_int(num_classes, "num_classes", 1)
    threshold = 1.0 / (5 * num_classes) if min_fraction is None else float(min_fraction)
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction!r}")
    hist = np.asarray(class_histogram(probs_or_labels, num_classes))
    if np.isnan(hist).any():
        return NAN
    return float(np.count_nonzero(hist >= threshold - 1e-12) / num_classes)


def evaluate_images(trained: TrainedClassifier, generated: Any, reference: Any) -> dict[str, Any]:
    """All scores of ``generated`` images against ``reference`` (real, e.g. test) images.

    Args:
        trained: the classifier (:func:`jqgen.adversarial.train_classifier`) that defines
            the probabilities and features.
        generated: ``[N, H, W]`` in [0, 1] (checked by :func:`jqgen.adversarial.check_images`).
        reference: ``[M, H, W]`` in [0, 1], the real images for the Fréchet distance.

    Returns:
        A JSON-serializable dict: ``inception_score``, ``frechet_distance``,
        ``class_coverage`` (floats, ``nan`` where undefined) and ``class_histogram`` (a list
        of ``C`` fractions of the generated images per predicted class).

    Raises:
        ValueError: images that fail the checks, or of a size the classifier does not take.
    """
    if not isinstance(trained, TrainedClassifier):
        raise ValueError(f"trained must be a TrainedClassifier (from train_classifier), got {type(trained).__name__}")
    gen = check_images(generated, "generated")
    ref = check_images(reference, "reference")
    probs, feats = classify(trained, gen)
    _, ref_feats = classify(trained, ref)
    num_classes = probs.shape[1]
    return {
        "inception_score": inception_score(probs),
        "frechet_distance": frechet_distance(feats, ref_feats),
        "class_coverage": class_coverage(probs, num_classes),
        "class_histogram": class_histogram(probs, num_classes),
    }
