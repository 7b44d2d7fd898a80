"""jqgen: quantum and quantum-inspired generative modeling in JAX."""

from ._checks import checked
from .checkpoint import Checkpoint, checkpoint_info, load_checkpoint, save_checkpoint
from .bits import all_bitstrings, bits_to_index, index_to_bits
from .mps import MPSBornMachine
from . import distributions, hardware, metrics, mps, qcbm, spaces, synergy, synthetic
from .data import Dataset, load_dataset
from .evaluation import batched_log_prob, evaluate, format_report, mean_nll
from .distributions import total_variation
from .metrics import generalization_metrics, pack_bits, precision_recall, quality_metrics
from .spaces import BarsAndStripesSpace, Cardinality, Enumerated, QuadraticCost, random_quadratic_cost
from .synthetic import cardinality_cost_dataset, cardinality_dataset, gaussian_mixture, gaussian_mixture_dataset
from .protocol import GenerativeModel
from .qcbm import QCBM, ConservingQCBM
from . import training
from .training import LossFn, NonFiniteLossError, SweepResult, TrainResult, cmaes_fit, fit, sweep_train
from ._version import __version__

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
    "distributions",
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
    "GenerativeModel",
    "LossFn",
    "QCBM",
    "ConservingQCBM",
    "qcbm",
    "NonFiniteLossError",
    "TrainResult",
    "training",
    "cmaes_fit",
    "fit",
    "mean_nll",
    "MPSBornMachine",
    "all_bitstrings",
    "bits_to_index",
    "checked",
    "index_to_bits",
    "mps",
    "SweepResult",
    "sweep_train",
]
