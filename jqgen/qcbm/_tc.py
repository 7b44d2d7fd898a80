"""The one place where jqgen touches TensorCircuit's global state.

TensorCircuit keeps its backend in a module-level global (``tc.set_backend``). jqgen sets
it to ``"jax"`` once, lazily, in :func:`tensorcircuit`, and never touches ``tc.set_dtype``.
Importing TensorCircuit calls ``set_dtype("complex64")``, which also switches JAX's
``jax_enable_x64`` off for the whole process; :func:`tensorcircuit` restores the caller's
setting right after the import. TensorCircuit casts every gate and input to its global ``dtypestr``,
so while a circuit is being built, :func:`_dtype` sets it to follow the parameters
(complex64 for float32 angles, complex128 for float64) and restores it afterwards.

Two uses:

* :func:`tc_circuit`: a concrete ``tc.Circuit`` of standard gates (``rx``, ``rz``, ``rxx``,
  ``cnot``, ...) for export, hardware submission and cross-checks;
* :func:`tc_state`: the ``engine="tensorcircuit"`` executor: the first layer as a
  ``tc.Circuit``, then ``lax.scan`` over blocks, each block a ``tc.Circuit(n, inputs=psi)``
  of the block's gates.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Iterator, Sequence

import jax
import jax.numpy as jnp
from jax import lax

from ._ansatz import Op, ops
from ._gates import complex_dtype

__all__ = ["circuit_from_ops", "tc_circuit", "tc_state", "tensorcircuit"]


def _x64_global() -> bool:
    """The process-wide ``jax_enable_x64`` (not a ``jax.enable_x64`` context's value):
    TensorCircuit's ``set_dtype`` overwrites the global one, which is restored from this."""
    try:
        from jax._src.config import enable_x64

        return bool(enable_x64.get_global())
    except (ImportError, AttributeError):  # pragma: no cover - other JAX versions
        return bool(jax.config.jax_enable_x64)


@functools.lru_cache(maxsize=None)
def tensorcircuit() -> Any:
    """Imports TensorCircuit and selects its JAX backend (once per process)."""
    import warnings

    x64 = _x64_global()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import tensorcircuit as tc

        tc.set_backend("jax")
    finally:
        jax.config.update("jax_enable_x64", x64)  # the import switched it off
    return tc


def _apply(c: Any, op: Op) -> None:
    gate = getattr(c, op.name)
    if op.angle is None:
        gate(*op.qubits)
    else:
        gate(*op.qubits, theta=op.angle)


@contextlib.contextmanager
def _dtype(real: Any) -> Iterator[Any]:
    """TensorCircuit with its gate dtype matching angles of dtype ``real`` (restored after).

    ``tc.set_dtype`` also flips ``jax_enable_x64``; the caller's setting is kept throughout.
    """
    tc = tensorcircuit()
    want = jnp.dtype(complex_dtype(real)).name
    old = tc.dtypestr
    x64 = _x64_global()
    try:
        if want != old:
            tc.set_dtype(want)
            jax.config.update("jax_enable_x64", x64)
        yield tc
    finally:
        if tc.dtypestr != old:
            tc.set_dtype(old)
        jax.config.update("jax_enable_x64", x64)


def _zero_state(n: int, dtype: Any) -> jax.Array:
    return jnp.zeros((2**n,), complex_dtype(dtype)).at[0].set(1)


def tc_circuit(ansatz: Any, params: dict[str, jax.Array]) -> Any:
    """The circuit as a ``tc.Circuit`` of TensorCircuit's named gates, all blocks unrolled
    (for export, e.g. ``c.to_qiskit()``, and hardware; gate matrices in TensorCircuit's dtype).

    Example:
        >>> import jax, jqgen
        >>> a = jqgen.qcbm.HardwareEfficient(num_qubits=3, layers=1)
        >>> c = jqgen.qcbm.tc_circuit(a, a.init(jax.random.key(0)))
        >>> c.gate_count()  # 3 x (RX, RZ), 2 RXX, 3 x (RX, RZ)
        14
    """
    ansatz.check_params(params)
    first = next(iter(params.values()))
    return circuit_from_ops(ansatz.num_qubits, ops(ansatz, params), first.dtype)


def circuit_from_ops(num_qubits: int, gate_ops: Sequence[Op], dtype: Any = jnp.float32) -> Any:
    """A ``tc.Circuit`` on ``|0...0>`` applying ``gate_ops`` (:class:`Op`) in order, with
    gate matrices in the complex dtype matching the real ``dtype``."""
    with _dtype(dtype) as tc:
        c = tc.Circuit(num_qubits, inputs=_zero_state(num_qubits, dtype))
        for op in gate_ops:
            _apply(c, op)
    return c


def tc_state(ansatz: Any, params: dict[str, jax.Array]) -> jax.Array:
    """Statevector computed by TensorCircuit, blocks applied with ``lax.scan``."""
    n = ansatz.num_qubits
    real = next(iter(params.values())).dtype
    with _dtype(real) as tc:
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
