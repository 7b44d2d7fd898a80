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
the bit-identical result.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import check_bits
from .checkpoint import load_checkpoint, save_checkpoint
from .data import validate_binary
from .mps import MPS, MPSBornMachine, bond_dims, left_canonical, log_prob, random_mps
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


def _bucket(d: int, chi_max: int) -> int:
    return min(chi_max, max(2, 1 << max(0, math.ceil(math.log2(max(d, 1))))))


def _check(name: str, ok: bool, value: Any, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def sweep_train(
    data: Any,
    *,
    chi_max: int,
    loops: int,
    key: jax.Array,
    lr: float | Callable[[int], float] = 1e-3,
    descent_steps: int = 10,
    num_batches: int = 20,
    cutoff: float | Callable[[int], float] = 1e-7,
    chi_min: int = 2,
    init_bond: int = 2,
    normalized_grad: bool = False,
    lr_decay_on_rise: float | None = None,
    min_improvement: float | None = None,
    test_data: Any = None,
    dtype: Any = jnp.float32,
    checkpoint_path: str | os.PathLike[str] | None = None,
    chunk: int = 64,
    progress: bool = True,
    callback: Callable[[int, dict[str, list[float]]], None] | None = None,
) -> SweepResult:
    """Trains an MPS Born machine on ``data`` by two-site sweeps.

    Args:
        data: ``[N, n]`` 0/1 training samples (``n >= 3``).
        chi_max: maximal bond dimension ``D_max``.
        loops: number of loops (each: right-to-left then left-to-right).
        key: PRNG key (initial MPS and minibatch order).
        lr: learning rate, or a schedule ``lr(loop) -> float`` (any Optax schedule works,
            evaluated at the loop index).
        descent_steps: gradient steps per bond.
        num_batches: minibatches the data are split into (``N // num_batches`` samples each;
            1 = full batch). Each bond starts at a random minibatch and cycles.
        cutoff: relative singular-value cutoff, or ``cutoff(loop) -> float``.
        chi_min: minimal kept bond dimension.
        init_bond: bond dimension of the random initial MPS.
        normalized_grad: rescale gradients with ``|g| / numel**0.25 < 1`` up to that norm
            (the authors' GPU code used for their MNIST capacity curves).
        lr_decay_on_rise: if set, multiply the learning rate by it whenever the train NLL
            of a loop is higher than the previous loop's.
        min_improvement: if set, stop when a loop improves the train NLL by less.
        test_data: optional held-out samples; their NLL is recorded every loop.
        dtype: float32 (default) or float64.
        checkpoint_path: if given, the run state is saved there after every loop, and a run
            started with an existing checkpoint resumes from it.
        chunk: bonds per compiled call (the progress bar updates between calls).
        progress: show a tqdm progress bar.
        callback: ``callback(loop, history)`` after every loop.

    Returns:
        :class:`SweepResult`.

    Raises:
        ValueError: bad data or hyperparameters (``cutoff < 0``, ``chi_min > chi_max``,
            ``lr <= 0``, ...).

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

    init_key, key = jax.random.split(key)
    state = _initial_state(init_key, n, init_bond, chi_max, dtype)
    if checkpoint_path is not None and os.path.exists(checkpoint_path):
        state = _load_state(checkpoint_path, n, chi_max, dtype)
    tensors, dims, loop0, lr_scale, history = state
    data_j = jnp.asarray(data)
    batch_size = n_data // num_batches
    bar = _bar(progress, loops, loop0, n)
    try:
        for loop in range(loop0, loops):
            t0 = time.perf_counter()
            loop_lr = float(lr_at(loop)) * lr_scale
            hyper = SweepHyper(jnp.asarray(loop_lr, rdt), jnp.asarray(float(cut_at(loop)), rdt),
                               jnp.int32(chi_min), jnp.int32(chi_max))
            carry = None
            for half, move_right in enumerate((False, True)):
                chi_pad = _bucket(min(chi_max, 2 * int(np.max(dims))), chi_max)
                if carry is None:
                    t = jnp.pad(tensors, _pad_spec(tensors.shape[-1], chi_pad))
                    carry = environments(t, data_j, jnp.asarray(dims))
                elif chi_pad > carry.tensors.shape[-1]:
                    carry = pad_carry(carry, chi_pad)
                hkey = jax.random.fold_in(jax.random.fold_in(key, loop), half)
                for start in range(0, n - 2, chunk):
                    carry, nll = half_sweep(carry, data_j, hkey, jnp.int32(start), hyper, move_right=move_right,
                                            chunk=chunk, descent_steps=descent_steps, batch_size=batch_size,
                                            normalized_grad=normalized_grad)
                    dims = np.asarray(carry.dims)
                    if bar is not None:
                        bar.update(min(chunk, n - 2 - start))
                        bar.set_postfix(loop=loop + 1, bond=f"{'->' if move_right else '<-'}{start + min(chunk, n - 2 - start)}",
                                        nll=f"{float(nll):.3f}", max_bond=int(dims.max()))
            tensors = carry.tensors
            train_nll = float(nll)
            if not math.isfinite(train_nll):
                raise FloatingPointError(f"train NLL became {train_nll} in loop {loop + 1}")
            test_nll = float(-jnp.mean(_log_prob_jit(MPS(tensors), jnp.asarray(test)))) if test is not None else math.nan
            prev = history["train_nll"][-1] if history["train_nll"] else math.inf
            for k_, v_ in (("loop", loop + 1), ("train_nll", train_nll), ("test_nll", test_nll),
                           ("max_bond", int(dims.max())), ("lr", loop_lr), ("seconds", time.perf_counter() - t0)):
                history[k_].append(v_)
            if lr_decay_on_rise is not None and train_nll > prev:
                lr_scale *= lr_decay_on_rise
            if checkpoint_path is not None:
                _save_state(checkpoint_path, tensors, dims, loop + 1, lr_scale, history)
            if callback is not None:
                callback(loop + 1, history)
            if min_improvement is not None and 0 <= prev - train_nll < min_improvement:
                break
    finally:
        if bar is not None:
            bar.close()
    chi_pad = tensors.shape[-1]
    return SweepResult(MPSBornMachine(n, chi_pad, dtype=dtype), MPS(tensors), np.asarray(dims), history)


_log_prob_jit = jax.jit(log_prob)


def _pad_spec(old: int, new: int) -> tuple[tuple[int, int], ...]:
    p = max(0, new - old)
    return ((0, 0), (0, p), (0, 0), (0, p))


def _initial_state(key, n, init_bond, chi_max, dtype):
    bond = min(init_bond, chi_max)
    mps = left_canonical(random_mps(key, n, bond, dtype=dtype))
    history: dict[str, list[float]] = {k: [] for k in ("loop", "train_nll", "test_nll", "max_bond", "lr", "seconds")}
    return mps.tensors, np.asarray(bond_dims(n, bond), np.int32), 0, 1.0, history


def _save_state(path, tensors, dims, loop, lr_scale, history) -> None:
    n, chi = tensors.shape[0], tensors.shape[-1]
    meta = {"kind": "sweep", "loop": loop, "lr_scale": lr_scale, "bond_dims": dims.tolist(), "history": history}
    save_checkpoint(path, MPSBornMachine(n, chi, dtype=tensors.dtype), MPS(tensors), metadata=meta)


def _load_state(path, n, chi_max, dtype):
    ck = load_checkpoint(path)
    meta = ck.metadata
    if meta.get("kind") != "sweep" or ck.model.num_bits != n or ck.model.chi_max > chi_max:
        raise ValueError(f"{path} is not a sweep checkpoint for {n} sites and chi_max <= {chi_max}")
    if jnp.dtype(ck.model.dtype) != jnp.dtype(dtype):
        raise ValueError(f"{path} holds {ck.model.dtype} tensors, the run asks for {jnp.dtype(dtype)}")
    history = {k: list(v) for k, v in meta["history"].items()}
    return ck.params.tensors, np.asarray(meta["bond_dims"], np.int32), int(meta["loop"]), float(meta["lr_scale"]), history


def _bar(enabled: bool, loops: int, loop0: int, n: int) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    per = n - 2
    return tqdm(total=2 * per * loops, initial=2 * per * loop0, desc="sweep", unit="bond", dynamic_ncols=True)
