"""Evaluation and printing helpers shared by the ``jqgen train`` commands."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np

from .._version import __version__
from ..data import Dataset

__all__ = [
    "MPSReport",
    "NUM_PLOT_SAMPLES",
    "fraction_in",
    "ideal_label",
    "mps_report",
    "print_nll_lines",
    "samples_title",
    "version",
    "versions",
]

#: Samples drawn for ``samples.png``.
NUM_PLOT_SAMPLES = 32


def version() -> str:
    """``jqgen.__version__``."""
    return __version__


def versions() -> dict[str, str]:
    """The ``jqgen_version`` and ``jax_version`` entries of a summary."""
    return {"jqgen_version": version(), "jax_version": jax.__version__}


def ideal_label(data: np.ndarray, ideal: float) -> str:
    """``ln N = ...`` when the ``N`` samples are distinct, else ``H(data) = ...``."""
    n = data.shape[0]
    distinct = np.unique(data, axis=0).shape[0] == n
    return f"ln {n} = {ideal:.5f}" if distinct else f"H(data) = {ideal:.5f}"


def fraction_in(samples: np.ndarray, data: np.ndarray) -> float:
    """Fraction of the ``samples`` (rows) that occur in ``data``."""
    from ..metrics import pack_bits

    return float(np.isin(pack_bits(np.asarray(samples, np.uint8)), pack_bits(np.asarray(data, np.uint8))).mean())


def samples_title(in_data: float) -> str:
    """Title of ``samples.png``."""
    return f"{NUM_PLOT_SAMPLES} samples ({in_data:.0%} in the training set)"


class MPSReport(NamedTuple):
    """What the MPS commands report of a trained model."""

    train_nll: float
    test_nll: float | None
    samples: np.ndarray
    samples_in_data: float
    entropies: list[float]


def mps_report(model: Any, params: Any, ds: Dataset, key: jax.Array) -> MPSReport:
    """Train/test NLL, :data:`NUM_PLOT_SAMPLES` samples, the fraction of them in the data,
    and the bond entanglement entropies of an MPS Born machine."""
    from ..mps import entanglement_entropies
    from ..evaluation import mean_nll

    train_nll = mean_nll(model, params, ds.data)
    test_nll = mean_nll(model, params, ds.test) if ds.test is not None else None
    samples = np.asarray(jax.jit(model.sample, static_argnums=2)(params, key, NUM_PLOT_SAMPLES))
    if hasattr(model, "schmidt_values"):  # a symmetric MPS: Schmidt values per charge sector
        p = np.asarray(model.schmidt_values(params), np.float64).reshape(model.num_bits - 1, -1) ** 2
        entropies = [float(-np.sum(row[row > 0] * np.log(row[row > 0]))) for row in p]
    else:
        entropies = [float(x) for x in np.asarray(jax.jit(entanglement_entropies)(params), np.float64)]
    return MPSReport(train_nll, test_nll, samples, fraction_in(samples, ds.data), entropies)


def print_nll_lines(report: MPSReport, ds: Dataset) -> None:
    """The ``train NLL`` (with the ideal and the gap) and ``test NLL`` lines."""
    ideal = ds.ideal_nll
    print(f"  train NLL  {report.train_nll:.5f}   ideal {ideal_label(ds.data, ideal)}   "
          f"gap {report.train_nll - ideal:+.1e}")
    if report.test_nll is not None:
        print(f"  test NLL   {report.test_nll:.5f}   ({ds.test.shape[0]} samples)")  # type: ignore[union-attr]
