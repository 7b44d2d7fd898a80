"""Synergistic pretraining: MPS -> two-qubit-gate circuit -> QCBM (Rudolph et al. 2023)."""

from ._kak import kak_angles, phase_distance, su4_matrix
from ._ran import layers_state, mps_site_list, mps_to_layers
from ._sweep import LayerSweep, SweepDecomposition, layers_fidelity, sweep_decomposition, sweep_layers
from ._pipeline import DECOMPOSITIONS, SynergyResult, circuit_from_mps, pretrain

__all__ = ["DECOMPOSITIONS", "LayerSweep", "SweepDecomposition", "SynergyResult", "circuit_from_mps", "kak_angles",
           "layers_fidelity", "layers_state", "mps_site_list", "mps_to_layers", "phase_distance", "pretrain",
           "su4_matrix", "sweep_decomposition", "sweep_layers"]
