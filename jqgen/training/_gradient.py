"""Gradient training with any Optax transformation: the :func:`gradient` strategy and :func:`fit`.

The loss is the mean negative log-likelihood of a minibatch (``jax.grad``), or any
``loss(params, batch, key) -> (loss, grads)`` such as :func:`jqgen.qcbm.make_loss` (MMD/KL,
exact or from shots, parameter-shift). The minibatch of step ``i`` is drawn with
``fold_in(key, i)``, so a run is a deterministic function of its key and resumes to the
identical result.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec

from .._checks import check_bits, check_finite
from .._mesh import DATA_AXIS, check_divides, data_mesh, replicate, shard_rows
from ..protocol import GenerativeModel, check_support
from ._fingerprint import digest, fingerprint
from ._runner import Callback, run
from ._state import UNDESCRIBED
from ._strategy import Strategy, TrainResult

__all__ = ["LossFn", "describe_settings", "fit", "gradient"]

#: ``(params, batch, key) -> (loss, grads)``: a custom objective for :func:`fit`.
LossFn = Callable[[Any, jax.Array, jax.Array], tuple[jax.Array, Any]]


def describe_settings(obj: Any) -> str:
    """A cross-process digest of a setting (an Optax optimizer, a loss function, arrays) for
    a strategy's ``config``, or ``"<not comparable across processes>"`` when it holds parts
    only comparable by identity (then a resume cannot check it).

    Examples:
        >>> import optax
        >>> describe_settings(optax.adam(0.1)) == describe_settings(optax.adam(0.1))
        True
    """
    return UNDESCRIBED if "<identity" in repr(fingerprint(obj)) else digest(obj)


def gradient(model: GenerativeModel, optimizer: optax.GradientTransformation, *, batch_size: int,
             loss: LossFn | None = None, weighted: bool = False, devices: Any = None) -> Strategy:
    """The gradient-descent strategy: state = the optimizer's state.

    Args:
        model: any :class:`jqgen.GenerativeModel`.
        optimizer: an Optax ``GradientTransformation``.
        batch_size: minibatch size (``>= N`` means full batch).
        loss: ``None`` for the mean NLL by autodiff, or ``(params, batch, key) -> (loss, grads)``.
        weighted: the data are ``[N, n + 1]`` floats: bits and a last column of weights, and
            the loss is the weighted NLL ``-sum_i w_i log p(x_i) / sum_i w_i`` of each batch
            (:func:`fit` with ``weights=`` builds them).
        devices: ``None`` (default), or a sequence of jax devices or a
            ``jax.sharding.Mesh`` with an axis ``"data"``: each minibatch is split along
            it (``with_sharding_constraint``), so every device evaluates the model on its
            share of the rows and ``jit`` sums the gradient over devices. Pass data
            placed on ``NamedSharding(mesh, PartitionSpec("data"))`` and replicated
            parameters (:func:`fit` does both). Row count and minibatch size must be
            multiples of the device count (``ValueError`` when the step is traced). Not
            part of ``config``: the result equals the single-device one to float rounding.

    Returns:
        A compiled :class:`Strategy`; its ``step`` is pure and ``vmap``-able (train many
        initial parameter sets at once).

    Examples:
        >>> import jax, optax, jqgen
        >>> from jqgen.data import bars_and_stripes
        >>> model = jqgen.MPSBornMachine(num_bits=4, chi_max=2)
        >>> s = jqgen.training.gradient(model, optax.adam(0.05), batch_size=6)
        >>> res = jqgen.training.run(s, model.init(jax.random.key(0)), bars_and_stripes(2, 2),
        ...                          key=jax.random.key(1), steps=10, progress=False)
        >>> res.history.shape
        (10,)
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not (callable(getattr(model, "log_prob", None)) and hasattr(model, "num_bits")):
        raise ValueError(f"model must be a jqgen.GenerativeModel (log_prob, num_bits), got {type(model).__name__}")
    mesh = data_mesh(devices)

    def nll(params: Any, batch: jax.Array) -> jax.Array:
        if not weighted:
            return -jnp.mean(model.log_prob(params, batch))
        bits, w = batch[:, :-1].astype(jnp.uint8), batch[:, -1]
        lp = model.log_prob(params, bits)
        return -jnp.sum(jnp.where(w > 0, w * lp, 0).astype(lp.dtype)) / jnp.sum(w).astype(lp.dtype)

    def init(params: Any, key: jax.Array) -> Any:
        with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats and int32 counts
            return optimizer.init(params)

    def step(params: Any, opt_state: Any, data: jax.Array, i: jax.Array, key: jax.Array) -> tuple[Any, Any, jax.Array]:
        n_data = data.shape[0]
        k = jax.random.fold_in(key, i)
        batch = data if batch_size >= n_data else data[jax.random.choice(k, n_data, (batch_size,), replace=False)]
        if mesh is not None:  # the rows of the minibatch stay split over the devices
            check_divides(mesh, rows=n_data, minibatch_size=batch.shape[0])
            batch = jax.lax.with_sharding_constraint(batch, NamedSharding(mesh, PartitionSpec(DATA_AXIS)))
        if loss is None:
            value, grads = jax.value_and_grad(nll)(params, batch)
            grads = jax.tree_util.tree_map(jnp.conj, grads)  # JAX's grad is conjugated for complex leaves
        else:
            value, grads = loss(params, batch, jax.random.fold_in(k, 1))
        leaves = [jnp.all(jnp.isfinite(g)) for g in jax.tree_util.tree_leaves(grads)]
        value = jnp.where(jnp.all(jnp.stack(leaves)) if leaves else True, value, jnp.nan)  # a NaN gradient stops too
        with jax.numpy_dtype_promotion("standard"):
            updates, new_opt = optimizer.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        new_params = jax.tree_util.tree_map(lambda x, p: x.astype(p.dtype), new_params, params)
        return new_params, new_opt, value

    if weighted and loss is not None:
        raise ValueError("weighted data need the default NLL loss (loss=None)")
    config = {"model": model.config(), "optimizer": describe_settings(optimizer), "batch_size": batch_size,
              "loss": None if loss is None else describe_settings(loss), "weighted": weighted}
    return Strategy("gradient", init, step=step, config=config)


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
    callback: Callback | None = None,
    loss: LossFn | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    metadata: Mapping[str, Any] | None = None,
    weights: Any = None,
    devices: Any = None,
) -> TrainResult:
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
        callback: ``callback(steps_done, params, opt_state, history)`` after every chunk.
        loss: ``None`` for the mean NLL by autodiff, or ``(params, batch, key) -> (loss,
            grads)``, e.g. :func:`jqgen.qcbm.make_loss`.
        checkpoint_path: checkpoint file for saving and resuming (see :func:`jqgen.training.run`).
        checkpoint_every: checkpoint interval (see :func:`jqgen.training.run`).
        metadata: stored in the checkpoint (see :func:`jqgen.training.run`).
        weights: optional ``[N]`` non-negative weights of the rows: minimize the weighted
            NLL ``-sum_i w_i log p(x_i) / sum_i w_i`` (e.g. a softmax of costs, as GEO does;
            rows of weight 0 do not count). Full batch or minibatches as without weights.
        devices: ``None`` (default: one device, as always), or a sequence of jax devices
            or a ``jax.sharding.Mesh`` with an axis ``"data"``: data parallelism. The rows
            are split over the devices along ``"data"`` (``NamedSharding``), the
            parameters and optimizer state replicated; each step draws the same minibatch
            as on one device (same key), every device evaluates the model on its share of
            it and the gradient is summed over devices. Losses and parameters equal the
            single-device run's to float rounding (sums in another order), not bit for
            bit; a checkpoint resumes with any ``devices``. ``N`` and ``batch_size`` must
            be multiples of the device count (``ValueError``; no rows are padded).

    Returns:
        :class:`~jqgen.training.TrainResult` (``params``, ``state``/``opt_state``, ``history``).

    Raises:
        ValueError: bad data, sizes or parameters.
        NonFiniteLossError: the loss became NaN/inf (carries the last good parameters).

    Examples:
        >>> import jax, optax, jqgen
        >>> from jqgen.data import bars_and_stripes
        >>> model = jqgen.MPSBornMachine(num_bits=4, chi_max=2)
        >>> res = jqgen.fit(model, model.init(jax.random.key(0)), bars_and_stripes(2, 2),
        ...                 optax.adam(0.05), key=jax.random.key(1), steps=20, progress=False)
        >>> res.history.shape
        (20,)

        Data parallelism: the same run with its rows split over all devices (``N`` a
        multiple of their count; the docs' "Running on many devices" page runs it)::

            jqgen.fit(model, params, data, optax.adam(0.05), key=key, steps=20, devices=jax.devices())
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
    check_finite(params, "initial params")
    if weights is not None:
        check_support(model, data)
        data = _weighted_data(data, weights, loss)
    else:
        check_support(model, data)
    mesh = data_mesh(devices)
    place = None
    if mesh is not None:
        check_divides(mesh, rows=n_data, batch_size=min(batch_size, n_data))
        data, place = shard_rows(data, mesh), (lambda tree: replicate(tree, mesh))
    strategy = gradient(model, optimizer, batch_size=min(batch_size, n_data), loss=loss, weighted=weights is not None,
                        devices=mesh)
    return run(strategy, params, data, key=key, steps=steps, model=model, chunk_size=chunk_size,
               checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every, metadata=metadata,
               callback=callback, progress=progress, desc=desc, place=place)


def _weighted_data(data: jax.Array, weights: Any, loss: Any) -> jax.Array:
    """``[N, n + 1]`` float32: the bits and their weights (validated, scaled to sum 1)."""
    if loss is not None:
        raise ValueError("weights need the default NLL loss (loss=None)")
    w = np.asarray(weights, np.float64)
    if w.shape != (data.shape[0],) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError(f"weights must be [N = {data.shape[0]}] finite, non-negative and not all zero, got shape "
                         f"{w.shape} with min {w.min() if w.size else None!r} and sum {w.sum() if w.size else None!r}")
    return jnp.concatenate([jnp.asarray(data, jnp.float32), jnp.asarray(w / w.sum(), jnp.float32)[:, None]], axis=1)
