"""Quantum circuit Born machines on TensorCircuit's JAX backend.

Ansätze (:class:`HardwareEfficient`, :class:`LiuWang`, :class:`SU4Brickwork`) are static
descriptions; :class:`QCBM` implements the :class:`jqgen.GenerativeModel` protocol with exact
and shot-based execution; :func:`make_loss` gives exact or shot-based MMD/KL/NLL objectives
(:mod:`jqgen.distributions`) for :func:`jqgen.fit` (autodiff or parameter-shift);
:func:`jqgen.cmaes_fit` trains gradient-free.
:func:`ansatz_by_name` builds an ansatz from one of :data:`ANSATZ_NAMES` (the CLI's ``--ansatz``).
:class:`ConservingQCBM` with the :class:`Givens` ansatz conserves the Hamming weight and is
simulated in the ``C(n, k)`` subspace only (:func:`subspace_index`, :func:`subspace_bits`).
"""

from ._ansatz import ANSATZE, HardwareEfficient, LiuWang, Op, SU4Brickwork, ansatz_from_config, ops
from ._conserving import ConservingQCBM, subspace_bytes
from ._gates import rx, rxx, ry, ryy, rz, rzz, su4
from ._givens import Givens, full_support_layers
from ._names import ANSATZ_NAMES, ansatz_by_name
from ._model import QCBM, available_memory, statevector_bytes
from ._objective import make_loss, parameter_shift_grad
from ._sharded import devices_needed, sharded_probs, sharded_state
from ._subspace import subspace_bits, subspace_index, subspace_size
from ._tc import circuit_from_ops, tc_circuit, tc_settings, tc_state
from ._tree import chow_liu_tree, mutual_information

__all__ = [
    "ANSATZE",
    "ANSATZ_NAMES",
    "ConservingQCBM",
    "Givens",
    "HardwareEfficient",
    "LiuWang",
    "Op",
    "QCBM",
    "SU4Brickwork",
    "ansatz_by_name",
    "ansatz_from_config",
    "available_memory",
    "chow_liu_tree",
    "circuit_from_ops",
    "devices_needed",
    "full_support_layers",
    "make_loss",
    "mutual_information",
    "ops",
    "parameter_shift_grad",
    "rx",
    "rxx",
    "ry",
    "ryy",
    "rz",
    "rzz",
    "sharded_probs",
    "sharded_state",
    "statevector_bytes",
    "su4",
    "subspace_bits",
    "subspace_bytes",
    "subspace_index",
    "subspace_size",
    "tc_circuit",
    "tc_settings",
    "tc_state",
]
