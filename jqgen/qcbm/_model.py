"""The quantum circuit Born machine as a :class:`jqgen.GenerativeModel`.

``p(x) = |<x|U(theta)|0>|^2`` for an ansatz ``U`` from :mod:`jqgen.qcbm`. Exact
probabilities come from the statevector; :meth:`QCBM.sample` draws shots from them by
inverse-CDF search (``O(2**n + shots * n)``), :meth:`QCBM.sample_counts` draws a whole
histogram from sorted uniforms (``O(2**n log shots + shots)``), as a device would return
it. A memory guard refuses statevectors that cannot fit before anything is allocated.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from .._checks import check_batch, check_bits, check_finite, check_int, check_shots, check_x64, is_concrete
from .._compiled import compiled
from .._memory import WORKING_COPIES, available_memory, format_bytes, largest_fitting, statevector_step_bytes
from ..bits import bits_to_index, index_to_bits
from ..distributions import sample_counts
from . import _ansatz
from ._gates import complex_dtype

__all__ = ["QCBM", "available_memory", "statevector_bytes"]

_WORKING_COPIES = WORKING_COPIES  # statevectors of headroom beyond gradient residuals


def statevector_bytes(num_qubits: int, dtype: Any = jnp.float32) -> int:
    """Bytes of one ``2**num_qubits`` statevector for parameters of ``dtype``.

    Raises:
        ValueError: ``num_qubits < 1`` or a dtype other than float32/float64.
    """
    num_qubits = check_int(num_qubits, "num_qubits", 1)
    try:
        real = jnp.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if real not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        raise ValueError(f"dtype must be float32 or float64 (the angles are real), got {real}")
    return (2**num_qubits) * jnp.dtype(complex_dtype(jnp.dtype(dtype))).itemsize


_format_bytes = format_bytes  # the name jqgen.qcbm's modules use


@dataclasses.dataclass(frozen=True)
class QCBM:
    """Quantum circuit Born machine over ``ansatz.num_qubits`` bits.

    Attributes:
        ansatz: a :class:`HardwareEfficient`, :class:`LiuWang` or :class:`SU4Brickwork`.
        dtype: real dtype of the angles (float32 gives complex64 states, float64 complex128).
        engine: ``"fused"`` (jqgen's fused engine, :mod:`jqgen.qcbm._engine`, the default)
            or ``"tensorcircuit"`` (TensorCircuit circuits scanned over blocks). Both give
            the same statevector.
        gradient: how reverse mode differentiates the fused engine: ``"adjoint"`` (the
            default: the backward pass re-derives earlier states by inverse blocks, memory a
            few statevectors whatever the depth) or ``"backprop"`` (JAX stores the state
            before every fused block). The ``"tensorcircuit"`` engine always backprops.
        init_scale: ``None`` draws initial angles uniformly in ``[-pi, pi)``; a float draws
            them from ``N(0, init_scale**2)`` (small values start near the identity circuit
            of :class:`SU4Brickwork`).
        max_bytes: memory the guard may plan for (default: the device's memory).

    Examples:
        >>> import jax, jqgen
        >>> model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(num_qubits=4, layers=2))
        >>> params = model.init(jax.random.key(0))
        >>> round(float(model.probs(params).sum()), 5)
        1.0
        >>> model.sample(params, jax.random.key(1), 5).shape
        (5, 4)
        >>> batch = jax.vmap(model.init)(jax.random.split(jax.random.key(2), 8))
        >>> jax.vmap(model.probs)(batch).shape  # eight models in one program
        (8, 16)
    """

    ansatz: Any
    dtype: Any = jnp.float32
    engine: str = "fused"
    gradient: str = "adjoint"
    init_scale: float | None = None
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.ansatz, tuple(_ansatz.ANSATZE.values())):
            raise ValueError(f"ansatz must be one of {[c.__name__ for c in _ansatz.ANSATZE.values()]}, got {self.ansatz!r}")
        try:
            dtype = jnp.dtype(self.dtype)
        except TypeError:
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}") from None
        if dtype not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
            raise ValueError(f"dtype must be float32 or float64 (the angles are real), got {dtype}")
        check_x64(dtype)
        object.__setattr__(self, "dtype", dtype)
        if self.engine not in ("fused", "tensorcircuit"):
            raise ValueError(f"engine must be 'fused' or 'tensorcircuit', got {self.engine!r}")
        if self.gradient not in ("adjoint", "backprop"):
            raise ValueError(f"gradient must be 'adjoint' or 'backprop', got {self.gradient!r}")
        if self.init_scale is not None and not self.init_scale >= 0:
            raise ValueError(f"init_scale must be None or >= 0, got {self.init_scale!r}")
        self.check_memory()

    @property
    def num_bits(self) -> int:
        return int(self.ansatz.num_qubits)

    @property
    def _grad_method(self) -> str:
        return "backprop" if self.engine == "tensorcircuit" else self.gradient

    def step_bytes(self, num_qubits: int | None = None) -> int:
        """Estimated peak bytes of a ``value_and_grad`` step (:func:`jqgen._memory.statevector_step_bytes`
        for this model's gradient method; ``num_qubits`` defaults to the model's)."""
        n = self.num_bits if num_qubits is None else num_qubits
        item = jnp.dtype(complex_dtype(jnp.dtype(self.dtype))).itemsize
        return statevector_step_bytes(n, item, self.ansatz.layers, self._grad_method)

    def check_memory(self) -> None:
        """Raises ``ValueError`` when a training step (state, working copies and the gradient
        method's residuals) cannot fit, naming the largest ``n`` that does."""
        n = self.num_bits
        need = self.step_bytes()
        have = self.max_bytes if self.max_bytes is not None else available_memory()
        if need > have:
            raise ValueError(
                f"a {n}-qubit statevector needs {_format_bytes(statevector_bytes(n, self.dtype))} "
                f"({_format_bytes(need)} for a training step with {self._grad_method} gradients and "
                f"{self.ansatz.layers} layers) but {_format_bytes(have)} is available; "
                f"use at most {self.max_qubits(have)} qubits, or an MPS model "
                f"(jqgen.MPSBornMachine) for {n} bits"
            )

    def max_qubits(self, have: int | None = None) -> int:
        """The largest ``n`` whose training step fits in ``have`` bytes (default: the device's
        memory) with this model's dtype, depth and gradient method."""
        have = have if have is not None else available_memory()
        return max(1, largest_fitting(self.step_bytes, have))

    # ------------------------------------------------------------------ protocol

    def init(self, key: jax.Array) -> dict[str, jax.Array]:
        return self.ansatz.init(key, self.dtype, self.init_scale)

    def state(self, params: dict[str, jax.Array]) -> jax.Array:
        """The statevector ``U(theta)|0...0>``, ``[2**n]`` complex."""
        self._check_params(params)
        return self._call("_state", (), params)

    def probs(self, params: dict[str, jax.Array]) -> jax.Array:
        """Exact ``p(x)`` for all ``2**n`` bitstrings (big-endian order)."""
        self._check_params(params)
        return self._call("_probs", (), params)

    def log_prob(self, params: dict[str, jax.Array], bits: Any) -> jax.Array:
        """Exact ``log p(x)`` of ``bits [..., n]`` (``-inf`` where ``p(x) = 0``)."""
        bits = check_bits(bits, self.num_bits)
        return self._call("_log_prob_of", (), self.probs(params), bits, shared=True)

    def sample(self, params: dict[str, jax.Array], key: jax.Array, num: int) -> jax.Array:
        """``num`` independent shots, uint8 ``[num, n]``, reproducible by ``key``.

        ``num`` is a Python or numpy integer (static under ``jit``)."""
        check_shots(num, "num")
        check_batch(num, 4 * self.num_bits + 32, f"sampling {self.num_bits}-bit strings")
        return self._call("_sample_of", (2,), self.probs(params), key, int(num), shared=True)

    def sample_counts(self, params: dict[str, jax.Array], key: jax.Array, shots: int) -> jax.Array:
        """A histogram of ``shots`` shots, int32 ``[2**n]`` (what a device returns)."""
        check_shots(shots, "shots")
        check_batch(shots, 16, "drawing shots")
        return self._call("_counts_of", (2,), self.probs(params), key, int(shots), shared=True)

    def config(self) -> dict[str, Any]:
        """JSON-serializable description; :meth:`from_config` rebuilds an equal model."""
        return {
            "family": "qcbm",
            "ansatz": self.ansatz.config(),
            "dtype": jnp.dtype(self.dtype).name,
            "engine": self.engine,
            "gradient": self.gradient,
            "init_scale": self.init_scale,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "QCBM":
        """The model of a :meth:`config` dict (``max_bytes`` is not stored: the guard
        plans for the loading machine's memory).

        Raises:
            ValueError: another family, missing or unknown entries, or values the model
                rejects.
        """
        cfg = dict(config)
        family = cfg.pop("family", "qcbm")
        if family != "qcbm":
            raise ValueError(f"config['family'] must be 'qcbm' for a QCBM, got {family!r}")
        allowed = {"ansatz", "dtype", "engine", "gradient", "init_scale", "max_bytes"}
        if "ansatz" not in cfg or set(cfg) - allowed:
            raise ValueError(f"a QCBM config needs 'ansatz' and may have {sorted(allowed - {'ansatz'})}, got {sorted(cfg)}")
        try:
            cfg["ansatz"] = _ansatz.ansatz_from_config(cfg["ansatz"])
        except TypeError as e:
            raise ValueError(f"cannot rebuild the ansatz from config {config['ansatz']!r}: {e}") from None
        return cls(**cfg)

    # ------------------------------------------------------------ compiled kernels
    # Compile once: eager calls with concrete inputs run jitted kernels from
    # jqgen._compiled, the circuit (_state, _probs) keyed on the model's value (shared by
    # equal models), the kernels on probabilities (_log_prob_of, _sample_of, _counts_of)
    # keyed on the class (shared by every QCBM), so a circuit compiles once per model
    # whatever is asked of it. Traced calls (inside the caller's jit/vmap/grad) inline the
    # same pure kernels.

    def _check_params(self, params: Any) -> None:
        self.ansatz.check_params(params)
        if is_concrete(params):
            check_finite(params, "params")

    def _call(self, kernel: str, static_argnums: tuple[int, ...], *args: Any, shared: bool = False) -> jax.Array:
        dynamic = [a for i, a in enumerate(args) if i not in static_argnums]
        if is_concrete(*dynamic):
            return compiled(type(self) if shared else self, kernel, static_argnums)(*args)
        return getattr(self, kernel)(*args)

    def _state(self, params: dict[str, jax.Array]) -> jax.Array:
        if self.engine == "tensorcircuit":
            from ._tc import tc_state

            return tc_state(self.ansatz, params)
        return self.ansatz.state(params, self.gradient)

    def _probs(self, params: dict[str, jax.Array]) -> jax.Array:
        psi = self._state(params)
        return jnp.real(psi) ** 2 + jnp.imag(psi) ** 2

    @staticmethod
    def _log_prob_of(p: jax.Array, bits: jax.Array) -> jax.Array:
        return jnp.log(p[bits_to_index(bits)])

    @staticmethod
    def _sample_of(p: jax.Array, key: jax.Array, num: int) -> jax.Array:
        return index_to_bits(_sample_indices(p, key, num), p.shape[0].bit_length() - 1)

    @staticmethod
    def _counts_of(p: jax.Array, key: jax.Array, shots: int) -> jax.Array:
        return sample_counts(p, key, shots)


def _sample_indices(p: jax.Array, key: jax.Array, num: int) -> jax.Array:
    cdf = jnp.cumsum(p)
    u = jax.random.uniform(key, (num,), p.dtype) * cdf[-1]
    return jnp.minimum(jnp.searchsorted(cdf, u, side="right"), p.shape[0] - 1)
