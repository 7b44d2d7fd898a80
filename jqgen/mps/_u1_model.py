"""The U(1)-symmetric MPS Born machine as a :class:`jqgen.GenerativeModel`.

``p(x) = |psi(x)|^2 / Z`` where ``psi`` vanishes exactly unless ``sum_i a_i x_i = b``
(Lopez-Piqueres, Chen and Perdomo-Ortiz, arXiv:2211.09121): every sample meets the
constraint and ``log_prob`` of any other string is ``-inf``. Layout:
:mod:`jqgen.mps._u1_layout`; kernels: :mod:`jqgen.mps._u1_born`, :mod:`jqgen.mps._u1_canonical`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _random
from .._checks import check_batch, check_bits, check_finite, check_x64
from .._compiled import compiled
from .._memory import available_memory, format_bytes
from ._born import _check_num
from ._core import MPS
from ._u1_born import amplitudes, block_mask, log_amp_sq, log_norm_sq, probs_on, sample_and_log_prob
from ._u1_canonical import left_canonical, right_canonical, schmidt_values
from ._u1_dense import from_dense_blocks, mps_index
from ._u1_layout import MAX_ENUMERATED_SITES, ChargeLayout

__all__ = ["BlockMPS", "SymmetricMPSBornMachine"]

#: Copies of the parameters a training step keeps alive (params, gradients, optimizer
#: moments, environments): the memory guard asks for this much headroom.
_WORKING_COPIES = 8


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class BlockMPS:
    """Parameters of a :class:`SymmetricMPSBornMachine`: ``blocks [n, 2, Q, chi, chi]``
    (site, bit, charge of the left bond, left index, right index; see
    :mod:`jqgen.mps._u1_layout`). Entries outside the model's layout are ignored."""

    blocks: jax.Array


@dataclasses.dataclass(frozen=True)
class SymmetricMPSBornMachine:
    """Born machine on a U(1)-symmetric MPS: only strings with ``sum_i a_i x_i = target``.

    Attributes:
        num_bits: number of sites ``n``.
        target: the required total ``b`` (the cardinality ``k`` when ``weights`` is ``None``).
        chi_max: block padding: the largest block size of one charge sector (the total bond
            dimension is the sum over sectors, :attr:`ChargeLayout.bond_dims`).
        weights: non-negative integer ``a_i`` per site, or ``None`` for all ones
            (cardinality; equal to passing ones).
        init_noise: relative scale of the Gaussian noise :meth:`init` adds to the uniform
            superposition of the valid strings.
        dtype: float32 (default), float64, complex64 or complex128.
        max_bytes: memory the guard may plan for (default: the device's memory).

    Examples:
        >>> import jax, jqgen
        >>> model = jqgen.mps.SymmetricMPSBornMachine(num_bits=10, target=3, chi_max=4)
        >>> params = model.init(jax.random.key(0))
        >>> model.sample(params, jax.random.key(1), 4).sum(axis=1).tolist()
        [3, 3, 3, 3]
        >>> float(model.log_prob(params, [1] * 10))
        -inf
    """

    num_bits: int
    target: int
    chi_max: int
    weights: tuple[int, ...] | None = None
    init_noise: float = 0.5
    dtype: Any = jnp.float32
    max_bytes: int | None = dataclasses.field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.num_bits, (int, np.integer)) or isinstance(self.num_bits, bool) or self.num_bits < 2:
            raise ValueError(f"num_bits must be an integer >= 2, got {self.num_bits!r}")
        object.__setattr__(self, "num_bits", int(self.num_bits))
        weights = self.weights
        if weights is not None:
            if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__") or len(weights) != self.num_bits:
                raise ValueError(f"weights must be None or a sequence of {self.num_bits} non-negative integers, "
                                 f"got {weights!r}")
            weights = tuple(int(a) if isinstance(a, (int, np.integer)) and not isinstance(a, bool) else a
                            for a in weights)
            weights = None if all(a == 1 for a in weights) else weights
        object.__setattr__(self, "weights", weights)
        layout = ChargeLayout((1,) * self.num_bits if weights is None else weights, self.target, self.chi_max)
        object.__setattr__(self, "target", layout.target)
        object.__setattr__(self, "chi_max", layout.chi_max)
        try:
            dtype = jnp.dtype(self.dtype)
        except TypeError:
            raise ValueError(f"dtype must be a float or complex dtype, got {self.dtype!r}") from None
        if not jnp.issubdtype(dtype, jnp.inexact):
            raise ValueError(f"dtype must be a float or complex dtype, got {dtype}")
        check_x64(dtype)
        object.__setattr__(self, "dtype", dtype)
        if not self.init_noise >= 0:
            raise ValueError(f"init_noise must be >= 0, got {self.init_noise!r}")
        self.check_memory()

    # ------------------------------------------------------------------ structure
    @property
    def layout(self) -> ChargeLayout:
        """The static :class:`ChargeLayout` (charges, block sizes, masks)."""
        return _layout(self)

    @property
    def constraint_weights(self) -> tuple[int, ...]:
        """The ``a_i`` of every site (ones for a cardinality constraint)."""
        return self.layout.weights

    def memory_bytes(self) -> int:
        """Bytes a training step needs: the parameter array times the working copies."""
        return self.layout.param_bytes(jnp.dtype(self.dtype).itemsize) * _WORKING_COPIES

    def check_memory(self) -> None:
        """Raises ``ValueError`` when :meth:`memory_bytes` exceeds the memory available."""
        need, have = self.memory_bytes(), self.max_bytes if self.max_bytes is not None else available_memory()
        if need > have:
            lay = self.layout
            per_chi_sq = need // self.chi_max**2  # the padded blocks grow as chi_max^2
            largest = int(math.isqrt(max(0, have // max(1, per_chi_sq))))
            raise ValueError(f"a symmetric MPS with n = {self.num_bits}, {lay.num_charges} charges and chi_max = "
                             f"{self.chi_max} needs about {format_bytes(need)} (blocks [n, 2, Q, chi, chi] x "
                             f"{_WORKING_COPIES} working copies), more than the {format_bytes(have)} available; "
                             f"the largest chi_max that fits is {largest}")

    def in_support(self, bits: Any) -> jax.Array:
        """``bool [...]``: which strings of ``bits [..., n]`` meet the constraint."""
        bits = check_bits(bits, self.num_bits)
        return jnp.asarray(bits, jnp.int32) @ jnp.asarray(self.constraint_weights, jnp.int32) == self.target

    # ------------------------------------------------------------------ protocol
    def init(self, key: jax.Array) -> BlockMPS:
        """Uniform superposition of the valid strings (ones on every block's diagonal) plus
        Gaussian noise of relative scale ``init_noise`` on the active entries."""
        lay, dt = self.layout, self.dtype
        shape = (self.num_bits, 2, lay.num_charges, self.chi_max, self.chi_max)
        eye = jnp.broadcast_to(jnp.eye(self.chi_max, dtype=dt), shape)
        first = jnp.zeros(shape, dt).at[..., 0, 0].set(1)
        if jnp.issubdtype(dt, jnp.complexfloating):
            kr, ki = jax.random.split(key)
            real = jnp.finfo(dt).dtype
            noise = jax.lax.complex(_random.normal(kr, shape, real), _random.normal(ki, shape, real))
        else:
            noise = _random.normal(key, shape, dt)
        t = 0.5 * first + 0.5 * eye + (self.init_noise / math.sqrt(self.chi_max)) * noise
        return BlockMPS(self._mask(t.astype(dt)))

    def log_prob(self, params: BlockMPS, bits: Any) -> jax.Array:
        """Exact ``log p(x)`` of ``bits [..., n]``; ``-inf`` for strings off the constraint."""
        self._check(params)
        bits = check_bits(bits, self.num_bits)
        lead = bits.shape[:-1]
        return self._call("_log_prob", (), params.blocks, bits.reshape(-1, self.num_bits)).reshape(lead)

    def sample(self, params: BlockMPS, key: jax.Array, num: int) -> jax.Array:
        """``num`` perfect samples ``uint8 [num, n]``, every one meeting the constraint."""
        return self.sample_and_log_prob(params, key, num)[0]

    def sample_and_log_prob(self, params: BlockMPS, key: jax.Array, num: int) -> tuple[jax.Array, jax.Array]:
        """Perfect samples and their exact log-probabilities ``[num]``."""
        self._check(params)
        num = _check_num(num)
        item = jnp.dtype(self.dtype).itemsize
        check_batch(num, self.num_bits * 6 + 8 * self.chi_max * self.layout.num_charges * item + 16,
                    f"sampling a symmetric MPS of n = {self.num_bits}, chi_max = {self.chi_max}")
        return self._call("_sample", (2,), params.blocks, key, num)

    def probs(self, params: BlockMPS) -> jax.Array:
        """Dense ``p [2**n]`` (big-endian; exact zeros off the constraint), ``n <= 20``."""
        self._check(params)
        self._check_enumerable("probs")
        return self._call("_probs", (), params.blocks)

    def config(self) -> dict[str, Any]:
        """JSON-serializable description; :meth:`from_config` rebuilds an equal model."""
        return {"family": "symmetric-mps", "num_bits": self.num_bits, "target": self.target,
                "chi_max": self.chi_max, "weights": None if self.weights is None else list(self.weights),
                "init_noise": self.init_noise, "dtype": jnp.dtype(self.dtype).name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "SymmetricMPSBornMachine":
        """The model of a :meth:`config` dict.

        Raises:
            ValueError: another family, missing or unknown entries, or values the model rejects.
        """
        cfg = dict(config)
        family = cfg.pop("family", "symmetric-mps")
        if family != "symmetric-mps":
            raise ValueError(f"config['family'] must be 'symmetric-mps' for a SymmetricMPSBornMachine, got {family!r}")
        need, fields = {"num_bits", "target", "chi_max"}, {f.name for f in dataclasses.fields(cls)}
        if not need <= set(cfg) <= fields:
            raise ValueError(f"a SymmetricMPSBornMachine config needs {sorted(need)} and may have "
                             f"{sorted(fields - need)}, got {sorted(cfg)}")
        if cfg.get("weights") is not None:
            cfg["weights"] = tuple(cfg["weights"])
        return cls(**cfg)

    # ------------------------------------------------------------------ tensor network
    def normalize(self, params: BlockMPS, form: str = "right") -> BlockMPS:
        """The same distribution in ``"right"`` (sites ``1..n-1`` co-isometric) or ``"left"``
        canonical form (sites ``0..n-2`` isometric), with unit norm."""
        self._check(params)
        if form not in ("left", "right"):
            raise ValueError(f"form must be 'left' or 'right', got {form!r}")
        return BlockMPS(self._call("_left" if form == "left" else "_right", (), params.blocks))

    def log_norm(self, params: BlockMPS) -> jax.Array:
        """``log sqrt(<psi|psi>)`` of the unnormalized state."""
        self._check(params)
        return self._call("_log_norm", (), params.blocks)

    def schmidt_values(self, params: BlockMPS) -> jax.Array:
        """``[n - 1, Q, chi_max]``: Schmidt values of bonds ``1 .. n-1`` per charge sector
        (descending within a sector, zero-padded; squares sum to 1 over a bond)."""
        self._check(params)
        return self._call("_schmidt", (), params.blocks)

    def to_dense(self, params: BlockMPS) -> jax.Array:
        """Unnormalized amplitudes ``[2**n]`` (exact zeros off the constraint), ``n <= 20``."""
        self._check(params)
        self._check_enumerable("to_dense")
        return self._call("_dense", (), params.blocks)

    def from_dense(self, psi: Any) -> BlockMPS:
        """Blocks of a ``2**n`` amplitude vector that vanishes off the constraint, by one SVD
        per charge sector and bond; exact when ``chi_max`` holds every sector's rank, else the
        optimal truncation sector by sector.

        Raises:
            ValueError: wrong length, non-finite entries, the zero vector, or amplitude on a
                string that breaks the constraint (more than ``1e-6`` of the norm).
        """
        self._check_enumerable("from_dense")
        psi = jnp.asarray(psi)
        if psi.shape != (2**self.num_bits,):
            raise ValueError(f"psi must have shape [{2**self.num_bits}] (2**num_bits), got {psi.shape}")
        psi = psi.astype(self.dtype)
        check_finite(psi, "psi")
        arr = np.asarray(psi)
        total = float(np.sum(np.abs(arr) ** 2))
        if total == 0:
            raise ValueError("psi is the zero vector")
        off = total - float(np.sum(np.abs(arr[self.layout.valid_indices]) ** 2))
        if off > 1e-6 * total:
            raise ValueError(f"psi has {off / total:.3g} of its norm on strings with sum_i a_i x_i != {self.target}; "
                             "a symmetric MPS represents only states on the constraint")
        return BlockMPS(self._mask(from_dense_blocks(arr, self.layout, self.dtype)))

    def to_mps(self, params: BlockMPS) -> tuple[Any, MPS]:
        """The same state as an unconstrained :class:`~jqgen.mps.MPSBornMachine` and its
        :class:`~jqgen.mps.MPS` (bond ``k`` holds the sectors side by side: dimension
        ``sum_q D[k, q]``); its log-probabilities equal this model's."""
        from ._model import MPSBornMachine

        self._check(params)
        chi, index = mps_index(self.layout)
        t = jnp.zeros((self.num_bits, chi, 2, chi), self.dtype)
        vals = self._mask(params.blocks)[tuple(np.nonzero(self.layout.block_mask))]
        return MPSBornMachine(self.num_bits, chi, dtype=self.dtype), MPS(t.at[index].set(vals))

    # ------------------------------------------------------------------ kernels
    def _check(self, params: Any) -> None:
        lay = self.layout
        shape = (self.num_bits, 2, lay.num_charges, self.chi_max, self.chi_max)
        blocks = getattr(params, "blocks", None)
        if not isinstance(params, BlockMPS) or getattr(blocks, "shape", None) != shape:
            raise ValueError(f"params must be a jqgen.mps.BlockMPS with blocks of shape {list(shape)} "
                             f"[n, 2, Q, chi, chi], got {type(params).__name__} with shape {getattr(blocks, 'shape', None)}")
        if jnp.dtype(blocks.dtype) != self.dtype:
            raise ValueError(f"params.blocks must have dtype {self.dtype.name}, got {jnp.dtype(blocks.dtype).name}")
        check_finite(blocks, "params.blocks")

    def _check_enumerable(self, what: str) -> None:
        if self.num_bits > MAX_ENUMERATED_SITES:
            raise ValueError(f"{what} needs num_bits <= {MAX_ENUMERATED_SITES}, got {self.num_bits}")

    def _call(self, kernel: str, static: tuple[int, ...], *args: Any) -> Any:
        return compiled(self, kernel, static)(*args)

    def _mask(self, blocks: jax.Array) -> jax.Array:
        lay = self.layout
        return blocks * block_mask(jnp.asarray(lay.dims), jnp.asarray(lay.weights, jnp.int32), self.chi_max,
                                   blocks.dtype)

    def _w(self) -> jax.Array:
        return jnp.asarray(self.constraint_weights, jnp.int32)

    def _log_prob(self, blocks: jax.Array, bits: jax.Array) -> jax.Array:
        b = self._mask(blocks)
        return log_amp_sq(b, self._w(), bits) - log_norm_sq(b, self._w())

    def _sample(self, blocks: jax.Array, key: jax.Array, num: int) -> tuple[jax.Array, jax.Array]:
        return sample_and_log_prob(self._mask(blocks), self._w(), jnp.asarray(self.layout.dims), key, num)

    def _probs(self, blocks: jax.Array) -> jax.Array:
        lay = self.layout
        return probs_on(self._mask(blocks), self._w(), jnp.asarray(lay.valid_bitstrings()), 2**self.num_bits,
                        jnp.asarray(lay.valid_indices, jnp.int32))

    def _dense(self, blocks: jax.Array) -> jax.Array:
        lay = self.layout
        b = self._mask(blocks)
        m = jnp.max(jnp.abs(b))  # amplitudes of b / m, times m**n: no overflow in the products
        amp = amplitudes(b / m.astype(b.dtype), self._w(), jnp.asarray(lay.valid_bitstrings()))
        amp = amp * (m**self.num_bits).astype(b.dtype)
        return jnp.zeros((2**self.num_bits,), b.dtype).at[jnp.asarray(lay.valid_indices)].set(amp)

    def _left(self, blocks: jax.Array) -> jax.Array:
        return self._mask(left_canonical(self._mask(blocks), self._w(), jnp.asarray(self.layout.dims))[0])

    def _right(self, blocks: jax.Array) -> jax.Array:
        return self._mask(right_canonical(self._mask(blocks), self._w(), jnp.asarray(self.layout.dims))[0])

    def _log_norm(self, blocks: jax.Array) -> jax.Array:
        return 0.5 * log_norm_sq(self._mask(blocks), self._w())

    def _schmidt(self, blocks: jax.Array) -> jax.Array:
        return schmidt_values(self._mask(blocks), self._w(), jnp.asarray(self.layout.dims))



@functools.lru_cache(maxsize=256)  # keyed on the model's value
def _layout(model: SymmetricMPSBornMachine) -> ChargeLayout:
    weights = (1,) * model.num_bits if model.weights is None else model.weights
    return ChargeLayout(weights, model.target, model.chi_max)
