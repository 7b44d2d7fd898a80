"""The gates of a fused layer and the matrices of its blocks (:mod:`._engine`'s data).

A layer is a list of :class:`Gate` records; :func:`._engine.plan` groups them into
:class:`Block` s. :class:`BlockValues` builds every block's matrix from the gates' values:
blocks of one structure (same gates at the same relative qubits) in one ``vmap``, their
:class:`Rotation` angles read from the flat parameters in one slice per gate position where
:func:`angle_ids` located them. The compiled program therefore grows with the number of
distinct block structures, not with the number of gates.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _gates as G

__all__ = ["Block", "BlockValues", "Gate", "Rotation", "angle_ids"]


class Gate(NamedTuple):
    """One gate of a layer: ``kind`` ``"u"`` (``value`` a ``[2**m, 2**m]`` matrix on
    ``qubits``, first qubit most significant, or a :class:`Rotation` built when the block
    is), ``"cnot"`` (``qubits = (control, target)``, no value) or ``"zz"`` (``qubits`` flat
    edge list ``(i0, j0, i1, j1, ...)``, ``value`` the angles,
    ``prod_e exp(-i value[e] Z_i Z_j / 2)``)."""

    kind: str
    qubits: tuple[int, ...]
    value: Any = None


class Rotation(NamedTuple):
    """A named rotation (``rx ry rz rxx ryy rzz``) by ``angle``, its matrix built when its
    block's is: blocks of one structure build their rotations in one vectorized call."""

    name: str
    angle: Any


class Block(NamedTuple):
    """A step of the fused plan: ``"u"`` (dense on ``qubits``, ascending), ``"perm"``
    (``cnots``), ``"zz"`` (``edges``); ``members`` are the indices of its gates."""

    kind: str
    qubits: tuple[int, ...]
    members: tuple[int, ...]


_ROTATIONS = {"rx": G.rx, "ry": G.ry, "rz": G.rz, "rxx": G.rxx, "ryy": G.ryy, "rzz": G.rzz}

_CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])


def _embed(m: jax.Array, gq: tuple[int, ...], bq: tuple[int, ...]) -> jax.Array:
    """The ``2**len(bq)`` matrix of gate ``m`` on ``gq`` inside a block on qubits ``bq``."""
    w, r = len(bq), len(gq)
    if tuple(gq) == tuple(bq):
        return m
    pos = [bq.index(q) for q in gq]
    t = m.reshape((2,) * (2 * r))
    eye = jnp.eye(2**w, dtype=m.dtype).reshape((2,) * (2 * w))
    # out[o, i] = sum_a t[o_gq, a] eye[a (on gq) + o_rest, i]
    y = jnp.tensordot(t, eye, axes=(list(range(r, 2 * r)), pos))  # gate-out axes, then eye's remaining
    rest = [a for a in range(2 * w) if a not in pos]  # eye's axes after removing pos, in order
    order = [0] * (2 * w)
    for j, a in enumerate(pos):
        order[a] = j
    for j, a in enumerate(rest):
        order[a] = r + j
    return jnp.transpose(y, order).reshape(2**w, 2**w)


def _kron(mats: Sequence[jax.Array]) -> jax.Array:
    out = mats[0]
    for m in mats[1:]:
        out = jnp.einsum("ij,kl->ikjl", out, m).reshape(out.shape[0] * 2, out.shape[1] * 2)
    return out


def _block_value(block: Block, gates: Sequence[Gate], dtype: Any) -> jax.Array:
    """A dense block's matrix: single-qubit gates are multiplied per qubit (2x2) and absorbed
    into the next multi-qubit gate on that qubit (at that gate's size) or into a final
    Kronecker product, so a block costs a few small products to build."""
    pending: dict[int, jax.Array] = {}
    m = None
    for g in block.members:
        gate = gates[g]
        mat = _matrix(gate).astype(dtype)
        if len(gate.qubits) == 1:
            q = gate.qubits[0]
            pending[q] = mat @ pending[q] if q in pending else mat
            continue
        if any(q in pending for q in gate.qubits):
            eye = jnp.eye(2, dtype=dtype)
            mat = mat @ _kron([pending.pop(q, eye) for q in gate.qubits])
        e = _embed(mat, gate.qubits, block.qubits)
        m = e if m is None else e @ m
    if pending:
        eye = jnp.eye(2, dtype=dtype)
        k = _kron([pending.get(q, eye) for q in block.qubits])
        m = k if m is None else k @ m
    return m


def _matrix(gate: Gate) -> jax.Array:
    if gate.kind == "cnot":
        return jnp.asarray(_CNOT)
    if isinstance(gate.value, Rotation):
        return _ROTATIONS[gate.value.name](gate.value.angle)
    return gate.value


def _signature(block: Block, gates: Sequence[Gate]) -> tuple[Any, ...]:
    """What a dense block's matrix depends on besides its gates' values: each member's kind,
    qubits relative to the block and value type (rotation name or matrix shape)."""
    out = []
    for g in block.members:
        gate = gates[g]
        v = gate.value
        what = v.name if isinstance(v, Rotation) else None if gate.kind == "cnot" else tuple(jnp.shape(v))
        out.append((gate.kind, tuple(block.qubits.index(q) for q in gate.qubits), what))
    return (len(block.qubits), tuple(out))


class BlockValues:
    """The matrices of a plan's blocks, built per group of blocks with equal
    :func:`_signature` in one ``vmap`` (a layer of ``n / 2`` equal blocks compiles as one
    block: the compiled program's size does not grow with ``n`` on the parameter side).

    ``grouped(gates)`` is what to differentiate (one array per group, the angles of a ``zz``
    block as they are); ``expand`` gives one value per block (``None`` for a permutation),
    ``collect`` takes one cotangent per block back to the groups' shapes.
    """

    def __init__(self, blocks: Sequence[Block], gates: Sequence[Gate], dtype: Any,
                 angle_ids: Sequence[int | None] | None = None):
        self.blocks, self.dtype = tuple(blocks), dtype
        groups: dict[Any, list[int]] = {}
        for i, b in enumerate(self.blocks):
            if b.kind == "u":
                groups.setdefault(("u", _signature(b, gates)), []).append(i)
            elif b.kind == "zz":
                groups[("zz", i)] = [i]
        self.groups = [(key, tuple(idx)) for key, idx in groups.items()]
        # per group and member: where its rotation angles sit in the flat parameters (or None)
        self.angle_at: list[list[Any]] = []
        for (kind, sig), idx in self.groups:
            at: list[Any] = []
            if kind == "u":
                for j, (_, _, what) in enumerate(sig[1]):
                    ids = [None if angle_ids is None else angle_ids[self.blocks[i].members[j]] for i in idx]
                    at.append(_index(ids) if isinstance(what, str) and None not in ids else None)
            self.angle_at.append(at)

    def grouped(self, gates: Sequence[Gate], params: Any = None) -> list[Any]:
        """One array per group; rotation angles are read from ``params`` (the pytree the
        gates were built from) in one slice per member where ``angle_ids`` located them."""
        flat, leaves = None, jax.tree_util.tree_leaves(params)
        if (leaves and len({jnp.result_type(x) for x in leaves}) == 1
                and any(a is not None for at in self.angle_at for a in at)):
            flat = jnp.concatenate([jnp.ravel(x) for x in leaves])
        out = []
        for ((kind, sig), idx), at in zip(self.groups, self.angle_at):
            if kind == "zz":
                out.append(gates[self.blocks[idx[0]].members[0]].value)
                continue
            width, members = sig
            local = Block("u", tuple(range(width)), tuple(range(len(members))))

            def build(vals: list[Any], members: Any = members, local: Block = local) -> jax.Array:
                rel = [Gate(gk, qs, None if what is None else Rotation(what, v) if isinstance(what, str) else v)
                       for (gk, qs, what), v in zip(members, vals)]
                return _block_value(local, rel, self.dtype)

            vals = []
            for j, (_, _, what) in enumerate(members):
                if what is None:
                    vals.append(None)
                elif flat is not None and at[j] is not None:
                    vals.append(at[j](flat))
                else:
                    vals.append(jnp.stack([_leaf(gates[self.blocks[i].members[j]].value) for i in idx]))
            out.append(jax.vmap(build)(vals))
        return out

    def expand(self, grouped: Sequence[Any]) -> list[Any]:
        out: list[Any] = [None] * len(self.blocks)
        for ((kind, _), idx), g in zip(self.groups, grouped):
            if kind == "zz":
                out[idx[0]] = g
            else:
                for r, i in enumerate(idx):
                    out[i] = g[r]
        return out

    def collect(self, bars: Sequence[Any]) -> list[Any]:
        return [bars[idx[0]] if kind == "zz" else jnp.stack([bars[i] for i in idx]) for (kind, _), idx in self.groups]


def _leaf(v: Any) -> Any:
    return v.angle if isinstance(v, Rotation) else v


def _index(ids: Sequence[int]) -> Callable[[jax.Array], jax.Array]:
    """A static read of ``flat[ids]``: one strided slice when ``ids`` step evenly, else one gather."""
    start, step = ids[0], (ids[1] - ids[0]) if len(ids) > 1 else 1
    if step > 0 and all(b - a == step for a, b in zip(ids, ids[1:])):
        return lambda flat: lax.slice(flat, (start,), (ids[-1] + 1,), (step,))
    where = np.asarray(ids, np.int32)
    return lambda flat: flat[where]


def angle_ids(gates_of: Callable[[Any], list[Gate]], example: Any) -> list[int | None] | None:
    """For each gate of ``gates_of(example)``: the flat position (leaves of ``example``
    raveled and concatenated) of its :class:`Rotation`'s angle when the angle is one
    parameter as it is, else ``None``. Found by two numpy probes (positions, and
    ``3 * position + 7``), so an angle computed from the parameters is never mistaken for one;
    ``None`` (the traced values are used) when ``gates_of`` does not run on numpy."""
    leaves, treedef = jax.tree_util.tree_flatten(example)
    offsets = np.cumsum([0] + [int(np.size(x)) for x in leaves])
    probe = [np.arange(o, o + np.size(x), dtype=np.float64).reshape(np.shape(x)) for o, x in zip(offsets, leaves)]
    try:
        a = gates_of(jax.tree_util.tree_unflatten(treedef, probe))
        b = gates_of(jax.tree_util.tree_unflatten(treedef, [3 * x + 7 for x in probe]))
    except Exception:  # noqa: BLE001 - any failure means: use the traced values
        return None
    out: list[int | None] = []
    for ga, gb in zip(a, b):
        va, vb = ga.value, gb.value
        ok = isinstance(va, Rotation) and isinstance(vb, Rotation) and np.ndim(va.angle) == 0
        if ok:
            x, y = np.asarray(va.angle), np.asarray(vb.angle)
            ok = x.dtype == np.float64 and float(x) == int(x) and 0 <= x < offsets[-1] and float(y) == 3 * float(x) + 7
        out.append(int(x) if ok else None)
    return out
