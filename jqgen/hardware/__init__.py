"""Running QCBM circuits on quantum devices through TensorCircuit's cloud interface.

Foundation layer (see ``docs/hardware.md``): :class:`Device` descriptions
(:meth:`Device.local` for the offline ``local::testing`` provider), compilation to a
device's native gates and coupling map with the logical -> physical layout kept
(:func:`compile_qcbm`), an fsync-ed JSON-lines :class:`Journal`, and :func:`run_batch`,
which submits, journals, polls and retries without ever resubmitting journaled work.
qiskit (``pip install jqgen[hardware]``) is needed for compilation.
"""

from ._compile import Compiled, bind, circuit_hash, compile_circuit, compile_qcbm, logical_counts, params_hash, to_qiskit
from ._device import DEFAULT_NATIVE_GATES, LOCAL_DEFAULT_QUBITS, Device, parse_device
from ._journal import Journal, JournalEntry, request_key
from ._runner import TRANSIENT_ERRORS, TaskLost, redact, run_batch

__all__ = [
    "Compiled",
    "DEFAULT_NATIVE_GATES",
    "Device",
    "Journal",
    "JournalEntry",
    "LOCAL_DEFAULT_QUBITS",
    "TRANSIENT_ERRORS",
    "TaskLost",
    "bind",
    "circuit_hash",
    "compile_circuit",
    "compile_qcbm",
    "logical_counts",
    "params_hash",
    "parse_device",
    "redact",
    "request_key",
    "run_batch",
    "to_qiskit",
]
