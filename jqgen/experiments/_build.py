"""From a run's settings to what the training runner needs: the model, the strategy, the
initial parameters and the keys; and which settings may differ inside one vmapped batch.

Runs that differ only in their seed, and for the gradient trainer in their learning rate
(an Optax ``inject_hyperparams`` state entry per run), share one compiled program: they
form a *group* and are vmapped together. Any other difference (a model size, a loss, a
population) changes shapes or the traced program, and makes another group.

A vmapped gradient run equals the run trained alone to float rounding (1e-5 relative over
the curve, tested). A vmapped CMA-ES run agrees with the run alone in its first generation
and then in distribution only: CMA-ES samples through the eigenvectors of its covariance,
which is nearly isotropic early on, so the rounding difference of the batched program
(~4e-9) picks other eigenvectors of a near-degenerate matrix.

Each run's keys are those of ``jqgen train``: ``k_init, k_fit, _ = split(key(seed), 3)``;
the initial parameters are ``model.init(k_init)`` and the runner's key ``k_fit``. Sweeps
(host strategies) run one at a time, keyed as ``jqgen train mps --method sweep --seed``.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from ..protocol import check_support
from ..training import Strategy, cmaes, default_population, gradient, stacked
from ._spec import RunSettings

__all__ = ["HOST_TRAINERS", "VMAPPED", "build_model", "build_strategy", "group_key", "run_keys"]

#: The settings that may differ between the runs of one vmapped group, by trainer.
VMAPPED = {"gradient": ("seed", "lr"), "cmaes": ("seed",), "sweep": ()}
#: Trainers of host strategies (Python loops): one run per shard, one after another.
HOST_TRAINERS = ("sweep",)


def group_key(run: RunSettings) -> str:
    """The JSON of every setting that fixes the compiled program (all but :data:`VMAPPED`)."""
    free = set(VMAPPED[run.trainer])
    static = {k: v for k, v in run.flat().items() if k not in free}
    return json.dumps({"family": run.family, "trainer": run.trainer, **static}, sort_keys=True)


def build_model(run: RunSettings, data: np.ndarray) -> Any:
    """The run's model for ``data`` (``[N, n]`` bits)."""
    from ..mps import MPSBornMachine
    from ..qcbm import QCBM, ansatz_by_name

    opts, n = run.model_options(), int(data.shape[1])
    if run.family == "qcbm":
        if opts["dtype"] not in ("float32", "float64"):
            raise ValueError(f"experiment [model].dtype = {opts['dtype']!r} is not allowed for a qcbm; expected "
                             "float32 or float64")
        return QCBM(ansatz_by_name(opts["ansatz"], n, opts["layers"], data), dtype=getattr(jnp, opts["dtype"]),
                    engine=opts["engine"])
    return MPSBornMachine(n, opts["chi_max"], dtype=getattr(jnp, opts["dtype"]))


def run_keys(seed: int) -> tuple[jax.Array, jax.Array]:
    """``(k_init, k_fit)`` of a run with this seed (as ``jqgen train --seed``)."""
    k_init, k_fit, _ = jax.random.split(jax.random.key(seed), 3)
    return k_init, k_fit


def _optimizer(name: str, lr: float) -> optax.GradientTransformation:
    maker = {"adam": optax.adam, "sgd": optax.sgd}[name]
    return optax.inject_hyperparams(maker)(learning_rate=lr)


def build_strategy(model: Any, runs: Sequence[RunSettings], data: np.ndarray, params_like: Any) -> Strategy:
    """The stacked strategy of a group's ``runs`` (one compiled program; see the module)."""
    first = runs[0].trainer_options()
    check_support(model, data)
    keys = jnp.stack([run_keys(r.seed)[1] for r in runs])
    if runs[0].trainer == "gradient":
        from ..qcbm import make_loss

        loss = None if first["loss"] == "nll" and runs[0].family == "mps" else make_loss(
            model, first["loss"], shots=first["shots"])
        batch = min(first["batch_size"] or data.shape[0], data.shape[0])
        inner = gradient(model, _optimizer(first["optimizer"], first["lr"]), batch_size=batch, loss=loss)
        lrs = [r.trainer_options()["lr"] for r in runs]

        def prepare(state: Any) -> Any:
            hyper = dict(state.hyperparams)
            hyper["learning_rate"] = jnp.asarray(lrs, hyper["learning_rate"].dtype)
            return state._replace(hyperparams=hyper)

        return stacked(inner, keys, prepare=prepare, settings={"lr": lrs})
    num = int(ravel_pytree(params_like)[0].shape[0])
    pop = first["population"] or default_population(num)
    if pop < 2:
        raise ValueError(f"experiment [trainer].population = {pop} is not allowed; expected an integer >= 2")
    inner = cmaes(model, params_like, population_size=pop, sigma0=first["sigma0"], loss=first["loss"],
                  shots=first["shots"])
    return stacked(inner, keys)
