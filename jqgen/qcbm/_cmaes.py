"""Gradient-free training of QCBMs with CMA-ES (evosax), with :func:`jqgen.fit`'s conventions.

The papers (Benedetti et al., Gili et al.) train QCBMs with CMA-ES. :func:`cmaes_fit` runs
evosax's ``CMA_ES`` on the flattened angles: each generation asks for a population,
evaluates every candidate's loss in one batched program (exact probabilities, or a
histogram of ``shots`` per candidate as on hardware) and tells the fitnesses back.
Generations run in jitted ``lax.scan`` chunks; the key of generation ``g`` is
``fold_in(key, g)``, so a run resumed from a checkpoint (``state=``, ``start=``) continues
to the identical result. ``callback(done, best_params, state, history)`` after each chunk
mirrors :func:`jqgen.fit` (use it to checkpoint; :class:`CMAES` can be passed to
:func:`jqgen.load_checkpoint` as the ``optimizer`` to restore the state).

evosax is imported only when CMA-ES is used (``pip install jqgen[cma]``).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree

from .._checks import check_bits, check_finite
from ._losses import DEFAULT_SIGMAS
from ._model import QCBM, _check_shots, empirical_distribution, sample_counts
from ._objective import distribution_loss

__all__ = ["CMAES", "CMAESResult", "cmaes_fit"]


def _evosax_cma() -> Any:
    try:
        from evosax.algorithms import CMA_ES
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("CMA-ES needs evosax: pip install 'jqgen[cma]' (or pip install evosax)") from e
    return CMA_ES


class CMAES(NamedTuple):
    """CMA-ES settings; ``init(params)`` gives the evosax state (like an Optax ``init``).

    Attributes:
        population_size: candidates per generation (default rule ``4 + 3 ln P``).
        sigma0: initial step size (radians).
    """

    population_size: int
    sigma0: float = 0.3

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


class CMAESResult(NamedTuple):
    """``params``: best candidate found; ``opt_state``: the evosax state; ``history``: best
    loss of each generation ``[generations]``; ``mean_params``: the search distribution's mean."""

    params: Any
    opt_state: Any
    history: np.ndarray
    mean_params: Any


def default_population(num_params: int) -> int:
    return 4 + int(3 * math.log(num_params))


def cmaes_fit(
    model: QCBM,
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
    state: Any = None,
    start: int = 0,
    progress: bool = True,
    desc: str = "cma-es",
    callback: Callable[[int, Any, Any, np.ndarray], None] | None = None,
) -> CMAESResult:
    """Minimizes a distribution loss of ``data`` under ``model`` with CMA-ES.

    Args:
        model: a :class:`jqgen.QCBM`.
        params: initial mean of the search distribution.
        data: ``[N, n]`` 0/1 training samples (their histogram is the target).
        key: PRNG key (generation ``g`` uses ``fold_in(key, g)``).
        generations: total number of generations (including ``start`` already done).
        population_size: candidates per generation (default ``4 + 3 ln P``).
        sigma0: initial step size.
        loss: ``"mmd"``, ``"kl"`` or ``"nll"``.
        shots: ``None`` for exact probabilities, else shots per candidate.
        sigmas, eps: MMD bandwidths, KL/NLL clipping.
        chunk_size: generations per compiled chunk.
        state, start: resume from an evosax state after ``start`` generations.
        progress, desc: tqdm progress bar.
        callback: ``callback(done, best_params, state, history)`` after each chunk.

    Example:
        >>> import jax, jqgen
        >>> from jqgen.data import bars_and_stripes
        >>> model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(num_qubits=4, layers=1))
        >>> res = jqgen.qcbm.cmaes_fit(model, model.init(jax.random.key(0)), bars_and_stripes(2, 2),
        ...                            key=jax.random.key(1), generations=20, progress=False)
        >>> res.history.shape
        (20,)
    """
    if not isinstance(model, QCBM):
        raise ValueError(f"cmaes_fit needs a jqgen.QCBM, got {type(model).__name__}")
    data = check_bits(data, model.num_bits, name="data")
    if data.ndim != 2 or data.shape[0] == 0:
        raise ValueError(f"data must have shape [N, {model.num_bits}] with N >= 1, got {data.shape}")
    model.ansatz.check_params(params)
    check_finite(params, "initial params")
    for name, v in (("generations", generations), ("chunk_size", chunk_size)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if not isinstance(start, int) or not 0 <= start <= generations:
        raise ValueError(f"start must be an int in [0, generations={generations}], got {start!r}")
    if not sigma0 > 0:
        raise ValueError(f"sigma0 must be > 0, got {sigma0!r}")
    if shots is not None:
        _check_shots(shots, "shots")
    flat0, unravel = ravel_pytree(params)
    pop = population_size if population_size is not None else default_population(flat0.shape[0])
    if not isinstance(pop, int) or pop < 2:
        raise ValueError(f"population_size must be an int >= 2, got {pop!r}")
    cma = CMAES(pop, sigma0)
    es, es_params = cma.strategy(params)
    if state is None:
        state = cma.init(params)
    f = distribution_loss(loss, sigmas=sigmas, eps=eps)
    target = empirical_distribution(data, model.num_bits, model.dtype)

    def fitness(x: jax.Array, k: jax.Array) -> jax.Array:
        p = model.probs(unravel(x))
        if shots is not None:
            p = sample_counts(p, k, shots).astype(p.dtype) / shots
        return f(p, target)

    chunk_size = min(chunk_size, generations)

    @jax.jit
    def run_chunk(state: Any, first: jax.Array) -> tuple[Any, jax.Array]:
        def body(st: Any, j: jax.Array) -> tuple[Any, jax.Array]:
            g = first + j

            def gen(st0: Any) -> tuple[Any, jax.Array]:
                st = st0
                k_ask, k_eval, k_tell = jax.random.split(jax.random.fold_in(key, g), 3)
                with jax.numpy_dtype_promotion("standard"):  # evosax mixes dtypes
                    x, st = es.ask(k_ask, st, es_params)
                fit = jax.vmap(fitness)(x.astype(flat0.dtype), jax.random.split(k_eval, pop))
                fit = jnp.where(jnp.isfinite(fit), fit, jnp.inf)
                with jax.numpy_dtype_promotion("standard"):
                    st, _ = es.tell(k_tell, x, fit, st, es_params)
                # evosax's state dtypes drift (float32/float64) under x64: keep the carry's
                st = jax.tree_util.tree_map(lambda new, old: jnp.asarray(new).astype(old.dtype), st, st0)
                return st, jnp.min(fit)

            return lax.cond(g < generations, gen, lambda s: (s, jnp.full((), jnp.nan, flat0.dtype)), st)

        return lax.scan(body, state, jnp.arange(chunk_size, dtype=jnp.int32))

    history: list[np.ndarray] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=generations, initial=start, desc=desc, unit="gen", dynamic_ncols=True)
    try:
        done = start
        while done < generations:
            state, best = run_chunk(state, jnp.int32(done))
            step = min(chunk_size, generations - done)
            history.append(np.asarray(best)[:step])
            done += step
            if bar is not None:
                bar.update(step)
                bar.set_postfix(loss=f"{float(np.min(history[-1])):.4g}")
            if callback is not None:
                callback(done, unravel(state.best_solution.astype(flat0.dtype)), state, np.concatenate(history))
    finally:
        if bar is not None:
            bar.close()
    hist = np.concatenate(history) if history else np.zeros((0,), np.float64)
    best_params = unravel(jnp.asarray(state.best_solution, flat0.dtype))
    mean_params = unravel(jnp.asarray(state.mean, flat0.dtype))
    return CMAESResult(best_params, state, hist, mean_params)
