"""Classical latent priors: an MPS Born machine, independent learned bits, uniform bits, and
the Gaussian latent of a plain GAN.

Trainable priors (:class:`MPSPrior`, :class:`BernoulliPrior`) learn the distribution of
the discriminator's binarized hidden units by the exact mean negative log-likelihood;
:class:`UniformPrior` and :class:`GaussianPrior` have nothing to learn (``loss`` is 0 and
``value_and_grad`` returns ``(0.0, params)``, the features are ignored).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp

from .._checks import check_int
from ..mps import MPS, MPSBornMachine
from . import _prior_checks as C

__all__ = ["BernoulliPrior", "GaussianPrior", "MPSPrior", "UniformPrior"]

#: Log-probabilities below this are clipped in the MPS prior's NLL (a string of probability
#: exactly zero would otherwise give an infinite loss).
LOG_PROB_FLOOR = -80.0


@dataclasses.dataclass(frozen=True)
class MPSPrior:
    """An MPS Born machine (:class:`jqgen.MPSBornMachine`) over ``num_bits`` latent bits.

    Attributes:
        num_bits: latent bits (MPS sites).
        chi: bond dimension.

    Examples:
        >>> import jax
        >>> from jqgen.adversarial._classical_priors import MPSPrior
        >>> prior = MPSPrior(num_bits=6, chi=2)
        >>> params = prior.init(jax.random.key(0))
        >>> z = prior.sample(params, jax.random.key(1), 4)
        >>> z.shape, z.dtype.name, bool(prior.loss(params, z, jax.random.key(2)) > 0)
        ((4, 6), 'uint8', True)
    """

    num_bits: int
    chi: int = 8

    trainable = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "num_bits", check_int(self.num_bits, "num_bits", 1))
        object.__setattr__(self, "chi", check_int(self.chi, "chi", 1))
        self.model  # noqa: B018 - validates sizes and memory now

    @property
    def num_latent(self) -> int:
        return self.num_bits

    @functools.cached_property
    def model(self) -> MPSBornMachine:
        """The :class:`jqgen.MPSBornMachine` (its params are this prior's)."""
        return MPSBornMachine(self.num_bits, self.chi)

    def init(self, key: jax.Array) -> MPS:
        return self.model.init(key)

    def sample(self, params: MPS, key: jax.Array, num: int) -> jax.Array:
        return self.model.sample(params, key, C.check_num(num, self.num_bits))

    def loss(self, params: MPS, features: Any, key: jax.Array) -> jax.Array:
        """Mean NLL of ``features [N, num_bits]`` (``key`` unused)."""
        return C.call(self, "_nll", (), params, C.check_features(features, self.num_bits))

    def value_and_grad(self, params: MPS, features: Any, key: jax.Array) -> tuple[jax.Array, Any]:
        return C.call(self, "_value_and_grad", (), params, C.check_features(features, self.num_bits))

    def config(self) -> dict[str, Any]:
        return {"prior": "mps", "num_bits": self.num_bits, "chi": self.chi}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "MPSPrior":
        return cls(**C.fields_from_config(cls, "mps", config, ("num_bits",)))

    def _nll(self, params: MPS, features: jax.Array) -> jax.Array:
        return -jnp.mean(jnp.maximum(self.model.log_prob(params, features), LOG_PROB_FLOOR))

    def _value_and_grad(self, params: MPS, features: jax.Array) -> tuple[jax.Array, Any]:
        return jax.value_and_grad(self._nll)(params, features)


@dataclasses.dataclass(frozen=True)
class BernoulliPrior:
    """Independent bits with learned logits: ``p(x) = prod_i sigmoid(+-logit_i)``.

    Params: ``{"logits": [num_bits]}`` (zeros at init: every bit fair).

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from jqgen.adversarial._classical_priors import BernoulliPrior
        >>> prior = BernoulliPrior(3)
        >>> params = prior.init(jax.random.key(0))
        >>> round(float(prior.loss(params, jnp.ones((2, 3), jnp.uint8), jax.random.key(1))), 4)  # 3 log 2
        2.0794
    """

    num_bits: int

    trainable = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "num_bits", check_int(self.num_bits, "num_bits", 1))

    @property
    def num_latent(self) -> int:
        return self.num_bits

    def init(self, key: jax.Array) -> dict[str, jax.Array]:
        return {"logits": jnp.zeros((self.num_bits,), jnp.float32)}

    def sample(self, params: dict[str, jax.Array], key: jax.Array, num: int) -> jax.Array:
        num = C.check_num(num, self.num_bits)
        C.check_params(params, ("logits",), "BernoulliPrior")
        p = jax.nn.sigmoid(params["logits"])
        return jax.random.bernoulli(key, p, (num, self.num_bits)).astype(jnp.uint8)

    def loss(self, params: dict[str, jax.Array], features: Any, key: jax.Array) -> jax.Array:
        """Mean NLL of ``features [N, num_bits]`` (``key`` unused)."""
        C.check_params(params, ("logits",), "BernoulliPrior")
        return C.call(self, "_nll", (), params, C.check_features(features, self.num_bits))

    def value_and_grad(self, params: dict[str, jax.Array], features: Any, key: jax.Array) -> tuple[jax.Array, Any]:
        C.check_params(params, ("logits",), "BernoulliPrior")
        return C.call(self, "_value_and_grad", (), params, C.check_features(features, self.num_bits))

    def config(self) -> dict[str, Any]:
        return {"prior": "bernoulli", "num_bits": self.num_bits}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "BernoulliPrior":
        return cls(**C.fields_from_config(cls, "bernoulli", config, ("num_bits",)))

    def _nll(self, params: dict[str, jax.Array], features: jax.Array) -> jax.Array:
        logits = params["logits"]
        x = features.astype(logits.dtype)
        # -log sigmoid(l) = softplus(-l), -log(1 - sigmoid(l)) = softplus(l): exact, no clipping
        nll = x * jax.nn.softplus(-logits) + (1 - x) * jax.nn.softplus(logits)
        return jnp.mean(jnp.sum(nll, axis=1))

    def _value_and_grad(self, params: dict[str, jax.Array], features: jax.Array) -> tuple[jax.Array, Any]:
        return jax.value_and_grad(self._nll)(params, features)


class _Untrainable:
    """``init``, ``loss`` and ``value_and_grad`` of a prior with nothing to learn."""

    trainable = False

    def init(self, key: jax.Array) -> dict[str, jax.Array]:
        return {}

    def loss(self, params: Any, features: Any, key: jax.Array) -> jax.Array:
        """0.0 (nothing to learn; ``features`` are ignored)."""
        return jnp.zeros((), jnp.float32)

    def value_and_grad(self, params: Any, features: Any, key: jax.Array) -> tuple[jax.Array, Any]:
        """``(0.0, params)``."""
        return C.untrained(params)


@dataclasses.dataclass(frozen=True)
class UniformPrior(_Untrainable):
    """Uniform random bits (untrainable).

    Examples:
        >>> import jax
        >>> from jqgen.adversarial._classical_priors import UniformPrior
        >>> UniformPrior(5).sample({}, jax.random.key(0), 3).shape
        (3, 5)
    """

    num_bits: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "num_bits", check_int(self.num_bits, "num_bits", 1))

    @property
    def num_latent(self) -> int:
        return self.num_bits

    def sample(self, params: Any, key: jax.Array, num: int) -> jax.Array:
        return jax.random.bernoulli(key, 0.5, (C.check_num(num, self.num_bits), self.num_bits)).astype(jnp.uint8)

    def config(self) -> dict[str, Any]:
        return {"prior": "uniform", "num_bits": self.num_bits}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "UniformPrior":
        return cls(**C.fields_from_config(cls, "uniform", config, ("num_bits",)))


@dataclasses.dataclass(frozen=True)
class GaussianPrior(_Untrainable):
    """A standard normal float32 latent ``[num, dim]`` (a plain GAN; untrainable).

    Examples:
        >>> import jax
        >>> from jqgen.adversarial._classical_priors import GaussianPrior
        >>> GaussianPrior(4).sample({}, jax.random.key(0), 2).dtype.name
        'float32'
    """

    dim: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "dim", check_int(self.dim, "dim", 1))

    @property
    def num_latent(self) -> int:
        return self.dim

    def sample(self, params: Any, key: jax.Array, num: int) -> jax.Array:
        return jax.random.normal(key, (C.check_num(num, self.dim), self.dim), jnp.float32)

    def config(self) -> dict[str, Any]:
        return {"prior": "gaussian", "dim": self.dim}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "GaussianPrior":
        return cls(**C.fields_from_config(cls, "gaussian", config, ("dim",)))
