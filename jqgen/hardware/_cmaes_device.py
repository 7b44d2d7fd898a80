"""CMA-ES on a device: each generation's whole population in one journaled batch.

The gradient-free counterpart of :func:`train_on_device` (Benedetti et al. and Gili et al.
train QCBMs with CMA-ES). Generation ``g`` asks evosax's ``CMA_ES`` for a population
(key ``fold_in(key, g)``), compiles every candidate from one :class:`CircuitTemplate`,
submits them in one :func:`run_batch` call (tags ``{"run", "gen", "i"}``), scores each
histogram with the shot-based loss and tells the fitnesses back. The journal makes it
resumable: a restarted run replays the journaled generations (same candidates, same
counts) and continues to the identical result.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._checks import check_finite
from ..distributions import DEFAULT_SIGMAS, counts_to_probs, distribution_loss, empirical_distribution
from ..training import CMAES, Callback, Strategy, TrainResult, default_population, run
from ._device import Device
from ._journal import Journal
from ._train import CircuitTemplate, _step_seed, seeded_submit

__all__ = ["cmaes_on_device"]


def cmaes_on_device(
    model: Any,
    params: Mapping[str, Any],
    data: Any,
    device: Device,
    *,
    shots: int,
    generations: int,
    journal_path: str,
    key: jax.Array,
    population_size: int | None = None,
    sigma0: float = 0.3,
    loss: str = "mmd",
    eps: float = 1e-8,
    callback: Callback | None = None,
    initial_layout: Sequence[int] | None = None,
    submit: Callable[[list[Any], Device, int], Any] | None = None,
    poll: Callable[[Any, Device], Any] | None = None,
    readout_mitigation: Any = None,
    run_id: str | None = None,
    checkpoint_path: str | None = None,
    progress: bool = False,
    **run_kwargs: Any,
) -> TrainResult:
    """Minimizes a shot-based loss of ``data`` under ``model`` with CMA-ES on ``device``.

    Args:
        model: a :class:`jqgen.QCBM`.
        params: initial mean of the search distribution.
        data: ``[N, n]`` training bitstrings (their histogram is the target).
        device: where the circuits run.
        shots: shots per candidate circuit.
        generations: number of generations (each one batch of ``population_size`` circuits).
        journal_path: the :class:`Journal` file (reused to resume).
        key: PRNG key (generation ``g`` uses ``fold_in(key, g)``; it also seeds ``local``'s shots).
        population_size: candidates per generation (default ``4 + 3 ln P``).
        sigma0: initial step size (radians).
        loss: ``"mmd"`` or ``"kl"`` (clipped at ``eps``).
        callback: the runner's ``callback(generations_done, best_params, state, history)``.
        initial_layout: as :func:`train_on_device`.
        submit: as :func:`train_on_device`.
        poll: as :func:`train_on_device`.
        readout_mitigation: as :func:`train_on_device`.
        run_kwargs: as :func:`train_on_device`.
        run_id: label of the run in the journal's tags (default: derived from ``key``).
        checkpoint_path: optional runner checkpoint (resume without replaying the journal).
        progress: show a progress bar.

    Returns:
        :class:`jqgen.training.TrainResult`: the best candidate, the evosax state (its
        ``mean`` is the search distribution's mean), the best loss per generation.

    Raises:
        ValueError: bad settings, before anything is submitted.
    """
    from ._runner import run_batch

    if loss not in ("mmd", "kl"):
        raise ValueError(f"loss must be 'mmd' or 'kl', got {loss!r}")
    if isinstance(generations, bool) or not isinstance(generations, int) or generations < 1:
        raise ValueError(f"generations must be an int >= 1, got {generations!r}")
    if not sigma0 > 0:
        raise ValueError(f"sigma0 must be > 0, got {sigma0!r}")
    shots = device.check_shots(shots)
    params = {k: jnp.asarray(v) for k, v in params.items()}
    model.ansatz.check_params(params)
    check_finite(params, "params")
    n = int(model.ansatz.num_qubits)
    flat0, unravel = ravel_pytree(params)
    pop = population_size if population_size is not None else default_population(int(flat0.shape[0]))
    if isinstance(pop, bool) or not isinstance(pop, int) or pop < 2:
        raise ValueError(f"population_size must be an int >= 2, got {pop!r}")
    template = CircuitTemplate(model, device, initial_layout=initial_layout)
    f = jax.jit(distribution_loss(loss, sigmas=DEFAULT_SIGMAS, eps=eps))
    target = jnp.asarray(empirical_distribution(jnp.asarray(data), n, jnp.float32), jnp.float32)
    cma = CMAES(pop, sigma0)
    es, es_params = cma.strategy(params)
    if run_id is None:
        run_id = "cma-" + hashlib.sha256(np.asarray(jax.random.key_data(key)).tobytes()).hexdigest()[:16]
    journal = Journal(journal_path)

    def host_step(best: Any, state: Any, _data: Any, g: int, key: jax.Array):
        k_ask, k_tell = jax.random.split(jax.random.fold_in(key, g))
        with jax.numpy_dtype_promotion("standard"):  # evosax mixes dtypes
            x, new_state = es.ask(k_ask, state, es_params)
        circuits = [template.bind(xi) for xi in np.asarray(x, np.float64)]
        tags = [{"run": run_id, "gen": g, "i": i} for i in range(pop)]
        counts = run_batch(circuits, device, shots, journal, tags,
                           submit=seeded_submit(submit, _step_seed(key, g)), poll=poll, **run_kwargs)
        if readout_mitigation is not None:
            from ._mitigation import mitigate_counts

            counts = [mitigate_counts(readout_mitigation, c, template.layout) for c in counts]
        fit = np.array([float(f(jnp.asarray(counts_to_probs(c, n), jnp.float32), target)) for c in counts])
        fit = np.where(np.isfinite(fit), fit, np.inf)
        with jax.numpy_dtype_promotion("standard"):
            told, _ = es.tell(k_tell, x, jnp.asarray(fit, x.dtype), new_state, es_params)
        state = jax.tree_util.tree_map(lambda a, b: jnp.asarray(a).astype(jnp.asarray(b).dtype), told, new_state)
        return unravel(jnp.asarray(state.best_solution, flat0.dtype)), state, {"loss": float(fit.min())}

    config = {"model": model.config(), "device": device.spec, "shots": shots, "loss": loss, "run_id": run_id,
              "population_size": pop, "sigma0": float(sigma0), "eps": float(eps)}
    strategy = Strategy("cmaes-device", lambda p, k: cma.init(p), host_step=host_step, config=config, unit="gen")
    return run(strategy, params, np.asarray(data), key=key, steps=generations, model=model,
               checkpoint_path=checkpoint_path, callback=callback, progress=progress, desc=f"cma-es {device.spec}")
