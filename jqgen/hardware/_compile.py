"""Compile a QCBM circuit for a :class:`Device`: bind, lower, route, and undo the layout.

Pipeline: the ansatz's gate list (:func:`jqgen.qcbm.ops`) with concrete angles becomes a
qiskit ``QuantumCircuit`` (one qiskit gate per :class:`jqgen.qcbm.Op`, same angle
conventions as TensorCircuit: ``rx(t) = exp(-i t X / 2)``, ``rxx(t) = exp(-i t XX / 2)``),
which ``qiskit.transpile`` lowers to the device's native gates and routes onto its
coupling map (``optimization_level=1``, ``seed_transpiler=0``: deterministic). The
result keeps the final logical -> physical mapping.

Bitstring convention: every counts dict jqgen returns or journals is keyed by
**logical, big-endian** strings: character ``i`` is logical qubit ``i`` (TensorCircuit's
convention, and the row order of :meth:`jqgen.QCBM.probs`). Counts coming back from a
device (:meth:`Compiled.logical_counts`) are keyed by physical qubits: big-endian
(character ``j`` is physical qubit ``j``, TensorCircuit's providers) by default, or
little-endian (qiskit's convention, ``little_endian=True``). Physical qubits that hold no
logical qubit are marginalized out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .._checks import check_finite, check_int
from ..qcbm import circuit_from_ops, ops, tc_settings
from ._device import Device

__all__ = ["Compiled", "bind", "circuit_hash", "compile_circuit", "compile_qcbm", "logical_counts", "params_hash", "to_qiskit"]

# TensorCircuit gate names (as in jqgen.qcbm.Op) -> qiskit QuantumCircuit method names.
_QISKIT_NAMES = {
    "rx": "rx",
    "ry": "ry",
    "rz": "rz",
    "rxx": "rxx",
    "ryy": "ryy",
    "rzz": "rzz",
    "cnot": "cx",
    "cx": "cx",
    "cz": "cz",
    "h": "h",
    "x": "x",
    "y": "y",
    "z": "z",
    "s": "s",
    "t": "t",
    "swap": "swap",
}


def _ansatz_of(model: Any) -> Any:
    """The ansatz of a QCBM (or the ansatz itself); ``ValueError`` for anything else."""
    ansatz = getattr(model, "ansatz", model)
    if not (hasattr(ansatz, "num_qubits") and callable(getattr(ansatz, "check_params", None))):
        raise ValueError(f"model must be a jqgen.QCBM or one of jqgen.qcbm's ansatz classes, got {type(model).__name__}")
    return ansatz


def _check_circuit(qc: Any) -> None:
    if not (hasattr(qc, "num_qubits") and hasattr(qc, "data") and hasattr(qc, "parameters")):
        raise ValueError(f"qc must be a qiskit QuantumCircuit, got {type(qc).__name__}")


def _check_layout(layout: Any, n: int, device: Device) -> list[int] | None:
    """``initial_layout``: ``n`` distinct physical qubits of ``device`` (or ``None``)."""
    if layout is None:
        return None
    out = [check_int(p, "initial_layout entry", 0, device.num_qubits - 1) for p in layout]
    if len(out) != n or len(set(out)) != n:
        raise ValueError(f"initial_layout must list {n} distinct physical qubits of {device.spec} "
                         f"(0 .. {device.num_qubits - 1}), got {list(layout)}")
    return out


def bind(model: Any, params: Mapping[str, Any]) -> Any:
    """The QCBM (or bare ansatz) with ``params`` bound, as a concrete ``tc.Circuit``."""
    ansatz = _ansatz_of(model)
    ansatz.check_params(dict(params))
    check_finite(dict(params), "params")
    first = next(iter(params.values()))
    return circuit_from_ops(ansatz.num_qubits, ops(ansatz, dict(params)), first.dtype)


def to_qiskit(num_qubits: int, gate_ops: Sequence[Any], angle: Callable[[Any], Any] | None = None) -> Any:
    """A qiskit ``QuantumCircuit`` applying ``gate_ops`` (:class:`jqgen.qcbm.Op`) in order.

    ``angle`` maps an op's angle to the qiskit argument (default: the float value; a
    template passes qiskit ``Parameter`` objects)."""
    from qiskit import QuantumCircuit

    num_qubits = check_int(num_qubits, "num_qubits", 1)
    qc = QuantumCircuit(num_qubits)
    for op in gate_ops:
        name = _QISKIT_NAMES.get(getattr(op, "name", None))
        if name is None:
            raise ValueError(f"gate {getattr(op, 'name', op)!r} has no qiskit translation")
        if any(not 0 <= int(q) < num_qubits for q in op.qubits):
            raise ValueError(f"gate {op.name} acts on qubits {op.qubits}, outside 0 .. {num_qubits - 1}")
        gate = getattr(qc, name)
        if op.angle is None:
            gate(*op.qubits)
        else:
            gate(float(np.asarray(op.angle)) if angle is None else angle(op.angle), *op.qubits)
    return qc


def params_hash(params: Mapping[str, Any]) -> str:
    """sha256 of the parameters: sorted keys, dtypes, shapes and raw bytes."""
    h = hashlib.sha256()
    for k in sorted(params):
        a = np.ascontiguousarray(np.asarray(params[k]))
        h.update(f"{k}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _canonical_text(qc: Any, layout: Sequence[int]) -> str:
    lines = [f"qubits {qc.num_qubits}", "layout " + ",".join(str(int(p)) for p in layout)]
    for inst in qc.data:
        qubits = ",".join(str(qc.find_bit(q).index) for q in inst.qubits)
        ps = ",".join(float(p).hex() for p in inst.operation.params)
        lines.append(f"{inst.operation.name} {qubits} {ps}")
    return "\n".join(lines) + "\n"


def circuit_hash(qc: Any, layout: Sequence[int] | None = None) -> str:
    """sha256 of a canonical text of a bound qiskit circuit and its final layout
    (one line per instruction: name, qubit indices, angles as exact ``float.hex``)."""
    _check_circuit(qc)
    if layout is None:
        layout = range(qc.num_qubits)
    return hashlib.sha256(_canonical_text(qc, layout).encode()).hexdigest()


def logical_counts(counts: Mapping[str, Any], layout: Sequence[int], *, little_endian: bool = False) -> dict[str, Any]:
    """Physical-qubit counts -> logical, big-endian counts (module docstring).

    Values are summed as given (counts, or probabilities for exact checks).

    Args:
        counts: bitstring -> count over all measured physical qubits.
        layout: ``layout[i]`` is the physical qubit holding logical qubit ``i``.
        little_endian: the physical strings are qiskit-style (last character = qubit 0).

    Examples:
        >>> logical_counts({"0010": 3, "0110": 1}, layout=[2, 1])
        {'10': 3, '11': 1}
        >>> logical_counts({"0100": 3}, layout=[2, 1], little_endian=True)
        {'10': 3}
    """
    out: dict[str, Any] = {}
    layout = [check_int(p, "layout entry", 0) for p in layout]
    if not hasattr(counts, "items"):
        raise ValueError(f"counts must be a mapping bitstring -> count, got {type(counts).__name__}")
    for key, c in counts.items():
        key = str(key)
        if not key or set(key) - {"0", "1"}:
            raise ValueError(f"counts key {key!r} is not a bitstring of 0/1 characters")
        if isinstance(c, bool) or not isinstance(c, (int, float, np.integer, np.floating)) or not (
                np.isfinite(c) and c >= 0):
            raise ValueError(f"counts[{key!r}] = {c!r}; counts must be finite numbers >= 0")
        if layout and max(layout) >= len(key):
            raise ValueError(f"counts key {key!r} is shorter than the layout needs (physical qubit {max(layout)})")
        if little_endian:
            key = key[::-1]
        lk = "".join(key[p] for p in layout)
        out[lk] = out.get(lk, 0) + c
    return dict(sorted(out.items()))


@dataclasses.dataclass(frozen=True, eq=False)
class Compiled:
    """A circuit compiled for a device.

    Attributes:
        circuit: the transpiled qiskit circuit (native gates, routed, no measurements).
        num_logical: qubits of the original circuit.
        layout: ``layout[i]``: the physical qubit holding logical qubit ``i`` at the end.
        device: the target :class:`Device`.
        circuit_hash: :func:`circuit_hash` of ``circuit`` and ``layout``.
        params_hash: :func:`params_hash` of the bound parameters, if known.
    """

    circuit: Any
    num_logical: int
    layout: tuple[int, ...]
    device: Device
    circuit_hash: str
    params_hash: str | None = None

    @property
    def num_physical(self) -> int:
        return int(self.circuit.num_qubits)

    def tc_circuit(self) -> Any:
        """The compiled circuit as a ``tc.Circuit`` (what TensorCircuit's providers take).

        Built on the caller's TensorCircuit backend and dtype (:func:`jqgen.qcbm.tc_settings`
        with ``None``: nothing is switched). TensorCircuit's ``from_qiskit`` uses qiskit APIs
        deprecated since qiskit 1.2; those ``DeprecationWarning`` s are silenced here (only here).
        """
        with tc_settings(backend=None, dtype=None) as tc, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return tc.Circuit.from_qiskit(self.circuit)

    def logical_counts(self, counts: Mapping[str, Any], *, little_endian: bool = False) -> dict[str, Any]:
        """Device counts (physical qubits) -> logical big-endian counts."""
        return logical_counts(counts, self.layout, little_endian=little_endian)


def compile_circuit(
    qc: Any,
    device: Device,
    *,
    initial_layout: Sequence[int] | None = None,
    seed: int = 0,
    params_hash: str | None = None,
) -> Compiled:
    """Lowers and routes a bound qiskit circuit for ``device``.

    Args:
        qc: a qiskit ``QuantumCircuit`` without measurements or free parameters.
        device: the target; ``ValueError`` if ``qc`` is wider than it.
        initial_layout: optional physical qubit for each logical qubit (forces a layout;
            otherwise qiskit chooses).
        seed: ``seed_transpiler``.
        params_hash: recorded on the result.
    """
    _check_circuit(qc)
    n = int(qc.num_qubits)
    if n > device.num_qubits:
        raise ValueError(f"circuit has {n} qubits, more than {device.spec} has ({device.num_qubits})")
    initial_layout = _check_layout(initial_layout, n, device)
    if qc.parameters:
        raise ValueError(f"circuit has unbound parameters {sorted(p.name for p in qc.parameters)}")
    out, layout = _transpile(qc, device, initial_layout, seed)
    return Compiled(out, n, layout, device, circuit_hash(out, layout), params_hash)


def _transpile(qc: Any, device: Device, initial_layout: Sequence[int] | None, seed: int) -> tuple[Any, tuple[int, ...]]:
    """``qiskit.transpile`` to the device's native gates and (undirected) coupling map;
    returns the circuit and the final logical -> physical layout."""
    from qiskit import transpile
    from qiskit.transpiler import CouplingMap

    cmap = None
    if device.coupling_map is not None:
        edges = {e for a, b in device.coupling_map for e in ((a, b), (b, a))}
        cmap = CouplingMap(sorted(edges))
        # CouplingMap only knows qubits that appear in an edge; add isolated ones.
        for q in range(device.num_qubits):
            if q not in cmap.physical_qubits:
                cmap.add_physical_qubit(q)
    out = transpile(
        qc,
        basis_gates=list(device.native_gates),
        coupling_map=cmap,
        initial_layout=None if initial_layout is None else [int(p) for p in initial_layout],
        optimization_level=1,
        seed_transpiler=seed,
    )
    if out.layout is None:
        return out, tuple(range(int(qc.num_qubits)))
    return out, tuple(int(p) for p in out.layout.final_index_layout(filter_ancillas=True))


def compile_qcbm(
    model: Any,
    params: Mapping[str, Any],
    device: Device,
    *,
    initial_layout: Sequence[int] | None = None,
    seed: int = 0,
) -> Compiled:
    """Binds ``params`` into the QCBM's (or ansatz's) circuit and compiles it for ``device``.

    Raises:
        ValueError: ``params`` of the wrong keys, shapes or dtype, or NaN/inf angles.
    """
    ansatz = _ansatz_of(model)
    ansatz.check_params(dict(params))
    check_finite(dict(params), "params")
    initial_layout = _check_layout(initial_layout, int(ansatz.num_qubits), device)
    qc = to_qiskit(ansatz.num_qubits, ops(ansatz, dict(params)))
    return compile_circuit(qc, device, initial_layout=initial_layout, seed=seed, params_hash=params_hash(params))
