"""Generator-Enhanced Optimization (Alcazar, Ghazi Vakili, Kalayci, Perdomo-Ortiz, Nat. Commun.
15, 2761 (2024)): generative models proposing better solutions to combinatorial problems.

Problems (:class:`Problem`: a cost over bitstrings and which strings are valid),
the portfolio instances of the OR-Library, baselines, the exact constrained frontier of the
binary form (:func:`exact_frontier`) and the GEO loop.
"""

from ._baselines import (BASELINES, BaselineResult, cardinality_penalty, dwave_annealing, exact_optimum,
                         random_search, run_baseline, swap_annealing)
from ._journal import GeoJournal
from ._loop import GeoResult, GeoSettings, geo, post_select, random_valid, softmax_weights
from ._chang import ChangPortfolio
from ._exact_frontier import ExactFrontier, exact_frontier, frontier_q_grid, scip_available
from ._frontier import frontier_errors
from ._portfolio import (INSTANCE_NAMES, PortfolioInstance, load_frontier, load_instance, read_frontier, read_orlib,
                         synthetic_instance)
from ._problem import BinaryPortfolio, CostFunction, Problem
from ._qp import box_budget_qp

__all__ = ["BASELINES", "BaselineResult", "cardinality_penalty", "dwave_annealing", "exact_optimum",
           "random_search", "run_baseline", "swap_annealing",
           "BinaryPortfolio", "CostFunction", "GeoJournal", "GeoResult", "GeoSettings", "Problem", "geo", "post_select",
           "random_valid", "softmax_weights"]
__all__ += ["ExactFrontier", "exact_frontier", "frontier_q_grid", "scip_available"]
__all__ += ["ChangPortfolio", "INSTANCE_NAMES", "PortfolioInstance", "box_budget_qp", "frontier_errors",
            "load_frontier", "load_instance", "read_frontier", "read_orlib", "synthetic_instance"]
