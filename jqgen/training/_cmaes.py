"""Gradient-free training with CMA-ES (evosax): the :func:`cmaes` strategy and :func:`cmaes_fit`.

The papers (Benedetti et al., Gili et al.) train QCBMs with CMA-ES. Each generation asks
evosax's ``CMA_ES`` for a population of flattened parameter vectors, evaluates every
candidate's loss in one batched program (exact probabilities, or a histogram of ``shots``
per candidate as on hardware) and tells the fitnesses back. Generation ``g`` uses
``fold_in(key, g)``; the runner scans generations in compiled chunks, so a resumed run
continues to the identical result. The runner's parameters are the best candidate so
far; the search distribution's mean is ``unravel(result.state.mean)``.

evosax is imported only when CMA-ES is used (``pip install jqgen[cma]``).
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

import numpy as np

from .._checks import check_bits, check_finite, check_int
from ..distributions import DEFAULT_SIGMAS, distribution_loss, empirical_distribution, sample_counts
from ._runner import Callback, run
from ._strategy import Strategy, TrainResult

__all__ = ["CMAES", "cmaes", "cmaes_fit", "default_population"]


def _evosax_cma() -> Any:
    try:
        from evosax.algorithms import CMA_ES
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("CMA-ES needs evosax: pip install 'jqgen[cma]' (or pip install evosax)") from e
    return CMA_ES


class _CMAESFields(NamedTuple):
    population_size: int
    sigma0: float = 0.3


class CMAES(_CMAESFields):
    """CMA-ES settings; ``init(params)`` gives the evosax state (like an Optax ``init``).

    Attributes:
        population_size: candidates per generation (``>= 2``; default rule ``4 + 3 ln P``).
        sigma0: initial step size (radians, finite and ``> 0``).
    """

    __slots__ = ()

    def __new__(cls, population_size: int, sigma0: float = 0.3) -> "CMAES":
        pop = check_int(population_size, "population_size", 2)
        if isinstance(sigma0, bool) or not isinstance(sigma0, (int, float, np.integer, np.floating)) or not (
                math.isfinite(sigma0) and sigma0 > 0):
            raise ValueError(f"sigma0 must be a finite number > 0, got {sigma0!r}")
        return super().__new__(cls, pop, float(sigma0))

    def strategy(self, params: Any) -> tuple[Any, Any]:
        flat, _ = ravel_pytree(params)
        with jax.numpy_dtype_promotion("standard"):  # evosax is not strict-promotion clean
            es = _evosax_cma()(population_size=self.population_size, solution=flat)
            es_params = es.default_params.replace(std_init=jnp.asarray(self.sigma0, flat.dtype))
        return es, es_params

    def init(self, params: Any) -> Any:
        flat, _ = ravel_pytree(params)
        es, es_params = self.strategy(params)
        with jax.numpy_dtype_promotion("standard"):
            return es.init(jax.random.key(0), flat, es_params)


def default_population(num_params: int) -> int:
    """The usual CMA-ES population ``4 + floor(3 ln P)``.

    Examples:
        >>> from jqgen.training import default_population
        >>> default_population(100)
        17
    """
    num_params = check_int(num_params, "num_params", 1)
    return 4 + int(3 * math.log(num_params))


def cmaes(model: Any, params_like: Any, *, population_size: int, sigma0: float = 0.3, loss: str = "mmd",
          shots: int | None = None, sigmas: Sequence[float] = DEFAULT_SIGMAS, eps: float = 1e-8) -> Strategy:
    """The CMA-ES strategy for a model with dense ``probs`` (QCBM, small MPS).

    Args:
        model: the model.
        params_like: parameters of the model's structure (fixes the flattening).
        population_size: candidates per generation (``>= 2``).
        sigma0: initial step size.
        loss: ``"mmd"``, ``"kl"`` or ``"nll"`` against the data's histogram.
        shots: ``None`` for exact probabilities, else shots per candidate.
        sigmas: MMD bandwidths.
        eps: KL/NLL clipping.

    Returns:
        A compiled :class:`Strategy` whose state is the evosax state.
    """
    flat0, unravel = ravel_pytree(params_like)
    cma = CMAES(population_size, sigma0)
    es, es_params = cma.strategy(params_like)
    f = distribution_loss(loss, sigmas=sigmas, eps=eps)
    n, dtype, pop = model.num_bits, flat0.dtype, population_size

    def fitness(x: jax.Array, k: jax.Array, target: jax.Array) -> jax.Array:
        p = model.probs(unravel(x))
        if shots is not None:
            p = sample_counts(p, k, shots).astype(p.dtype) / shots
        return f(p, target)

    def init(params: Any, key: jax.Array) -> Any:
        return cma.init(params)

    def step(params: Any, st0: Any, data: jax.Array, g: jax.Array, key: jax.Array) -> tuple[Any, Any, jax.Array]:
        target = empirical_distribution(data, n, dtype)
        k_ask, k_eval, k_tell = jax.random.split(jax.random.fold_in(key, g), 3)
        with jax.numpy_dtype_promotion("standard"):  # evosax mixes dtypes
            x, st = es.ask(k_ask, st0, es_params)
        fit = jax.vmap(fitness, in_axes=(0, 0, None))(x.astype(dtype), jax.random.split(k_eval, pop), target)
        fit = jnp.where(jnp.isfinite(fit), fit, jnp.inf)
        with jax.numpy_dtype_promotion("standard"):
            st, _ = es.tell(k_tell, x, fit, st, es_params)
        # evosax's state dtypes drift (float32/float64) under x64: keep the carry's
        st = jax.tree_util.tree_map(lambda new, old: jnp.asarray(new).astype(old.dtype), st, st0)
        return unravel(st.best_solution.astype(dtype)), st, jnp.min(fit)

    config = {"model": model.config(), "population_size": pop, "sigma0": float(sigma0), "loss": loss,
              "shots": shots, "sigmas": [float(s) for s in sigmas], "eps": float(eps)}
    return Strategy("cmaes", init, step=step, config=config, unit="gen")


def cmaes_fit(
    model: Any,
    params: Any,
    data: Any,
    *,
    key: jax.Array,
    generations: int,
    population_size: int | None = None,
    sigma0: float = 0.3,
    loss: str = "mmd",
    shots: int | None = None,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    eps: float = 1e-8,
    chunk_size: int = 10,
    progress: bool = True,
    desc: str = "cma-es",
    callback: Callback | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Minimizes a distribution loss of ``data`` under ``model`` with CMA-ES.

    Args:
        model: a model with dense ``probs`` (e.g. :class:`jqgen.QCBM`).
        params: initial mean of the search distribution.
        data: ``[N, n]`` 0/1 training samples (their histogram is the target).
        key: PRNG key (generation ``g`` uses ``fold_in(key, g)``).
        generations: total number of generations.
        population_size: candidates per generation (default ``4 + 3 ln P``).
        sigma0: initial step size.
        loss: ``"mmd"``, ``"kl"`` or ``"nll"``.
        shots: ``None`` for exact probabilities, else shots per candidate.
        sigmas: MMD bandwidths.
        eps: KL/NLL clipping.
        chunk_size: generations per compiled chunk.
        progress: show a tqdm progress bar.
        desc: the progress bar's label.
        callback: ``callback(done, best_params, state, history)`` after each chunk.
        checkpoint_path: checkpoint file for saving and resuming (see :func:`jqgen.training.run`).
        checkpoint_every: checkpoint interval (see :func:`jqgen.training.run`).
        metadata: stored in the checkpoint (see :func:`jqgen.training.run`).

    Returns:
        :class:`~jqgen.training.TrainResult`: ``params`` the best candidate, ``state`` the
        evosax state, ``history`` the best loss of each generation.

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.data import bars_and_stripes
        >>> model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(num_qubits=4, layers=1))
        >>> res = jqgen.cmaes_fit(model, model.init(jax.random.key(0)), bars_and_stripes(2, 2),
        ...                       key=jax.random.key(1), generations=20, progress=False)
        >>> res.history.shape
        (20,)
    """
    data = check_bits(data, model.num_bits, name="data")
    if data.ndim != 2 or data.shape[0] == 0:
        raise ValueError(f"data must have shape [N, {model.num_bits}] with N >= 1, got {data.shape}")
    if hasattr(model, "ansatz"):
        model.ansatz.check_params(params)
    check_finite(params, "initial params")
    for name, v in (("generations", generations), ("chunk_size", chunk_size)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if not sigma0 > 0:
        raise ValueError(f"sigma0 must be > 0, got {sigma0!r}")
    if shots is not None and (isinstance(shots, bool) or not isinstance(shots, int) or shots < 1):
        raise ValueError(f"shots must be a positive int or None, got {shots!r}")
    num = int(ravel_pytree(params)[0].shape[0])
    pop = population_size if population_size is not None else default_population(num)
    if isinstance(pop, bool) or not isinstance(pop, int) or pop < 2:
        raise ValueError(f"population_size must be an int >= 2, got {pop!r}")
    strategy = cmaes(model, params, population_size=pop, sigma0=sigma0, loss=loss, shots=shots, sigmas=sigmas, eps=eps)
    return run(strategy, params, data, key=key, steps=generations, model=model, chunk_size=chunk_size,
               checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every, metadata=metadata,
               callback=callback, progress=progress, desc=desc)
