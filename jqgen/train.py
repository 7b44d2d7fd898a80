"""Gradient training of any :class:`jqgen.GenerativeModel` with any Optax transformation.

The loss is the mean negative log-likelihood of a minibatch. :func:`make_train_step`
returns the pure, jittable (and vmappable) step; :func:`fit` runs it in ``lax.scan`` chunks
of a fixed length (one compilation for the whole run; steps past the end of the last chunk
are skipped with ``lax.cond``), updates a progress bar between chunks and stops with
:class:`NonFiniteLossError` on a NaN/inf loss, keeping the last good parameters.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from ._checks import check_bits, check_finite
from .protocol import GenerativeModel

__all__ = ["FitResult", "LossFn", "NonFiniteLossError", "TrainState", "fit", "make_train_step", "mean_nll", "batched_log_prob"]


#: ``(params, batch, key) -> (loss, grads)``: a custom objective for :func:`fit`.
LossFn = Callable[[Any, jax.Array, jax.Array], tuple[jax.Array, Any]]


class TrainState(NamedTuple):
    """Carry of the training scan.

    Attributes:
        params: current parameters.
        opt_state: optimizer state for ``params``.
        good_params: the most recent parameters whose loss was finite.
        good_opt_state: their optimizer state.
        bad_step: ``-1``, or the first step whose loss was NaN/inf (training stops there).
    """

    params: Any
    opt_state: Any
    good_params: Any
    good_opt_state: Any
    bad_step: jax.Array


class FitResult(NamedTuple):
    """What :func:`fit` returns: final ``params`` and ``opt_state``, and ``history``, the
    minibatch loss (mean NLL in nats, or the custom ``loss``) of every step as a numpy array ``[steps]``."""

    params: Any
    opt_state: Any
    history: np.ndarray


class NonFiniteLossError(FloatingPointError):
    """Training met a NaN/inf loss. ``params``/``opt_state`` are the last good ones,
    ``history`` the losses up to and including the bad step, ``step`` its index."""

    def __init__(self, step: int, params: Any, opt_state: Any, history: np.ndarray):
        super().__init__(
            f"loss became non-finite ({float(history[-1])}) at step {step}; training stopped. The "
            "exception's .params hold the last parameters with a finite loss (try a smaller "
            "learning rate or gradient clipping, e.g. optax.clip_by_global_norm)."
        )
        self.step, self.params, self.opt_state, self.history = step, params, opt_state, history


def _tree_finite(tree: Any) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


def make_train_step(
    model: GenerativeModel,
    optimizer: optax.GradientTransformation,
    batch_size: int,
    loss: LossFn | None = None,
) -> Callable[[TrainState, jax.Array, jax.Array, jax.Array], tuple[TrainState, jax.Array]]:
    """Pure training step ``(state, data, step_index, key) -> (state, loss)``.

    ``loss`` is ``None`` (mean NLL of the minibatch, differentiated by ``jax.grad``) or a
    callable ``(params, batch, key) -> (loss, grads)`` returning descent-direction gradients
    (e.g. :func:`jqgen.qcbm.make_loss`: MMD/KL, exact or from shots, parameter-shift); it
    gets a fresh key every step.

    The minibatch of ``min(batch_size, N)`` distinct samples is drawn from ``data [N, n]`` with
    ``jax.random.fold_in(key, step_index)``, so a run is a deterministic function of
    ``key``. Gradients of complex parameters are conjugated into the descent direction
    (``jax.grad`` returns the conjugate for complex leaves). The optimizer runs under
    standard dtype promotion (Optax mixes Python floats and int32 counts), the model under
    the caller's mode. A step whose loss (or gradient) is not finite leaves ``params`` unchanged and
    records ``bad_step``; later steps are no-ops.
    """
    def loss_fn(params: Any, batch: jax.Array) -> jax.Array:
        return -jnp.mean(model.log_prob(params, batch))

    def step(state: TrainState, data: jax.Array, i: jax.Array, key: jax.Array) -> tuple[TrainState, jax.Array]:
        n_data = data.shape[0]
        k = jax.random.fold_in(key, i)
        if batch_size >= n_data:
            batch = data
        else:
            batch = data[jax.random.choice(k, n_data, (batch_size,), replace=False)]
        if loss is None:
            value, grads = jax.value_and_grad(loss_fn)(state.params, batch)
            grads = jax.tree_util.tree_map(jnp.conj, grads)  # JAX's grad is conjugated for complex leaves
        else:
            value, grads = loss(state.params, batch, jax.random.fold_in(k, 1))
        with jax.numpy_dtype_promotion("standard"):  # optax is not clean under "strict"
            updates, new_opt = optimizer.update(grads, state.opt_state, state.params)
        new_params = optax.apply_updates(state.params, updates)
        ok = jnp.isfinite(value) & _tree_finite(grads) & (state.bad_step < 0)
        sel = lambda a, b: jax.tree_util.tree_map(lambda x, y: jnp.where(ok, x, y), a, b)
        new = TrainState(
            params=sel(new_params, state.params),
            opt_state=sel(new_opt, state.opt_state),
            good_params=sel(state.params, state.good_params),
            good_opt_state=sel(state.opt_state, state.good_opt_state),
            bad_step=jnp.where(ok | (state.bad_step >= 0), state.bad_step, i.astype(jnp.int32)),
        )
        return new, value

    return step


def fit(
    model: GenerativeModel,
    params: Any,
    data: Any,
    optimizer: optax.GradientTransformation,
    *,
    key: jax.Array,
    steps: int,
    batch_size: int | None = None,
    chunk_size: int = 50,
    progress: bool = True,
    desc: str = "train",
    callback: Callable[[int, Any, Any, np.ndarray], None] | None = None,
    loss: LossFn | None = None,
) -> FitResult:
    """Minimizes the mean NLL of ``data`` under ``model`` (or another ``loss``) with ``optimizer``.

    Args:
        model: any :class:`jqgen.GenerativeModel`.
        params: initial parameters.
        data: ``[N, n]`` 0/1 training samples.
        optimizer: an Optax ``GradientTransformation``.
        key: PRNG key for minibatches (the run is deterministic given it).
        steps: number of optimizer steps.
        batch_size: minibatch size (default and maximum: ``N``, full batch).
        chunk_size: steps per compiled ``lax.scan`` chunk (progress updates between chunks).
        progress: show a tqdm progress bar.
        desc: progress bar label.
        callback: ``callback(steps_done, params, opt_state, history)`` after every chunk
            (e.g. to checkpoint).
        loss: ``None`` for the mean NLL by autodiff, or ``(params, batch, key) -> (loss,
            grads)`` (see :func:`make_train_step`), e.g. :func:`jqgen.qcbm.make_loss`.

    Returns:
        :class:`FitResult` with the final parameters and the per-step loss history.

    Raises:
        ValueError: bad data, sizes or parameters.
        NonFiniteLossError: the loss became NaN/inf (carries the last good parameters).

    Example:
        >>> import jax, optax, jqgen
        >>> from jqgen.data import bars_and_stripes
        >>> model = jqgen.MPSBornMachine(num_bits=4, chi_max=2)
        >>> res = jqgen.fit(model, model.init(jax.random.key(0)), bars_and_stripes(2, 2),
        ...                 optax.adam(0.05), key=jax.random.key(1), steps=20, progress=False)
        >>> res.history.shape
        (20,)
    """
    data = check_bits(data, model.num_bits, name="data")
    if data.ndim != 2 or data.shape[0] == 0:
        raise ValueError(f"data must have shape [N, {model.num_bits}] with N >= 1, got {data.shape}")
    for name, v in (("steps", steps), ("chunk_size", chunk_size)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    n_data = data.shape[0]
    batch_size = n_data if batch_size is None else batch_size
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    batch_size = min(batch_size, n_data)
    check_finite(params, "initial params")
    chunk_size = min(chunk_size, steps)

    _, run_chunk = _chunk_runner(model, optimizer, batch_size, loss, chunk_size)
    with jax.numpy_dtype_promotion("standard"):
        opt_state = optimizer.init(params)
    state = TrainState(params, opt_state, params, opt_state, jnp.int32(-1))

    history: list[np.ndarray] = []
    bar = _progress_bar(steps, desc, progress)
    try:
        for c in range(math.ceil(steps / chunk_size)):
            start = c * chunk_size
            state, losses = run_chunk(state, data, jnp.int32(start), jnp.int32(steps), key)
            done = min(steps, start + chunk_size)
            history.append(np.asarray(losses)[: done - start])
            bad = int(state.bad_step)
            if bad >= 0:
                hist = np.concatenate(history)[: bad + 1]
                raise NonFiniteLossError(bad, state.good_params, state.good_opt_state, hist)
            if bar is not None:
                bar.update(done - start)
                bar.set_postfix({"nll" if loss is None else "loss": f"{float(np.mean(history[-1])):.4g}"})
            if callback is not None:
                callback(done, state.params, state.opt_state, np.concatenate(history))
    finally:
        if bar is not None:
            bar.close()
    return FitResult(state.params, state.opt_state, np.concatenate(history))


def _build_chunk_runner(model: Any, optimizer: Any, batch_size: int, loss: Any, chunk_size: int) -> tuple[Any, Any]:
    step_fn = make_train_step(model, optimizer, batch_size, loss)

    @jax.jit
    def run_chunk(state: TrainState, data: jax.Array, start: jax.Array, steps: jax.Array,
                  key: jax.Array) -> tuple[TrainState, jax.Array]:
        loss_dtype = jax.eval_shape(step_fn, state, data, start, key)[1].dtype

        def body(st: TrainState, j: jax.Array) -> tuple[TrainState, jax.Array]:
            i = start + j
            return lax.cond(
                i < steps,
                lambda s: step_fn(s, data, i, key),
                lambda s: (s, jnp.full((), jnp.nan, loss_dtype)),
                st,
            )

        return lax.scan(body, state, jnp.arange(chunk_size, dtype=jnp.int32))

    return step_fn, run_chunk


_cached_chunk_runner = functools.lru_cache(maxsize=64)(_build_chunk_runner)


def _chunk_runner(model: Any, optimizer: Any, batch_size: int, loss: Any, chunk_size: int) -> tuple[Any, Any]:
    """The jitted chunk of :func:`fit`, shared by calls with the same model, optimizer
    object, batch size, loss function and chunk size (so a sweep that reuses them compiles
    once; the step count and start are traced arguments)."""
    try:
        return _cached_chunk_runner(model, optimizer, batch_size, loss, chunk_size)
    except TypeError:  # an unhashable model or optimizer: build anew
        return _build_chunk_runner(model, optimizer, batch_size, loss, chunk_size)


def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True)


def batched_log_prob(model: GenerativeModel, params: Any, data: Any, batch_size: int = 1024) -> np.ndarray:
    """``float64 [N]`` log-probabilities of ``data`` under the model, in fixed-size batches
    (one compilation; the last batch is padded and masked)."""
    data = check_bits(data, model.num_bits, name="data")
    n_data = data.shape[0]
    if n_data == 0:
        raise ValueError("data is empty")
    batch_size = min(batch_size, n_data)
    n_batches = math.ceil(n_data / batch_size)
    padded = jnp.zeros((n_batches * batch_size, data.shape[1]), jnp.uint8).at[:n_data].set(data)
    lp_fn = jax.jit(model.log_prob)
    out = [np.asarray(lp_fn(params, padded[b * batch_size : (b + 1) * batch_size]), np.float64) for b in range(n_batches)]
    return np.concatenate(out)[:n_data]


def mean_nll(model: GenerativeModel, params: Any, data: Any, batch_size: int = 1024) -> float:
    """Mean negative log-likelihood (nats) of ``data`` under the model, in fixed-size
    batches (one compilation; the last batch is padded and masked)."""
    return -float(batched_log_prob(model, params, data, batch_size).mean())
