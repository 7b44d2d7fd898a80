"""The associative adversarial network with a learned prior: a static, hashable configuration.

Rudolph et al., "Generation of high-resolution handwritten digits with an ion-trap quantum
computer", PRX 12, 031010 (2022), after Arici & Celikyilmaz's associative adversarial
network (AAN, 2016)::

      prior p(z) --z [L]--> generator G --image--> discriminator D --> real / generated
          ^                                               |
          +------ learns the binarized hidden layer h ----+   (on real images)

The generator draws its latent vector from the prior (a QCBM with multi-basis readout, an
MPS Born machine, or a classical baseline, :mod:`jqgen.adversarial` priors); the prior in
turn learns the distribution of the discriminator's hidden layer ``h`` on real images,
binarized. Parameters are a dict ``{"generator", "discriminator", "prior"}`` of pytrees
outside the model, so every method is a pure function of them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_batch, check_finite, check_int
from .._compiled import compiled
from ._networks import NetworkSizes, apply_discriminator, apply_generator, init_discriminator, init_generator
from ._priors import prior_from_config
from ._prior_checks import check_params

__all__ = ["AssociativeAdversarialNetwork", "BINARIZE"]

#: How the discriminator's sigmoid hidden layer becomes bits for the prior: ``"sample"``
#: draws each bit from Bernoulli(h) (stochastic binary units, as the AAN's associative
#: memory sees them), ``"threshold"`` takes ``h > 1/2``.
BINARIZE = ("sample", "threshold")
_DEFAULT_WIDTH = {(8, 8): 64, (28, 28): 16}


@dataclasses.dataclass(frozen=True)
class AssociativeAdversarialNetwork:
    """A GAN whose latent vector comes from a learned prior over bits.

    Attributes:
        prior: a prior (``make_prior("qcbm", 16)``, :class:`GaussianPrior` for a plain GAN, ...)
            supplying ``prior.num_latent`` latent entries.
        image_shape: ``(8, 8)`` or ``(28, 28)``.
        width: hidden units (8 x 8 perceptrons) or first-layer channels (28 x 28
            convolutions); ``None``: 64 and 16.

    Examples:
        >>> import jax
        >>> from jqgen.adversarial import AssociativeAdversarialNetwork, make_prior
        >>> net = AssociativeAdversarialNetwork(make_prior("bernoulli", 16))
        >>> params = net.init(jax.random.key(0))
        >>> sorted(params)
        ['discriminator', 'generator', 'prior']
        >>> net.generate(params, jax.random.key(1), 4).shape
        (4, 8, 8)
        >>> net.features(params, net.generate(params, jax.random.key(1), 4), jax.random.key(2)).dtype
        dtype('uint8')
    """

    prior: Any
    image_shape: tuple[int, int] = (8, 8)
    width: int | None = None

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.image_shape) if isinstance(self.image_shape, (tuple, list)) else None
        if shape not in _DEFAULT_WIDTH:
            raise ValueError(f"image_shape must be one of {sorted(_DEFAULT_WIDTH)}, got {self.image_shape!r}")
        object.__setattr__(self, "image_shape", shape)
        width = _DEFAULT_WIDTH[shape] if self.width is None else check_int(self.width, "width", 1)
        object.__setattr__(self, "width", width)
        latent = getattr(self.prior, "num_latent", None)
        if not isinstance(latent, int) or latent < 1 or not callable(getattr(self.prior, "sample", None)):
            raise ValueError(f"prior must be a jqgen.adversarial prior (num_latent, sample), got {self.prior!r}")

    @property
    def num_latent(self) -> int:
        """The latent vector's length ``L`` (the discriminator's hidden layer too)."""
        return int(self.prior.num_latent)

    @property
    def sizes(self) -> NetworkSizes:
        return NetworkSizes(self.image_shape, self.num_latent, self.width)

    def init(self, key: jax.Array) -> dict[str, Any]:
        """Initial parameters ``{"generator", "discriminator", "prior"}`` from ``key``."""
        return compiled(self, "_init")(key)

    def check_params(self, params: Any) -> None:
        """Raises ``ValueError`` unless ``params`` is a dict ``{"generator", "discriminator",
        "prior"}`` of finite values (a checkify check when traced)."""
        check_params(params, ("generator", "discriminator", "prior"), "AssociativeAdversarialNetwork")

    def _check_num(self, num: Any) -> int:
        num = check_int(num, "num", 1)
        h, w = self.image_shape
        per_image = 4 * (self.num_latent + h * w + (3 * self.width if (h, w) == (8, 8) else 294 * self.width))
        check_batch(num, per_image, f"generating {h}x{w} images")
        return num

    def _check_images(self, images: Any) -> Any:
        shape = tuple(getattr(images, "shape", None) or np.shape(images))
        if len(shape) != 3 or shape[0] == 0 or shape[1:] != self.image_shape:
            raise ValueError(f"images must have shape [B, {self.image_shape[0]}, {self.image_shape[1]}] with B >= 1, "
                             f"got shape {shape}")
        check_finite(images, "images")
        return images

    def latent(self, params: Any, key: jax.Array, num: int) -> jax.Array:
        """``num`` latent vectors ``[num, L]`` float32 from the prior: bits as ``2 b - 1``,
        Gaussian noise as drawn."""
        self.check_params(params)
        return compiled(self, "_latent", (2,))(params, key, self._check_num(num))

    def generate(self, params: Any, key: jax.Array, num: int) -> jax.Array:
        """``num`` generated images ``[num, H, W]`` in ``(0, 1)``."""
        self.check_params(params)
        return compiled(self, "_generate", (2,))(params, key, self._check_num(num))

    def discriminate(self, params: Any, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(logits [B], hidden [B, L])``: real-vs-generated logits and the hidden layer."""
        self.check_params(params)
        return compiled(self, "_discriminate")(params, self._check_images(images))

    def features(self, params: Any, images: jax.Array, key: jax.Array, binarize: str = "sample") -> jax.Array:
        """The binarized hidden layer ``uint8 [B, L]`` of ``images``: what the prior learns."""
        if binarize not in BINARIZE:
            raise ValueError(f"binarize must be one of {BINARIZE}, got {binarize!r}")
        self.check_params(params)
        return compiled(self, "_features", (3,))(params, self._check_images(images), key, binarize)

    # the kernels (jitted once per equal network by jqgen._compiled.compiled)
    def _init(self, key: jax.Array) -> dict[str, Any]:
        kg, kd, kp = jax.random.split(key, 3)
        return {"generator": init_generator(self.sizes, kg), "discriminator": init_discriminator(self.sizes, kd),
                "prior": self.prior.init(kp)}

    def _latent(self, params: Any, key: jax.Array, num: int) -> jax.Array:
        z = self.prior.sample(params["prior"], key, num)
        if jnp.issubdtype(z.dtype, jnp.integer):
            return 2.0 * z.astype(jnp.float32) - 1.0
        return z.astype(jnp.float32)

    def _generate(self, params: Any, key: jax.Array, num: int) -> jax.Array:
        return apply_generator(self.sizes, params["generator"], self._latent(params, key, num))

    def _discriminate(self, params: Any, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        return apply_discriminator(self.sizes, params["discriminator"], images)

    def _features(self, params: Any, images: jax.Array, key: jax.Array, binarize: str) -> jax.Array:
        _, h = self._discriminate(params, images)
        h = jax.lax.stop_gradient(h)
        bits = jax.random.uniform(key, h.shape, h.dtype) < h if binarize == "sample" else h > 0.5
        return bits.astype(jnp.uint8)

    def config(self) -> dict[str, Any]:
        """JSON-serializable settings (``"family": "aan"``); :meth:`from_config` inverts it."""
        return {"family": "aan", "image_shape": list(self.image_shape), "width": self.width,
                "prior": self.prior.config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "AssociativeAdversarialNetwork":
        """Rebuilds the network from :meth:`config`."""
        if not isinstance(config, dict):
            raise ValueError(f"config must be a dict (AssociativeAdversarialNetwork.config()), got {type(config).__name__}")
        config = dict(config)
        if config.pop("family", "aan") != "aan":
            raise ValueError(f"not an adversarial-network config: {config!r}")
        missing = sorted({"prior", "image_shape"} - set(config))
        if missing:
            raise ValueError(f"an adversarial-network config needs 'prior' and 'image_shape', missing {missing}")
        return cls(prior_from_config(config["prior"]), tuple(config["image_shape"]), config.get("width"))
