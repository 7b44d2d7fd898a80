"""jqgen's fused statevector engine: gate fusion at trace time, layers in ``lax.scan``,
adjoint gradients.

An ansatz describes one layer (the repeated block of its circuit) as a list of
:class:`Gate` records built from the layer's (traced) parameters: dense gates
(``"u"``, a ``2**m`` square matrix on ``m`` qubits), CNOTs (``"cnot"``) and diagonal
``ZZ`` phases (``"zz"``, angles on a static edge list). The structure (kinds and qubits)
is static, so :func:`plan` fuses it once per layer structure, at trace time:

* consecutive dense gates are merged into **blocks** on at most ``k`` qubits (greedy, in
  circuit order: a gate joins the latest block that touches one of its qubits when the
  union still has at most ``k`` qubits, else starts a new block; a gate that touches no
  open block joins the latest block with room. Gates only move past gates on other
  qubits, so the product is unchanged). Single-qubit gates thereby fold into their
  neighbours (the ``RZ RX RZ`` of a qubit become one 2x2, two qubits' 2x2 one 4x4);
* a run of CNOTs becomes one basis permutation (a single gather pass, any network) when
  ``k = 2``, or, when ``k >= 3``, constant 4x4 gates fused into the dense blocks (no gather);
* ``zz`` phases are one diagonal multiply.

Block matrices are built per group of blocks with the same structure in one ``vmap``
(:class:`BlockValues`), their rotation angles read from the flat parameters in one slice
per gate position (:func:`angle_ids`), so the compiled program grows with the state passes
only, not with the number of gates (compile time at n = 20 fell from 3.8 s to 1.7 s for the
Liu-Wang layer and from 36 s to 3.1 s for SU(4) staircases, 2-core CPU).

Each block is one pass over the state: contiguous qubits ``q .. q+w-1`` by reshaping the
state to ``[2**q, 2**w, rest]`` and one fused multiply-and-sum; other qubit sets by one
``tensordot`` on the ``[2] * n`` view. ``k`` (:data:`BLOCK_QUBITS`) is chosen per platform
from measurements (docs/qcbm.md: on the 2-core CPU a dense ``2**k`` block costs
``O(2**k)`` flops per amplitude and is compute-bound beyond ``k = 2``; accelerators
use 4).

Gradients (:func:`run_layers`, ``gradient="adjoint"``): the forward pass keeps only the
final state; the backward pass walks the blocks in reverse, re-deriving the state before
each block by applying its inverse (``U^dagger`` for a dense block, the inverse gather, the
conjugate phase) and pulling the cotangent back through the block, as PennyLane's
lightning and qulacs do. Memory is a few statevectors whatever the depth; the cost is
about two forward passes more. ``gradient="backprop"`` lets JAX store the state before
every block of every layer instead (one state per block and layer).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
from jax import lax

from . import _gates as G
from ._blocks import _ROTATIONS, Block, BlockValues, Gate, Rotation, angle_ids

__all__ = ["BLOCK_QUBITS", "GRADIENTS", "BlockValues", "Gate", "Rotation", "adjoint_scan", "angle_ids", "block_qubits",
           "gates_from_ops", "plan", "run_layers"]

#: Largest fused block (qubits) per JAX platform (measured, see the module docstring).
BLOCK_QUBITS = {"cpu": 2, "gpu": 4, "cuda": 4, "rocm": 4, "tpu": 4}

#: Gradient methods of the fused engine.
GRADIENTS = ("adjoint", "backprop")


def block_qubits() -> int:
    """``k`` for JAX's default platform."""
    return BLOCK_QUBITS.get(jax.default_backend(), 2)


def gates_from_ops(ops: Sequence[Any]) -> list[Gate]:
    """Engine gates of named ops (:class:`jqgen.qcbm.Op`: the TensorCircuit gate list).

    ``rx ry rz rxx ryy rzz`` become dense gates (their matrices built with their block's),
    ``cnot`` a CNOT."""
    out = []
    for op in ops:
        if op.name == "cnot":
            out.append(Gate("cnot", tuple(op.qubits)))
        elif op.name in _ROTATIONS:
            out.append(Gate("u", tuple(op.qubits), Rotation(op.name, op.angle)))
        else:
            raise ValueError(f"the fused engine has no gate {op.name!r}; expected cnot or one of {sorted(_ROTATIONS)}")
    return out


@functools.lru_cache(maxsize=256)
def plan(structure: tuple[tuple[str, tuple[int, ...]], ...], n: int, k: int) -> tuple[Block, ...]:
    """The fused blocks of a layer whose gates have ``structure`` (``(kind, qubits)`` each).

    Examples:
        >>> from jqgen.qcbm._engine import plan
        >>> [(b.kind, b.qubits) for b in plan((("u", (0,)), ("u", (1,)), ("u", (2,))), 3, 2)]
        [('u', (0, 1)), ('u', (2,))]
        >>> [(b.kind, b.qubits) for b in plan((("cnot", (0, 1)), ("u", (0,)), ("u", (1,))), 2, 2)]
        [('perm', ()), ('u', (0, 1))]
    """
    blocks: list[list[Any]] = []  # [kind, set(qubits), members]
    last: dict[int, int] = {}
    everything = set(range(n))
    for g, (kind, qubits) in enumerate(structure):
        if kind == "cnot" and k < 3:
            if blocks and blocks[-1][0] == "perm" and all(last.get(q) == len(blocks) - 1 for q in everything):
                blocks[-1][2].append(g)
            else:
                blocks.append(["perm", set(everything), [g]])
                for q in everything:
                    last[q] = len(blocks) - 1
            continue
        if kind == "zz":
            blocks.append(["zz", set(everything), [g]])
            for q in everything:
                last[q] = len(blocks) - 1
            continue
        qs = set(qubits)
        touching = [last[q] for q in qs if q in last]
        # legal targets: the latest block touching the gate's qubits, or any later block
        room = lambda b: blocks[b][0] == "u" and len(blocks[b][1] | qs) <= k
        target = max(touching) if touching else None
        if target is None or not room(target):
            target = len(blocks) - 1 if blocks and room(len(blocks) - 1) else None
        if target is not None:
            blocks[target][1] |= qs
            blocks[target][2].append(g)
        else:
            blocks.append(["u", set(qs), [g]])
            target = len(blocks) - 1
        for q in qs:
            last[q] = target
    out = []
    for kind, qs, members in blocks:
        out.append(Block(kind, tuple(sorted(qs)) if kind == "u" else (), tuple(members)))
    return tuple(out)


def _perm(gates: Sequence[Gate], block: Block) -> tuple[tuple[int, int], ...]:
    return tuple(tuple(gates[g].qubits) for g in block.members)


# ----------------------------------------------------------------- block kernels


def _contiguous(qubits: tuple[int, ...]) -> bool:
    return qubits == tuple(range(qubits[0], qubits[0] + len(qubits)))


def _apply_dense(psi: jax.Array, m: jax.Array, qubits: tuple[int, ...], n: int) -> jax.Array:
    if _contiguous(qubits):
        return G._apply_block(psi, m, qubits[0], len(qubits), n)
    w = len(qubits)
    x = psi.reshape((2,) * n)
    y = jnp.tensordot(m.reshape((2,) * (2 * w)), x, axes=(list(range(w, 2 * w)), list(qubits)))
    return jnp.moveaxis(y, list(range(w)), list(qubits)).reshape(-1)


def _apply(block: Block, psi: jax.Array, value: Any, perm: Any, n: int, edges: Any) -> jax.Array:
    if block.kind == "u":
        return _apply_dense(psi, value, block.qubits, n)
    if block.kind == "perm":
        return G.apply_cnots(psi, perm[0], n, perm[1])
    return G.zz_phase(psi, value, edges, n)


def _inverse(block: Block, psi: jax.Array, value: Any, perm: Any, n: int, edges: Any) -> jax.Array:
    if block.kind == "u":
        return _apply_dense(psi, jnp.conj(value).T, block.qubits, n)
    if block.kind == "perm":
        return psi[perm[1][1]]  # P^-1 psi: out[x] = psi[perm[x]]
    return G.zz_phase(psi, -value, edges, n)


class _Layer:
    """The static plan of one layer and its kernels."""

    def __init__(self, gates_of: Callable[[Any], list[Gate]], example: Any, n: int, k: int, dtype: Any):
        gates = gates_of(example)
        self.gates_of, self.n, self.dtype = gates_of, n, dtype
        self.structure = tuple((g.kind, tuple(g.qubits)) for g in gates)
        self.blocks = plan(self.structure, n, k)
        # a permutation's CNOTs and gather indices (P^-1, P), computed here, outside the layer
        # loop, so the loop reads them instead of recomputing 3 n integer operations per amplitude
        cnots = [_perm(gates, b) if b.kind == "perm" else None for b in self.blocks]
        self.index = [None if c is None else (c, (G.cnot_index(n, c[::-1]), G.cnot_index(n, c))) for c in cnots]
        self.edges = [list(zip(gates[b.members[0]].qubits[0::2], gates[b.members[0]].qubits[1::2]))
                      if b.kind == "zz" else None for b in self.blocks]
        self.build = BlockValues(self.blocks, gates, dtype, angle_ids(gates_of, example))

    def grouped(self, p: Any) -> list[Any]:
        return self.build.grouped(self.gates_of(p), p)

    def values(self, p: Any) -> list[Any]:
        return self.build.expand(self.grouped(p))

    def forward(self, psi: jax.Array, values: list[Any]) -> jax.Array:
        for b, v, perm, e in zip(self.blocks, values, self.index, self.edges):
            psi = _apply(b, psi, v, perm, self.n, e)
        return psi

    def backward(self, psi: jax.Array, ct: jax.Array, p: Any) -> tuple[jax.Array, jax.Array, Any]:
        """From the state and cotangent after the layer: those before it and ``p``'s cotangent."""
        grouped, pull = jax.vjp(self.grouped, p)
        values = self.build.expand(grouped)
        bars: list[Any] = [None] * len(values)
        for i in reversed(range(len(self.blocks))):
            b, v, perm, e = self.blocks[i], values[i], self.index[i], self.edges[i]
            psi = _inverse(b, psi, v, perm, self.n, e)
            if b.kind == "perm":
                ct = ct[perm[1][1]]  # the gather's transpose is the inverse gather
            else:
                _, f_vjp = jax.vjp(lambda s, val, b=b, perm=perm, e=e: _apply(b, s, val, perm, self.n, e), psi, v)
                ct, bars[i] = f_vjp(ct)
        (p_bar,) = pull(self.build.collect(bars))
        return psi, ct, p_bar


def run_layers(gates_of: Callable[[Any], list[Gate]], psi0: jax.Array, layer_params: Any, n: int,
               gradient: str = "adjoint", k: int | None = None) -> jax.Array:
    """``psi0`` through ``layers`` repetitions of the layer ``gates_of(p)`` (``p`` one slice
    of ``layer_params`` along axis 0), fused, in ``lax.scan``.

    Args:
        gates_of: layer parameters (one layer) -> list of :class:`Gate` (static structure).
        psi0: ``[2**n]`` complex start state.
        layer_params: pytree of arrays with a leading layer axis.
        n: qubits.
        gradient: ``"adjoint"`` (custom VJP, memory flat in depth) or ``"backprop"``.
        k: largest block; default :func:`block_qubits`.
    """
    if gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {list(GRADIENTS)}, got {gradient!r}")
    k = block_qubits() if k is None else k
    example = jax.tree_util.tree_map(lambda x: x[0], layer_params)
    layer = _Layer(gates_of, example, n, k, psi0.dtype)

    def step(psi: jax.Array, p: Any) -> tuple[jax.Array, None]:
        return layer.forward(psi, layer.values(p)), None

    if gradient == "backprop":
        return lax.scan(step, psi0, layer_params)[0]

    return _reverse_vjp_scan(step, layer.backward, psi0, layer_params)


def _reverse_vjp_scan(step: Callable[[jax.Array, Any], tuple[jax.Array, None]],
                      back: Callable[[jax.Array, jax.Array, Any], tuple[jax.Array, jax.Array, Any]],
                      psi0: jax.Array, xs: Any) -> jax.Array:
    """``lax.scan(step, psi0, xs)`` whose VJP keeps only the final state: the backward scan
    runs ``back(psi_after, cotangent_after, x) -> (psi_before, cotangent_before, x_bar)``
    from the last layer to the first, so memory does not grow with the number of layers."""

    @jax.custom_vjp
    def run(psi: jax.Array, params: Any) -> jax.Array:
        return lax.scan(step, psi, params)[0]

    def fwd(psi: jax.Array, params: Any) -> tuple[jax.Array, tuple[jax.Array, Any]]:
        out = run(psi, params)
        return out, (out, params)

    def bwd(res: tuple[jax.Array, Any], ct: jax.Array) -> tuple[jax.Array, Any]:
        out, params = res

        def one(carry: tuple[jax.Array, jax.Array], x: Any) -> tuple[tuple[jax.Array, jax.Array], Any]:
            psi, lam, x_bar = back(*carry, x)
            return (psi, lam), x_bar

        (_, ct0), bars = lax.scan(one, (out, ct), params, reverse=True)
        return ct0, bars

    run.defvjp(fwd, bwd)
    return run(psi0, xs)


def adjoint_scan(step: Callable[[jax.Array, Any], jax.Array], inverse: Callable[[jax.Array, Any], jax.Array],
                 psi0: jax.Array, xs: Any) -> jax.Array:
    """``lax.scan`` of ``psi -> step(psi, x)`` over ``xs`` with the adjoint method at layer
    granularity: the backward pass re-derives the state before each layer by
    ``inverse(psi_after, x)`` and differentiates that one layer (its own residuals only), so
    memory does not grow with the number of layers. For kernels that are not written as
    :class:`Gate` lists (the subspace kernel of :mod:`jqgen.qcbm._givens`).
    """

    def back(psi_after: jax.Array, lam: jax.Array, x: Any) -> tuple[jax.Array, jax.Array, Any]:
        psi = inverse(psi_after, x)
        _, f_vjp = jax.vjp(step, psi, x)
        lam, x_bar = f_vjp(lam)
        return psi, lam, x_bar

    return _reverse_vjp_scan(lambda s, x: (step(s, x), None), back, psi0, xs)
