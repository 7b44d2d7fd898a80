"""The latent prior of QC-AAN behind one interface, and priors by name.

In QC-AAN (Rudolph et al., PRX 12, 031010 (2022)) the generator's latent vector is drawn
from a learned prior over bits, which learns the distribution of the discriminator's
binarized hidden features on real images. Every prior implements :class:`Prior`:

* :class:`QCBMPrior`: a quantum circuit Born machine read out in several bases (the paper's
  prior; :mod:`jqgen.adversarial._qcbm_prior`); :func:`sample_on_device` draws its shots on
  a device.
* :class:`MPSPrior`, :class:`BernoulliPrior`: classical learned priors (exact NLL).
* :class:`UniformPrior`, :class:`GaussianPrior`: untrainable baselines (the latter a plain GAN).

:func:`make_prior` builds one from a name in :data:`PRIOR_NAMES` and a latent size;
:func:`prior_from_config` rebuilds one from its ``config()``.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, runtime_checkable

import jax

from .._checks import check_int
from ._classical_priors import BernoulliPrior, GaussianPrior, MPSPrior, UniformPrior
from ._qcbm_prior import QCBMPrior
from ._readout import parse_bases

__all__ = ["PRIOR_NAMES", "Prior", "make_prior", "prior_from_config"]

#: Names accepted by :func:`make_prior` and stored as ``config()["prior"]``.
PRIOR_NAMES = ("qcbm", "mps", "bernoulli", "uniform", "gaussian")

_CLASSES: dict[str, type] = {"qcbm": QCBMPrior, "mps": MPSPrior, "bernoulli": BernoulliPrior,
                             "uniform": UniformPrior, "gaussian": GaussianPrior}
_OPTIONS: dict[str, tuple[str, ...]] = {
    "qcbm": ("bases", "num_qubits", "layers", "ansatz", "shots", "init_scale", "sigmas"),
    "mps": ("chi",), "bernoulli": (), "uniform": (), "gaussian": (),
}


@runtime_checkable
class Prior(Protocol):
    """A latent prior: a frozen, hashable description; its parameters are a pytree outside.

    Attributes:
        num_latent: length of the latent vector it supplies.
        trainable: ``False`` for :class:`UniformPrior` and :class:`GaussianPrior`.

    Methods:
        init(key) -> params: initial parameters (``{}`` when there is nothing to learn).
        sample(params, key, num) -> ``[num, num_latent]``: uint8 bits in {0, 1} (float32
            ``N(0, 1)`` for :class:`GaussianPrior`); ``num`` a Python int (static under ``jit``).
        loss(params, features, key) -> float32 scalar: the training loss on ``features [N,
            num_latent]`` (0/1, the discriminator's binarized hidden units on real images):
            the exact mean NLL for exact models, a shot-based estimate for a shot-based
            :class:`QCBMPrior`, 0.0 for untrainable priors.
        value_and_grad(params, features, key) -> (loss, grads): ``jax.value_and_grad`` of
            ``loss`` (the parameter-shift estimate for a shot-based QCBM; ``(0.0, params)``
            for untrainable priors); works inside ``jit``.
        config() -> dict: JSON-serializable, with a ``"prior"`` entry; the classmethod
            ``from_config(config)`` rebuilds an equal prior (equal hash).
    """

    num_latent: int
    trainable: bool

    def init(self, key: jax.Array) -> Any: ...

    def sample(self, params: Any, key: jax.Array, num: int) -> jax.Array: ...

    def loss(self, params: Any, features: Any, key: jax.Array) -> jax.Array: ...

    def value_and_grad(self, params: Any, features: Any, key: jax.Array) -> tuple[jax.Array, Any]: ...

    def config(self) -> dict[str, Any]: ...


def _qcbm(num_latent: int, options: dict[str, Any]) -> QCBMPrior:
    bases = parse_bases(options.pop("bases", ("z", "x")))
    k = len(bases)
    if "num_qubits" in options:
        n = options.pop("num_qubits")
        prior = QCBMPrior(num_qubits=n, bases=bases, **options)
        if prior.num_latent != num_latent:
            raise ValueError(f"a QCBM prior with num_qubits={n} and bases={bases} supplies "
                             f"{prior.num_latent} latent bits ({n} x {k}), not num_latent={num_latent}")
        return prior
    if num_latent % k:
        raise ValueError(f"a QCBM prior read out in bases={bases} supplies num_qubits x {k} latent bits; "
                         f"num_latent={num_latent} is not a multiple of {k} (e.g. use {k * (num_latent // k)} "
                         f"or {k * (num_latent // k + 1)})")
    if num_latent < 2 * k:
        raise ValueError(f"a QCBM prior has at least 2 qubits, so read out in bases={bases} it supplies at least "
                         f"{2 * k} latent bits; got num_latent={num_latent}")
    return QCBMPrior(num_qubits=num_latent // k, bases=bases, **options)


def make_prior(name: str, num_latent: int, **options: Any) -> Any:
    """The prior called ``name`` supplying ``num_latent`` latent values.

    Args:
        name: one of :data:`PRIOR_NAMES`.
        num_latent: length of the latent vector.
        options: for ``"qcbm"``: ``bases`` (a count 1..3 meaning ``("z",)``, ``("z", "x")``,
            ``("z", "x", "y")``, or a tuple of names; default ``("z", "x")``), ``num_qubits``
            (default ``num_latent / len(bases)``), ``layers``, ``ansatz``, ``shots``,
            ``init_scale``, ``sigmas`` (:class:`QCBMPrior`); for ``"mps"``: ``chi``; none
            for the others.

    Returns:
        A :class:`Prior` with ``num_latent`` equal to the argument.

    Raises:
        ValueError: an unknown name or option, or a latent size the prior cannot supply
            (the message says which sizes it can), or options the prior rejects.

    Examples:
        >>> from jqgen.adversarial._priors import make_prior
        >>> make_prior("qcbm", 12, bases=3).num_qubits
        4
        >>> make_prior("mps", 10, chi=4)
        MPSPrior(num_bits=10, chi=4)
    """
    if name not in PRIOR_NAMES:
        raise ValueError(f"name must be one of {', '.join(PRIOR_NAMES)}; got {name!r}")
    num_latent = check_int(num_latent, "num_latent", 1)
    unknown = sorted(set(options) - set(_OPTIONS[name]))
    if unknown:
        allowed = ", ".join(_OPTIONS[name]) or "none"
        raise ValueError(f"unknown option(s) {unknown} for the {name!r} prior; allowed: {allowed}")
    options = dict(options)
    if name == "qcbm":
        return _qcbm(num_latent, options)
    if name == "mps":
        return MPSPrior(num_latent, **options)
    if name == "gaussian":
        return GaussianPrior(num_latent)
    return _CLASSES[name](num_latent)


def prior_from_config(config: Mapping[str, Any]) -> Any:
    """The prior of a ``config()`` dict (dispatching on its ``"prior"`` entry).

    Raises:
        ValueError: no or an unknown ``"prior"`` entry, or entries the prior rejects.

    Examples:
        >>> from jqgen.adversarial._priors import make_prior, prior_from_config
        >>> p = make_prior("qcbm", 8)
        >>> prior_from_config(p.config()) == p
        True
    """
    if not isinstance(config, Mapping) or config.get("prior") not in PRIOR_NAMES:
        got = config.get("prior") if isinstance(config, Mapping) else type(config).__name__
        raise ValueError(f"config['prior'] must be one of {', '.join(PRIOR_NAMES)}; got {got!r}")
    return _CLASSES[config["prior"]].from_config(config)
