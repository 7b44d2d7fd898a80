"""The MPS Born machine as a :class:`jqgen.GenerativeModel`."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp

from .. import _random
from .._checks import check_int, check_x64
from ._guard import WORKING_COPIES, check_mps_memory
from ._born import log_prob, probs, sample
from ._core import MPS, _check_sizes, masked

__all__ = ["MPSBornMachine"]


@dataclasses.dataclass(frozen=True)
class MPSBornMachine:
    """Born machine ``p(x) = |psi(x)|^2 / Z`` on an MPS; the parameters are an :class:`MPS`.

    Attributes:
        num_bits: number of sites ``n``.
        chi_max: bond dimension.
        init_noise: relative weight ``eps`` of the random block that :meth:`init` adds to
            the uniform superposition: ``psi = uniform + eps r`` with ``E||r||^2 = 1``
            (``0`` starts exactly uniform). The default 4.0 was measured (benchmarks/README.md,
            "The uniform saddle"): it learns parity of 8 and 10 bits and sums mod 3 in 8 of 8
            seeds at chi 8-32 and reaches the earlier start's NLL on MNIST-1k (124.0 against
            123.9 after 500 steps, 127.7 at 0.5).
        dtype: parameter dtype.
        max_bytes: memory the guard may plan for (default: the device's memory); not part
            of :meth:`config` nor of equality.

    Raises:
        ValueError: bad sizes or dtype, or a model whose training step
            (:data:`jqgen.mps._guard.WORKING_COPIES` parameter-sized arrays) cannot fit; the
            message gives the largest ``chi_max`` that does.

    Examples:
        >>> import jax, jqgen
        >>> model = jqgen.MPSBornMachine(num_bits=9, chi_max=4)
        >>> params = model.init(jax.random.key(0))
        >>> model.sample(params, jax.random.key(1), 3).shape
        (3, 9)
    """

    num_bits: int
    chi_max: int
    init_noise: float = 4.0
    dtype: Any = jnp.float32
    max_bytes: int | None = dataclasses.field(default=None, compare=False)

    def __post_init__(self) -> None:
        _check_sizes(self.num_bits, self.chi_max)
        try:
            dtype = jnp.dtype(self.dtype)
        except TypeError:
            raise ValueError(f"dtype must be a float or complex dtype, got {self.dtype!r}") from None
        if not jnp.issubdtype(dtype, jnp.inexact):
            raise ValueError(f"dtype must be a float or complex dtype, got {dtype}")
        check_x64(dtype)
        object.__setattr__(self, "dtype", dtype)  # canonical form: equal dtypes hash equally
        if not self.init_noise >= 0:
            raise ValueError(f"init_noise must be >= 0, got {self.init_noise!r}")
        if self.max_bytes is not None:
            check_int(self.max_bytes, "max_bytes", 1)
        self.check_memory()

    def check_memory(self) -> None:
        """Raises ``ValueError`` when a training step's arrays cannot fit (see
        :mod:`jqgen.mps._guard`)."""
        check_mps_memory(self.num_bits, self.chi_max, self.dtype, WORKING_COPIES, "an MPSBornMachine",
                         have=self.max_bytes)

    def init(self, key: jax.Array) -> MPS:
        """The uniform superposition plus a random state of weight ``init_noise``, as a direct sum.

        Bond index 0 carries the uniform product state ``2^{-n/2} sum_x |x>``; the other
        ``chi - 1`` bond states carry an independent Gaussian MPS ``r`` (entries
        ``N(0, w^2 / (2 (chi - 1)))``, ``w = init_noise^(1/n)``, so ``E||r||^2 =
        init_noise^2``), joined to the uniform block only at the two ends. The random block's
        Walsh spectrum is flat: data
        whose correlations are all of high order (parity: every marginal of fewer than
        ``n`` bits uniform) get a first-order gradient. The earlier start, uniform plus
        small noise on every entry, is a saddle for such data (their gradient there falls
        off as noise^(order - 1); benchmarks/README.md, "The uniform saddle"). ``chi_max = 1``: the uniform product
        state with entries perturbed by ``N(0, init_noise^2 / 2)``.
        """
        n, chi = self.num_bits, self.chi_max
        return MPS(_uniform_plus_random(key, n, chi, self.init_noise, self.dtype))

    # The methods run jqgen.mps's jitted kernels (keyed on shapes and dtypes, shared by
    # every model): a second eager call with equal sizes compiles nothing.

    def log_prob(self, params: MPS, bits: Any) -> jax.Array:
        """Exact ``log p(x)`` of ``bits [..., n]`` (:func:`jqgen.mps.log_prob`)."""
        return log_prob(params, bits)

    def sample(self, params: MPS, key: jax.Array, num: int) -> jax.Array:
        """``num`` perfect samples, uint8 ``[num, n]``; ``num`` a Python or numpy integer
        (:func:`jqgen.mps.sample`)."""
        return sample(params, key, num)

    def probs(self, params: MPS) -> jax.Array:
        """Dense ``p(x)`` over all ``2**n`` bitstrings, big-endian (:func:`jqgen.mps.probs`)."""
        return probs(params)

    def config(self) -> dict[str, Any]:
        """JSON-serializable description; :meth:`from_config` rebuilds an equal model."""
        return {
            "family": "mps",
            "num_bits": self.num_bits,
            "chi_max": self.chi_max,
            "init_noise": self.init_noise,
            "dtype": jnp.dtype(self.dtype).name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "MPSBornMachine":
        """The model of a :meth:`config` dict (the dtype given by name).

        Raises:
            ValueError: another family, missing or unknown entries, or values the model
                rejects.

        Examples:
            >>> import jqgen
            >>> m = jqgen.MPSBornMachine(6, 3, dtype="complex64")
            >>> jqgen.MPSBornMachine.from_config(m.config()) == m
            True
        """
        cfg = dict(config)
        family = cfg.pop("family", "mps")
        if family != "mps":
            raise ValueError(f"config['family'] must be 'mps' for an MPSBornMachine, got {family!r}")
        fields = {f.name for f in dataclasses.fields(cls)}
        if not {"num_bits", "chi_max"} <= set(cfg) <= fields:
            raise ValueError(
                f"an MPSBornMachine config needs 'num_bits' and 'chi_max' and may have "
                f"{sorted(fields - {'num_bits', 'chi_max'})}, got {sorted(cfg)}"
            )
        return cls(**cfg)


@functools.partial(jax.jit, static_argnums=(1, 2, 4))
def _uniform_plus_random(key: jax.Array, n: int, chi: int, eps: Any, dtype: Any) -> jax.Array:
    """The tensors of :meth:`MPSBornMachine.init` (``[n, chi, 2, chi]``, masked)."""
    rdt = jnp.finfo(dtype).dtype
    g = _random.normal(key, (n, chi, 2, chi), dtype)
    half = jnp.sqrt(jnp.asarray(0.5, rdt))
    u = jnp.zeros((n, chi, 2, chi), dtype).at[:, 0, :, 0].set(half.astype(dtype))
    if chi == 1:
        return masked(u * (1 + (jnp.asarray(eps, rdt) * half).astype(dtype) * g))
    w = jnp.asarray(eps, rdt) ** (1 / n)
    g = g * (w / jnp.sqrt(jnp.asarray(2 * (chi - 1), rdt))).astype(dtype)
    rest = jnp.arange(chi) > 0
    block = (rest[:, None] & rest[None, :])[None, :, None, :]
    t = u + jnp.where(block, g, jnp.zeros((), dtype))
    t = t.at[0, 0, :, 1:].set(g[0, 0, :, 1:])  # the first site enters the random block ...
    t = t.at[-1, 1:, :, 0].set(g[-1, 1:, :, 0])  # ... and the last site leaves it
    return masked(t)
