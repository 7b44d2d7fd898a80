"""Running QCBM circuits on quantum devices through TensorCircuit's cloud interface.

Foundation layer (see ``docs/hardware.md``): :class:`Device` descriptions
(:meth:`Device.local` for the offline ``local::testing`` provider), compilation to a
device's native gates and coupling map with the logical -> physical layout kept
(:func:`compile_qcbm`), an fsync-ed JSON-lines :class:`Journal`, and :func:`run_batch`,
which submits, journals, polls and retries without ever resubmitting journaled work.
On top: :func:`train_on_device` (shot-based loss and parameter-shift gradient, one journaled
batch per step, resumable), :func:`cmaes_on_device` (one journaled batch per generation), readout mitigation (:func:`calibrate_readout`,
:func:`mitigate_counts`, TensorCircuit's ``ReadoutMit``) and :func:`noisy_readout` (simulated
readout errors for ``local``). qiskit (``pip install jqgen[hardware]``) is needed for compilation.
"""

from ._compile import Compiled, bind, circuit_hash, compile_circuit, compile_qcbm, logical_counts, params_hash, to_qiskit
from ._device import DEFAULT_NATIVE_GATES, LOCAL_DEFAULT_QUBITS, Device, parse_device
from ._mitigation import calibrate_readout, mitigate_counts, noisy_gates, noisy_readout
from ._journal import Journal, JournalEntry, request_key
from ._runner import TRANSIENT_ERRORS, TaskLost, idempotency_tag, redact, run_batch
from ._cmaes_device import cmaes_on_device
from ._train import CircuitTemplate, seeded_submit
from ._device_train import DeviceTrainResult, train_on_device

__all__ = [
    "CircuitTemplate",
    "Compiled",
    "DEFAULT_NATIVE_GATES",
    "Device",
    "DeviceTrainResult",
    "Journal",
    "JournalEntry",
    "LOCAL_DEFAULT_QUBITS",
    "TRANSIENT_ERRORS",
    "TaskLost",
    "bind",
    "calibrate_readout",
    "circuit_hash",
    "cmaes_on_device",
    "compile_circuit",
    "compile_qcbm",
    "idempotency_tag",
    "logical_counts",
    "mitigate_counts",
    "noisy_gates",
    "noisy_readout",
    "params_hash",
    "parse_device",
    "redact",
    "request_key",
    "run_batch",
    "seeded_submit",
    "to_qiskit",
    "train_on_device",
]
