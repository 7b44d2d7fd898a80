"""PNG plots: the figures of the CLI's run folders (loss curve, sample grids, bond entanglement
entropies and dimensions, distributions, stages, GEO curves), of adversarial runs (image
grids, loss and score curves) and of experiments (curves and final metrics of many runs).

The figures are built with matplotlib's object-oriented API (``matplotlib.figure.Figure``
rendered by the Agg canvas), so nothing here selects a backend, touches ``pyplot``'s global
figure list or needs a display. matplotlib is imported only when a function is called.
"""

from ._adversarial import plot_adversarial_curves
from ._experiments import plot_experiment
from ._grids import plot_sample_grid, plot_sample_grids
from ._runs import (
    plot_best_so_far, plot_bond_dims, plot_distribution, plot_entropies, plot_frontier, plot_samples, plot_stages,
    plot_training_curve,
)

__all__ = [
    "plot_adversarial_curves",
    "plot_best_so_far",
    "plot_bond_dims",
    "plot_distribution",
    "plot_entropies",
    "plot_experiment",
    "plot_frontier",
    "plot_sample_grid",
    "plot_sample_grids",
    "plot_samples",
    "plot_stages",
    "plot_training_curve",
]
