"""jqgen: quantum and quantum-inspired generative modeling in JAX."""

from ._checks import checked
from .checkpoint import Checkpoint, checkpoint_info, load_checkpoint, save_checkpoint
from .bits import all_bitstrings, bits_to_index, index_to_bits
from .mps import (
    MPS,
    MPSBornMachine,
    bond_dims,
    canonicalize,
    entanglement_entropies,
    from_dense,
    from_tensors,
    left_canonical,
    log_amplitude_sq,
    log_norm,
    log_prob,
    norm,
    normalize,
    probs,
    product_mps,
    random_mps,
    right_canonical,
    sample,
    sample_and_log_prob,
    schmidt_values,
    to_dense,
)
from . import qcbm
from .protocol import GenerativeModel
from .qcbm import QCBM
from .sweep import SweepResult, sweep_train
from .train import FitResult, LossFn, NonFiniteLossError, TrainState, fit, make_train_step, mean_nll

__version__ = "0.1.0"

__all__ = [
    "Checkpoint",
    "checkpoint_info",
    "load_checkpoint",
    "save_checkpoint",
    "FitResult",
    "GenerativeModel",
    "LossFn",
    "QCBM",
    "qcbm",
    "NonFiniteLossError",
    "TrainState",
    "fit",
    "make_train_step",
    "mean_nll",
    "MPS",
    "MPSBornMachine",
    "all_bitstrings",
    "bits_to_index",
    "bond_dims",
    "canonicalize",
    "checked",
    "entanglement_entropies",
    "from_dense",
    "from_tensors",
    "index_to_bits",
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
    "SweepResult",
    "sweep_train",
    "schmidt_values",
    "to_dense",
]
