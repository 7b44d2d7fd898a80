"""The Hamming-weight-conserving circuit Born machine as a :class:`jqgen.GenerativeModel`.

``p(x) = |<x|U(theta)|x_0>|^2`` where ``x_0`` has weight ``k`` and every gate of
:class:`jqgen.qcbm.Givens` conserves the weight, so ``p(x) = 0`` exactly unless
``|x| = k``: every sample is a valid choice of ``k`` of ``n``. The state is simulated in the
``C(n, k)``-dimensional subspace only (strings of weight ``k`` in increasing big-endian
order, :func:`jqgen.qcbm.subspace_bits` / :func:`jqgen.qcbm.subspace_index`): ``n = 32,
k = 4`` is 35,960 amplitudes where a statevector would need ``2**32``.

``log_prob`` looks the subspace probability up at :func:`subspace_index` (``-inf`` for
strings of another weight, with a zero, not NaN, gradient); ``sample`` draws subspace
indices by inverse-CDF search and maps them to bits (``O(C(n, k) + num * n)``);
``sample_counts`` returns a histogram over the subspace. Dense ``probs`` (``2**n``, zeros off
weight ``k``) exist for ``n <= 24``. A memory guard refuses circuits whose subspace state,
index tables and gradient residuals cannot fit before anything is allocated.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_batch, check_bits, check_finite, check_shots, check_x64, is_concrete
from .._compiled import compiled
from ..distributions import sample_counts
from . import _subspace as S
from ._givens import Givens
from ._model import _format_bytes, _sample_indices, available_memory

__all__ = ["ConservingQCBM", "subspace_bytes"]

#: Largest ``n`` for which :meth:`ConservingQCBM.probs` builds the dense ``2**n`` vector.
MAX_DENSE_BITS = 24
#: Subspace states a training step keeps alive beyond the per-layer/per-gate residuals.
_WORKING_COPIES = 8
_ENGINES = ("fused", "tensorcircuit")


def subspace_bytes(ansatz: Givens, dtype: Any = jnp.float32) -> int:
    """Planned bytes of a training step: ``C(n, k)`` amplitudes times (working copies +
    one per layer + one per edge), the int32 gate tables and the ``z`` table of the phases.

    Examples:
        >>> import jqgen
        >>> a = jqgen.qcbm.Givens(num_qubits=32, weight=4, layers=2)
        >>> jqgen.qcbm.subspace_bytes(a) / 2**20 < 10
        True
    """
    if not isinstance(ansatz, Givens):
        raise ValueError(f"subspace_bytes needs a jqgen.qcbm.Givens ansatz, got {type(ansatz).__name__}")
    real = jnp.dtype(dtype)
    item = real.itemsize * (1 if ansatz.is_real else 2)
    d, e = ansatz.subspace_size, len(ansatz.edges)
    tables = d * e * 4 + (d * ansatz.num_qubits * real.itemsize if ansatz.phases != "none" else 0)
    return d * item * (_WORKING_COPIES + ansatz.layers + e) + tables


@dataclasses.dataclass(frozen=True)
class ConservingQCBM:
    """A circuit Born machine whose every sample has Hamming weight ``ansatz.weight``.

    Too few layers of a nearest-neighbour topology reach only the weight-``k`` strings near
    the start state: the others get probability exactly 0 (an infinite NLL on such data,
    never sampled) although :meth:`in_support` says True. ``ansatz.full_support`` tells;
    :func:`jqgen.qcbm.full_support_layers` gives the layers needed (``Givens(31, 10, 4)``
    reaches only part of the ``C(31, 10)`` strings, 11 brick layers reach them all; the
    ``"all"`` topology reaches them in one layer, at ``n (n - 1) / 2`` gates a layer).

    Attributes:
        ansatz: a :class:`jqgen.qcbm.Givens` circuit.
        dtype: real dtype of the angles (float32 or float64).
        engine: ``"fused"`` (jqgen's subspace kernel, the default: the faster one, see
            benchmarks/README.md) or ``"tensorcircuit"`` (TensorCircuit-NG's ``U1Circuit``).
        init_scale: ``None`` draws angles uniformly in ``[-pi, pi)``; a float draws them from
            ``N(0, init_scale**2)`` (small values start near the start basis state).
        max_bytes: memory the guard may plan for (default: the device's memory).

    Examples:
        >>> import jax, jqgen
        >>> model = jqgen.qcbm.ConservingQCBM(jqgen.qcbm.Givens(num_qubits=6, weight=2, layers=3))
        >>> params = model.init(jax.random.key(0))
        >>> model.sample(params, jax.random.key(1), 4).sum(axis=1).tolist()  # weight 2 each
        [2, 2, 2, 2]
        >>> model.subspace_probs(params).shape, round(float(model.probs(params).sum()), 5)
        ((15,), 1.0)
        >>> float(model.log_prob(params, jax.numpy.array([1, 1, 1, 0, 0, 0])))  # weight 3
        -inf
    """

    #: Largest ``n`` for which :meth:`probs` builds the dense ``2**n`` vector.
    MAX_DENSE_BITS: ClassVar[int] = MAX_DENSE_BITS

    ansatz: Givens
    dtype: Any = jnp.float32
    engine: str = "fused"
    init_scale: float | None = None
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.ansatz, Givens):
            raise ValueError(f"ansatz must be a jqgen.qcbm.Givens, got {self.ansatz!r}")
        try:
            dtype = jnp.dtype(self.dtype)
        except TypeError:
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}") from None
        if dtype not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
            raise ValueError(f"dtype must be float32 or float64 (the angles are real), got {dtype}")
        check_x64(dtype)
        object.__setattr__(self, "dtype", dtype)
        if self.engine not in _ENGINES:
            raise ValueError(f"engine must be one of {list(_ENGINES)}, got {self.engine!r}")
        if self.init_scale is not None and not self.init_scale >= 0:
            raise ValueError(f"init_scale must be None or >= 0, got {self.init_scale!r}")
        if self.engine == "tensorcircuit" and self.ansatz.num_qubits > 30 and not jax.config.jax_enable_x64:
            raise ValueError(f"engine 'tensorcircuit' (U1Circuit) needs 64-bit integers for num_qubits > 30, got "
                             f"{self.ansatz.num_qubits} qubits with jax_enable_x64 off; use engine 'fused'")
        self.check_memory()

    @property
    def num_bits(self) -> int:
        return self.ansatz.num_qubits

    @property
    def weight(self) -> int:
        """``k``: every string of nonzero probability has this many ones."""
        return self.ansatz.weight

    @property
    def subspace_size(self) -> int:
        """``C(n, k)``."""
        return self.ansatz.subspace_size

    def check_memory(self) -> None:
        """Raises ``ValueError`` when the subspace simulation cannot fit (:func:`subspace_bytes`)."""
        a = self.ansatz
        if a.subspace_size > 2**31 - 1:
            raise ValueError(f"C({a.num_qubits}, {a.weight}) = {a.subspace_size} amplitudes exceed int32 indexing")
        need = subspace_bytes(a, self.dtype)
        have = self.max_bytes if self.max_bytes is not None else available_memory()
        if need > have:
            raise ValueError(
                f"the weight-{a.weight} subspace of {a.num_qubits} qubits has C({a.num_qubits}, {a.weight}) = "
                f"{a.subspace_size} amplitudes; a training step needs {_format_bytes(need)} (with {a.layers} layers "
                f"of {len(a.edges)} gates) but {_format_bytes(have)} is available")

    # ------------------------------------------------------------------ protocol

    def init(self, key: jax.Array) -> dict[str, jax.Array]:
        return self.ansatz.init(key, self.dtype, self.init_scale)

    def subspace_state(self, params: dict[str, jax.Array]) -> jax.Array:
        """The ``C(n, k)`` amplitudes in subspace order (real for :attr:`Givens.is_real`)."""
        self._check_params(params)
        return self._call("_subspace_state", (), params)

    def subspace_probs(self, params: dict[str, jax.Array]) -> jax.Array:
        """``p`` of the ``C(n, k)`` strings of weight ``k``, in increasing big-endian order
        (entry ``d`` is the string :func:`jqgen.qcbm.subspace_bits` ``(d, n, k)``)."""
        self._check_params(params)
        return self._call("_subspace_probs", (), params)

    def probs(self, params: dict[str, jax.Array]) -> jax.Array:
        """Exact ``p(x)`` for all ``2**n`` bitstrings (big-endian), exactly 0 off weight ``k``.

        Raises:
            ValueError: ``n > 24`` (use :meth:`subspace_probs`).
        """
        if self.num_bits > MAX_DENSE_BITS:
            raise ValueError(f"probs enumerates 2**n strings; n = {self.num_bits} exceeds {MAX_DENSE_BITS}: use "
                             f"subspace_probs (the C({self.num_bits}, {self.weight}) = {self.subspace_size} "
                             "strings of nonzero probability)")
        self._check_params(params)
        return self._call("_probs", (), params)

    def log_prob(self, params: dict[str, jax.Array], bits: Any) -> jax.Array:
        """Exact ``log p(x)`` of ``bits [..., n]``: ``-inf`` for strings of another weight."""
        bits = check_bits(bits, self.num_bits)
        return self._call("_log_prob_of", (2,), self.subspace_probs(params), bits, self.weight, shared=True)

    def in_support(self, bits: Any) -> jax.Array:
        """``bool [...]``: True where the string of ``bits [..., n]`` has weight ``k``."""
        bits = check_bits(bits, self.num_bits)
        return jnp.sum(bits.astype(jnp.int32), axis=-1) == self.weight

    def sample(self, params: dict[str, jax.Array], key: jax.Array, num: int) -> jax.Array:
        """``num`` independent samples, uint8 ``[num, n]``, each of weight ``k``.

        ``num`` is a Python or numpy integer (static under ``jit``)."""
        check_shots(num, "num")
        check_batch(num, 4 * self.num_bits + 32, f"sampling {self.num_bits}-bit strings")
        return self._call("_sample_of", (2, 3, 4), self.subspace_probs(params), key, int(num), self.num_bits,
                          self.weight, shared=True)

    def sample_counts(self, params: dict[str, jax.Array], key: jax.Array, shots: int) -> jax.Array:
        """A histogram of ``shots`` shots over the subspace, int32 ``[C(n, k)]`` (subspace order)."""
        check_shots(shots, "shots")
        check_batch(shots, 16, "drawing shots")
        return self._call("_counts_of", (2,), self.subspace_probs(params), key, int(shots), shared=True)

    def config(self) -> dict[str, Any]:
        """JSON-serializable description; :meth:`from_config` rebuilds an equal model."""
        return {"family": "qcbm-conserving", "ansatz": self.ansatz.config(), "dtype": jnp.dtype(self.dtype).name,
                "engine": self.engine, "init_scale": self.init_scale}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "ConservingQCBM":
        """The model of a :meth:`config` dict (``max_bytes`` is not stored).

        Raises:
            ValueError: another family, missing or unknown entries, or values the model rejects.
        """
        cfg = dict(config)
        family = cfg.pop("family", "qcbm-conserving")
        if family != "qcbm-conserving":
            raise ValueError(f"config['family'] must be 'qcbm-conserving' for a ConservingQCBM, got {family!r}")
        allowed = {"ansatz", "dtype", "engine", "init_scale", "max_bytes"}
        if "ansatz" not in cfg or set(cfg) - allowed:
            raise ValueError(f"a ConservingQCBM config needs 'ansatz' and may have {sorted(allowed - {'ansatz'})}, "
                             f"got {sorted(cfg)}")
        a = dict(cfg["ansatz"])
        if a.pop("ansatz", None) != Givens.kind:
            raise ValueError(f"config['ansatz'] must describe a Givens ansatz, got {cfg['ansatz']!r}")
        if a.get("filled") is not None:
            a["filled"] = tuple(a["filled"])
        try:
            cfg["ansatz"] = Givens(**a)
        except TypeError as e:
            raise ValueError(f"cannot rebuild the ansatz from config {config['ansatz']!r}: {e}") from None
        return cls(**cfg)

    # ------------------------------------------------------------ compiled kernels
    # As QCBM: the circuit kernels keyed on the model's value, the kernels on
    # probabilities keyed on the class (with n and k static), traced calls inline them.

    def _check_params(self, params: Any) -> None:
        self.ansatz.check_params(params)
        if is_concrete(params):
            check_finite(params, "params")

    def _call(self, kernel: str, static_argnums: tuple[int, ...], *args: Any, shared: bool = False) -> jax.Array:
        dynamic = [a for i, a in enumerate(args) if i not in static_argnums]
        if is_concrete(*dynamic):
            return compiled(type(self) if shared else self, kernel, static_argnums)(*args)
        return getattr(self, kernel)(*args)

    def _subspace_state(self, params: dict[str, jax.Array]) -> jax.Array:
        if self.engine == "tensorcircuit":
            from ._givens_tc import tc_subspace_state

            return tc_subspace_state(self.ansatz, params)
        return self.ansatz.state(params)

    def _subspace_probs(self, params: dict[str, jax.Array]) -> jax.Array:
        psi = self._subspace_state(params)
        return jnp.real(psi) ** 2 + jnp.imag(psi) ** 2 if jnp.iscomplexobj(psi) else psi**2

    def _probs(self, params: dict[str, jax.Array]) -> jax.Array:
        p = self._subspace_probs(params)
        where = jnp.asarray(S.basis(self.num_bits, self.weight).astype(np.int32))
        return jnp.zeros((2**self.num_bits,), p.dtype).at[where].set(p)

    @staticmethod
    def _log_prob_of(p: jax.Array, bits: jax.Array, k: int) -> jax.Array:
        idx = S._index(bits, k)
        valid = idx >= 0
        q = jnp.where(valid, p[jnp.maximum(idx, 0)], jnp.ones((), p.dtype))
        return jnp.where(valid, jnp.log(q), jnp.asarray(-jnp.inf, p.dtype))

    @staticmethod
    def _sample_of(p: jax.Array, key: jax.Array, num: int, n: int, k: int) -> jax.Array:
        return S._bits(_sample_indices(p, key, num).astype(jnp.int32), n, k)

    @staticmethod
    def _counts_of(p: jax.Array, key: jax.Array, shots: int) -> jax.Array:
        return sample_counts(p, key, shots)
