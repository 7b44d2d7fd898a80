"""Training: one runner for every trainer, and the strategies it runs.

A trainer is a :class:`Strategy` -- pure ``init``/``step`` functions in the style of an
Optax transformation (or a ``host_step`` for work run from Python: device batches,
two-site sweeps) -- and :func:`run` owns what is common: compiled chunks, the progress bar,
the per-step history, the NaN/inf policy, one callback signature, checkpoints and resume to
the bit-identical result, and one result type, :class:`TrainResult`.

Strategies: :func:`gradient` (any Optax optimizer; :func:`fit`), :func:`cmaes` (evosax;
:func:`cmaes_fit`), :func:`sweep` (two-site sweeps of MPS Born machines;
:func:`sweep_train`); :func:`stacked` runs many runs of a compiled strategy as one
(vmapped, shardable over a mesh: :class:`ModelBatch`); the device trainers of :mod:`jqgen.hardware` build host strategies.
"""

from ._batch import ModelBatch, StackState, stacked
from ._cmaes import CMAES, cmaes, cmaes_fit, default_population
from ._gradient import LossFn, describe_settings, fit, gradient
from ._runner import Callback, run
from ._state import stored_state
from ._strategy import NonFiniteLossError, Strategy, TrainResult
from ._sweep import SweepResult, sweep, sweep_train

__all__ = [
    "CMAES",
    "Callback",
    "LossFn",
    "ModelBatch",
    "NonFiniteLossError",
    "Strategy",
    "StackState",
    "SweepResult",
    "TrainResult",
    "cmaes",
    "cmaes_fit",
    "default_population",
    "describe_settings",
    "fit",
    "gradient",
    "run",
    "stacked",
    "stored_state",
    "sweep",
    "sweep_train",
]
