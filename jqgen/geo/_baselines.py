"""Baselines for GEO at equal evaluation budget, behind one interface.

``run_baseline(name, problem, budget, seed=...)`` dispatches by name to

* ``"sa-swap"`` (:func:`swap_annealing`): swap-move simulated annealing in JAX, every
  state valid, chains ``vmap``-ed (:mod:`jqgen.geo._anneal`);
* ``"sa-dwave"`` (:func:`dwave_annealing`): dwave-samplers' single-flip simulated annealing
  of the quadratic cost plus a cardinality penalty ``P (sum x - k)^2`` (optional
  dependency ``dwave-samplers``);
* ``"random"`` (:func:`random_search`): uniform random valid strings, in batches;
* ``"exact"`` (:func:`exact_optimum`): exhaustive enumeration when it is small enough,
  else a MIQP by SCIP (optional dependency ``pyscipopt``). Exact is the reference, not an
  equal-budget run.

Every one returns a :class:`BaselineResult`: what was evaluated, in evaluation order, with
its costs on the problem's true cost. **Every evaluation counts, duplicates included**: a
string evaluated twice is two evaluations. :meth:`BaselineResult.seed_set` gives the
distinct valid evaluated strings, the seed set of GEO's booster mode.

Examples:
    >>> import numpy as np
    >>> from jqgen.geo import BinaryPortfolio, run_baseline
    >>> p = BinaryPortfolio(mu=np.linspace(0.1, 0.6, 6), cov=np.eye(6) * 0.01, k=2)
    >>> r = run_baseline("random", p, 40, seed=0)
    >>> r.evaluations, r.bits.shape, bool(np.all(r.bits.sum(1) == 2))
    (40, (40, 6), True)
    >>> e = run_baseline("exact", p, None, seed=0)
    >>> e.best_bits.tolist(), e.info["optimal"], bool(r.best_cost >= e.best_cost)
    ([0, 0, 0, 0, 1, 1], True, True)
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Any, Callable

import jax
import numpy as np

from ..qcbm import subspace_bits
from ._anneal import anneal_swaps, check_swap_problem, swap_temperatures
from ._problem import BinaryPortfolio

__all__ = ["BASELINES", "BaselineResult", "cardinality_penalty", "dwave_annealing", "exact_optimum",
           "random_search", "run_baseline", "swap_annealing"]


@dataclasses.dataclass(frozen=True, eq=False)
class BaselineResult:
    """What a baseline evaluated, in evaluation order.

    Attributes:
        name: the baseline (``"sa-swap"``, ``"sa-dwave"``, ``"random"``, ``"exact"``).
        bits: uint8 ``[E, n]``, every evaluated string in evaluation order (duplicates kept).
        costs: float64 ``[E]``, their costs (``+inf`` for invalid strings).
        best_bits: uint8 ``[n]``, the lowest-cost string.
        best_cost: its cost.
        best_so_far: float64 ``[E]``, the running minimum of ``costs``.
        evaluations: evaluations spent, ``E <= budget``; for ``"exact"`` the rows hold only
            the optimum and ``evaluations`` counts every enumerated string (0 for a MIQP).
        seconds: wall time of the run, compilation included.
        info: what the method reports (temperatures, penalty, valid fraction, solver status).
    """

    name: str
    bits: np.ndarray
    costs: np.ndarray
    best_bits: np.ndarray
    best_cost: float
    best_so_far: np.ndarray
    evaluations: int
    seconds: float
    info: dict[str, Any] = dataclasses.field(default_factory=dict)

    def seed_set(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct evaluated strings with finite cost, first occurrence order:
        ``(bits uint8 [U, n], costs float64 [U])``, a GEO seed set (booster mode)."""
        keep = np.isfinite(self.costs)
        bits, costs = self.bits[keep], self.costs[keep]
        _, first = np.unique(bits, axis=0, return_index=True)
        first = np.sort(first)
        return bits[first], costs[first]


def _result(name: str, bits: np.ndarray, costs: np.ndarray, start: float, evaluations: int | None = None,
            **info: Any) -> BaselineResult:
    bits, costs = np.ascontiguousarray(bits, np.uint8), np.asarray(costs, np.float64)
    best = int(np.argmin(costs))
    return BaselineResult(name=name, bits=bits, costs=costs, best_bits=bits[best].copy(),
                          best_cost=float(costs[best]), best_so_far=np.minimum.accumulate(costs),
                          evaluations=int(costs.shape[0] if evaluations is None else evaluations),
                          seconds=time.perf_counter() - start, info=info)


def _check_common(problem: Any, budget: Any, seed: Any, minimum: int = 1) -> None:
    for attr in ("num_bits", "k", "cost", "valid"):
        if not hasattr(problem, attr):
            raise ValueError(f"problem must be a jqgen.geo.Problem (no {attr!r}), got {type(problem).__name__}")
    if not (isinstance(budget, (int, np.integer)) and budget >= minimum):
        raise ValueError(f"budget must be an int >= {minimum}, got {budget!r}")
    if not (isinstance(seed, (int, np.integer)) and 0 <= seed < 2**32):
        raise ValueError(f"seed must be an int in [0, 2**32), got {seed!r}")


def _random_valid(rng: np.random.Generator, count: int, n: int, k: int | None) -> np.ndarray:
    """``count`` uniform random strings with exactly ``k`` ones (any strings if ``k`` is None)."""
    if k is None:
        return rng.integers(0, 2, (count, n), dtype=np.uint8)
    bits = np.zeros((count, n), np.uint8)
    np.put_along_axis(bits, np.argsort(rng.random((count, n)), axis=1)[:, :k], 1, axis=1)
    return bits


def random_search(problem: Any, budget: int, *, seed: int, batch_size: int = 4096) -> BaselineResult:
    """Uniform random valid strings (k-subsets; any strings when ``problem.k`` is None),
    evaluated in batches of ``batch_size``: exactly ``budget`` evaluations, duplicates counted.

    Examples:
        >>> import numpy as np
        >>> from jqgen.geo import BinaryPortfolio, random_search
        >>> p = BinaryPortfolio(mu=np.linspace(0.1, 0.5, 5), cov=np.eye(5) * 0.01, k=2)
        >>> random_search(p, 10, seed=1, batch_size=4).costs.shape
        (10,)
    """
    start = time.perf_counter()
    _check_common(problem, budget, seed)
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    rng = np.random.default_rng(seed)
    bits, costs = [], []
    for done in range(0, budget, batch_size):
        b = _random_valid(rng, min(batch_size, budget - done), problem.num_bits, problem.k)
        bits.append(b)
        costs.append(np.asarray(problem.cost(b), np.float64))
    return _result("random", np.concatenate(bits), np.concatenate(costs), start, batch_size=int(batch_size))


def swap_annealing(problem: Any, budget: int, *, seed: int, chains: int = 64, calibration: int = 64,
                   accept_initial: float = 0.8, accept_final: float = 1e-3, t_initial: float | None = None,
                   t_final: float | None = None) -> BaselineResult:
    """Swap-move simulated annealing (:mod:`jqgen.geo._anneal`), every state valid.

    Budget accounting, all in ``bits``/``costs`` in this order: ``m = max(calibration,
    chains)`` random valid strings and one random swap neighbour of each (``2 m``
    evaluations: their cost changes set the temperatures by :func:`swap_temperatures`
    unless ``t_initial``/``t_final`` are given; the first ``chains`` strings start the
    chains), then ``steps = (budget - 2 m) // chains`` proposals per chain, step-major:
    **every proposed move's cost is one evaluation**, accepted or not.

    Args:
        problem: a :class:`BinaryPortfolio` (incremental O(n) cost per swap) or a
            ``CostFunction(jittable=True)`` with a cardinality ``0 < k < n``.
        budget: evaluations, at least ``2 m + chains``.
        seed: seeds the starts and the anneal.
        chains: independent chains (``vmap``-ed).
        calibration: random swaps that calibrate the temperatures.
        accept_initial: acceptance of the median uphill swap at the start.
        accept_final: the same at the end.
        t_initial: overrides the calibrated initial temperature.
        t_final: overrides the calibrated final temperature.

    Examples:
        >>> import numpy as np
        >>> from jqgen.geo import BinaryPortfolio, swap_annealing
        >>> p = BinaryPortfolio(mu=np.linspace(0.1, 0.6, 6), cov=np.eye(6) * 0.01, k=2)
        >>> r = swap_annealing(p, 200, seed=0, chains=4, calibration=8)
        >>> r.evaluations, r.info["steps"], r.best_bits.tolist()
        (200, 46, [0, 0, 0, 0, 1, 1])
    """
    start = time.perf_counter()
    _check_common(problem, budget, seed)
    k, n = check_swap_problem(problem), problem.num_bits
    for label, v in (("chains", chains), ("calibration", calibration)):
        if not (isinstance(v, (int, np.integer)) and v >= 1):
            raise ValueError(f"{label} must be an int >= 1, got {v!r}")
    if not (0.0 < accept_final < accept_initial < 1.0):
        raise ValueError(f"accept_initial and accept_final must satisfy 0 < accept_final < accept_initial < 1, got "
                         f"accept_initial={accept_initial!r}, accept_final={accept_final!r}")
    for label, t in (("t_initial", t_initial), ("t_final", t_final)):
        if t is not None and not (np.isfinite(t) and t > 0):
            raise ValueError(f"{label} must be None or a finite number > 0, got {t!r}")
    m = max(int(calibration), int(chains))
    steps = (budget - 2 * m) // chains
    if steps < 1:
        raise ValueError(f"budget={budget} is too small for sa-swap with chains={chains} and calibration={m}: "
                         f"it needs at least 2 * {m} + {chains} = {2 * m + chains} evaluations")
    rng = np.random.default_rng(seed)
    x = _random_valid(rng, m, n, k)
    rows = np.arange(m)
    order = np.argsort(1 - x.astype(np.int64), axis=1, kind="stable")  # held positions first
    held, free = order[:, :k], order[:, k:]
    y = x.copy()
    y[rows, held[rows, rng.integers(0, k, m)]] = 0
    y[rows, free[rows, rng.integers(0, n - k, m)]] = 1
    cx, cy = np.asarray(problem.cost(x), np.float64), np.asarray(problem.cost(y), np.float64)
    t0, t1 = swap_temperatures(cy - cx, accept_initial, accept_final)
    t0 = t0 if t_initial is None else float(t_initial)
    t1 = t1 if t_final is None else float(t_final)
    bits, costs, accepted = anneal_swaps(problem, x[:chains], int(steps), t_initial=t0, t_final=t1,
                                         seed=int(rng.integers(0, 2**31)))
    return _result("sa-swap", np.concatenate([x, y, bits.reshape(-1, n)]),
                   np.concatenate([cx, cy, costs.reshape(-1)]), start, chains=int(chains), steps=int(steps),
                   calibration=m, t_initial=t0, t_final=t1, acceptance_rate=float(accepted.mean()))


def cardinality_penalty(problem: BinaryPortfolio) -> float:
    """The penalty ``P`` that makes the constrained optimum the ground state of
    ``cost(x) + P (sum x - k)^2`` over all of ``{0,1}^n``.

    Rule: ``P = 1.1 max_i B_i`` with ``B_i = q/k^2 (|S_ii| + 2 sum_{j != i} |S_ij|) + |mu_i|/k``,
    a bound on the change of the cost by one flip of bit ``i`` from any string. A string
    with ``sum x = k + d`` is ``|d|`` flips from a valid ``y``, so ``cost(x) >= cost(y) -
    |d| max B``, and its penalized cost exceeds the optimum by at least
    ``|d| (P |d| - max B) > 0``.

    Examples:
        >>> import numpy as np
        >>> from jqgen.geo import BinaryPortfolio, cardinality_penalty
        >>> p = BinaryPortfolio(mu=np.array([0.1, 0.2]), cov=np.array([[1.0, 0.5], [0.5, 1.0]]), k=1)
        >>> round(cardinality_penalty(p), 4)
        2.42
    """
    if not isinstance(problem, BinaryPortfolio):
        raise ValueError(f"problem must be a BinaryPortfolio, got {type(problem).__name__}")
    s, k = np.abs(problem.cov), problem.k
    bound = problem.q / k**2 * (2.0 * s.sum(axis=1) - np.diag(s)) + np.abs(problem.mu) / k
    return float(1.1 * bound.max())


def _portfolio_bqm(problem: BinaryPortfolio, penalty: float) -> Any:
    import dimod  # optional: dwave-samplers depends on it

    n, k, c2 = problem.num_bits, problem.k, problem.q / problem.k**2
    linear = c2 * np.diag(problem.cov) - problem.mu / k + penalty * (1.0 - 2.0 * k)
    row, col = np.triu_indices(n, 1)
    quadratic = 2.0 * c2 * problem.cov[row, col] + 2.0 * penalty
    return dimod.BQM.from_numpy_vectors(linear, (row, col, quadratic), penalty * k * k, dimod.BINARY)


def dwave_annealing(problem: BinaryPortfolio, budget: int, *, seed: int, num_sweeps: int = 1000,
                    penalty: float | None = None) -> BaselineResult:
    """dwave-samplers' simulated annealing of ``cost(x) + P (sum x - k)^2`` as a BQM.

    Accounting: ``budget`` reads, each returned sample is evaluated on the true cost and
    counts as one evaluation (``+inf`` when invalid). The sampler's own work, ``budget x
    num_sweeps x n`` single-flip updates of the penalized energy, is not counted;
    ``info["valid_fraction"]`` is the fraction of returned samples with ``sum x = k``.

    Args:
        problem: a :class:`BinaryPortfolio`.
        budget: reads (= evaluations).
        seed: the sampler's seed.
        num_sweeps: sweeps per read (the sampler's default schedule is geometric in beta).
        penalty: ``P``; default :func:`cardinality_penalty`.

    Raises:
        ImportError: dwave-samplers is not installed (``pip install dwave-samplers``).
    """
    start = time.perf_counter()
    _check_common(problem, budget, seed)
    if not (isinstance(num_sweeps, (int, np.integer)) and num_sweeps >= 1):
        raise ValueError(f"num_sweeps must be an int >= 1, got {num_sweeps!r}")
    p = cardinality_penalty(problem) if penalty is None else float(penalty)
    if not (np.isfinite(p) and p > 0):
        raise ValueError(f"penalty must be a finite number > 0, got {penalty!r}")
    try:
        from dwave.samplers import SimulatedAnnealingSampler
    except ImportError as err:
        raise ImportError("sa-dwave needs the optional package dwave-samplers: pip install dwave-samplers") from err
    samples = SimulatedAnnealingSampler().sample(_portfolio_bqm(problem, p), num_reads=int(budget),
                                                 num_sweeps=int(num_sweeps), seed=int(seed))
    bits = np.zeros((len(samples), problem.num_bits), np.uint8)
    bits[:, np.asarray(list(samples.variables), np.int64)] = samples.record.sample
    bits = np.repeat(bits, samples.record.num_occurrences, axis=0)  # one row per read
    costs = np.asarray(problem.cost(bits), np.float64)
    return _result("sa-dwave", bits, costs, start, penalty=p, num_sweeps=int(num_sweeps),
                   valid_fraction=float(np.isfinite(costs).mean()))


@functools.lru_cache(maxsize=64)
def _enumerator(n: int, k: int) -> Callable[[Any], jax.Array]:
    return jax.jit(lambda index: subspace_bits(index, n, k))


def _enumerate(problem: Any, batch_size: int) -> tuple[np.ndarray, float, int]:
    n, k = problem.num_bits, problem.k
    total = 2**n if k is None else math.comb(n, k)
    best_bits, best_cost = np.zeros(n, np.uint8), np.inf
    for lo in range(0, total, batch_size):
        index = np.minimum(np.arange(lo, lo + batch_size, dtype=np.int64), total - 1)  # fixed size: compile once
        if k is None:
            bits = ((index[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(np.uint8)
        else:
            bits = np.asarray(_enumerator(n, k)(index.astype(np.int32)))
        costs = np.asarray(problem.cost(bits), np.float64)
        i = int(np.argmin(costs))
        if costs[i] < best_cost:
            best_bits, best_cost = bits[i].copy(), float(costs[i])
    return best_bits, best_cost, total


def _psd_factor(cov: np.ndarray) -> np.ndarray | None:
    """``F`` with ``F F^T = cov`` (Cholesky, or the eigendecomposition of a singular PSD
    ``cov``), or None for an indefinite ``cov``. SCIP solves the risk as ``|F^T x|^2`` over
    continuous ``y = F^T x`` 10-100x faster than as the bilinear ``sum_ij S_ij x_i x_j``
    (Hang Seng, k = 10, q = 500: 0.16 s against 17.7 s, the same optimum)."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        e, v = np.linalg.eigh(cov)
        if e[0] < -1e-12 * max(abs(e[-1]), 1e-300):
            return None
        keep = e > 0
        return v[:, keep] * np.sqrt(e[keep])


def _miqp_scip(problem: BinaryPortfolio, time_limit: float, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    try:
        import pyscipopt
    except ImportError as err:
        raise ImportError("the MIQP needs the optional package pyscipopt (SCIP): pip install pyscipopt") from err
    n, k, c2 = problem.num_bits, problem.k, problem.q / problem.k**2
    model = pyscipopt.Model()
    model.hideOutput()
    model.setParam("limits/time", float(time_limit))
    model.setParam("randomization/randomseedshift", int(seed) % 2**31)
    x = [model.addVar(vtype="B", name=f"x{i}") for i in range(n)]
    risk = model.addVar(lb=None, ub=None, name="risk")
    model.addCons(pyscipopt.quicksum(x) == k)
    factor = _psd_factor(problem.cov)
    if factor is not None:  # risk >= c2 |F^T x|^2, F F^T = Sigma: a convex (second-order cone) constraint
        y = [model.addVar(lb=None, ub=None, name=f"y{a}") for a in range(factor.shape[1])]
        for a, ya in enumerate(y):
            model.addCons(ya == pyscipopt.quicksum(float(factor[i, a]) * x[i] for i in range(n) if factor[i, a] != 0))
        model.addCons(c2 * pyscipopt.quicksum(ya * ya for ya in y) <= risk)
    else:  # an indefinite Sigma: the bilinear form, x_i^2 = x_i
        terms = [c2 * problem.cov[i, i] * x[i] for i in range(n)]
        terms += [2.0 * c2 * problem.cov[i, j] * x[i] * x[j] for i in range(n) for j in range(i + 1, n)]
        model.addCons(pyscipopt.quicksum(terms) <= risk)
    model.setObjective(risk - pyscipopt.quicksum(problem.mu[i] / k * x[i] for i in range(n)), "minimize")
    model.optimize()
    status = str(model.getStatus())
    if model.getNSols() == 0:
        raise RuntimeError(f"SCIP found no feasible portfolio (status {status!r}, time_limit={time_limit})")
    sol = model.getBestSol()
    bits = np.array([round(model.getSolVal(sol, v)) for v in x], np.uint8)
    return bits, {"status": status, "optimal": status == "optimal", "bound": float(model.getDualbound()),
                  "gap": float(model.getGap())}


def exact_optimum(problem: Any, budget: int | None = None, *, seed: int = 0, method: str = "auto",
                  max_enumeration: int = 2_000_000, batch_size: int = 65536,
                  time_limit: float = 60.0) -> BaselineResult:
    """The optimum: exhaustive enumeration (any problem with ``C(n, k) <= max_enumeration``,
    or ``2^n`` strings when ``k`` is None; batched, the strings unranked by a jitted
    :func:`jqgen.qcbm.subspace_bits`) or a MIQP by SCIP (a :class:`BinaryPortfolio`).

    ``info["optimal"]`` is False when SCIP stopped at ``time_limit``: ``best_cost`` is then
    the best portfolio found (an upper bound) and ``info["bound"]`` SCIP's lower bound.

    Args:
        problem: the problem.
        budget: ignored (exact is the reference, not an equal-budget run); may be None.
        seed: SCIP's random seed shift.
        method: ``"auto"`` (enumeration when small enough, else MIQP), ``"enumerate"`` or
            ``"miqp"``.
        max_enumeration: the most strings ``"auto"`` enumerates.
        batch_size: strings per batch of the enumeration.
        time_limit: SCIP's limit in seconds.

    Raises:
        ImportError: the MIQP is needed and pyscipopt is not installed.
    """
    start = time.perf_counter()
    _check_common(problem, 1, seed)
    if method not in ("auto", "enumerate", "miqp"):
        raise ValueError(f"method must be 'auto', 'enumerate' or 'miqp', got {method!r}")
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    n, k = problem.num_bits, problem.k
    total = 2**n if k is None else math.comb(n, k)
    if method == "enumerate" and total >= 2**31:
        raise ValueError(f"method='enumerate' handles fewer than 2**31 strings, got {total}")
    if method == "enumerate" or (method == "auto" and total <= max_enumeration):
        best_bits, best_cost, count = _enumerate(problem, int(batch_size))
        return _result("exact", best_bits[None], np.array([best_cost]), start, evaluations=count,
                       method="enumerate", optimal=True, bound=best_cost)
    if not isinstance(problem, BinaryPortfolio):
        raise ValueError(f"{total} strings exceed max_enumeration={max_enumeration} and the MIQP needs a "
                         f"BinaryPortfolio, got {type(problem).__name__}")
    if not (np.isfinite(time_limit) and time_limit > 0):
        raise ValueError(f"time_limit must be a finite number > 0, got {time_limit!r}")
    bits, info = _miqp_scip(problem, float(time_limit), int(seed))
    return _result("exact", bits[None], np.asarray(problem.cost(bits[None]), np.float64), start,
                   evaluations=0, method="miqp-scip", **info)


_DISPATCH: dict[str, Callable[..., BaselineResult]] = {
    "sa-swap": swap_annealing, "sa-dwave": dwave_annealing, "random": random_search, "exact": exact_optimum}
#: The names :func:`run_baseline` knows.
BASELINES: tuple[str, ...] = tuple(_DISPATCH)


def run_baseline(name: str, problem: Any, budget: int | None, *, seed: int, **options: Any) -> BaselineResult:
    """Runs the baseline ``name`` (one of :data:`BASELINES`) with ``options`` passed on to
    :func:`swap_annealing`, :func:`dwave_annealing`, :func:`random_search` or
    :func:`exact_optimum` (see the module docstring)."""
    if name not in _DISPATCH:
        raise ValueError(f"name must be one of {list(BASELINES)}, got {name!r}")
    return _DISPATCH[name](problem, budget, seed=seed, **options)
