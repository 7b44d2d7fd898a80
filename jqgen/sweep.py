"""Two-site sweep training of MPS Born machines (Han, Wang, Fan, Wang, Zhang, PRX 8, 031012).

One **loop** is a right-to-left half-sweep over bonds ``(n-2, n-1) .. (1, 2)`` followed by a
left-to-right one over ``(0, 1) .. (n-3, n-2)``, as in the authors' code. At each bond the
merged two-site tensor takes ``descent_steps`` normalized gradient steps on minibatches,
then is split by an SVD keeping singular values ``s_i >= cutoff * s_0`` (at least
``chi_min``, at most ``chi_max``); see :mod:`jqgen.mps._sweep` for the kernels and the
static-shape design (bond buckets, one compilation per bucket).

The driver runs half-sweeps in compiled chunks of bonds, shows a progress bar (loop,
bond, NLL, max bond dimension), records the train (and test) NLL after every loop, and
checkpoints every loop: killed and resumed with the same checkpoint path it continues to
the bit-identical result. The checkpoint records the run's settings (hyperparameters, PRNG
key, a fingerprint of the data, the learning rates and cutoffs used so far), so a resume
with other settings is refused, and why the run stopped, so resuming a run that the stop
rule ended returns its result without training further.
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

from ._checks import check_bits
from .checkpoint import load_checkpoint, save_checkpoint
from .data import validate_binary
from .mps import MPS, MPSBornMachine, bond_dims, left_canonical, log_prob, random_mps
from .mps._core import masked
from .mps._sweep import SweepHyper, environments, half_sweep, pad_carry

__all__ = ["SweepResult", "sweep_train"]


class SweepResult(NamedTuple):
    """Result of :func:`sweep_train`.

    Attributes:
        model: ``MPSBornMachine(n, chi_pad)`` for the returned parameters (``chi_pad`` is the
            final bond bucket, ``<= chi_max``).
        mps: the trained, normalized MPS (left-canonical up to site ``n-2``).
        bond_dims: ``[n + 1]`` bond dimensions after the last loop.
        history: per-loop lists: ``loop``, ``train_nll``, ``test_nll`` (NaN without test
            data), ``max_bond``, ``lr``, ``seconds`` (wall time of the loop).
    """

    model: MPSBornMachine
    mps: MPS
    bond_dims: np.ndarray
    history: dict[str, list[float]]


#: Smallest bond bucket: below it a bond update costs about the same (fixed per-operation
#: costs dominate), so smaller buckets would only add compilations.
_MIN_BUCKET = 8
#: ``fold_in`` value of the run's key that draws the order of the training rows (the loops
#: use ``fold_in(key, loop)``, loop < 2**31).
_ORDER_STREAM = 2**31 + 7


def _bucket(d: int, chi_max: int) -> int:
    return min(chi_max, max(_MIN_BUCKET, 1 << max(0, math.ceil(math.log2(max(d, 1))))))


def _check(name: str, ok: bool, value: Any, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def sweep_train(
    data: Any,
    *,
    chi_max: int,
    loops: int,
    key: jax.Array | None = None,
    lr: float | Callable[[int], float] = 1e-3,
    descent_steps: int = 10,
    num_batches: int = 20,
    cutoff: float | Callable[[int], float] = 1e-7,
    chi_min: int = 2,
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
    callback: Callable[[int, dict[str, list[float]]], None] | None = None,
    svd: str = "auto",
    blas_threads: int | None = 1,
) -> SweepResult:
    """Trains an MPS Born machine on ``data`` by two-site sweeps.

    Args:
        data: ``[N, n]`` 0/1 training samples (``n >= 3``).
        chi_max: maximal bond dimension ``D_max``.
        loops: number of loops (each: right-to-left then left-to-right).
        key: PRNG key (initial MPS and minibatch order). Needed unless the run resumes from
            an existing ``checkpoint_path``, whose key is then used.
        lr: learning rate, or a schedule ``lr(loop) -> float`` (any Optax schedule works,
            evaluated at the loop index).
        descent_steps: gradient steps per bond.
        num_batches: minibatches the data are split into (``N // num_batches`` samples each;
            1 = full batch). Each bond starts at a random minibatch and cycles.
        cutoff: relative singular-value cutoff, or ``cutoff(loop) -> float``.
        chi_min: minimal kept bond dimension.
        init_bond: bond dimension of the random initial MPS.
        init: its entries: ``"uniform"`` in ``[0, 1)`` (the authors' code; all amplitudes
            positive, so training starts near a broad distribution over every image: on
            MNIST-1k it reaches in 4 loops the NLL a normal start needs 5.5 for), or
            ``"normal"`` (:func:`jqgen.random_mps`); or an :class:`~jqgen.MPS` of ``n``
            sites and padding at most ``chi_max`` to start from (e.g. a model trained by
            gradient; ``init_bond`` is then unused, its bonds are its padding's). Either is
            left-canonicalized (normalizing it) before the first loop.
        normalized_grad: rescale gradients with ``|g| / numel**0.25 < 1`` up to that norm
            (the authors' GPU code used for their MNIST capacity curves).
        lr_decay_on_rise: if set, multiply the learning rate by it whenever the train NLL
            of a loop is higher than the previous loop's.
        min_improvement: if set, stop when a loop improves the train NLL by less.
        test_data: optional held-out samples; their NLL is recorded every loop.
        dtype: float32 (default) or float64.
        checkpoint_path: if given, the run state is saved there after every loop, and a run
            started with an existing checkpoint resumes from it. The checkpoint holds the
            settings the result depends on: ``chi_max``, ``chi_min``, ``init_bond``,
            ``descent_steps``, ``num_batches``, ``normalized_grad``, ``lr_decay_on_rise``,
            ``min_improvement``, ``dtype``, the key, the data (shape and SHA-256), and the
            ``lr`` and ``cutoff`` values of the loops done; a resume whose settings differ
            raises ``ValueError``. A checkpoint of a run that ``min_improvement`` stopped
            is finished: resuming it returns the same result at once. ``loops`` may
            differ (raise it to train on).
        chunk: bonds per compiled call (the progress bar updates between calls).
        progress: show a tqdm progress bar.
        callback: ``callback(loop, history)`` after every loop.
        svd: how a merged tensor is split: ``"lapack"`` (a full SVD), ``"gram"`` (the
            eigendecomposition of its Gram matrix: about 3x faster on a GPU and 1.6x on a
            CPU, where the factorization dominates a bond update; singular values below
            about ``sqrt(eps) s_0`` are not resolved), or ``"auto"``: ``"gram"`` unless the
            loop's cutoff lies where only the SVD resolves it (``10 eps < cutoff <
            3 sqrt(eps)``: 1.2e-6 to 1e-3 in float32), then ``"lapack"`` for that loop.
            Below ``10 eps`` neither resolves the cutoff (both keep rounding-level
            directions up to ``chi_max``).
        blas_threads: on the CPU, the number of threads of the BLAS/LAPACK library behind
            jax's CPU factorizations while this function runs (restored afterwards; needs
            ``threadpoolctl``); the default 1 is fastest for these small matrices (a
            second thread costs about 15% on 2 cores). ``None`` leaves it unchanged.

    Returns:
        :class:`SweepResult`.

    Raises:
        ValueError: bad data or hyperparameters (``cutoff < 0``, ``chi_min > chi_max``,
            ``lr <= 0``, ...), no ``key`` for a new run, or a checkpoint written with other
            settings.

    Example:
        >>> import jax, jqgen
        >>> from jqgen.data import bars_and_stripes
        >>> res = jqgen.sweep_train(bars_and_stripes(3, 3), chi_max=8, loops=2,
        ...                         key=jax.random.key(0), lr=0.05, num_batches=1, progress=False)
        >>> len(res.history["train_nll"])
        2
    """
    data = validate_binary(data, name="data")
    n_data, n = data.shape
    _check("number of sites", n >= 3, n, "at least 3 for two-site sweeps")
    for name, v in (("chi_max", chi_max), ("loops", loops), ("descent_steps", descent_steps),
                    ("num_batches", num_batches), ("init_bond", init_bond), ("chunk", chunk)):
        _check(name, isinstance(v, int) and not isinstance(v, bool) and v >= 1, v, "a positive int")
    _check("chi_min", isinstance(chi_min, int) and 1 <= chi_min <= chi_max, chi_min, f"an int in [1, chi_max={chi_max}]")
    _check("num_batches", num_batches <= n_data, num_batches, f"at most the number of samples ({n_data})")
    lr_at = lr if callable(lr) else (lambda _: lr)
    cut_at = cutoff if callable(cutoff) else (lambda _: cutoff)
    for name, f in (("lr", lr_at), ("cutoff", cut_at)):
        v = float(f(0))
        _check(name, math.isfinite(v) and (v > 0 if name == "lr" else v >= 0), v,
               "> 0" if name == "lr" else ">= 0 (relative to the largest singular value)")
    if lr_decay_on_rise is not None:
        _check("lr_decay_on_rise", 0 < lr_decay_on_rise <= 1, lr_decay_on_rise, "in (0, 1]")
    dtype = jnp.dtype(dtype)
    _check("dtype", dtype in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)), dtype, "float32 or float64")
    test = None if test_data is None else np.asarray(check_bits(test_data, n, "test_data"))
    rdt = jnp.finfo(dtype).dtype

    _check("svd", svd in ("auto", "lapack", "gram"), svd, "'auto', 'lapack' or 'gram'")
    if isinstance(init, MPS):
        _check("init", init.num_sites == n and init.chi_max <= chi_max and not jnp.iscomplexobj(init.tensors),
               f"an MPS of {init.num_sites} sites, padding {init.chi_max}, {jnp.dtype(init.dtype).name}",
               f"a real MPS of {n} sites with padding <= chi_max={chi_max}")
        init_record: Any = {"mps_sha256": hashlib.sha256(np.asarray(init.tensors).tobytes()).hexdigest()}
    else:
        _check("init", init in ("uniform", "normal"), init, "'uniform', 'normal' or an MPS")
        init_record = init
    if blas_threads is not None:
        _check("blas_threads", isinstance(blas_threads, int) and not isinstance(blas_threads, bool)
               and blas_threads >= 1, blas_threads, "a positive int or None")
    settings = {
        "svd": svd,
        "chi_max": chi_max, "chi_min": chi_min, "init_bond": init_bond, "init": init_record, "descent_steps": descent_steps,
        "num_batches": num_batches, "normalized_grad": bool(normalized_grad),
        "lr_decay_on_rise": None if lr_decay_on_rise is None else float(lr_decay_on_rise),
        "min_improvement": None if min_improvement is None else float(min_improvement),
        "dtype": dtype.name, "data": {"shape": list(data.shape), "sha256": hashlib.sha256(data.tobytes()).hexdigest()},
        "lr": _describe(lr), "cutoff": _describe(cutoff),
    }
    if key is not None:
        _check("key", hasattr(key, "dtype") and (jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
                                                  or key.dtype == jnp.uint32), key, "a jax PRNG key")
    schedules: dict[str, list[float]] = {"lr": [], "cutoff": []}  # values used in the loops done
    stopped_by = None
    resume = checkpoint_path is not None and os.path.exists(checkpoint_path)
    if resume:  # checks the settings; restores the key when none is given
        state, key, schedules, stopped_by = _load_state(checkpoint_path, n, chi_max, dtype, settings, key,
                                                        {"lr": lr_at, "cutoff": cut_at})
    elif key is None:
        raise ValueError("key (a jax PRNG key) is required, unless the run resumes from an existing checkpoint_path")
    init_key, sweep_key = jax.random.split(key)
    if not resume:
        state = _initial_state(init_key, n, init_bond, chi_max, dtype, init)
    key_record = _key_record(key)
    tensors, dims, loop0, lr_scale, history = state
    if stopped_by is not None:  # the stop rule ended this run: nothing left to do
        return SweepResult(MPSBornMachine(n, tensors.shape[-1], dtype=dtype), MPS(tensors), np.asarray(dims), history)
    key = sweep_key
    # one random order of the rows for the whole run: the minibatches are its consecutive
    # blocks (a fixed random partition, as in the authors' code, which uses the given order)
    data_j = jnp.asarray(data)[jax.random.permutation(jax.random.fold_in(key, _ORDER_STREAM), n_data)]
    batch_size = n_data // num_batches
    bar = _bar(progress, loops, loop0, n)
    carry = None
    # reuse a loop's left environments in the next loop (saves recomputing n x N contractions,
    # 14% of a loop at D_max = 55) on the CPU, where the sweep's incremental contraction and
    # environments() give identical bits, so a resumed run (which must recompute them) stays
    # bit-identical (tests/test_sweep.py checks both)
    reuse = jax.default_backend() == "cpu"
    # a factorization that fails (NaN) is recomputed by a slower algorithm on GPUs, where the
    # Jacobi solvers can stop without converging; CPU LAPACK does not fail on finite input
    # (a NaN there would surface as a NaN NLL, which raises), and the check costs 1-2%
    fallback = jax.default_backend() != "cpu"
    limits = contextlib.ExitStack()
    try:
        limits.enter_context(_blas_limit(blas_threads))
        for loop in range(loop0, loops):
            t0 = time.perf_counter()
            base_lr, loop_cut = float(lr_at(loop)), float(cut_at(loop))
            loop_lr = base_lr * lr_scale
            loop_svd = _split_method(svd, loop_cut, dtype)
            hyper = SweepHyper(jnp.asarray(loop_lr, rdt), jnp.asarray(loop_cut, rdt),
                               jnp.int32(chi_min), jnp.int32(chi_max))
            for half, move_right in enumerate((False, True)):
                chi_pad = _bucket(min(chi_max, 2 * int(np.max(dims))), chi_max)
                if half == 0 and reuse and carry is not None and chi_pad == carry.tensors.shape[-1]:
                    # the left environments the last left-to-right half-sweep built are those of
                    # the current tensors, bit for bit as environments() computes them
                    carry = carry._replace(svd_fallbacks=jnp.int32(0))
                elif half == 0:
                    t = jnp.pad(tensors, _pad_spec(tensors.shape[-1], chi_pad))
                    carry = environments(t, data_j, jnp.asarray(dims))
                elif chi_pad > carry.tensors.shape[-1]:
                    carry = pad_carry(carry, chi_pad)
                hkey = jax.random.fold_in(jax.random.fold_in(key, loop), half)
                for start in range(0, n - 2, chunk):
                    carry, nll = half_sweep(carry, data_j, hkey, jnp.int32(start), hyper, move_right=move_right,
                                            chunk=chunk, descent_steps=descent_steps, batch_size=batch_size,
                                            normalized_grad=normalized_grad, svd=loop_svd, fallback=fallback)
                    if bar is not None:  # (without a bar, no host sync between chunks)
                        dims = np.asarray(carry.dims)
                        bar.update(min(chunk, n - 2 - start))
                        bar.set_postfix(loop=loop + 1, bond=f"{'->' if move_right else '<-'}{start + min(chunk, n - 2 - start)}",
                                        nll=f"{float(nll):.3f}", max_bond=int(dims.max()))
                dims = np.asarray(carry.dims)
            tensors = carry.tensors
            train_nll = float(nll)
            fallbacks = int(carry.svd_fallbacks)
            if fallbacks and fallback:
                warnings.warn(f"loop {loop + 1}: {fallbacks} bond factorization(s) returned NaN (a GPU solver that "
                              "did not converge) and were recomputed with a slower algorithm", RuntimeWarning,
                              stacklevel=2)
            elif fallbacks:
                raise FloatingPointError(f"loop {loop + 1}: {fallbacks} bond factorization(s) returned NaN")
            if not math.isfinite(train_nll):
                raise FloatingPointError(f"train NLL became {train_nll} in loop {loop + 1}")
            test_nll = _test_nll(tensors, test) if test is not None else math.nan
            prev = history["train_nll"][-1] if history["train_nll"] else math.inf
            for k_, v_ in (("loop", loop + 1), ("train_nll", train_nll), ("test_nll", test_nll),
                           ("max_bond", int(dims.max())), ("lr", loop_lr), ("seconds", time.perf_counter() - t0)):
                history[k_].append(v_)
            if lr_decay_on_rise is not None and train_nll > prev:
                lr_scale *= lr_decay_on_rise
            schedules["lr"].append(base_lr)
            schedules["cutoff"].append(loop_cut)
            stop = min_improvement is not None and 0 <= prev - train_nll < min_improvement
            if checkpoint_path is not None:
                _save_state(checkpoint_path, tensors, dims, loop + 1, lr_scale, history, settings=settings,
                            key=key_record, schedules=schedules, stopped_by="min_improvement" if stop else None)
            if callback is not None:
                callback(loop + 1, history)
            if stop:
                break
    finally:
        limits.close()
        if bar is not None:
            bar.close()
    chi_pad = tensors.shape[-1]
    return SweepResult(MPSBornMachine(n, chi_pad, dtype=dtype), MPS(tensors), np.asarray(dims), history)


def _split_method(svd: str, cutoff: float, dtype: Any) -> str:
    """The split of a loop: ``svd`` itself unless ``"auto"``, which takes the Gram route
    except for cutoffs that the SVD resolves and the Gram eigenvalues do not (see
    :func:`sweep_train`)."""
    if svd != "auto":
        return svd
    eps = float(jnp.finfo(dtype).eps)
    return "lapack" if 10 * eps < cutoff < 3 * math.sqrt(eps) else "gram"


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


_log_prob_jit = jax.jit(log_prob)


def _test_nll(tensors: jax.Array, test: np.ndarray) -> float:
    with jax.default_matmul_precision("highest"):  # no TF32 on GPUs
        return float(-jnp.mean(_log_prob_jit(MPS(tensors), jnp.asarray(test))))


def _pad_spec(old: int, new: int) -> tuple[tuple[int, int], ...]:
    p = max(0, new - old)
    return ((0, 0), (0, p), (0, 0), (0, p))


def _initial_state(key, n, init_bond, chi_max, dtype, init):
    if isinstance(init, MPS):
        bond = init.chi_max
        mps = MPS(jnp.asarray(init.tensors, dtype))
    elif init == "uniform":  # as Han et al.'s MPS_c: entries uniform in [0, 1)
        bond = min(init_bond, chi_max)
        mps = MPS(masked(jax.random.uniform(key, (n, bond, 2, bond), dtype)))
    else:
        bond = min(init_bond, chi_max)
        mps = random_mps(key, n, bond, dtype=dtype)
    mps = left_canonical(mps)
    history: dict[str, list[float]] = {k: [] for k in ("loop", "train_nll", "test_nll", "max_bond", "lr", "seconds")}
    return mps.tensors, np.asarray(bond_dims(n, bond), np.int32), 0, 1.0, history


def _describe(x: Any) -> Any:
    """JSON description of a constant or a schedule (schedules are compared by their values)."""
    if callable(x):
        return f"schedule {getattr(x, '__qualname__', type(x).__name__)}"
    return float(x)


def _key_record(key: jax.Array) -> dict[str, Any]:
    """``{"impl", "data"}`` of a typed or raw (``uint32``) PRNG key; a raw key counts as the
    default implementation's typed key (the same random bits)."""
    if not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(jnp.asarray(key, jnp.uint32))
    return {"impl": str(jax.random.key_impl(key)), "data": np.asarray(jax.random.key_data(key)).tolist()}


def _save_state(path, tensors, dims, loop, lr_scale, history, *, settings, key, schedules, stopped_by) -> None:
    n, chi = tensors.shape[0], tensors.shape[-1]
    meta = {"kind": "sweep", "loop": loop, "lr_scale": lr_scale, "bond_dims": dims.tolist(), "history": history,
            "sweep_settings": settings, "key": key, "lr_values": schedules["lr"],
            "cutoff_values": schedules["cutoff"], "stopped_by": stopped_by}
    save_checkpoint(path, MPSBornMachine(n, chi, dtype=tensors.dtype), MPS(tensors), metadata=meta)


def _load_state(path, n, chi_max, dtype, settings, key, schedules):
    """State, key, schedule values and stop reason of a checkpoint, after checking that it
    was written with ``settings``, ``key`` (unless None) and the same schedule values."""
    ck = load_checkpoint(path)
    meta = ck.metadata
    if meta.get("kind") != "sweep":
        raise ValueError(f"{path} is not a sweep checkpoint")
    loop0 = int(meta["loop"])
    saved = meta.get("sweep_settings")
    if saved is not None:  # checkpoints of older versions hold no settings
        diff = [(k, saved.get(k), v) for k, v in settings.items()
                if k not in ("lr", "cutoff") and k in saved and saved.get(k) != v]
        for name, f in schedules.items():
            before = [float(x) for x in meta.get(f"{name}_values", [])]
            now = [float(f(i)) for i in range(len(before))]
            if before != now:
                diff.append((f"{name} (values in loops 1..{len(before)})", before, now))
        if key is not None and meta.get("key") is not None and _key_record(key) != meta["key"]:
            diff.append(("key", meta["key"], _key_record(key)))
        if diff:
            what = "; ".join(f"{k}: {a!r} in the checkpoint, {b!r} in this run" for k, a, b in diff)
            raise ValueError(f"{path} was written by a run with other settings ({what}); resume with the same "
                             f"settings, or use another checkpoint_path")
    if ck.model.num_bits != n or ck.model.chi_max > chi_max:
        raise ValueError(f"{path} is not a sweep checkpoint for {n} sites and chi_max <= {chi_max}")
    if jnp.dtype(ck.model.dtype) != jnp.dtype(dtype):
        raise ValueError(f"{path} holds {ck.model.dtype} tensors, the run asks for {jnp.dtype(dtype)}")
    if key is None:
        rec = meta.get("key")
        if rec is None:
            raise ValueError(f"{path} holds no PRNG key (written by an older version): pass key to resume")
        key = jax.random.wrap_key_data(jnp.asarray(rec["data"], jnp.uint32), impl=rec["impl"])
    history = {k: list(v) for k, v in meta["history"].items()}
    # the values of the loops done (older checkpoints lack them: taken from this run's settings)
    values = {name: [float(x) for x in meta[f"{name}_values"]] if f"{name}_values" in meta
              else [float(f(i)) for i in range(loop0)] for name, f in schedules.items()}
    state = (ck.params.tensors, np.asarray(meta["bond_dims"], np.int32), loop0, float(meta["lr_scale"]), history)
    return state, key, values, meta.get("stopped_by")


def _bar(enabled: bool, loops: int, loop0: int, n: int) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    per = n - 2
    return tqdm(total=2 * per * loops, initial=2 * per * loop0, desc="sweep", unit="bond", dynamic_ncols=True)
