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
from . import hardware, metrics, qcbm, spaces, synergy, synthetic
from .data import Dataset, load_dataset
from .evaluation import evaluate, format_report
from .metrics import generalization_metrics, pack_bits, precision_recall, quality_metrics, total_variation
from .spaces import BarsAndStripesSpace, Cardinality, Enumerated, QuadraticCost, random_quadratic_cost
from .synthetic import cardinality_cost_dataset, cardinality_dataset, gaussian_mixture, gaussian_mixture_dataset
from .protocol import GenerativeModel
from .qcbm import QCBM
from .sweep import SweepResult, sweep_train
from .train import (FitResult, LossFn, NonFiniteLossError, TrainState, batched_log_prob, fit, make_train_step,
                    mean_nll)

__version__ = "0.1.0"

__all__ = [
    "BarsAndStripesSpace",
    "Cardinality",
    "Dataset",
    "Enumerated",
    "QuadraticCost",
    "batched_log_prob",
    "cardinality_cost_dataset",
    "cardinality_dataset",
    "evaluate",
    "format_report",
    "hardware",
    "gaussian_mixture",
    "gaussian_mixture_dataset",
    "generalization_metrics",
    "load_dataset",
    "metrics",
    "pack_bits",
    "precision_recall",
    "quality_metrics",
    "random_quadratic_cost",
    "spaces",
    "synergy",
    "synthetic",
    "total_variation",
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
