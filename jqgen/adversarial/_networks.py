"""The generator and discriminator of the adversarial network, as flax (nnx) modules used
through pure functions of parameter pytrees.

Two sizes, picked by the image shape:

* ``8 x 8`` (scikit-learn's digits): multilayer perceptrons.
* ``28 x 28`` (MNIST): DCGAN-style convolutions (Radford et al., 2016) without batch
  normalization (no mutable statistics, so a step is a pure function)::

      generator:      z [L] -> Linear -> 7x7x(2c) -> ConvT s2 -> 14x14xc -> ConvT s2 -> 28x28x1
      discriminator:  x 28x28x1 -> Conv s2 -> 14x14xc -> Conv s2 -> 7x7x(2c) -> ...

Both discriminators end the same way, as in the associative adversarial network (Arici &
Celikyilmaz, 2016) the QC-AAN builds on::

      trunk features -> Linear -> h = sigmoid(.) [L]  (the hidden layer the prior learns)
                                  h -> Linear -> logit

The generator's first layer (a :class:`flax.nnx.Linear`) is the trainable layer that reads
the prior's latent vector (bits mapped to +-1, or Gaussian noise).

Parameters are plain nested dicts of arrays (``nnx.to_pure_dict``): checkpoints store
them like any jqgen pytree, and :func:`apply_generator` / :func:`apply_discriminator` rebuild
the module inside the traced function (the graph structure is cached on the static sizes).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["NetworkSizes", "apply_discriminator", "apply_generator", "init_discriminator", "init_generator"]


class NetworkSizes(NamedTuple):
    """Static sizes of both networks (hashable: the cache key of their graph structure).

    Attributes:
        image_shape: ``(8, 8)`` (perceptrons) or ``(28, 28)`` (convolutions).
        latent: the latent vector's length ``L`` (also the discriminator's hidden layer).
        width: hidden units (8 x 8) or channels ``c`` of the first convolution (28 x 28).
    """

    image_shape: tuple[int, int]
    latent: int
    width: int


def _leaky(x: jax.Array) -> jax.Array:
    return jax.nn.leaky_relu(x, 0.2)


class _MLPGenerator(nnx.Module):
    def __init__(self, s: NetworkSizes, rngs: nnx.Rngs) -> None:
        h, w = s.image_shape
        self.read = nnx.Linear(s.latent, s.width, rngs=rngs)
        self.hidden = nnx.Linear(s.width, 2 * s.width, rngs=rngs)
        self.out = nnx.Linear(2 * s.width, h * w, rngs=rngs)
        self.shape = (h, w)

    def __call__(self, z: jax.Array) -> jax.Array:
        x = _leaky(self.hidden(_leaky(self.read(z))))
        return jax.nn.sigmoid(self.out(x)).reshape(z.shape[:-1] + self.shape)


class _MLPDiscriminator(nnx.Module):
    def __init__(self, s: NetworkSizes, rngs: nnx.Rngs) -> None:
        h, w = s.image_shape
        self.trunk = nnx.Linear(h * w, 2 * s.width, rngs=rngs)
        self.trunk2 = nnx.Linear(2 * s.width, s.width, rngs=rngs)
        self.feature = nnx.Linear(s.width, s.latent, rngs=rngs)
        self.logit = nnx.Linear(s.latent, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        t = _leaky(self.trunk2(_leaky(self.trunk(x.reshape(x.shape[0], -1)))))
        h = jax.nn.sigmoid(self.feature(t))
        return self.logit(h)[:, 0], h


class _ConvGenerator(nnx.Module):
    def __init__(self, s: NetworkSizes, rngs: nnx.Rngs) -> None:
        c = s.width
        self.read = nnx.Linear(s.latent, 7 * 7 * 2 * c, rngs=rngs)
        self.up1 = nnx.ConvTranspose(2 * c, c, (4, 4), strides=(2, 2), padding="SAME", rngs=rngs)
        self.up2 = nnx.ConvTranspose(c, 1, (4, 4), strides=(2, 2), padding="SAME", rngs=rngs)
        self.channels = 2 * c

    def __call__(self, z: jax.Array) -> jax.Array:
        x = _leaky(self.read(z)).reshape(z.shape[0], 7, 7, self.channels)
        x = self.up2(_leaky(self.up1(x)))
        return jax.nn.sigmoid(x[..., 0])


class _ConvDiscriminator(nnx.Module):
    def __init__(self, s: NetworkSizes, rngs: nnx.Rngs) -> None:
        c = s.width
        self.down1 = nnx.Conv(1, c, (4, 4), strides=(2, 2), padding="SAME", rngs=rngs)
        self.down2 = nnx.Conv(c, 2 * c, (4, 4), strides=(2, 2), padding="SAME", rngs=rngs)
        self.feature = nnx.Linear(7 * 7 * 2 * c, s.latent, rngs=rngs)
        self.logit = nnx.Linear(s.latent, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        t = _leaky(self.down2(_leaky(self.down1(x[..., None]))))
        h = jax.nn.sigmoid(self.feature(t.reshape(x.shape[0], -1)))
        return self.logit(h)[:, 0], h


_KINDS = {(8, 8): (_MLPGenerator, _MLPDiscriminator), (28, 28): (_ConvGenerator, _ConvDiscriminator)}


def _classes(sizes: NetworkSizes) -> tuple[type, type]:
    kinds = _KINDS.get(tuple(sizes.image_shape))
    if kinds is None:
        raise ValueError(f"image_shape must be one of {sorted(_KINDS)}, got {tuple(sizes.image_shape)}")
    return kinds


@functools.lru_cache(maxsize=32)
def _structure(sizes: NetworkSizes, which: int) -> tuple[Any, Any]:
    """``(graphdef, abstract state)`` of the generator (0) or discriminator (1)."""
    cls = _classes(sizes)[which]
    return nnx.split(nnx.eval_shape(lambda: cls(sizes, nnx.Rngs(0))))


def _init(sizes: NetworkSizes, which: int, key: jax.Array) -> dict[str, Any]:
    cls = _classes(sizes)[which]
    return nnx.to_pure_dict(nnx.state(cls(sizes, nnx.Rngs(params=key)), nnx.Param))


def _merge(sizes: NetworkSizes, which: int, params: Any) -> Any:
    graphdef, abstract = _structure(sizes, which)
    state = jax.tree_util.tree_map(lambda v: v, abstract)  # a fresh State to fill
    nnx.replace_by_pure_dict(state, params)
    return nnx.merge(graphdef, state)


def init_generator(sizes: NetworkSizes, key: jax.Array) -> dict[str, Any]:
    """The generator's initial parameters (a nested dict of float32 arrays).

    Examples:
        >>> import jax
        >>> s = NetworkSizes((8, 8), latent=16, width=32)
        >>> p = init_generator(s, jax.random.key(0))
        >>> apply_generator(s, p, jax.numpy.ones((3, 16))).shape
        (3, 8, 8)
    """
    return _init(sizes, 0, key)


def init_discriminator(sizes: NetworkSizes, key: jax.Array) -> dict[str, Any]:
    """The discriminator's initial parameters (a nested dict of float32 arrays)."""
    return _init(sizes, 1, key)


def apply_generator(sizes: NetworkSizes, params: Any, latent: jax.Array) -> jax.Array:
    """Images ``[B, H, W]`` in ``(0, 1)`` from latent vectors ``[B, L]`` (float)."""
    return _merge(sizes, 0, params)(latent)


def apply_discriminator(sizes: NetworkSizes, params: Any, images: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(logits [B], hidden [B, L])`` of images ``[B, H, W]``: the real-vs-generated logit
    and the sigmoid hidden layer whose binarization the prior learns.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> s = NetworkSizes((8, 8), latent=16, width=8)
        >>> p = init_discriminator(s, jax.random.key(0))
        >>> logits, hidden = apply_discriminator(s, p, jnp.zeros((2, 8, 8)))
        >>> logits.shape, hidden.shape
        ((2,), (2, 16))
    """
    return _merge(sizes, 1, params)(images)
