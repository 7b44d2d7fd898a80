"""Many runs as one: :class:`ModelBatch` (R models of one configuration) and :func:`stacked`
(R runs of one compiled strategy, vmapped), for sweeps over seeds and hyperparameters.

A batch's parameters are the R runs' parameters stacked along a leading *model axis*; the
stacked strategy runs ``vmap(strategy.step)`` over that axis, each run with its own key,
so run ``r`` of a batch gives the bits of the same run trained alone (the vmapped program
computes the same arithmetic per run; float results agree to rounding, as any two XLA
programs do). Shard the model axis over the devices of a mesh with the runner's ``place``
(``jax.device_put`` onto ``NamedSharding(mesh, P("models"))``): XLA partitions the vmapped
step without communication, the runs being independent::

    params  [R, ...] --vmap(step)--> [R, ...]      R runs; run r: own key, own failure
    state   [R, ...]                               step i of run r uses fold_in(key_r, i)

Each run has its own NaN/inf policy: a run whose loss (or gradient) turns non-finite at
step ``i`` keeps its last finite parameters and is frozen from then on (its losses read
NaN, its ``failed_at`` is ``i``), the others train on. The runner's ``"loss"`` is the mean
over runs still training (so the runner stops only when every run failed); ``"loss/r"``
is run ``r``'s loss and ``"<metric>/r"`` its other metrics.

Examples:
    >>> import jax, jax.numpy as jnp, optax, jqgen
    >>> from jqgen.data import bars_and_stripes
    >>> model = jqgen.MPSBornMachine(num_bits=4, chi_max=2)
    >>> batch = ModelBatch(model, 3)
    >>> params = batch.stack([model.init(jax.random.key(s)) for s in range(3)])
    >>> keys = jax.random.split(jax.random.key(7), 3)
    >>> s = stacked(jqgen.training.gradient(model, optax.adam(0.05), batch_size=6), keys)
    >>> res = jqgen.training.run(s, params, bars_and_stripes(2, 2), key=jax.random.key(0), steps=5,
    ...                          model=batch, progress=False)
    >>> res.metrics["loss/2"].shape, [p.tensors.shape[0] for p in batch.unstack(res.params)]
    ((5,), [4, 4, 4])
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp

from .._checks import check_int
from ._state import key_record
from ._strategy import Strategy

__all__ = ["ModelBatch", "StackState", "stacked"]


@dataclasses.dataclass(frozen=True)
class ModelBatch:
    """``size`` models of one configuration: parameters stacked along a leading axis.

    A checkpointable model family (``"batch"``): a sweep's shard checkpoint is an ordinary
    jqgen checkpoint of the batch, and :meth:`unstack` gives each run's parameters.

    Attributes:
        model: the configuration every run shares (any jqgen model).
        size: the number of runs ``R >= 1``.
    """

    model: Any
    size: int

    def __post_init__(self) -> None:
        check_int(self.size, "ModelBatch size", 1)
        if not callable(getattr(self.model, "config", None)):
            raise ValueError(f"ModelBatch needs a jqgen model with config(), got {type(self.model).__name__}")

    @property
    def num_bits(self) -> int:
        return self.model.num_bits

    def init(self, key: jax.Array) -> Any:
        """``size`` independent initializations (``split(key, size)``), stacked."""
        return jax.vmap(self.model.init)(jax.random.split(key, self.size))

    def stack(self, params: Sequence[Any]) -> Any:
        """The stacked parameters of ``size`` runs' parameter pytrees."""
        if len(params) != self.size:
            raise ValueError(f"a batch of {self.size} runs needs {self.size} parameter sets, got {len(params)}")
        return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *params)

    def unstack(self, params: Any) -> list[Any]:
        """The ``size`` runs' parameter pytrees of stacked ``params``."""
        host = jax.device_get(params)
        return [jax.tree_util.tree_map(lambda x: x[r], host) for r in range(self.size)]

    def config(self) -> dict[str, Any]:
        return {"family": "batch", "model": self.model.config(), "size": int(self.size)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "ModelBatch":
        from ..checkpoint import model_from_config

        return cls(model_from_config(dict(config["model"])), int(config["size"]))


class StackState(NamedTuple):
    """The state of a :func:`stacked` strategy.

    Attributes:
        inner: the R runs' strategy states, stacked.
        keys: ``[R, ...]`` uint32 key data of the runs' keys.
        failed_at: ``[R]`` int32: the step at which a run's loss turned non-finite, or -1.
    """

    inner: Any
    keys: jax.Array
    failed_at: jax.Array


def stacked(strategy: Strategy, keys: jax.Array, *,
            prepare: Callable[[Any], Any] | None = None, settings: Mapping[str, Any] | None = None) -> Strategy:
    """``len(keys)`` runs of a compiled ``strategy`` as one compiled strategy (see the module).

    Args:
        strategy: a compiled :class:`Strategy` (``step``); host strategies cannot be vmapped.
        keys: ``[R]`` the runs' keys (run ``r``'s step ``i`` uses ``fold_in(keys[r], i)`` as it
            would alone; the key given to the runner is not used).
        prepare: optional ``stacked_state -> stacked_state`` applied after the vmapped
            ``init``: per-run hyperparameters that live in the state (an Optax
            ``inject_hyperparams`` learning rate per run).
        settings: JSON description of what ``prepare`` sets (kept in ``config``: a resume
            with other per-run values is refused).

    Returns:
        A compiled :class:`Strategy` over stacked parameters.
    """
    if not isinstance(strategy, Strategy) or not strategy.compiled:
        raise ValueError("stacked() vmaps a compiled Strategy (one with step); host strategies run one at a time")
    keys = jnp.asarray(keys) if not isinstance(keys, jax.Array) else keys
    if not jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key):
        keys = jax.random.wrap_key_data(jnp.asarray(keys, jnp.uint32))
    if keys.ndim != 1 or keys.shape[0] < 1:
        raise ValueError(f"keys must be a [R >= 1] array of PRNG keys, got shape {keys.shape}")
    size, impl = keys.shape[0], jax.random.key_impl(keys)
    key_data = jax.random.key_data(keys)
    inner_step = strategy.step

    def init(params: Any, key: jax.Array) -> StackState:
        state = jax.vmap(strategy.init)(params, keys)
        if prepare is not None:
            state = prepare(state)
        return StackState(state, key_data, jnp.full((size,), -1, jnp.int32))

    def one(params: Any, state: Any, data: Any, i: jax.Array, kd: jax.Array) -> tuple[Any, Any, dict[str, Any]]:
        p, s, out = inner_step(params, state, data, i, jax.random.wrap_key_data(kd, impl=impl))
        metrics = dict(out) if isinstance(out, Mapping) else {"loss": out}
        return p, s, metrics

    def step(params: Any, st: StackState, data: Any, i: jax.Array, key: jax.Array) -> tuple[Any, StackState, Any]:
        new_p, new_s, metrics = jax.vmap(one, in_axes=(0, 0, None, None, 0))(params, st.inner, data, i, st.keys)
        loss = metrics["loss"]
        ok = jnp.isfinite(loss) & (st.failed_at < 0)

        def keep(new: Any, old: Any) -> Any:
            return jnp.where(ok.reshape((size,) + (1,) * (jnp.ndim(new) - 1)), new, old)

        params = jax.tree_util.tree_map(keep, new_p, params)
        inner = jax.tree_util.tree_map(keep, new_s, st.inner)
        failed = jnp.where((st.failed_at < 0) & ~ok, i.astype(jnp.int32), st.failed_at)
        alive = ok.sum().astype(loss.dtype)
        mean = jnp.where(alive > 0, jnp.sum(jnp.where(ok, loss, jnp.zeros_like(loss))) / jnp.maximum(alive, 1),
                         jnp.nan)
        out = {"loss": mean.astype(loss.dtype), "runs_training": alive}
        for name, values in metrics.items():
            for r in range(size):
                out[f"{name}/{r}"] = jnp.where(ok[r], values[r], jnp.nan).astype(values.dtype)
        return params, StackState(inner, st.keys, failed), out

    config = {"strategy": strategy.name, "inner": dict(strategy.config), "runs": int(size),
              "keys": [key_record(k) for k in keys], "settings": dict(settings or {})}
    return Strategy(f"stacked-{strategy.name}", init, step=step, config=config, unit=strategy.unit)
