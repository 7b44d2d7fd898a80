"""The training runner: one loop for every strategy.

:func:`run` owns what all trainers share: compiled ``lax.scan`` chunks (one compilation
per strategy settings and chunk size, cached on the settings' fingerprint, not on object
identity), or Python steps for host strategies; the progress bar; the per-step history;
the NaN/inf policy (a step whose loss is not finite is not applied, and the run stops
with :class:`NonFiniteLossError` carrying the last parameters whose loss was finite; a
strategy reports a non-finite gradient as a non-finite loss); one
callback signature ``callback(steps_done, params, state, history)``; checkpoints every
``checkpoint_every`` steps, on completion and on Ctrl-C; resume from the checkpoint to the
bit-identical result (step ``i`` draws its randomness from ``fold_in(key, i)`` and runs the
same compiled program whatever chunk it falls in).
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._fingerprint import fingerprint
from ._state import data_record, key_record, restore_run, save_run
from ._strategy import NonFiniteLossError, Strategy, TrainResult

__all__ = ["Callback", "run"]

#: ``callback(steps_done, params, state, history)``; ``history`` maps metric names
#: (``"loss"`` first) to float64 arrays over all steps done. Raising stops the run (after
#: its checkpoint was written).
Callback = Callable[[int, Any, Any, Mapping[str, np.ndarray]], Any]


class _Carry(NamedTuple):
    params: Any
    state: Any
    good_params: Any
    good_state: Any
    bad_step: jax.Array


class _Keyed:
    """A function compared by its fingerprint (the compiled-chunk cache key)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn, self.key = fn, fingerprint(fn)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _Keyed) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


@functools.lru_cache(maxsize=64)
def _chunk_program(step: _Keyed, chunk_size: int) -> Callable[..., Any]:
    step_fn = step.fn

    def guarded(c: _Carry, data: jax.Array, i: jax.Array, key: jax.Array) -> tuple[_Carry, dict[str, jax.Array]]:
        params, state, out = step_fn(c.params, c.state, data, i, key)
        metrics = dict(out) if isinstance(out, Mapping) else {"loss": out}
        if "loss" not in metrics:
            raise ValueError(f"a compiled step's metrics need a 'loss' entry, got {sorted(metrics)}")
        loss = metrics["loss"]
        ok = jnp.isfinite(loss) & (c.bad_step < 0)
        sel = lambda a, b: jax.tree_util.tree_map(lambda x, y: jnp.where(ok, x, y), a, b)  # noqa: E731
        new = _Carry(sel(params, c.params), sel(state, c.state), sel(c.params, c.good_params),
                     sel(c.state, c.good_state), jnp.where(ok | (c.bad_step >= 0), c.bad_step, i.astype(jnp.int32)))
        return new, metrics

    @jax.jit
    def chunk(carry: _Carry, data: jax.Array, start: jax.Array, steps: jax.Array, key: jax.Array):
        shapes = jax.eval_shape(guarded, carry, data, start, key)[1]

        def body(c: _Carry, j: jax.Array) -> tuple[_Carry, dict[str, jax.Array]]:
            i = start + j
            return lax.cond(i < steps, lambda s: guarded(s, data, i, key),
                            lambda s: (s, {k: jnp.full((), jnp.nan, v.dtype) for k, v in shapes.items()}), c)

        return lax.scan(body, carry, jnp.arange(chunk_size, dtype=jnp.int32))

    return chunk


def _check_int(name: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"{name} must be an int >= {lo}, got {value!r}")
    return int(value)


class _Run:
    """Mutable bookkeeping of one :func:`run` call (history, checkpoints, bar)."""

    def __init__(self, strategy: Strategy, model: Any, key: jax.Array, data: Any, steps: int,
                 checkpoint_path: str | None, checkpoint_every: int | None, metadata: Any,
                 callback: Callback | None, bar: Any) -> None:
        self.strategy, self.model, self.steps = strategy, model, steps
        self.path, self.every, self.metadata, self.callback, self.bar = (
            checkpoint_path, checkpoint_every, metadata, callback, bar)
        self.record = {"strategy": strategy.name, "config": dict(strategy.config), "key": key_record(key),
                       "data": data_record(data)}
        self.metrics: dict[str, list[float]] = {"loss": []}
        self.done = self.saved = 0
        self.status = "running"
        #: ``(params, state, steps_done)`` of the last completed step (what Ctrl-C saves)
        self.latest: tuple[Any, Any, int] | None = None

    def history(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v, np.float64) for k, v in self.metrics.items()}

    def add(self, metrics: Mapping[str, Any], count: int) -> None:
        before = len(self.metrics["loss"])
        for name, values in metrics.items():
            column = self.metrics.setdefault(name, [])
            column += [math.nan] * (before - len(column))  # a metric that appears late
            column += np.broadcast_to(np.asarray(values, np.float64), (count,)).tolist()
        self.done += count
        if self.bar is not None:  # one redraw per update: the postfix waits for update's
            shown = {k: f"{v[-1]:.4g}" for k, v in self.metrics.items() if k != "seconds" and "/" not in k and v}
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(count)

    def save(self, params: Any, state: Any, force: bool = False, done: int | None = None) -> None:
        """Writes the checkpoint of ``params``/``state`` after ``done`` steps (default: all
        recorded), when due (every ``checkpoint_every`` steps) or ``force``."""
        done = self.done if done is None else done
        if self.path is None or (done == self.saved and not force):
            return
        if not force and self.every is not None and done - self.saved < self.every and self.status == "running":
            return
        model = self.strategy.model_of(params) if self.strategy.model_of is not None else self.model
        rec = dict(self.record, steps_done=done, status=self.status,
                   metrics={k: list(v[:done]) for k, v in self.metrics.items()})
        save_run(self.path, model, params, state, rec, self.metadata)
        self.saved = done

    def after_step(self, params: Any, state: Any, stop: str | None = None) -> None:
        """Called once a step's (or chunk's) metrics are recorded: checkpoint, callback.
        ``stop``: the reason a strategy's stop rule ended the run at this step."""
        # set after the metrics (an interrupt in between saves the previous step, whose
        # metrics are a prefix of the recorded ones)
        self.latest = (params, state, self.done)
        if stop:
            self.status = f"stopped: {stop}"
        self.save(params, state)
        if self.callback is not None:
            self.callback(self.done, params, state, self.history())


def run(
    strategy: Strategy,
    params: Any,
    data: Any,
    *,
    key: jax.Array,
    steps: int,
    model: Any = None,
    chunk_size: int = 50,
    checkpoint_path: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    metadata: Mapping[str, Any] | None = None,
    callback: Callback | None = None,
    progress: bool = True,
    desc: str | None = None,
    place: Callable[[Any], Any] | None = None,
) -> TrainResult:
    """Runs ``strategy`` from ``params`` for ``steps`` steps on ``data``.

    Args:
        strategy: a :class:`Strategy` (:func:`gradient`, :func:`cmaes`, a sweep, a device
            trainer's host strategy).
        params: initial parameters (ignored when the run resumes from a checkpoint).
        data: the training data (an array; passed to every step).
        key: the run's PRNG key (step ``i`` uses ``fold_in(key, i)``).
        steps: total number of steps of the run (including steps a checkpoint holds).
        model: the model the parameters belong to (needed for checkpoints unless the
            strategy has ``model_of``).
        chunk_size: steps per compiled chunk (compiled strategies).
        checkpoint_path: if given, the run's state is written there (every
            ``checkpoint_every`` steps, default every chunk or host step; at the end; when
            interrupted), and a run started with an existing file resumes from it.
        checkpoint_every: steps between checkpoints (rounded up to whole chunks).
        metadata: extra JSON metadata stored in the checkpoint beside ``"training"``.
        callback: ``callback(steps_done, params, state, history)`` after every chunk or host step.
        progress: show a tqdm progress bar.
        desc: its label (default: the strategy's name).
        place: ``tree -> tree`` applied to the parameters and to the state before the first
            step, fresh or resumed (e.g. ``jax.device_put`` onto a ``NamedSharding``: the
            compiled chunks then run partitioned as their inputs are; see
            :func:`jqgen.training.stacked`).

    Returns:
        :class:`TrainResult`.

    Raises:
        ValueError: bad sizes, or a checkpoint written with other settings.
        NonFiniteLossError: a step's loss or parameters were NaN/inf (carries the last good ones).
        KeyboardInterrupt: after the checkpoint of the last completed step was written.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from jqgen.training import Strategy, run
        >>> def step(p, s, data, i, key):
        ...     loss, g = jax.value_and_grad(lambda q: jnp.sum((q - data) ** 2))(p)
        ...     return p - 0.25 * g, s, loss
        >>> res = run(Strategy("descent", lambda p, k: (), step), jnp.zeros(2), jnp.ones(2),
        ...           key=jax.random.key(0), steps=20, progress=False)
        >>> res.history.shape, bool(res.history[-1] < 1e-6)
        ((20,), True)
    """
    if not isinstance(strategy, Strategy):
        raise ValueError(f"strategy must be a jqgen.training.Strategy, got {type(strategy).__name__}")
    steps = _check_int("steps", steps, 0)
    chunk_size = _check_int("chunk_size", chunk_size, 1)
    if checkpoint_every is not None:
        checkpoint_every = _check_int("checkpoint_every", checkpoint_every, 1)
    if (strategy.step is None) == (strategy.host_step is None):
        raise ValueError("a Strategy needs exactly one of step (compiled) and host_step (Python)")
    path = os.fspath(checkpoint_path) if checkpoint_path is not None else None
    if path is not None and model is None and strategy.model_of is None:
        raise ValueError("checkpoint_path needs the model (model=...) to write checkpoints")
    bar = _progress_bar(steps, desc or strategy.name, progress, strategy.unit)
    r = _Run(strategy, model, key, data, steps, path, checkpoint_every, metadata, callback, bar)
    with jax.numpy_dtype_promotion("standard"):  # optax/evosax are not clean under "strict"
        state = strategy.init(params, key)
    if path is not None and os.path.exists(path):
        rec = restore_run(path, state, r.record, same_model=model if strategy.model_of is None else None)
        params, state, r.metrics, r.status = rec.params, rec.state, rec.metrics, rec.status
        r.done = r.saved = rec.steps_done
        if bar is not None:
            bar.update(r.done)
    if place is not None:
        params, state = place(params), place(state)
    try:
        if not r.status.startswith("stopped") and r.done < steps:
            loop = _compiled_loop if strategy.compiled else _host_loop
            params, state = loop(r, params, state, data, key, steps, chunk_size)
            if not r.status.startswith("stopped"):
                r.status = "completed"
            r.save(params, state, force=True)
    except KeyboardInterrupt:  # keep the last completed step (the loops record it in r.latest)
        if r.latest is not None:
            params, state, done = r.latest
            r.save(params, state, done=done)
        raise
    finally:
        if bar is not None:
            bar.close()
    hist = r.history()
    return TrainResult(params, state, hist["loss"], hist, r.done, r.status)


def _compiled_loop(r: _Run, params: Any, state: Any, data: Any, key: jax.Array, steps: int,
                   chunk_size: int) -> tuple[Any, Any]:
    chunk = _chunk_program(_Keyed(r.strategy.step), min(chunk_size, max(steps, 1)))
    size = min(chunk_size, max(steps, 1))
    data = jnp.asarray(data)
    carry = _Carry(params, state, params, state, jnp.int32(-1))
    while r.done < steps:
        new, metrics = chunk(carry, data, jnp.int32(r.done), jnp.int32(steps), key)
        count = min(size, steps - r.done)
        metrics = {k: np.asarray(v, np.float64)[:count] for k, v in metrics.items()}
        losses = metrics["loss"]
        bad = int(new.bad_step)
        if bad >= 0:
            hist = np.concatenate([np.asarray(r.metrics["loss"], np.float64), losses[: bad - r.done + 1]])
            raise NonFiniteLossError(bad, new.good_params, new.good_state, hist)
        carry = new
        r.add({"loss": losses, **metrics}, count)
        r.after_step(carry.params, carry.state)
    return carry.params, carry.state


def _host_loop(r: _Run, params: Any, state: Any, data: Any, key: jax.Array, steps: int,
               chunk_size: int) -> tuple[Any, Any]:
    while r.done < steps:
        i = r.done
        new_params, new_state, metrics = r.strategy.host_step(params, state, data, i, key)
        metrics = dict(metrics)
        stop = metrics.pop("stop", None)
        loss = float(metrics["loss"])
        if not math.isfinite(loss):
            hist = np.concatenate([np.asarray(r.metrics["loss"], np.float64), [loss]])
            raise NonFiniteLossError(i, params, state, hist)
        params, state = new_params, new_state
        r.add(metrics, 1)
        r.after_step(params, state, stop)
        if stop:
            break
    return params, state


def _progress_bar(total: int, desc: str, enabled: bool, unit: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True)
