"""The one place where jqgen touches TensorCircuit's global settings.

TensorCircuit keeps its backend (``tc.set_backend``) and its complex dtype
(``tc.set_dtype``, which every gate and input is cast to) in module-level globals, and
``tc.set_dtype`` -- which importing TensorCircuit calls -- also sets JAX's process-wide
``jax_enable_x64``. jqgen never leaves any of them changed: every use of TensorCircuit in
jqgen runs inside :func:`tc_settings`, which selects a backend and dtype for the duration of
a ``with`` block and restores the caller's backend, dtype and ``jax_enable_x64`` afterwards,
also when the block raises. (:func:`tensorcircuit` only imports the module, keeping
``jax_enable_x64``.) The settings are process-wide while a block runs: TensorCircuit code in
other threads sees them too.

Uses in this module, on the JAX backend with the complex dtype following the parameters
(complex64 for float32 angles, complex128 for float64):

* :func:`tc_circuit`: a concrete ``tc.Circuit`` of standard gates (``rx``, ``rz``, ``rxx``,
  ``cnot``, ...) for export, hardware submission and cross-checks;
* :func:`tc_state`: the ``engine="tensorcircuit"`` executor: the first layer as a
  ``tc.Circuit``, then ``lax.scan`` over blocks, each block a ``tc.Circuit(n, inputs=psi)``
  of the block's gates.

:mod:`jqgen.hardware` uses :func:`tc_settings` with the caller's backend and dtype
(``backend=None, dtype=None``) or the numpy backend (local simulation).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
from typing import Any, Iterator, Sequence

import jax
import jax.numpy as jnp
from jax import lax

from .._checks import check_finite, check_int, is_concrete
from ._ansatz import Op, ops
from ._gates import complex_dtype

__all__ = ["circuit_from_ops", "tc_circuit", "tc_settings", "tc_state", "tensorcircuit"]

_DTYPES = ("complex64", "complex128")


def _global_x64() -> bool:
    """The process-wide ``jax_enable_x64``, not the value of an enclosing ``jax.enable_x64``
    context: JAX's configuration contexts are thread-local, so a new thread reads the global
    value (``tc.set_dtype`` overwrites the global value; it is restored from this)."""
    out: list[bool] = []
    reader = threading.Thread(target=lambda: out.append(bool(jax.config.jax_enable_x64)))
    reader.start()
    reader.join()
    return out[0]


def tensorcircuit() -> Any:
    """The ``tensorcircuit`` module, imported with the process-wide ``jax_enable_x64`` kept.

    Importing TensorCircuit calls ``tc.set_dtype("complex64")``, which switches
    ``jax_enable_x64`` off; the caller's value is restored right after the import. No other
    setting is touched: run TensorCircuit code inside :func:`tc_settings`.
    """
    tc = sys.modules.get("tensorcircuit")
    if tc is not None and hasattr(tc, "set_dtype"):
        return tc
    x64 = _global_x64()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import tensorcircuit as tc
    finally:
        jax.config.update("jax_enable_x64", x64)
    return tc


@contextlib.contextmanager
def tc_settings(backend: str | None = "jax", dtype: str | None = "complex64") -> Iterator[Any]:
    """TensorCircuit with ``backend`` and ``dtype`` selected for the duration of a ``with`` block.

    On exit -- also when the block raises -- TensorCircuit's backend and dtype are the
    caller's again, and so is JAX's process-wide ``jax_enable_x64`` (which ``tc.set_dtype``
    changes; it keeps the caller's value inside the block too). Blocks nest.

    Args:
        backend: a TensorCircuit backend name (``"jax"``, ``"numpy"``, ...), or ``None`` to
            keep the caller's.
        dtype: ``"complex64"`` or ``"complex128"`` (gate and state dtype), or ``None`` to
            keep the caller's.

    Yields:
        the ``tensorcircuit`` module.

    Raises:
        ValueError: an unknown ``dtype`` or ``backend`` (nothing is changed then).

    Examples:
        >>> import numpy as np
        >>> from jqgen.qcbm import tc_settings
        >>> with tc_settings(backend="numpy", dtype="complex128") as tc:
        ...     c = tc.Circuit(1)
        ...     c.h(0)
        ...     np.round(np.abs(np.asarray(c.state())) ** 2, 6).tolist(), str(np.asarray(c.state()).dtype)
        ([0.5, 0.5], 'complex128')
    """
    if dtype is not None and dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {_DTYPES} or None, got {dtype!r}")
    x64 = _global_x64()
    tc = tensorcircuit()
    old_backend, old_dtype = tc.backend.name, tc.dtypestr
    try:
        if backend is not None and backend != old_backend:
            tc.set_backend(backend)
        if dtype is not None and dtype != old_dtype:
            tc.set_dtype(dtype)
            jax.config.update("jax_enable_x64", x64)
        yield tc
    finally:
        if tc.backend.name != old_backend:
            tc.set_backend(old_backend)
        if tc.dtypestr != old_dtype:
            tc.set_dtype(old_dtype)
        jax.config.update("jax_enable_x64", x64)


_TC_GATES = frozenset({"rx", "ry", "rz", "rxx", "ryy", "rzz", "cnot", "cx", "cz", "h", "x", "y", "z", "s", "t", "swap",
                       "any", "unitary"})


def _apply(c: Any, op: Op) -> None:
    gate = getattr(c, op.name)
    if op.angle is None:
        gate(*op.qubits)
    else:
        gate(*op.qubits, theta=op.angle)


def _tc_dtype(real: Any) -> str:
    """TensorCircuit's dtype name for angles of the real dtype ``real``."""
    return jnp.dtype(complex_dtype(real)).name


def _zero_state(n: int, dtype: Any) -> jax.Array:
    return jnp.zeros((2**n,), complex_dtype(dtype)).at[0].set(1)


def tc_circuit(ansatz: Any, params: dict[str, jax.Array]) -> Any:
    """The circuit as a ``tc.Circuit`` of TensorCircuit's named gates, all blocks unrolled
    (for export, e.g. ``c.to_qiskit()``, and hardware; gate matrices in TensorCircuit's dtype).

    Examples:
        >>> import jax, jqgen
        >>> a = jqgen.qcbm.HardwareEfficient(num_qubits=3, layers=1)
        >>> c = jqgen.qcbm.tc_circuit(a, a.init(jax.random.key(0)))
        >>> c.gate_count()  # 3 x (RX, RZ), 2 RXX, 3 x (RX, RZ)
        14
    """
    if not callable(getattr(ansatz, "check_params", None)):
        raise ValueError(f"ansatz must be one of jqgen.qcbm's ansatz classes, got {type(ansatz).__name__}")
    ansatz.check_params(params)
    first = next(iter(params.values()))
    return circuit_from_ops(ansatz.num_qubits, ops(ansatz, params), first.dtype)


def circuit_from_ops(num_qubits: int, gate_ops: Sequence[Op], dtype: Any = jnp.float32) -> Any:
    """A ``tc.Circuit`` on ``|0...0>`` applying ``gate_ops`` (:class:`Op`) in order, with
    gate matrices in the complex dtype matching the real ``dtype``.

    Raises:
        ValueError: ``num_qubits < 1``, an unknown gate, or a qubit outside the register.
    """
    num_qubits = check_int(num_qubits, "num_qubits", 1)
    gate_ops = list(gate_ops)
    for op in gate_ops:
        if getattr(op, "name", None) not in _TC_GATES:
            raise ValueError(f"unknown gate {getattr(op, 'name', op)!r}; known: {sorted(_TC_GATES)}")
        if any(not 0 <= int(q) < num_qubits for q in op.qubits):
            raise ValueError(f"gate {op.name} acts on qubits {op.qubits}, outside 0 .. {num_qubits - 1}")
    with tc_settings("jax", _tc_dtype(dtype)) as tc:
        c = tc.Circuit(num_qubits, inputs=_zero_state(num_qubits, dtype))
        for op in gate_ops:
            _apply(c, op)
    return c


def tc_state(ansatz: Any, params: dict[str, jax.Array]) -> jax.Array:
    """Statevector computed by TensorCircuit, blocks applied with ``lax.scan``."""
    if not callable(getattr(ansatz, "check_params", None)):
        raise ValueError(f"ansatz must be one of jqgen.qcbm's ansatz classes, got {type(ansatz).__name__}")
    ansatz.check_params(params)
    if is_concrete(params):
        check_finite(params, "params")
    n = ansatz.num_qubits
    real = next(iter(params.values())).dtype
    with tc_settings("jax", _tc_dtype(real)) as tc:
        c = tc.Circuit(n, inputs=_zero_state(n, real))
        for op in ansatz.first_ops(params):
            _apply(c, op)
        psi = c.state()

        def block(psi: jax.Array, p: dict[str, jax.Array]) -> tuple[jax.Array, None]:
            c = tc.Circuit(n, inputs=psi)
            for op in ansatz.block_ops(p):
                _apply(c, op)
            return c.state(), None

        psi, _ = lax.scan(block, psi, ansatz.block_params(params))
    return psi
