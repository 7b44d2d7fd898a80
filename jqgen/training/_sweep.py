"""Two-site sweep training of MPS Born machines through the runner: :func:`sweep` and :func:`sweep_train`.

One runner step is one **loop** of :func:`jqgen.mps.sweep_loop` (Han et al., PRX 8, 031012,
2018). The strategy records per loop the train NLL (the loss), the test NLL, the largest
bond, the learning rate and cutoff used, and the wall time; the runner checkpoints every
loop and resumes to the bit-identical result. A run that ``min_improvement`` stopped is
finished: resuming it returns the same result at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import time
import warnings
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_bits, validate_binary
from .._mesh import data_mesh, data_size
from ..checkpoint import checkpoint_info
from ..mps import (MPS, BlockMPS, MPSBornMachine, SweepConfig, SweepState, SymmetricMPSBornMachine, bond_dims,
                   initial_sweep_state, log_prob, sweep_loop)
from ..mps._sweep_sharded import place_rows
from ..mps._u1_sweep import block_sweep_loop, initial_block_state
from ..protocol import check_support
from ._runner import run
from ._strategy import Strategy
from ._sweep_checks import check_run as _check_run

__all__ = ["SweepResult", "sweep", "sweep_train"]

#: ``fold_in`` value of the run's key that draws the order of the training rows (the loops
#: use ``fold_in(key, loop)``, loop < 2**31).
_ORDER_STREAM = 2**31 + 7


class SweepResult(NamedTuple):
    """Result of :func:`sweep_train`.

    Attributes:
        model: ``MPSBornMachine(n, chi_pad)`` for the returned parameters (``chi_pad``, the
            final bond bucket, is at most ``max_bond``), or, for a constrained run
            (``target=``), ``SymmetricMPSBornMachine(n, target, chi_pad, weights)``.
        mps: the trained, normalized MPS (left-canonical up to site ``n-2``): an
            :class:`~jqgen.mps.MPS`, or a :class:`~jqgen.mps.BlockMPS` for a constrained run.
        bond_dims: ``[n + 1]`` bond dimensions after the last loop (``[n + 1, Q]`` block
            sizes by charge for a constrained run; their row sums are the bond dimensions).
        history: per-loop lists: ``loop``, ``train_nll``, ``test_nll`` (NaN without test
            data), ``max_bond``, ``lr``, ``seconds`` (wall time of the loop).
        status: the runner's ``"completed"`` or ``"stopped: min_improvement"``.
    """

    model: MPSBornMachine | SymmetricMPSBornMachine
    mps: MPS | BlockMPS
    bond_dims: np.ndarray
    history: dict[str, list[float]]
    status: str = "completed"


_log_prob_jit = jax.jit(log_prob)


def _test_nll(model: Any, params: Any, test: np.ndarray) -> float:
    with jax.default_matmul_precision("highest"):  # no TF32 on GPUs
        if isinstance(params, MPS):
            return float(-jnp.mean(_log_prob_jit(params, jnp.asarray(test))))
        return float(-jnp.mean(model.log_prob(params, test)))


class Constraint(NamedTuple):
    """``sum_i weights[i] x_i = target``: a sweep of a :class:`~jqgen.mps.SymmetricMPSBornMachine`."""

    weights: tuple[int, ...]
    target: int

    def model(self, chi: int, dtype: Any) -> SymmetricMPSBornMachine:
        w = None if all(a == 1 for a in self.weights) else self.weights
        return SymmetricMPSBornMachine(len(self.weights), self.target, chi, weights=w, dtype=dtype)


def sweep(config: SweepConfig, data: Any, key: jax.Array, *, test_data: Any = None,
          constraint: Constraint | None = None, devices: Any = None) -> Strategy:
    """The sweep strategy (a host strategy: one step = one loop).

    Args:
        config: the run's :class:`~jqgen.mps.SweepConfig`.
        data: ``[N, n]`` training rows (validated).
        key: the run's key: its second half (``split(key)[1]``) orders the rows and keys the loops.
        test_data: optional held-out rows, whose NLL is recorded every loop.
        constraint: train a U(1)-symmetric MPS (block sweeps of :mod:`jqgen.mps._u1_sweep`)
            instead of an unconstrained one.
        devices: data parallelism (see :func:`sweep_train`); not with ``constraint``.
    """
    data = validate_binary(data, name="data")
    n_data, n = data.shape
    sweep_key = jax.random.split(key)[1]
    rows = jnp.asarray(data)[jax.random.permutation(jax.random.fold_in(sweep_key, _ORDER_STREAM), n_data)]
    mesh = data_mesh(devices)
    if mesh is not None and constraint is not None:
        raise ValueError("devices= is not available for a constrained (target=) sweep: train it on one device")
    if mesh is not None:  # each device: its share of every minibatch (and the environments of those rows)
        rows = place_rows(rows, n_data // config.num_batches, mesh)
    test = None if test_data is None else np.asarray(test_data)
    # reuse a loop's left environments in the next loop on the CPU (saves recomputing n x N
    # contractions, 14% of a loop at D_max = 55), where the incremental contraction and
    # environments() give identical bits, so a resumed run (which recomputes them) stays
    # bit-identical; only when the incoming tensors are the ones the kept carry ends with
    reuse = jax.default_backend() == "cpu" and constraint is None
    # GPUs' Jacobi solvers can stop without converging: recompute a NaN factorization there
    fallback = jax.default_backend() != "cpu"
    kept: dict[str, Any] = {}
    lr_at, cut_at = config.schedule("lr"), config.schedule("cutoff")

    def model_of(params: Any) -> Any:
        if constraint is None:
            return MPSBornMachine(n, params.tensors.shape[-1], dtype=config.dtype)
        return constraint.model(params.blocks.shape[-1], config.dtype)

    def init(params: Any, key: jax.Array) -> SweepState:
        if constraint is None:
            return SweepState(np.asarray(bond_dims(n, params.chi_max), np.int32))
        return SweepState(np.asarray(model_of(params).layout.dims, np.int32))

    def loop_of(params: Any, state: SweepState, loop: int, lr: float, cut: float) -> tuple[Any, Any, float]:
        lkey = jax.random.fold_in(sweep_key, loop)
        if constraint is None:
            carry = kept.get("carry") if reuse and kept.get("tensors") is params.tensors else None
            carry, nll = sweep_loop(config, params.tensors, np.asarray(state.dims), rows, lkey, lr, cut, carry=carry,
                                    fallback=fallback, mesh=mesh)
            kept.update(carry=carry, tensors=carry.tensors)
            return MPS(carry.tensors), carry, nll
        carry, nll = block_sweep_loop(config, params.blocks, np.asarray(state.dims), rows,
                                      jnp.asarray(constraint.weights, jnp.int32), lkey, lr, cut, fallback=fallback)
        return BlockMPS(carry.blocks), carry, nll

    def host_step(params: Any, state: SweepState, _data: Any, loop: int, _key: jax.Array):
        t0 = time.perf_counter()
        base_lr, loop_cut = float(lr_at(loop)), float(cut_at(loop))
        loop_lr = base_lr * state.lr_scale
        new, carry, train_nll = loop_of(params, state, loop, loop_lr, loop_cut)
        fallbacks = int(carry.svd_fallbacks)
        if fallbacks and fallback:
            warnings.warn(f"loop {loop + 1}: {fallbacks} bond factorization(s) returned NaN (a GPU solver that did "
                          "not converge) and were recomputed with a slower algorithm", RuntimeWarning, stacklevel=2)
        elif fallbacks:
            raise FloatingPointError(f"loop {loop + 1}: {fallbacks} bond factorization(s) returned NaN")
        dims = np.asarray(carry.dims)
        test_nll = _test_nll(model_of(new), new, test) if test is not None and math.isfinite(train_nll) else math.nan
        scale = state.lr_scale
        if config.lr_decay_on_rise is not None and train_nll > state.prev_nll:
            scale *= config.lr_decay_on_rise
        metrics: dict[str, Any] = {"loss": train_nll, "train_nll": train_nll, "test_nll": test_nll,
                                   "max_bond": int(dims.reshape(n + 1, -1).sum(axis=1).max()),
                                   "lr": loop_lr, "lr_base": base_lr, "cutoff": loop_cut,
                                   "seconds": time.perf_counter() - t0}
        if config.min_improvement is not None and 0 <= state.prev_nll - train_nll < config.min_improvement:
            metrics["stop"] = "min_improvement"
        return new, SweepState(dims.astype(np.int32), float(scale), float(train_nll)), metrics

    described = config.to_json()
    if constraint is not None:
        described = {**described, "constraint": {"weights": list(constraint.weights), "target": constraint.target}}
    return Strategy("sweep", init, host_step=host_step, config=described, unit="loop", model_of=model_of)


def _check_schedules(path: str, config: SweepConfig) -> None:
    """A resumed run's ``lr``/``cutoff`` must give the values of the loops already done."""
    training = (checkpoint_info(path).get("metadata") or {}).get("training") or {}
    metrics = training.get("metrics") or {}
    for name, column in (("lr", "lr_base"), ("cutoff", "cutoff")):
        before = [float(x) for x in metrics.get(column, [])]
        now = [float(config.schedule(name)(i)) for i in range(len(before))]
        if before != now:
            raise ValueError(f"{path} was written by a run with other settings ({name} (values in loops "
                             f"1..{len(before)}): {before!r} in the checkpoint, {now!r} in this run); resume with "
                             "the same settings, or use another checkpoint path")


def _resume_key(path: str | None, key: jax.Array | None) -> jax.Array:
    if key is not None:
        if not (hasattr(key, "dtype") and (jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
                                            or key.dtype == jnp.uint32)):
            raise ValueError(f"key must be a jax PRNG key, got {key!r}")
        return key
    if path is None or not os.path.exists(path):
        raise ValueError("key (a jax PRNG key) is required, unless the run resumes from an existing checkpoint_path")
    rec = ((checkpoint_info(path).get("metadata") or {}).get("training") or {}).get("key")
    if rec is None:
        raise ValueError(f"{path} holds no PRNG key (not a training checkpoint): pass key to resume")
    from ._state import key_from_record

    return key_from_record(rec)


def _blas_limit(threads: int | None) -> Any:
    """Context limiting the BLAS/LAPACK threads on the CPU backend (a no-op elsewhere, for
    ``None``, or without ``threadpoolctl``)."""
    if threads is None or jax.default_backend() != "cpu":
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: only a speed-up
        return contextlib.nullcontext()
    return threadpool_limits(threads, user_api="blas")


def sweep_train(
    data: Any,
    *,
    max_bond: int,
    loops: int,
    key: jax.Array | None = None,
    lr: float | Callable[[int], float] = 1e-3,
    descent_steps: int = 10,
    num_batches: int = 20,
    cutoff: float | Callable[[int], float] = 1e-7,
    min_bond: int = 2,
    init_bond: int = 2,
    init: str | MPS = "uniform",
    normalized_grad: bool = False,
    lr_decay_on_rise: float | None = None,
    min_improvement: float | None = None,
    test_data: Any = None,
    dtype: Any = jnp.float32,
    checkpoint_path: str | os.PathLike[str] | None = None,
    chunk: int = 64,
    progress: bool = True,
    callback: Any = None,
    svd: str = "auto",
    blas_threads: int | None = 1,
    metadata: Any = None,
    target: int | None = None,
    weights: Any = None,
    devices: Any = None,
) -> SweepResult:
    """Trains an MPS Born machine on ``data`` by two-site sweeps (Han et al., PRX 2018).

    Args:
        data: ``[N, n]`` 0/1 training samples (``n >= 3``).
        max_bond: largest bond dimension ``D_max``.
        loops: number of loops (each: right-to-left then left-to-right).
        key: PRNG key (initial MPS and minibatch order). Needed unless the run resumes from
            an existing ``checkpoint_path``, whose key is then used.
        lr: learning rate, or a schedule ``lr(loop) -> float`` (any Optax schedule works).
        descent_steps: gradient steps per bond.
        num_batches: minibatches the data are split into (``N // num_batches`` rows each;
            1 = full batch): one fixed random partition of the rows; each bond starts at a
            random minibatch and cycles.
        cutoff: relative singular-value cutoff, or ``cutoff(loop) -> float``.
        min_bond: smallest kept bond dimension.
        init_bond: bond dimension of the random initial MPS.
        init: ``"uniform"`` entries in ``[0, 1)`` (the authors' code; on MNIST-1k it
            reaches in 4 loops the NLL a normal start needs 5.5 for), ``"normal"``
            (:func:`jqgen.mps.random_mps`), or an :class:`~jqgen.mps.MPS` of ``n`` sites and
            padding at most ``max_bond`` to start from. Left-canonicalized first.
        normalized_grad: rescale gradients with ``|g| / numel**0.25 < 1`` up to that norm
            (the authors' GPU code for their MNIST capacity curves).
        lr_decay_on_rise: multiply the learning rate by it whenever a loop's train NLL is
            higher than the previous loop's.
        min_improvement: stop when a loop improves the train NLL by less.
        test_data: optional held-out samples; their NLL is recorded every loop.
        dtype: float32 (default) or float64.
        checkpoint_path: the run's checkpoint, written after every loop; a run started with
            an existing one resumes from it to the bit-identical result. A resume with other
            settings (the :class:`~jqgen.mps.SweepConfig`, the key, the data, the ``lr`` and
            ``cutoff`` values of the loops done) raises ``ValueError``; ``loops`` may differ.
            A run that ``min_improvement`` stopped returns its result at once.
        chunk: bonds per compiled call.
        progress: show a progress bar (one tick per loop).
        callback: ``callback(loops_done, mps, state, history)`` after every loop.
        svd: how a merged tensor is split: ``"lapack"`` (a full SVD), ``"gram"`` (the
            eigendecomposition of its Gram matrix: about 3x faster on a GPU and 1.6x on a
            CPU; singular values below about ``sqrt(eps) s_0`` are not resolved), or
            ``"auto"``: ``"gram"`` unless the loop's cutoff lies where only the SVD
            resolves it (``10 eps < cutoff < 3 sqrt(eps)``: 1.2e-6 to 1e-3 in float32).
        blas_threads: on the CPU, BLAS/LAPACK threads while this function runs (restored
            afterwards; needs ``threadpoolctl``); 1 is fastest for these small matrices.
            ``None`` leaves it unchanged.
        metadata: extra JSON metadata for the checkpoint.
        target: train a U(1)-symmetric MPS (:class:`~jqgen.mps.SymmetricMPSBornMachine`) that
            generates only strings with ``sum_i weights[i] x_i = target`` (cardinality
            ``target`` when ``weights`` is ``None``): block sweeps truncated charge sector by
            sector (:mod:`jqgen.mps._u1_sweep`; ``max_bond`` bounds the sum of a bond's
            sectors; every sector keeps at least one state). ``init`` may then be a
            :class:`~jqgen.mps.BlockMPS`; ``normalized_grad`` and ``svd="gram"`` are not
            available (``"auto"`` is the SVD). Every data row must meet the constraint.
        weights: the non-negative integer ``a_i`` of a constrained run (default: ones).
        devices: ``None`` (default: one device, as always), or a sequence of jax devices
            or a ``jax.sharding.Mesh`` with an axis ``"data"``: data parallelism. The rows
            and their left/right environments are split over the devices along
            ``"data"``, each device holding its share of every minibatch (the same
            minibatches as on one device); the tensors are replicated, the merged tensor's
            gradient and the NLL are summed over devices (``psum`` in ``jax.shard_map``),
            and the memory check counts ``N / D`` rows per device. Results equal the
            single-device run's to float rounding (sums in another order), not bit for
            bit; a checkpoint resumes with any ``devices``. ``N`` and the minibatch size
            ``N // num_batches`` must be multiples of the device count (``ValueError``; no
            rows are padded). Not with ``target``.

    Returns:
        :class:`SweepResult`.

    Raises:
        ValueError: bad data or hyperparameters, no ``key`` for a new run, or a checkpoint
            written with other settings.
        FloatingPointError: a loop's NLL became NaN/inf (the last good loop is in the checkpoint).

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.data import bars_and_stripes
        >>> res = jqgen.sweep_train(bars_and_stripes(3, 3), max_bond=8, loops=2,
        ...                         key=jax.random.key(0), lr=0.05, num_batches=1, progress=False)
        >>> len(res.history["train_nll"])
        2
    """
    data = validate_binary(data, name="data")
    n = data.shape[1]
    constraint = _constraint(n, target, weights, normalized_grad, svd, max_bond)
    shards = data_size(data_mesh(devices))
    if constraint is not None and devices is not None:
        raise ValueError("devices= is not available for a constrained (target=) sweep: train it on one device")
    if constraint is not None:
        check_support(constraint.model(1, jnp.float32), data)
    init_mps = init if isinstance(init, (MPS, BlockMPS)) else None
    config = SweepConfig(max_bond, lr=lr, descent_steps=descent_steps, num_batches=num_batches, cutoff=cutoff,
                         min_bond=min_bond, init_bond=init_bond, init="uniform" if init_mps is not None else init,
                         normalized_grad=bool(normalized_grad), lr_decay_on_rise=lr_decay_on_rise,
                         min_improvement=min_improvement, dtype=dtype, svd=svd, chunk=chunk)
    _check_run(data, config, loops, init_mps, blas_threads, constraint, shards)
    test = None if test_data is None else np.asarray(check_bits(test_data, n, "test_data"))
    path = os.fspath(checkpoint_path) if checkpoint_path is not None else None
    key = _resume_key(path, key)
    strategy = sweep(config, data, key, test_data=test, constraint=constraint, devices=devices)
    if init_mps is not None:
        leaf = init_mps.tensors if isinstance(init_mps, MPS) else init_mps.blocks
        strategy = strategy._replace(config={**strategy.config, "init": {
            "mps_sha256": hashlib.sha256(np.asarray(leaf).tobytes()).hexdigest()}})
    if path is not None and os.path.exists(path):
        _check_schedules(path, config)
    if constraint is None:
        params0, _ = initial_sweep_state(config, jax.random.split(key)[0], n, init_mps)
    else:
        blocks, _ = initial_block_state(config, jax.random.split(key)[0], constraint.weights, constraint.target,
                                        init_mps)
        params0 = BlockMPS(blocks)
    with _blas_limit(blas_threads):
        res = run(strategy, params0, data, key=key, steps=loops, checkpoint_path=path, metadata=metadata,
                  callback=callback, progress=progress, desc=f"sweep D_max={max_bond}")
    return SweepResult(strategy.model_of(res.params), res.params, np.asarray(res.state.dims),
                       _loop_history(res.metrics, res.steps_done), res.status)


def _constraint(n: int, target: Any, weights: Any, normalized_grad: Any, svd: str, max_bond: int
                ) -> Constraint | None:
    if target is None:
        if weights is not None:
            raise ValueError("weights needs target (the required sum_i weights[i] x_i)")
        return None
    if normalized_grad:
        raise ValueError("normalized_grad is not available for a constrained (target=) sweep")
    if svd == "gram":
        raise ValueError("svd='gram' is not available for a constrained (target=) sweep: use 'auto' or 'lapack'")
    w = (1,) * n if weights is None else tuple(weights)
    if len(w) != n:
        raise ValueError(f"weights must have one entry per bit ({n}), got {len(w)}")
    from ..mps import ChargeLayout

    lay = ChargeLayout(w, target, max(1, int(max_bond)) if isinstance(max_bond, int) else 1)  # validates
    return Constraint(lay.weights, lay.target)


def _loop_history(m: dict[str, np.ndarray], done: int) -> dict[str, list[Any]]:
    """The runner's metrics as the per-loop lists of :class:`SweepResult`."""
    return {"loop": list(range(1, done + 1)), "train_nll": list(map(float, m["loss"])),
            "test_nll": list(map(float, m.get("test_nll", [math.nan] * done))),
            "max_bond": [int(x) for x in m.get("max_bond", [])], "lr": list(map(float, m.get("lr", []))),
            "seconds": list(map(float, m.get("seconds", [])))}
