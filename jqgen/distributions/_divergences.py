"""Divergences, cross entropy and entropy of dense distributions."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ._validate import check_eps, distribution, pair

__all__ = ["SMOOTHING", "cross_entropy", "entropy", "kl_divergence", "total_variation"]

#: The ``smoothing=`` choices of :func:`kl_divergence`.
SMOOTHING = ("clip", "smooth")


def _xlogx_terms(t: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(t > 0, log t)`` with ``log 1 = 0`` where ``t = 0`` (no ``0 * -inf``, NaN-free gradients)."""
    pos = t > 0
    return pos, jnp.log(jnp.where(pos, t, 1))


def kl_divergence(target: Any, p: Any, eps: float = 1e-8, *, smoothing: str = "clip") -> jax.Array:
    """Kullback-Leibler divergence ``KL(target || p)`` in nats, with ``p`` kept away from 0.

    ``smoothing="clip"`` (the default) is the clipped divergence of Benedetti et al.
    (npj Quantum Inf. 5, 45, 2019) and Liu & Wang (PRA 98, 062324, 2018)::

        KL_clip(t || p) = sum_x t(x) [log t(x) - log max(p(x), eps)]

    Its gradient in ``p`` vanishes where ``p < eps`` (the kink of the ``max``).
    ``smoothing="smooth"`` mixes ``p`` with the uniform distribution instead::

        KL_smooth(t || p) = KL(t || (p + eps) / (1 + N eps)),   N = len(p) = 2**n

    which is differentiable everywhere (no kink) and, for normalized ``p``, a KL divergence
    between two distributions (``>= 0``). Both tend to the exact KL as ``eps -> 0`` where
    ``p > 0``. Terms with ``t(x) = 0`` vanish (``0 log 0 = 0``).

    Args:
        target: the reference distribution ``t`` ``[N]`` (e.g. the data's histogram).
        p: the model distribution ``[N]``, same length and dtype.
        eps: the floor (``clip``) or the mixing weight (``smooth``), ``> 0``.
        smoothing: ``"clip"`` or ``"smooth"``.

    Returns:
        A scalar of the inputs' dtype.

    Raises:
        ValueError: shapes that differ or are not 1-D, ``eps <= 0``, an unknown
            ``smoothing``, or (concrete inputs) a NaN, infinite or negative entry.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jqgen.distributions import kl_divergence
        >>> t = jnp.array([0.5, 0.5, 0.0, 0.0]); p = jnp.full(4, 0.25)
        >>> round(float(kl_divergence(t, p)), 5), round(float(kl_divergence(t, t)), 5)  # ln 2, 0
        (0.69315, 0.0)
        >>> round(float(kl_divergence(t, t, smoothing="smooth")), 5)
        0.0
    """
    if smoothing not in SMOOTHING:
        raise ValueError(f"smoothing must be one of {SMOOTHING}, got {smoothing!r}")
    target, p = pair(target, p, ("target", "p"))
    check_eps(eps)
    pos, log_t = _xlogx_terms(target)
    if smoothing == "clip":
        log_p = jnp.log(jnp.maximum(p, eps))
    else:
        log_p = jnp.log(p + eps) - jnp.log1p(p.shape[0] * eps)
    return jnp.sum(jnp.where(pos, target * (log_t - log_p), 0))


def cross_entropy(target: Any, p: Any, eps: float = 1e-8) -> jax.Array:
    """Clipped cross entropy ``H(t, p) = -sum_x t(x) log max(p(x), eps)`` in nats.

    With ``t`` the empirical distribution of a data set, this is the mean negative
    log-likelihood of the data under ``p`` (clipped as in Benedetti et al., npj Quantum
    Inf. 5, 45, 2019): ``H(t, p) = KL_clip(t || p) + H(t)``. (:func:`jqgen.mean_nll` is the
    same quantity from a model and its samples, without forming ``p``.)

    Args:
        target: the reference distribution ``t`` ``[N]``.
        p: the model distribution ``[N]``, same length and dtype.
        eps: the probability floor, ``> 0``.

    Returns:
        A scalar of the inputs' dtype.

    Raises:
        ValueError: as :func:`kl_divergence`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jqgen.distributions import cross_entropy
        >>> t = jnp.array([0.5, 0.5, 0.0, 0.0])
        >>> round(float(cross_entropy(t, jnp.full(4, 0.25))), 5)  # ln 4
        1.38629
    """
    target, p = pair(target, p, ("target", "p"))
    check_eps(eps)
    return -jnp.sum(target * jnp.log(jnp.maximum(p, eps)))


def total_variation(p: Any, q: Any) -> jax.Array:
    """Total variation distance ``TV(p, q) = (1/2) sum_x |p(x) - q(x)|``.

    A metric on distributions with values in ``[0, 1]`` (``1`` for disjoint supports);
    ``TV = max_A |p(A) - q(A)|`` over events ``A``. Jittable.

    Args:
        p: a distribution ``[N]``.
        q: a distribution of the same length.

    Returns:
        A scalar.

    Raises:
        ValueError: shapes that differ or are not 1-D, or (concrete inputs) a NaN,
            infinite or negative entry.

    Examples:
        >>> from jqgen.distributions import total_variation
        >>> float(total_variation([0.5, 0.5, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]))
        0.5
    """
    p, q = pair(p, q, ("p", "q"))
    return 0.5 * jnp.sum(jnp.abs(p - q))


def entropy(p: Any) -> jax.Array:
    """Shannon entropy ``H(p) = -sum_x p(x) log p(x)`` in nats, with ``0 log 0 = 0``.

    ``0 <= H(p) <= log N``; the upper bound is reached by the uniform distribution. For the
    empirical distribution of ``N`` distinct samples it is ``log N``, the lowest NLL a
    model can reach on them.

    Args:
        p: a distribution ``[N]``.

    Returns:
        A scalar.

    Raises:
        ValueError: not 1-D, or (concrete) a NaN, infinite or negative entry.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jqgen.distributions import entropy
        >>> round(float(entropy(jnp.array([0.5, 0.5, 0.0, 0.0]))), 5)  # ln 2
        0.69315
    """
    p = distribution(p, "p")
    pos, log_p = _xlogx_terms(p)
    return -jnp.sum(jnp.where(pos, p * log_p, 0))
