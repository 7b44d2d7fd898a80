"""Circuit ansätze as static, hashable descriptions; parameters are dicts of arrays.

Three families, each a frozen dataclass with ``param_shapes()``, ``init(key, dtype)``,
``state(params)`` (jqgen's fused executor) and ``ops(params)`` (the same circuit as a flat
list of named gates, which the TensorCircuit engine, exporters and tests consume):

* :class:`HardwareEfficient`: Benedetti et al. / Zhu et al. / Gili et al. A first layer of
  RX then RZ on every qubit, then ``layers`` blocks of RXX entanglers on a ``line``,
  ``all``-to-all or ``star`` graph, each followed by RX, RZ on every qubit::

      |0> -RX-RZ-+-------+-RX-RZ-  ...
      |0> -RX-RZ-|RXX    |-RX-RZ-
      |0> -RX-RZ-+-------+-RX-RZ-

  The RXX gates of a block commute; ``prod RXX = H^n (prod RZZ) H^n`` and the ``RZZ``
  product is diagonal, so the fused executor carries the state in the Hadamard frame and a
  block costs one diagonal multiply plus one single-qubit layer, whatever the graph.
* :class:`LiuWang`: Liu & Wang (PRA 98, 062324): RX, RZ on every qubit, then ``layers``
  blocks of CNOTs along a given tree (or a line) followed by RZ RX RZ on every qubit. A CNOT
  network permutes basis states, so it costs one gather.
* :class:`SU4Brickwork`: ``layers`` layers of general two-qubit gates (15 angles each,
  :func:`jqgen.qcbm.su4`) on neighbouring qubits ``(i, i+1)``, ``i = 0..n-2``, applied in
  ``"brick"`` order (even ``i`` then odd ``i``) or as a ``"staircase"`` (``i`` ascending).

Every parametrized gate is a Pauli rotation, so parameter-shift gradients apply to all.
``state(params, gradient)`` runs the blocks through jqgen's fused engine
(:mod:`jqgen.qcbm._engine`: gates fused into blocks once per block structure, blocks in
``lax.scan`` so compile time does not grow with ``layers``, adjoint gradients by default).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _random
from .._checks import check_finite, is_concrete
from . import _engine as E
from . import _gates as G

__all__ = ["ANSATZE", "HardwareEfficient", "LiuWang", "Op", "SU4Brickwork", "ansatz_from_config"]


class Op(NamedTuple):
    """One gate: a TensorCircuit gate name, the qubits, and the angle (or ``None``)."""

    name: str
    qubits: tuple[int, ...]
    angle: Any = None


#: Widest circuit an ansatz describes (its gate lists are built eagerly: a size, not a
#: statevector, bounds it; the models' memory guards bound what can be simulated).
MAX_QUBITS = 4096


def _check_int(name: str, v: Any, lo: int) -> None:
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
        raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
    if name == "num_qubits" and v > MAX_QUBITS:
        raise ValueError(f"num_qubits must be at most {MAX_QUBITS} (an ansatz lists its gates), got {v}")


def _check_params(ansatz: Any, params: Any) -> None:
    shapes = ansatz.param_shapes()
    if not isinstance(params, dict) or set(params) != set(shapes):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"{type(ansatz).__name__} params must be a dict with keys {sorted(shapes)}, got {got}")
    for k, shape in shapes.items():
        if tuple(params[k].shape) != shape:
            raise ValueError(f"params[{k!r}] must have shape {shape} for {ansatz!r}, got {tuple(params[k].shape)}")
        if not jnp.issubdtype(params[k].dtype, jnp.floating):
            raise ValueError(f"params[{k!r}] must be a real float array, got dtype {params[k].dtype}")


class _Base:
    num_qubits: int
    layers: int

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        raise NotImplementedError

    @property
    def num_params(self) -> int:
        return int(sum(np.prod(s) for s in self.param_shapes().values()))

    def init(self, key: jax.Array, dtype: Any = jnp.float32, scale: float | None = None) -> dict[str, jax.Array]:
        """Random angles: uniform in ``[-pi, pi)`` (``scale=None``) or normal with std ``scale``
        (small ``scale`` starts near the ``|0...0>``-side product circuit / identity)."""
        shapes = self.param_shapes()
        keys = jax.random.split(key, len(shapes))
        out = {}
        for k, (name, shape) in zip(keys, sorted(shapes.items())):
            if scale is None:
                out[name] = _random.uniform(k, shape, dtype, -np.pi, np.pi)
            else:
                out[name] = jnp.asarray(scale, dtype) * _random.normal(k, shape, dtype)
        return out

    def check_params(self, params: Any) -> None:
        """Raises ``ValueError`` unless ``params`` has this ansatz's keys, shapes and a real dtype."""
        _check_params(self, params)

    def config(self) -> dict[str, Any]:
        out = {"ansatz": self.kind}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = [list(e) for e in v] if isinstance(v, tuple) else v
        return out


def _rx_rz_ops(angles: jax.Array) -> list[Op]:
    """RX(angles[q, 0]) then RZ(angles[q, 1]) on every qubit ``q``."""
    return [op for q in range(angles.shape[0]) for op in (Op("rx", (q,), angles[q, 0]), Op("rz", (q,), angles[q, 1]))]


def _topology_edges(n: int, topology: str) -> tuple[tuple[int, int], ...]:
    if topology == "line":
        return tuple((i, i + 1) for i in range(n - 1))
    if topology == "all":
        return tuple((i, j) for i in range(n) for j in range(i + 1, n))
    if topology == "star":
        return tuple((0, j) for j in range(1, n))
    raise ValueError(f"topology must be one of 'line', 'all', 'star', got {topology!r}")


@dataclasses.dataclass(frozen=True)
class HardwareEfficient(_Base):
    """RX/RZ rotations and RXX entanglers on a ``line``, ``all`` or ``star`` graph.

    Params: ``first [n, 2]`` (RX, RZ angles of the first layer), ``xx [layers, E]`` (one
    angle per edge and block), ``rot [layers, n, 2]``.

    Examples:
        >>> import jax, jqgen
        >>> a = jqgen.qcbm.HardwareEfficient(num_qubits=4, layers=2, topology="all")
        >>> a.param_shapes()
        {'first': (4, 2), 'xx': (2, 6), 'rot': (2, 4, 2)}
    """

    num_qubits: int
    layers: int
    topology: str = "line"
    kind = "hea"

    def __post_init__(self) -> None:
        _check_int("num_qubits", self.num_qubits, 2)
        _check_int("layers", self.layers, 1)
        _topology_edges(self.num_qubits, self.topology)

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        return _topology_edges(self.num_qubits, self.topology)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        n, L = self.num_qubits, self.layers
        return {"first": (n, 2), "xx": (L, len(self.edges)), "rot": (L, n, 2)}

    def state(self, params: dict[str, jax.Array], gradient: str = "adjoint") -> jax.Array:
        n, edges = self.num_qubits, self.edges
        first = params["first"]
        h = G.hadamard(G.complex_dtype(first.dtype))
        rot = lambda p: G.rz(p[:, 1]) @ G.rx(p[:, 0])  # RX first, then RZ
        phi = G.product_state((h @ rot(first))[:, :, 0])  # Hadamard frame: phi = H^n psi
        flat = tuple(q for e in edges for q in e)

        def layer(p: dict[str, jax.Array]) -> list[E.Gate]:
            r = p["rot"]
            out = [E.Gate("zz", flat, p["xx"])]
            for q in range(n):  # H RZ RX H in the Hadamard frame
                out += [E.Gate("u", (q,), h), E.Gate("u", (q,), E.Rotation("rx", r[q, 0])),
                        E.Gate("u", (q,), E.Rotation("rz", r[q, 1])),
                        E.Gate("u", (q,), h)]
            return out

        phi = E.run_layers(layer, phi, {"xx": params["xx"], "rot": params["rot"]}, n, gradient)
        return G.apply_1q_layer(phi, jnp.broadcast_to(h, (n, 2, 2)))

    def first_ops(self, params: dict[str, jax.Array]) -> list[Op]:
        return _rx_rz_ops(params["first"])

    def block_ops(self, p: dict[str, jax.Array]) -> list[Op]:
        ops = [Op("rxx", e, p["xx"][k]) for k, e in enumerate(self.edges)]
        return ops + _rx_rz_ops(p["rot"])

    def block_params(self, params: dict[str, jax.Array]) -> dict[str, jax.Array]:
        return {"xx": params["xx"], "rot": params["rot"]}


@dataclasses.dataclass(frozen=True)
class LiuWang(_Base):
    """Liu & Wang's circuit: RZ RX RZ rotation layers with CNOT entanglers.

    ``cnots`` lists ``(control, target)`` pairs applied in order in every block (e.g. the
    edges of a Chow-Liu tree, parent to child); ``None`` means the line
    ``(0,1), (1,2), ...``. Params: ``first [n, 2]`` (RX then RZ; a leading RZ would act
    trivially on ``|0>``) and ``rot [layers, n, 3]`` (RZ, RX, RZ in application order).
    """

    num_qubits: int
    layers: int
    cnots: tuple[tuple[int, int], ...] | None = None
    kind = "liu-wang"

    def __post_init__(self) -> None:
        _check_int("num_qubits", self.num_qubits, 2)
        _check_int("layers", self.layers, 1)
        if self.cnots is not None:
            pairs = tuple((int(c), int(t)) for c, t in self.cnots)
            for c, t in pairs:
                if not (0 <= c < self.num_qubits and 0 <= t < self.num_qubits) or c == t:
                    raise ValueError(f"cnots must be pairs of distinct qubits in [0, {self.num_qubits}), got {(c, t)}")
            object.__setattr__(self, "cnots", pairs)

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        return self.cnots if self.cnots is not None else _topology_edges(self.num_qubits, "line")

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        n, L = self.num_qubits, self.layers
        return {"first": (n, 2), "rot": (L, n, 3)}

    def state(self, params: dict[str, jax.Array], gradient: str = "adjoint") -> jax.Array:
        first = params["first"]
        psi = G.product_state((G.rz(first[:, 1]) @ G.rx(first[:, 0]))[:, :, 0])
        layer = lambda p: E.gates_from_ops(self.block_ops(p))
        return E.run_layers(layer, psi, self.block_params(params), self.num_qubits, gradient)

    def first_ops(self, params: dict[str, jax.Array]) -> list[Op]:
        return _rx_rz_ops(params["first"])

    def block_ops(self, p: dict[str, jax.Array]) -> list[Op]:
        ops = [Op("cnot", e) for e in self.edges]
        r = p["rot"]
        for q in range(self.num_qubits):
            ops += [Op("rz", (q,), r[q, 0]), Op("rx", (q,), r[q, 1]), Op("rz", (q,), r[q, 2])]
        return ops

    def block_params(self, params: dict[str, jax.Array]) -> dict[str, jax.Array]:
        return {"rot": params["rot"]}


@dataclasses.dataclass(frozen=True)
class SU4Brickwork(_Base):
    """Layers of general two-qubit gates on neighbouring qubits.

    Params: ``gates [layers, n - 1, 15]``; ``gates[l, i]`` are the KAK angles
    (:func:`jqgen.qcbm.su4`) of the gate on ``(i, i + 1)`` in layer ``l``. ``order``:
    ``"brick"`` applies even ``i`` then odd ``i`` in each layer; ``"staircase"`` applies
    ``i = 0, 1, ..., n - 2`` in turn. All-zero angles are the identity circuit.
    """

    num_qubits: int
    layers: int
    order: str = "brick"
    kind = "su4"

    def __post_init__(self) -> None:
        _check_int("num_qubits", self.num_qubits, 2)
        _check_int("layers", self.layers, 1)
        if self.order not in ("brick", "staircase"):
            raise ValueError(f"order must be 'brick' or 'staircase', got {self.order!r}")

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"gates": (self.layers, self.num_qubits - 1, 15)}

    def _sequence(self) -> list[int]:
        n = self.num_qubits
        if self.order == "brick":
            return list(range(0, n - 1, 2)) + list(range(1, n - 1, 2))
        return list(range(n - 1))

    def state(self, params: dict[str, jax.Array], gradient: str = "adjoint") -> jax.Array:
        n = self.num_qubits
        gates = params["gates"]
        psi = jnp.zeros((2**n,), G.complex_dtype(gates.dtype)).at[0].set(1)
        layer = lambda p: E.gates_from_ops(self.block_ops(p))
        return E.run_layers(layer, psi, self.block_params(params), n, gradient)

    def first_ops(self, params: dict[str, jax.Array]) -> list[Op]:
        return []

    def block_ops(self, p: dict[str, jax.Array]) -> list[Op]:
        ops: list[Op] = []
        g = p["gates"]
        for i in self._sequence():
            a, b = i, i + 1
            for q, off in ((a, 0), (b, 3)):
                ops += [Op("rz", (q,), g[i, off]), Op("ry", (q,), g[i, off + 1]), Op("rz", (q,), g[i, off + 2])]
            ops += [Op("rxx", (a, b), g[i, 6]), Op("ryy", (a, b), g[i, 7]), Op("rzz", (a, b), g[i, 8])]
            for q, off in ((a, 9), (b, 12)):
                ops += [Op("rz", (q,), g[i, off]), Op("ry", (q,), g[i, off + 1]), Op("rz", (q,), g[i, off + 2])]
        return ops

    def block_params(self, params: dict[str, jax.Array]) -> dict[str, jax.Array]:
        return {"gates": params["gates"]}


def ops(ansatz: Any, params: dict[str, jax.Array]) -> list[Op]:
    """The whole circuit as a flat gate list (unrolled over blocks).

    Raises:
        ValueError: ``params`` without the ansatz's keys, shapes or a real dtype, or
            (concrete) with NaN/inf angles.
    """
    if not callable(getattr(ansatz, "param_shapes", None)):
        raise ValueError(f"ansatz must be one of jqgen.qcbm's ansatz classes, got {type(ansatz).__name__}")
    shapes = ansatz.param_shapes()  # keys and shapes only: templates pass integer parameter indices
    if not isinstance(params, dict) or set(params) != set(shapes) or any(
            tuple(np.shape(params[k])) != tuple(v) for k, v in shapes.items()):
        got = {k: tuple(np.shape(v)) for k, v in params.items()} if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params must be {{name: array}} with shapes {shapes}, got {got}")
    if is_concrete(params):
        check_finite(params, "params")
    out = list(ansatz.first_ops(params))
    blocks = ansatz.block_params(params)
    for layer in range(ansatz.layers):
        out += ansatz.block_ops({k: v[layer] for k, v in blocks.items()})
    return out


ANSATZE: dict[str, type] = {"hea": HardwareEfficient, "liu-wang": LiuWang, "su4": SU4Brickwork}


def ansatz_from_config(config: dict[str, Any]) -> Any:
    """Rebuilds an ansatz from its ``config()`` dict."""
    cfg = dict(config)
    kind = cfg.pop("ansatz", None)
    if kind not in ANSATZE:
        raise ValueError(f"unknown ansatz {kind!r}; expected one of {sorted(ANSATZE)}")
    if cfg.get("cnots") is not None:
        cfg["cnots"] = tuple(tuple(e) for e in cfg["cnots"])
    return ANSATZE[kind](**cfg)
