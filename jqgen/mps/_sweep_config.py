"""Settings and one loop of two-site sweep training (Han et al., PRX 8, 031012, 2018).

:class:`SweepConfig` is the frozen, validated description of a sweep run's settings (the
user's largest bond dimension is ``max_bond``; the padding of the returned model's tensors,
a bond *bucket*, is ``chi_pad``). :func:`sweep_loop` runs one **loop** -- a right-to-left
half-sweep over bonds ``(n-2, n-1) .. (1, 2)`` then a left-to-right one over
``(0, 1) .. (n-3, n-2)``, as in the authors' code -- with the compiled kernels of
:mod:`jqgen.mps._sweep`, growing the bucket between half-sweeps when bonds could outgrow
it. The training loop around it (history, checkpoints, resume) is
:func:`jqgen.training.sweep_train`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _random
from .._checks import check_bits, check_int, check_x64
from ._canonical import left_canonical, log_norm
from ._structure import check_mps
from ._core import MPS, bond_dims, masked, random_mps
from ._sweep import SweepCarry, SweepHyper, environments, half_sweep, pad_carry

__all__ = ["SweepConfig", "SweepState", "initial_sweep_state", "split_method", "sweep_loop"]

#: Smallest bond bucket: below it a bond update costs about the same (fixed per-operation
#: costs dominate), so smaller buckets would only add compilations.
MIN_BUCKET = 8


def _check(name: str, ok: bool, value: Any, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _positive_int(name: str, v: Any) -> None:
    _check(name, isinstance(v, int) and not isinstance(v, bool) and v >= 1, v, "a positive int")


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """Hyperparameters of a two-site sweep run (validated on construction).

    Attributes:
        max_bond: largest bond dimension ``D_max``.
        lr: learning rate, or a schedule ``lr(loop) -> float``.
        descent_steps: gradient steps per bond.
        num_batches: minibatches the data are split into (1 = full batch).
        cutoff: relative singular-value cutoff, or a schedule ``cutoff(loop) -> float``.
        min_bond: smallest kept bond dimension.
        init_bond: bond dimension of the random initial MPS.
        init: ``"uniform"`` (entries in ``[0, 1)``, the authors' code) or ``"normal"``.
        normalized_grad: rescale gradients with ``|g| / numel**0.25 < 1`` up to that norm.
        lr_decay_on_rise: multiply the learning rate by it when a loop's NLL rises (or ``None``).
        min_improvement: stop when a loop improves the NLL by less (or ``None``).
        dtype: float32 or float64.
        svd: ``"auto"``, ``"lapack"`` or ``"gram"`` (see :func:`split_method`).
        chunk: bonds per compiled call.
    """

    max_bond: int
    lr: float | Callable[[int], float] = 1e-3
    descent_steps: int = 10
    num_batches: int = 20
    cutoff: float | Callable[[int], float] = 1e-7
    min_bond: int = 2
    init_bond: int = 2
    init: str = "uniform"
    normalized_grad: bool = False
    lr_decay_on_rise: float | None = None
    min_improvement: float | None = None
    dtype: Any = jnp.float32
    svd: str = "auto"
    chunk: int = 64

    def __post_init__(self) -> None:
        for name in ("max_bond", "descent_steps", "num_batches", "init_bond", "chunk"):
            _positive_int(name, getattr(self, name))
        _check("min_bond", isinstance(self.min_bond, int) and 1 <= self.min_bond <= self.max_bond, self.min_bond,
               f"an int in [1, max_bond={self.max_bond}]")
        for name in ("lr", "cutoff"):
            v = float(self.schedule(name)(0))
            _check(name, math.isfinite(v) and (v > 0 if name == "lr" else v >= 0), v,
                   "> 0" if name == "lr" else ">= 0 (relative to the largest singular value)")
        if self.lr_decay_on_rise is not None:
            _check("lr_decay_on_rise", 0 < self.lr_decay_on_rise <= 1, self.lr_decay_on_rise, "in (0, 1]")
        dtype = jnp.dtype(self.dtype)
        _check("dtype", dtype in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)), dtype, "float32 or float64")
        check_x64(dtype)
        object.__setattr__(self, "dtype", dtype)
        _check("svd", self.svd in ("auto", "lapack", "gram"), self.svd, "'auto', 'lapack' or 'gram'")
        _check("init", self.init in ("uniform", "normal"), self.init, "'uniform', 'normal' or an MPS")

    def schedule(self, name: str) -> Callable[[int], float]:
        """``lr`` or ``cutoff`` as a function of the loop index."""
        v = getattr(self, name)
        return v if callable(v) else (lambda _: v)

    def to_json(self) -> dict[str, Any]:
        """The settings a resumed run must share (JSON)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if callable(v):
                v = f"schedule {getattr(v, '__qualname__', type(v).__name__)}"
            elif f.name == "dtype":
                v = jnp.dtype(v).name
            elif isinstance(v, (float, np.floating)):
                v = float(v)
            out[f.name] = v
        # how the work is batched is not what it computes; schedules are compared by the
        # values of the loops done (jqgen.training.sweep_train), not by their description
        for name in ("chunk", "lr", "cutoff"):
            out.pop(name)
        return out


class SweepState(NamedTuple):
    """The sweep's state beside the tensors: ``dims`` ``[n + 1]`` bond dimensions,
    ``lr_scale`` (product of the rise decays so far) and ``prev_nll`` (last loop's NLL)."""

    dims: Any
    lr_scale: float = 1.0
    prev_nll: float = math.inf


def bucket(d: int, max_bond: int) -> int:
    """The padding for bonds up to ``d``: a power of two from :data:`MIN_BUCKET`, at most ``max_bond``."""
    return min(max_bond, max(MIN_BUCKET, 1 << max(0, math.ceil(math.log2(max(d, 1))))))


def split_method(svd: str, cutoff: float, dtype: Any) -> str:
    """The split of a loop: ``svd`` itself unless ``"auto"``, which takes the Gram route
    except for cutoffs that the SVD resolves and the Gram eigenvalues do not
    (``10 eps < cutoff < 3 sqrt(eps)``)."""
    if svd != "auto":
        return svd
    eps = float(jnp.finfo(dtype).eps)
    return "lapack" if 10 * eps < cutoff < 3 * math.sqrt(eps) else "gram"


def initial_sweep_state(config: SweepConfig, key: jax.Array, n: int, init_mps: MPS | None = None) -> tuple[MPS, SweepState]:
    """The left-canonical initial MPS (uniform or normal entries, or ``init_mps``) and its state."""
    dtype = config.dtype
    n = check_int(n, "n", 2)
    if init_mps is not None:
        check_mps(init_mps, "init_mps")
        if init_mps.num_sites != n:
            raise ValueError(f"init_mps has {init_mps.num_sites} sites, expected n = {n}")
        bond = init_mps.chi_max
        mps = MPS(jnp.asarray(init_mps.tensors, dtype))
        if not np.isfinite(float(log_norm(mps))):
            raise ValueError("init_mps is the zero state (norm 0): the sweeps cannot start from it")
    elif config.init == "uniform":  # as Han et al.'s MPS_c: entries uniform in [0, 1)
        bond = min(config.init_bond, config.max_bond)
        mps = MPS(masked(_random.uniform(key, (n, bond, 2, bond), dtype)))
    else:
        bond = min(config.init_bond, config.max_bond)
        mps = random_mps(key, n, bond, dtype=dtype)
    return left_canonical(mps), SweepState(np.asarray(bond_dims(n, bond), np.int32))


def _pad_spec(old: int, new: int) -> tuple[tuple[int, int], ...]:
    p = max(0, new - old)
    return ((0, 0), (0, p), (0, 0), (0, p))


def sweep_loop(config: SweepConfig, tensors: jax.Array, dims: np.ndarray, data: jax.Array, key: jax.Array,
               lr: float, cutoff: float, *, carry: SweepCarry | None = None, fallback: bool = False,
               mesh: Any = None) -> tuple[SweepCarry, float]:
    """One loop (right-to-left, then left-to-right half-sweep) over all bonds.

    Args:
        config: the run's settings.
        tensors: ``[n, chi, 2, chi]`` left-canonical tensors.
        dims: ``[n + 1]`` their bond dimensions.
        data: ``[N, n]`` training rows in the run's (shuffled) order.
        key: the loop's key (half-sweep ``h`` uses ``fold_in(key, h)``).
        lr: this loop's learning rate.
        cutoff: this loop's truncation cutoff.
        carry: the previous loop's final carry when its left environments are those of
            ``tensors`` bit for bit (the CPU: saves recomputing them); ``None`` recomputes.
        fallback: recompute factorizations that return NaN by a slower algorithm (GPUs).
        mesh: ``None`` (one device), or a ``jax.sharding.Mesh`` with an axis ``"data"``:
            data parallelism (:mod:`jqgen.mps._sweep_sharded`). ``data`` must then be split
            along ``"data"`` (``NamedSharding(mesh, PartitionSpec("data"))``), every shard
            holding ``batch_size / D`` rows of each minibatch in minibatch order
            (:func:`jqgen.training.sweep` lays the rows out so: the minibatches of the
            single-device run); the environments stay with their rows and the tensors are
            replicated. Row count and minibatch size must be multiples of the device count.

    Returns:
        The final carry (tensors, environments, dims, fallback count) and the mean NLL of
        all rows at the last bond.
    """
    n, max_bond = tensors.shape[0], config.max_bond
    dims = np.asarray(dims)
    if dims.shape != (n + 1,) or dims[0] != 1 or dims[-1] != 1 or dims.min() < 1 or dims.max() > tensors.shape[-1]:
        raise ValueError(f"dims must be the [n + 1] = [{n + 1}] bond dimensions of the tensors (1 at both ends, "
                         f"at most {tensors.shape[-1]}), got {dims.tolist()}")
    check_bits(data, n, "data")
    if data.ndim != 2 or data.shape[0] < config.num_batches:
        raise ValueError(f"data must be [N, {n}] with N >= num_batches = {config.num_batches}, got {data.shape}")
    rdt = jnp.finfo(config.dtype).dtype
    hyper = SweepHyper(jnp.asarray(lr, rdt), jnp.asarray(cutoff, rdt), jnp.int32(config.min_bond), jnp.int32(max_bond))
    svd = split_method(config.svd, cutoff, config.dtype)
    batch_size = data.shape[0] // config.num_batches
    make_env, half_fn = _kernels(mesh, data)
    nll = jnp.nan
    for half, move_right in enumerate((False, True)):
        chi_pad = bucket(min(max_bond, 2 * int(np.max(dims))), max_bond)
        if half == 0 and carry is not None and chi_pad == carry.tensors.shape[-1]:
            carry = carry._replace(svd_fallbacks=jnp.int32(0))
        elif half == 0:
            t = jnp.pad(tensors, _pad_spec(tensors.shape[-1], chi_pad))
            carry = make_env(t, data, jnp.asarray(dims))
        elif chi_pad > carry.tensors.shape[-1]:
            carry = pad_carry(carry, chi_pad)
        hkey = jax.random.fold_in(key, half)
        for start in range(0, n - 2, config.chunk):
            carry, nll = half_fn(carry, data, hkey, jnp.int32(start), hyper, move_right=move_right,
                                 chunk=config.chunk, descent_steps=config.descent_steps, batch_size=batch_size,
                                 normalized_grad=config.normalized_grad, svd=svd, fallback=fallback)
        dims = np.asarray(carry.dims)
    return carry, float(nll)


def _kernels(mesh: Any, data: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``(environments, half_sweep)`` of one device, or their ``shard_map`` versions over ``mesh``."""
    if mesh is None:
        return environments, half_sweep
    from jax.sharding import NamedSharding, PartitionSpec

    from .._mesh import DATA_AXIS, data_mesh
    from ._sweep_sharded import sharded_environments, sharded_half_sweep

    mesh = data_mesh(mesh)
    want = NamedSharding(mesh, PartitionSpec(DATA_AXIS))
    if not (isinstance(data, jax.Array) and data.sharding.is_equivalent_to(want, data.ndim)):
        raise ValueError(f"with mesh=, data must be split along 'data' of the mesh ({want}), got "
                         f"{getattr(data, 'sharding', type(data).__name__)}")
    return sharded_environments(mesh), (lambda *args, **kw: sharded_half_sweep(mesh, *args, **kw))
