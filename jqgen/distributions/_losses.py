"""Named losses between a model distribution and a target, for the trainers."""

from __future__ import annotations

from typing import Callable, Sequence

import jax

from ._divergences import cross_entropy, kl_divergence
from ._kernels import DEFAULT_SIGMAS, _rates, mmd
from ._validate import check_eps

__all__ = ["LOSSES", "distribution_loss"]

#: The loss names of :func:`distribution_loss` (and of ``jqgen.qcbm.make_loss``).
LOSSES = ("mmd", "kl", "nll")


def distribution_loss(name: str, *, sigmas: Sequence[float] = DEFAULT_SIGMAS, eps: float = 1e-8,
                      kernel: str = "liu-wang") -> Callable[[jax.Array, jax.Array], jax.Array]:
    """The loss ``f(p, target) -> scalar`` of a model distribution ``p`` against ``target``.

    * ``"mmd"``: :func:`mmd` ``(p, target)`` with ``sigmas`` and ``kernel``;
    * ``"kl"``: :func:`kl_divergence` ``(target, p, eps)``, the clipped ``KL(target || p)``;
    * ``"nll"``: :func:`cross_entropy` ``(target, p, eps)``, the clipped NLL of the data
      (whose distribution is ``target``) under ``p``; it differs from ``"kl"`` by the
      constant ``H(target)``.

    The arguments are checked here, once; ``f`` is pure and jittable.

    Raises:
        ValueError: an unknown ``name`` (the message lists :data:`LOSSES`), ``eps <= 0``,
            bad ``sigmas`` or an unknown ``kernel``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jqgen.distributions import distribution_loss
        >>> f = distribution_loss("kl")
        >>> t = jnp.array([0.5, 0.5, 0.0, 0.0])
        >>> round(float(f(jnp.full(4, 0.25), t)), 5)
        0.69315
    """
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")
    if name == "mmd":
        sig = tuple(sigmas)
        _rates(sig, kernel)
        return lambda p, t: mmd(p, t, sig, kernel=kernel)
    check_eps(eps)
    if name == "kl":
        return lambda p, t: kl_divergence(t, p, eps)
    return lambda p, t: cross_entropy(t, p, eps)
