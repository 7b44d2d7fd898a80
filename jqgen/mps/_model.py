"""The MPS Born machine as a :class:`jqgen.GenerativeModel`."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from ._born import log_prob, probs, sample
from ._core import MPS, _check_sizes, masked, product_mps

__all__ = ["MPSBornMachine"]


@dataclasses.dataclass(frozen=True)
class MPSBornMachine:
    """Born machine ``p(x) = |psi(x)|^2 / Z`` on an MPS; the parameters are an :class:`MPS`.

    Attributes:
        num_bits: number of sites ``n``.
        chi_max: bond dimension.
        init_noise: relative scale of the random perturbation added by :meth:`init` to the
            uniform superposition (so training starts near the uniform distribution, with
            every bond active).
        dtype: parameter dtype.

    Example:
        >>> import jax, jqgen
        >>> model = jqgen.MPSBornMachine(num_bits=9, chi_max=4)
        >>> params = model.init(jax.random.key(0))
        >>> model.sample(params, jax.random.key(1), 3).shape
        (3, 9)
    """

    num_bits: int
    chi_max: int
    init_noise: float = 0.5
    dtype: Any = jnp.float32

    def __post_init__(self) -> None:
        _check_sizes(self.num_bits, self.chi_max)
        try:
            dtype = jnp.dtype(self.dtype)
        except TypeError:
            raise ValueError(f"dtype must be a float or complex dtype, got {self.dtype!r}") from None
        if not jnp.issubdtype(dtype, jnp.inexact):
            raise ValueError(f"dtype must be a float or complex dtype, got {dtype}")
        object.__setattr__(self, "dtype", dtype)  # canonical form: equal dtypes hash equally
        if not self.init_noise >= 0:
            raise ValueError(f"init_noise must be >= 0, got {self.init_noise!r}")

    def init(self, key: jax.Array) -> MPS:
        """Uniform superposition with bond-diagonal identity plus Gaussian noise."""
        n, chi = self.num_bits, self.chi_max
        base = product_mps(jnp.ones((n, 2)), chi, dtype=self.dtype).tensors
        eye = jnp.eye(chi, dtype=self.dtype)[None, :, None, :] * jnp.ones((n, 1, 2, 1), self.dtype)
        noise = jax.random.normal(key, base.shape, self.dtype)
        t = 0.5 * base + 0.5 * eye + (self.init_noise / jnp.sqrt(chi)).astype(self.dtype) * noise
        return MPS(masked(t))

    def log_prob(self, params: MPS, bits: Any) -> jax.Array:
        return log_prob(params, bits)

    def sample(self, params: MPS, key: jax.Array, num: int) -> jax.Array:
        return sample(params, key, num)

    def probs(self, params: MPS) -> jax.Array:
        return probs(params)

    def config(self) -> dict[str, Any]:
        """JSON-serializable description (used by checkpoints)."""
        return {
            "family": "mps",
            "num_bits": self.num_bits,
            "chi_max": self.chi_max,
            "init_noise": self.init_noise,
            "dtype": jnp.dtype(self.dtype).name,
        }
