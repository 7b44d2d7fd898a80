"""Hamming-weight-conserving circuits: the :class:`Givens` ansatz and jqgen's subspace kernel.

The circuit starts from a basis state of weight ``k`` and applies only gates that conserve
the number of ones, so the state stays in the ``C(n, k)``-dimensional subspace of
:mod:`jqgen.qcbm._subspace` (strings of weight ``k`` in increasing big-endian order) and is
simulated there. On a qubit pair ``(i, j)``, ``i < j``, written ``|x_i x_j>``:

* Givens / RBS rotation (``gate="givens"``, real):
  ``|01> -> cos t |01> + sin t |10>``, ``|10> -> -sin t |01> + cos t |10>``;
* XY mixer (``gate="xy"``): ``exp(-i t (XX + YY) / 2)``:
  ``|01> -> cos t |01> - i sin t |10>``, ``|10> -> -i sin t |01> + cos t |10>``;

both the identity on ``|00>`` and ``|11>``. Optional weight-preserving phases after each
layer: ``phases="rz"`` puts ``RZ(phi) = exp(-i phi Z / 2)`` on every qubit, ``"rzz"`` also
``RZZ(theta) = exp(-i theta Z_i Z_j / 2)`` on every edge. Without phases and with Givens
gates every amplitude is real and the state is kept in the real dtype.

A layer applies the mixing gate to every edge of ``topology`` in order: ``"brick"`` (pairs
``(i, i+1)``, even ``i`` then odd ``i``), ``"staircase"`` (``i = 0 .. n-2``) or ``"all"``
(every pair ``i < j``, lexicographic). Nearest-neighbour Givens/XY layers are free-fermion
(matchgate) circuits: from a basis state they reach only Slater determinants (any state for
``k = 1``, a ``k (n - k)``-parameter family for ``k >= 2``); ``"all"`` or ``phases="rzz"``
add interactions.

**Support.** A gate only moves a one to a neighbouring empty qubit (or not), so after ``L``
layers a string has probability exactly 0 unless the ones of the start state can be moved
onto it with the layers' gates in order; ``ConservingQCBM.in_support`` (weight ``k``) does
not know that. :func:`full_support_layers` is the fewest layers that reach every weight-``k``
string (for generic angles): one for ``"all"``, about ``(n - k) / 2`` and more for
``"brick"`` (11 for ``n = 31, k = 10``; 3 for ``n = 8, k = 3``), about ``n - k`` for
``"staircase"``; :attr:`Givens.full_support` says whether a circuit has them. Rule: run the
layers with every gate moving a one right whenever it can, and again moving left; the
layers both take to pack the ones at the end are the answer (each string's ones can then be
reached too; the rule agrees with a breadth-first search of the reachable strings in 3,915
random cases, ``n <= 19``, every topology, default and random start states).

Kernel: a gate on ``(i, j)`` pairs each basis state ``d`` with ``P[d]``, the state with bits
``i, j`` exchanged (``P[d] = d`` when they are equal; precomputed once per ``(n, k, edges)``,
int32 ``[E, C(n, k)]``). Since exchanging a ``10`` for ``01`` lowers the integer, ``P[d] > d``
marks ``|01>`` and ``P[d] < d`` marks ``|10>``, so the gate is one gather and two
multiplies, ``psi' = a * psi + b * psi[P]`` with ``a = cos t`` (1 where ``P[d] = d``) and
``b = sign(d - P[d]) sin t`` (Givens) or ``-i sin t [P[d] != d]`` (XY). ``P`` is an
involution, so the gather's transpose is the same gather (a custom VJP; no scatter). Gates
are applied with ``lax.scan`` over the edges inside ``lax.scan`` over layers: compile time
does not depend on depth or width. Gradients (``gradient="adjoint"``, the default) use the
adjoint method of :func:`jqgen.qcbm._engine.adjoint_scan`: the backward pass re-derives the
state before each layer by the inverse layer (phases conjugated, gates ``G(-t)`` in reverse
order), so memory is one state per gate of the layer being differentiated, whatever the
depth; ``"backprop"`` also keeps one state per layer.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _engine
from . import _subspace as S
from ._ansatz import Op, _Base, _check_int
from ._gates import complex_dtype

__all__ = ["Givens", "full_support_layers", "fused_state"]

_TOPOLOGIES = ("brick", "staircase", "all")
_GATES = ("givens", "xy")
_PHASES = ("none", "rz", "rzz")


def _edges(n: int, topology: str) -> tuple[tuple[int, int], ...]:
    if topology == "brick":
        return tuple((i, i + 1) for i in list(range(0, n - 1, 2)) + list(range(1, n - 1, 2)))
    if topology == "staircase":
        return tuple((i, i + 1) for i in range(n - 1))
    return tuple((i, j) for i in range(n) for j in range(i + 1, n))


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")


def _pack_layers(n: int, edges: tuple[tuple[int, int], ...], filled: tuple[int, ...], right: bool) -> int:
    """Layers until greedy moves (every gate moves a one towards the ``right`` end, or the left
    end, whenever its other qubit is empty) pack the ones of ``filled`` at that end."""
    occ = np.zeros(n, bool)
    occ[list(filled)] = True
    goal = np.zeros(n, bool)
    if right:
        goal[n - len(filled):] = True
    else:
        goal[:len(filled)] = True
    layers = 0
    while not np.array_equal(occ, goal):
        layers += 1
        for i, j in edges:
            src, dst = (i, j) if right else (j, i)
            if occ[src] and not occ[dst]:
                occ[src], occ[dst] = False, True
    return layers


def full_support_layers(num_qubits: int, weight: int, topology: str = "brick",
                        filled: tuple[int, ...] | None = None) -> int:
    """The fewest layers of a :class:`Givens` circuit (with these qubits, weight, topology and
    start state; gate and phases do not matter) that give every string of weight ``weight``
    a nonzero probability for generic angles (module docstring, "Support").

    Examples:
        >>> from jqgen.qcbm import full_support_layers
        >>> full_support_layers(8, 3), full_support_layers(31, 10), full_support_layers(31, 10, "all")
        (3, 11, 1)
    """
    a = Givens(num_qubits, weight, 1, topology=topology, filled=filled)  # validates
    return max(1, *(_pack_layers(a.num_qubits, a.edges, a.filled, right) for right in (True, False)))


@dataclasses.dataclass(frozen=True)
class Givens(_Base):
    """A Hamming-weight-conserving circuit on ``num_qubits`` qubits with ``weight`` ones.

    Attributes:
        num_qubits: ``n`` (2 to 63).
        weight: ``k``, the Hamming weight of the start state and of every output string.
        layers: mixing layers.
        topology: ``"brick"``, ``"staircase"`` or ``"all"`` (the edges of a layer).
        gate: ``"givens"`` (real RBS rotations) or ``"xy"`` (complex XY mixer).
        phases: ``"none"``, ``"rz"`` (RZ on every qubit after each layer) or ``"rzz"``
            (also RZZ on every edge).
        filled: the qubits set to 1 in the start state (``None``: ``k`` evenly spaced
            qubits, ``(2 m + 1) n // (2 k)`` for ``m = 0 .. k-1``).

    Params: ``mix [layers, E]`` (one angle per edge and layer), plus ``rz [layers, n]`` and
    ``zz [layers, E]`` when the phases ask for them.

    Examples:
        >>> import jqgen
        >>> a = jqgen.qcbm.Givens(num_qubits=6, weight=2, layers=3)
        >>> a.param_shapes(), a.filled, a.subspace_size
        ({'mix': (3, 5)}, (1, 4), 15)
    """

    num_qubits: int
    weight: int
    layers: int
    topology: str = "brick"
    gate: str = "givens"
    phases: str = "none"
    filled: tuple[int, ...] | None = None
    kind = "givens"

    def __post_init__(self) -> None:
        _check_int("num_qubits", self.num_qubits, 2)
        if self.num_qubits > S.MAX_QUBITS:
            raise ValueError(f"num_qubits must be at most {S.MAX_QUBITS}, got {self.num_qubits!r}")
        n = int(self.num_qubits)
        if not isinstance(self.weight, (int, np.integer)) or isinstance(self.weight, bool) or not 0 <= self.weight <= n:
            raise ValueError(f"weight must be an int in [0, num_qubits] = [0, {n}], got {self.weight!r}")
        _check_int("layers", self.layers, 1)
        _check_choice("topology", self.topology, _TOPOLOGIES)
        _check_choice("gate", self.gate, _GATES)
        _check_choice("phases", self.phases, _PHASES)
        k = int(self.weight)
        if self.filled is None:
            filled = tuple((2 * m + 1) * n // (2 * k) for m in range(k))
        else:
            try:
                filled = tuple(sorted(int(q) for q in self.filled))
            except (TypeError, ValueError):
                raise ValueError(f"filled must be a sequence of qubit indices, got {self.filled!r}") from None
            if len(filled) != k or len(set(filled)) != k or any(not 0 <= q < n for q in filled):
                raise ValueError(f"filled must be {k} distinct qubits in [0, {n}) (weight {k}), got {self.filled!r}")
        for name in ("num_qubits", "weight", "layers"):
            object.__setattr__(self, name, int(getattr(self, name)))
        object.__setattr__(self, "filled", filled)

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        return _edges(self.num_qubits, self.topology)

    @property
    def full_support(self) -> bool:
        """True when the circuit can reach every weight-``k`` string: ``layers >=``
        :func:`full_support_layers` (module docstring, "Support")."""
        return self.layers >= full_support_layers(self.num_qubits, self.weight, self.topology, self.filled)

    @property
    def subspace_size(self) -> int:
        """``C(n, k)``, the number of amplitudes simulated."""
        return math.comb(self.num_qubits, self.weight)

    @property
    def is_real(self) -> bool:
        """True when every amplitude is real (Givens gates, no phases)."""
        return self.gate == "givens" and self.phases == "none"

    @property
    def num_gates(self) -> int:
        """Mixing gates in the whole circuit."""
        return self.layers * len(self.edges)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        L, E = self.layers, len(self.edges)
        out = {"mix": (L, E)}
        if self.phases != "none":
            out["rz"] = (L, self.num_qubits)
        if self.phases == "rzz":
            out["zz"] = (L, E)
        return out

    def start_index(self) -> int:
        """The subspace index of the start state."""
        value = sum(1 << (self.num_qubits - 1 - q) for q in self.filled)
        return int(np.searchsorted(S.basis(self.num_qubits, self.weight), value))

    def state(self, params: dict[str, jax.Array], gradient: str = "adjoint") -> jax.Array:
        """The ``C(n, k)`` amplitudes (jqgen's kernel): real dtype when :attr:`is_real`.
        ``gradient``: ``"adjoint"`` (layers re-derived by their inverses in the backward
        pass, memory flat in depth) or ``"backprop"`` (one stored state per layer)."""
        return fused_state(self, params, gradient)

    # ---------------------------------------------- the same circuit as named gates

    def first_ops(self, params: dict[str, jax.Array]) -> list[Op]:
        return [Op("x", (q,)) for q in self.filled]

    def block_ops(self, p: dict[str, jax.Array]) -> list[Op]:
        """One layer as named gates: ``givens``/``xy`` on each edge, then ``rz``, ``rzz``."""
        ops = [Op(self.gate, e, p["mix"][m]) for m, e in enumerate(self.edges)]
        if self.phases != "none":
            ops += [Op("rz", (q,), p["rz"][q]) for q in range(self.num_qubits)]
        if self.phases == "rzz":
            ops += [Op("rzz", e, p["zz"][m]) for m, e in enumerate(self.edges)]
        return ops

    def block_params(self, params: dict[str, jax.Array]) -> dict[str, jax.Array]:
        return dict(params)

    def config(self) -> dict[str, Any]:
        out = {"ansatz": self.kind}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out


@jax.custom_vjp
def _involution_gather(x: jax.Array, p: jax.Array) -> jax.Array:
    """``x[p]`` for a permutation ``p`` that is its own inverse."""
    return x[p]


def _gather_fwd(x: jax.Array, p: jax.Array) -> tuple[jax.Array, jax.Array]:
    return x[p], p


def _gather_bwd(p: jax.Array, g: jax.Array) -> tuple[jax.Array, None]:
    return g[p], None


_involution_gather.defvjp(_gather_fwd, _gather_bwd)


def _phase_angles(a: Givens, lp: dict[str, jax.Array], z: jax.Array) -> jax.Array:
    """``sum_q phi_q z_q (+ sum_e theta_e z_i z_j)`` per basis state, ``z = 1 - 2 x``."""
    ang = z @ lp["rz"]
    if a.phases == "rzz":
        i, j = (np.array(v, np.int32) for v in zip(*a.edges))
        ang = ang + (z[:, i] * z[:, j]) @ lp["zz"]
    return ang


def fused_state(a: Givens, params: dict[str, jax.Array], gradient: str = "adjoint") -> jax.Array:
    """The subspace state of :class:`Givens` ``a`` by jqgen's gather kernel (see the module
    docstring); ``[C(n, k)]``, real when ``a.is_real`` else complex."""
    n, k = a.num_qubits, a.weight
    real = params["mix"].dtype
    dtype = real if a.is_real else complex_dtype(real)
    size = a.subspace_size
    table = jnp.asarray(S.partners(n, k, a.edges))
    self_idx = jnp.arange(size, dtype=jnp.int32)
    z = None
    if a.phases != "none":
        z = jnp.asarray(1 - 2 * S.basis_bits(n, k).astype(np.int8)).astype(real)
    psi0 = jnp.zeros((size,), dtype).at[a.start_index()].set(1)

    def gate_of(sign: float) -> Callable[[jax.Array, tuple[jax.Array, jax.Array]], tuple[jax.Array, None]]:
        def gate(psi: jax.Array, xs: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, None]:
            p, t = xs
            t = t * jnp.asarray(sign, real)  # sign -1: the inverse gate G(-t) = G(t)^-1
            moved = p != self_idx
            c, s = jnp.cos(t), jnp.sin(t)
            coef_a = jnp.where(moved, c, jnp.ones_like(c)).astype(dtype)
            if a.gate == "givens":
                coef_b = (s * jnp.sign(self_idx - p).astype(real)).astype(dtype)
            else:
                coef_b = lax.complex(jnp.zeros_like(s), -s) * moved.astype(dtype)
            return coef_a * psi + coef_b * _involution_gather(psi, p), None
        return jax.checkpoint(gate)

    def phase(psi: jax.Array, lp: dict[str, jax.Array], sign: float) -> jax.Array:
        if z is None:
            return psi
        ang = _phase_angles(a, lp, z) * jnp.asarray(-0.5 * sign, real)
        return psi * lax.complex(jnp.cos(ang), jnp.sin(ang))

    def layer(psi: jax.Array, lp: dict[str, jax.Array]) -> jax.Array:
        psi, _ = lax.scan(gate_of(1.0), psi, (table, lp["mix"]))
        return phase(psi, lp, 1.0)

    def inverse(psi: jax.Array, lp: dict[str, jax.Array]) -> jax.Array:
        psi = phase(psi, lp, -1.0)
        return lax.scan(gate_of(-1.0), psi, (table, lp["mix"]), reverse=True)[0]

    if gradient == "adjoint":
        return _engine.adjoint_scan(layer, inverse, psi0, params)
    if gradient != "backprop":
        raise ValueError(f"gradient must be 'adjoint' or 'backprop', got {gradient!r}")
    psi, _ = lax.scan(lambda s, lp: (jax.checkpoint(layer)(s, lp), None), psi0, params)
    return psi
