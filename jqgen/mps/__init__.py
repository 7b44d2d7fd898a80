"""Matrix product state Born machines: pure-functional contraction, canonical forms,
exact log-probabilities and perfect sampling on padded static shapes; U(1)-symmetric MPS
(:class:`SymmetricMPSBornMachine`) that generate only strings with ``sum_i a_i x_i = b``."""

from ._born import log_amplitude_sq, log_prob, probs, sample, sample_and_log_prob
from ._canonical import canonicalize, left_canonical, log_norm, norm, normalize, right_canonical
from ._core import MPS, bond_dims, from_dense, from_tensors, product_mps, random_mps, to_dense
from ._entropy import entanglement_entropies, schmidt_values
from ._model import MPSBornMachine
from ._u1_layout import ChargeLayout
from ._u1_model import BlockMPS, SymmetricMPSBornMachine
from ._sweep_config import SweepConfig, SweepState, initial_sweep_state, sweep_loop

__all__ = [
    "BlockMPS",
    "ChargeLayout",
    "MPS",
    "MPSBornMachine",
    "SymmetricMPSBornMachine",
    "SweepConfig",
    "SweepState",
    "bond_dims",
    "canonicalize",
    "entanglement_entropies",
    "from_dense",
    "from_tensors",
    "initial_sweep_state",
    "left_canonical",
    "log_amplitude_sq",
    "log_norm",
    "log_prob",
    "norm",
    "normalize",
    "probs",
    "product_mps",
    "random_mps",
    "right_canonical",
    "sample",
    "sample_and_log_prob",
    "schmidt_values",
    "sweep_loop",
    "to_dense",
]
