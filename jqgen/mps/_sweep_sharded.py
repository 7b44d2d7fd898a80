"""Data-parallel two-site sweeps: the kernels of :mod:`jqgen.mps._sweep` under ``jax.shard_map``.

The images are split along the mesh axis ``"data"``: each device holds its rows of the
data and their left and right environments (``[n, N / D, chi]``) and never sends them; the
MPS tensors are replicated. At a bond every device computes its images' part of the
merged tensor's gradient and the parts are summed over devices (``psum``, a ``chi x 2 x 2 x
chi`` tensor); the descent step and the SVD then run on identical inputs everywhere, so the
tensors stay replicated (``check_vma=False``: the single-device kernels' scans start from
constants that JAX's replication check would call unvarying; the outputs declared
replicated are the tensors, bond dimensions and ``psum``-ed values, equal on every device).
Minibatch ``b`` of the single-device run (rows ``b B .. (b + 1) B - 1`` of the shuffled
data) is spread over the devices by
:func:`interleave_rows`, ``B / D`` rows on each, so every step uses the same images as on
one device and the results agree to float rounding (sums in another order).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from .._mesh import DATA_AXIS, check_divides, data_size
from ._sweep import SweepCarry, SweepHyper, environments, half_sweep_body

__all__ = ["interleave_rows", "place_rows", "sharded_environments", "sharded_half_sweep"]

_CARRY = SweepCarry(P(), P(None, DATA_AXIS), P(None, DATA_AXIS), P(None, DATA_AXIS), P(None, DATA_AXIS), P(), P())
_ROWS = P(DATA_AXIS)


def interleave_rows(rows: jax.Array, batch_size: int, shards: int) -> jax.Array:
    """The rows reordered so that splitting them into ``shards`` equal consecutive blocks
    gives each block ``batch_size / shards`` rows of every minibatch (minibatch ``b``: rows
    ``b * batch_size ..`` of ``rows``), in minibatch order, then its share of the rows no
    minibatch holds (the last ``N mod batch_size``). Identity for one shard.

    Examples:
        >>> import jax.numpy as jnp
        >>> interleave_rows(jnp.arange(8)[:, None], 4, 2)[:, 0].tolist()
        [0, 1, 4, 5, 2, 3, 6, 7]
    """
    n_rows = rows.shape[0]
    _check_counts(n_rows, batch_size, shards)
    cut = (n_rows // batch_size) * batch_size
    head = rows[:cut].reshape(n_rows // batch_size, shards, batch_size // shards, *rows.shape[1:])
    head = jnp.swapaxes(head, 0, 1).reshape(shards, cut // shards, *rows.shape[1:])
    tail = rows[cut:].reshape(shards, (n_rows - cut) // shards, *rows.shape[1:])
    return jnp.concatenate([head, tail], axis=1).reshape(rows.shape)


def _check_counts(n_rows: int, batch_size: int, shards: int) -> None:
    if n_rows % shards or batch_size % shards:
        raise ValueError(f"devices: splitting the data over {shards} devices needs the row count ({n_rows}) and the "
                         f"minibatch size ({batch_size}) to be multiples of {shards}")


def place_rows(rows: jax.Array, batch_size: int, mesh: Mesh) -> jax.Array:
    """``rows`` (the run's shuffled training rows) interleaved (:func:`interleave_rows`) and
    split along ``"data"`` over ``mesh``."""
    d = data_size(mesh)
    check_divides(mesh, rows=rows.shape[0], minibatch_size=batch_size)
    return jax.device_put(interleave_rows(jnp.asarray(rows), batch_size, d), NamedSharding(mesh, _ROWS))


@functools.lru_cache(maxsize=8)
def sharded_environments(mesh: Mesh) -> Any:
    """:func:`jqgen.mps._sweep.environments` over ``mesh``: each device builds the left
    environments of its rows (``tensors`` and ``dims`` replicated, ``data`` split)."""
    return jax.jit(jax.shard_map(environments, mesh=mesh, in_specs=(P(), _ROWS, P()), out_specs=_CARRY,
                                 check_vma=False))


@functools.lru_cache(maxsize=64)
def _program(mesh: Mesh, statics: tuple[tuple[str, Any], ...]) -> Any:
    body = functools.partial(half_sweep_body, **dict(statics), axis=DATA_AXIS)
    hyper = SweepHyper(P(), P(), P(), P())
    mapped = jax.shard_map(body, mesh=mesh, in_specs=(_CARRY, _ROWS, P(), P(), hyper), out_specs=(_CARRY, P()),
                           check_vma=False)
    return jax.jit(mapped, donate_argnums=(0,))


def sharded_half_sweep(mesh: Mesh, carry: SweepCarry, data: jax.Array, key: jax.Array, start: jax.Array,
                       hyper: SweepHyper, *, batch_size: int, **statics: Any) -> tuple[SweepCarry, jax.Array]:
    """:func:`jqgen.mps._sweep.half_sweep` with the images split along ``"data"`` of ``mesh``.

    ``data`` and the carry's environments must be split as :func:`place_rows` and
    :func:`sharded_environments` leave them; ``batch_size`` is the global minibatch size
    (a multiple of the device count). The carry is donated.
    """
    d = data_size(mesh)
    _check_counts(data.shape[0], batch_size, d)
    program = _program(mesh, tuple(sorted(dict(statics, batch_size=batch_size // d).items())))
    return program(carry, data, key, start, hyper)
