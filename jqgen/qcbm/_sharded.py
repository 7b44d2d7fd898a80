"""Statevectors across devices: a QCBM's amplitude axis sharded over a mesh axis.

With ``D = 2**d`` devices the first ``d`` qubits (the most significant bits) are *global*:
device ``g`` holds the ``2**(n - d)`` amplitudes whose first ``d`` bits spell ``g``; the
other ``n - d`` qubits are *local*. A fused block (:mod:`jqgen.qcbm._engine`'s plan, CNOTs
folded into the dense blocks) on local qubits is applied on each device's chunk as on a
smaller state. Blocks that touch a global qubit are applied in a swapped frame: the ``d``
global qubits trade places with ``d`` local qubits ``T`` the blocks do not touch (one
``all_to_all``: device ``g`` sends its slice ``T = t`` to device ``t``), the blocks run
locally, and the same ``all_to_all`` swaps back. Consecutive blocks share one frame as long
as ``d`` local qubits stay untouched by all of them (one swap pair per group, not per block)::

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

from .._checks import check_int
from .._memory import format_bytes
from . import _engine as E
from ._blocks import _CNOT
from ._gates import complex_dtype

__all__ = ["SHARDED_COPIES", "devices_needed", "sharded_probs", "sharded_state"]

#: Chunks of ``2**(n - d)`` amplitudes a device holds during a sharded ``value_and_grad``
#: step, an upper bound: the compiled programs' memory analysis gives 18-20 at n = 12..20 on
#: 8 host devices (2.3-2.5 full states per device), flat in depth.
SHARDED_COPIES = 24

def _dense(gates: list[E.Gate], dtype: Any) -> list[E.Gate]:
    """CNOTs as constant dense 4x4 gates (fused into the blocks; no global gather)."""
    return [E.Gate("u", g.qubits, jnp.asarray(_CNOT, dtype)) if g.kind == "cnot" else g for g in gates]


class _Group:
    """Consecutive blocks run in one frame: on the device's chunk as it is (``swap`` None: no
    block touches a global qubit), or after swapping the global qubits with the local qubits
    ``swap``, which none of the group's blocks touches (one pair of ``all_to_all`` for the
    whole group). ``positions[j]``: the qubits of the group's ``j``-th block in that frame."""

    def __init__(self, members: list[int], blocks: Any, n: int, d: int) -> None:
        local = n - d
        self.members = tuple(members)
        qubits = [blocks[i].qubits for i in members]
        self.swap: tuple[int, ...] | None = None
        if all(q >= d for qs in qubits for q in qs):
            self.positions = [tuple(q - d for q in qs) for qs in qubits]
            return
        touched = {q for qs in qubits for q in qs}
        free = [i for i in range(local) if i + d not in touched]
        self.swap = tuple(free[-d:])
        rest = [i for i in range(local) if i not in self.swap]
        self.perm = list(self.swap) + rest
        self.positions = [tuple(q if q < d else d + rest.index(q - d) for q in qs) for qs in qubits]


def _groups(blocks: Any, n: int, d: int) -> list[_Group]:
    """Greedy: a block joins the open group while ``d`` local qubits stay untouched by it."""
    runs: list[list[int]] = []
    touched: set[int] = set()
    for i, b in enumerate(blocks):
        both = touched | {q for q in b.qubits if q >= d}
        if runs and (n - d) - len(both) >= d:
            runs[-1].append(i)
            touched = both
        else:
            runs.append([i])
            touched = {q for q in b.qubits if q >= d}
    return [_Group(r, blocks, n, d) for r in runs]


def _swap(x: jax.Array, group: _Group, local: int, d: int, axis: str, back: bool) -> jax.Array:
    shape = (2,) * local
    if not back:
        x = jnp.transpose(x.reshape(shape), group.perm).reshape(2**d, -1)
        return lax.all_to_all(x, axis, 0, 0, tiled=True).reshape(-1)
    x = lax.all_to_all(x.reshape(2**d, -1), axis, 0, 0, tiled=True).reshape(shape)
    return jnp.transpose(x, np.argsort(group.perm)).reshape(-1)


class _Circuit:
    """The fused plan of a gate list on ``n`` qubits, ``d`` of them global, in frame groups."""

    def __init__(self, gates_of: Any, example: Any, n: int, d: int, dtype: Any, k: int) -> None:
        self.gates_of, self.n, self.d, self.dtype = gates_of, n, d, dtype
        gates = gates_of(example)
        self.blocks = E.plan(tuple((g.kind, tuple(g.qubits)) for g in gates), n, k)
        self.groups = _groups(self.blocks, n, d)
        self.build = E.BlockValues(self.blocks, gates, dtype, E.angle_ids(gates_of, example))

    def grouped(self, p: Any) -> list[jax.Array]:
        return self.build.grouped(self.gates_of(p), p)

    def values(self, p: Any) -> list[jax.Array]:
        return self.build.expand(self.grouped(p))

    def forward(self, x: jax.Array, p: Any, axis: str) -> jax.Array:
        values, local = self.values(p), self.n - self.d
        for g in self.groups:
            if g.swap is not None:
                x = _swap(x, g, local, self.d, axis, back=False)
            for i, pos in zip(g.members, g.positions):
                x = E._apply_dense(x, values[i], pos, local)
            if g.swap is not None:
                x = _swap(x, g, local, self.d, axis, back=True)
        return x

    def backward(self, x: jax.Array, ct: jax.Array, p: Any, axis: str) -> tuple[jax.Array, jax.Array, Any]:
        """From the chunk and cotangent after the layer: those before it and ``p``'s
        cotangent, block by block (each block's input re-derived by its inverse). A swap is
        a permutation, so the cotangent enters and leaves a group's frame as the chunk does."""
        grouped, pull = jax.vjp(self.grouped, p)
        values = self.build.expand(grouped)
        bars: list[Any] = [None] * len(values)
        local = self.n - self.d
        for g in reversed(self.groups):
            if g.swap is not None:
                x, ct = (_swap(a, g, local, self.d, axis, back=False) for a in (x, ct))
            for i, pos in reversed(list(zip(g.members, g.positions))):
                x = E._apply_dense(x, jnp.conj(values[i]).T, pos, local)
                _, f_vjp = jax.vjp(lambda s, v, pos=pos: E._apply_dense(s, v, pos, local), x, values[i])
                ct, bars[i] = f_vjp(ct)
            if g.swap is not None:
                x, ct = (_swap(a, g, local, self.d, axis, back=True) for a in (x, ct))
        (p_bar,) = pull(self.build.collect(bars))
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

    per_device_bytes = check_int(per_device_bytes, "per_device_bytes", 1)
    need = SHARDED_COPIES * statevector_bytes(num_qubits, dtype)
    d = 0
    while need / 2**d > per_device_bytes:
        d += 1
        if num_qubits < 2 * d + E.block_qubits():
            raise ValueError(f"{num_qubits} qubits need {format_bytes(need)} for a training step; no device count "
                             f"the sharding allows (n >= 2 log2(D) + {E.block_qubits()}) gives each of them at most "
                             f"{format_bytes(per_device_bytes)}")
    return 2**d
