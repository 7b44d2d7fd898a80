"""Statevectors across devices: a QCBM's amplitude axis sharded over a mesh axis.

With ``D = 2**d`` devices the first ``d`` qubits (the most significant bits) are *global*:
device ``g`` holds the ``2**(n - d)`` amplitudes whose first ``d`` bits spell ``g``; the
other ``n - d`` qubits are *local*. A fused block (:mod:`jqgen.qcbm._engine`'s plan, CNOTs
folded into the dense blocks) on local qubits is applied on each device's chunk as on a
smaller state. A block that touches a global qubit is applied in a swapped frame: the
``d`` global qubits trade places with ``d`` local qubits ``T`` the block does not touch
(one ``all_to_all``: device ``g`` sends its slice ``T = t`` to device ``t``), the block
runs locally, and the same ``all_to_all`` swaps back::

    device g: amps[g, t, r]  --all_to_all over T-->  device t: amps[g', t, r] for all g'
              (global bits g, T bits t, rest r)       (now the global bits are local)

Layers run in ``lax.scan`` with adjoint gradients (the backward pass re-derives the input
of every block by applying its inverse, as the single-device engine does), so a device
holds a few chunks of ``2**(n - d)`` amplitudes whatever the depth and width; :func:`devices_needed` says how many devices
a given ``n`` needs before anything is allocated. The circuit is the ansatz's gate list
(``first_ops`` and ``block_ops``, the TensorCircuit interchange format), so every QCBM
ansatz runs sharded; results equal the single-device state to float rounding.

Examples:
    >>> import jax, numpy as np, jqgen
    >>> from jax.sharding import Mesh
    >>> from jqgen.qcbm import sharded_probs
    >>> model = jqgen.QCBM(jqgen.qcbm.LiuWang(6, 2))
    >>> params = model.init(jax.random.key(0))
    >>> mesh = Mesh(np.array(jax.devices()[:1]), ("amps",))
    >>> bool(np.allclose(sharded_probs(model, params, mesh), model.probs(params), atol=1e-6))
    True
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, PartitionSpec

from .._memory import format_bytes
from . import _engine as E
from ._gates import complex_dtype

__all__ = ["SHARDED_COPIES", "devices_needed", "sharded_probs", "sharded_state"]

#: Chunks of ``2**(n - d)`` amplitudes a device holds during a sharded ``value_and_grad``
#: step, an upper bound: the compiled programs' memory analysis gives 18-20 at n = 12..20 on
#: 8 host devices (2.3-2.5 full states per device), flat in depth.
SHARDED_COPIES = 24

_CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])


def _dense(gates: list[E.Gate], dtype: Any) -> list[E.Gate]:
    """CNOTs as constant dense 4x4 gates (fused into the blocks; no global gather)."""
    return [E.Gate("u", g.qubits, jnp.asarray(_CNOT, dtype)) if g.kind == "cnot" else g for g in gates]


class _Frame:
    """How one block runs on a device's chunk: its qubits' positions there and the local
    qubits ``T`` swapped with the global ones first (``None``: the block is local)."""

    def __init__(self, qubits: tuple[int, ...], n: int, d: int) -> None:
        local = n - d
        self.swap: tuple[int, ...] | None = None
        if all(q >= d for q in qubits):
            self.positions = tuple(q - d for q in qubits)
            return
        free = [i for i in range(local) if i + d not in qubits]
        self.swap = tuple(free[-d:])
        rest = [i for i in range(local) if i not in self.swap]
        self.perm = list(self.swap) + rest
        self.positions = tuple(q if q < d else d + rest.index(q - d) for q in qubits)


def _swap(x: jax.Array, frame: _Frame, local: int, d: int, axis: str, back: bool) -> jax.Array:
    shape = (2,) * local
    if not back:
        x = jnp.transpose(x.reshape(shape), frame.perm).reshape(2**d, -1)
        return lax.all_to_all(x, axis, 0, 0, tiled=True).reshape(-1)
    x = lax.all_to_all(x.reshape(2**d, -1), axis, 0, 0, tiled=True).reshape(shape)
    return jnp.transpose(x, np.argsort(frame.perm)).reshape(-1)


def _apply(x: jax.Array, m: jax.Array, frame: _Frame, local: int, d: int, axis: str) -> jax.Array:
    if frame.swap is None:
        return E._apply_dense(x, m, frame.positions, local)
    x = _swap(x, frame, local, d, axis, back=False)
    x = E._apply_dense(x, m, frame.positions, local)
    return _swap(x, frame, local, d, axis, back=True)


class _Circuit:
    """The fused plan of a gate list on ``n`` qubits, ``d`` of them global."""

    def __init__(self, gates_of: Any, example: Any, n: int, d: int, dtype: Any, k: int) -> None:
        self.gates_of, self.n, self.d, self.dtype = gates_of, n, d, dtype
        gates = gates_of(example)
        self.blocks = E.plan(tuple((g.kind, tuple(g.qubits)) for g in gates), n, k)
        self.frames = [_Frame(b.qubits, n, d) for b in self.blocks]

    def values(self, p: Any) -> list[jax.Array]:
        gates = self.gates_of(p)
        return [E._block_value(b, gates, self.dtype) for b in self.blocks]

    def forward(self, x: jax.Array, p: Any, axis: str) -> jax.Array:
        for m, frame in zip(self.values(p), self.frames):
            x = _apply(x, m, frame, self.n - self.d, self.d, axis)
        return x

    def backward(self, x: jax.Array, ct: jax.Array, p: Any, axis: str) -> tuple[jax.Array, jax.Array, Any]:
        """From the chunk and cotangent after the layer: those before it and ``p``'s
        cotangent, block by block (each block's input re-derived by its inverse)."""
        values, pull = jax.vjp(self.values, p)
        bars: list[Any] = [None] * len(values)
        local = self.n - self.d
        for i in reversed(range(len(values))):
            frame = self.frames[i]
            x = _apply(x, jnp.conj(values[i]).T, frame, local, self.d, axis)
            _, f_vjp = jax.vjp(lambda s, v, frame=frame: _apply(s, v, frame, local, self.d, axis), x, values[i])
            ct, bars[i] = f_vjp(ct)
        (p_bar,) = pull(bars)
        return x, ct, p_bar


def _check(model: Any, mesh: Any, axis: str | None) -> tuple[str, int]:
    from ._model import QCBM, available_memory

    if not isinstance(model, QCBM):
        raise ValueError(f"model must be a jqgen.QCBM (a full statevector), got {type(model).__name__}")
    if not isinstance(mesh, Mesh):
        raise ValueError(f"mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
    axis = axis if axis is not None else mesh.axis_names[0]
    if axis not in mesh.axis_names:
        raise ValueError(f"axis {axis!r} is not an axis of the mesh; allowed: {list(mesh.axis_names)}")
    size = int(mesh.shape[axis])
    d = int(round(math.log2(size)))
    if 2**d != size:
        raise ValueError(f"the mesh axis {axis!r} has {size} devices; a sharded statevector needs a power of 2")
    n = model.num_bits
    if d and n < 2 * d + E.block_qubits():
        raise ValueError(f"{n} qubits on {size} devices is not allowed: a block on the {d} global qubits swaps "
                         f"them with {d} local ones, so n >= 2 * {d} + {E.block_qubits()} = "
                         f"{2 * d + E.block_qubits()} (use fewer devices)")
    have = model.max_bytes if model.max_bytes is not None else available_memory()
    from ._model import statevector_bytes

    per_device = SHARDED_COPIES * statevector_bytes(n, model.dtype) // size
    if per_device > have:
        raise ValueError(f"{n} qubits on {size} devices need about {format_bytes(per_device)} per device for a "
                         f"training step, more than the {format_bytes(have)} available; "
                         f"jqgen.qcbm.devices_needed says how many devices fit")
    return axis, d


@functools.lru_cache(maxsize=32)
def _program(model: Any, mesh: Mesh, axis: str, d: int) -> Any:
    ansatz, n = model.ansatz, model.num_bits
    k = E.block_qubits()
    cdtype = complex_dtype(jnp.dtype(model.dtype))
    local = n - d

    def body(params: Any) -> jax.Array:
        g = lax.axis_index(axis) if d else 0
        x = jnp.where(g == 0, jnp.zeros((2**local,), cdtype).at[0].set(1), jnp.zeros((2**local,), cdtype))
        first_of = lambda p: _dense(E.gates_from_ops(ansatz.first_ops(p)), cdtype)  # noqa: E731
        if first_of(params):
            x = _Circuit(first_of, params, n, d, cdtype, k).forward(x, params, axis)
        layers = ansatz.block_params(params)
        layer_of = lambda p: _dense(E.gates_from_ops(ansatz.block_ops(p)), cdtype)  # noqa: E731
        circuit = _Circuit(layer_of, jax.tree_util.tree_map(lambda a: a[0], layers), n, d, cdtype, k)
        return E._reverse_vjp_scan(lambda s, p: (circuit.forward(s, p, axis), None),
                                   lambda s, ct, p: circuit.backward(s, ct, p, axis), x, layers)

    return jax.jit(jax.shard_map(body, mesh=mesh, in_specs=(PartitionSpec(),), out_specs=PartitionSpec(axis),
                                 check_vma=False))


def sharded_state(model: Any, params: Any, mesh: Mesh, axis: str | None = None) -> jax.Array:
    """The QCBM's statevector ``[2**n]``, its amplitude axis sharded over ``mesh``'s ``axis``
    (default: the first); differentiable (adjoint gradients), compiled once per model and mesh.

    Args:
        model: a :class:`jqgen.QCBM` (any ansatz).
        params: its parameters (replicated on every device).
        mesh: a ``jax.sharding.Mesh``; its ``axis`` must have a power-of-2 size ``D``.
        axis: the mesh axis of the amplitudes.

    Raises:
        ValueError: not a QCBM or a mesh, a device count that is not a power of 2, or
            ``n < 2 log2(D) + block_qubits()`` (too few local qubits to swap with).
    """
    axis, d = _check(model, mesh, axis)
    model._check_params(params)  # structure, and finite values when concrete
    return _program(model, mesh, axis, d)(params)


def sharded_probs(model: Any, params: Any, mesh: Mesh, axis: str | None = None) -> jax.Array:
    """``|psi|^2`` of :func:`sharded_state`, sharded the same way."""
    psi = sharded_state(model, params, mesh, axis)
    return jnp.real(psi) ** 2 + jnp.imag(psi) ** 2


def devices_needed(num_qubits: int, per_device_bytes: int, *, dtype: Any = jnp.float32) -> int:
    """The fewest devices (a power of 2) whose memory holds a sharded ``value_and_grad`` step
    of a ``num_qubits`` QCBM: :data:`SHARDED_COPIES` chunks of ``2**n / D`` amplitudes each
    (adjoint gradients: flat in depth), before anything is allocated.

    Examples:
        >>> devices_needed(28, 80 * 2**30)  # 28 qubits, complex64, 80 GiB per device
        1
        >>> devices_needed(34, 80 * 2**30)
        64

    Raises:
        ValueError: bad sizes, or more devices than ``n`` allows (``n >= 2 log2(D) + 2``).
    """
    from ._model import statevector_bytes

    if isinstance(per_device_bytes, bool) or not isinstance(per_device_bytes, (int, np.integer)) or per_device_bytes < 1:
        raise ValueError(f"per_device_bytes must be a positive int, got {per_device_bytes!r}")
    need = SHARDED_COPIES * statevector_bytes(num_qubits, dtype)
    d = 0
    while need / 2**d > per_device_bytes:
        d += 1
        if num_qubits < 2 * d + E.block_qubits():
            raise ValueError(f"{num_qubits} qubits need {format_bytes(need)} for a training step; no device count "
                             f"the sharding allows (n >= 2 log2(D) + {E.block_qubits()}) gives each of them at most "
                             f"{format_bytes(per_device_bytes)}")
    return 2**d
