"""Data parallelism: the ``devices=`` option of :func:`jqgen.fit` and :func:`jqgen.sweep_train`.

The training rows (and, in sweeps, their environments) are split along the mesh axis
:data:`DATA_AXIS` (``"data"``); parameters are replicated. Everything here is JAX's own
machinery (``Mesh``, ``NamedSharding``, ``device_put``); the kernels sum over devices with
``psum`` inside ``jax.shard_map`` (sweeps) or let ``jit`` partition them (gradient training).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["DATA_AXIS", "check_divides", "data_mesh", "data_size", "replicate", "shard_rows"]

#: The mesh axis the data rows are split along.
DATA_AXIS = "data"


def data_mesh(devices: Any) -> Mesh | None:
    """``None`` (one device: today's behaviour), or the mesh of ``devices``: a
    ``jax.sharding.Mesh`` with an axis named ``"data"`` (other axes hold replicas), or a
    non-empty sequence of distinct jax devices (a 1-d mesh ``("data",)``).

    Raises:
        ValueError: anything else.

    Examples:
        >>> import jax
        >>> dict(data_mesh(jax.devices()[:1]).shape)
        {'data': 1}
        >>> data_mesh(None) is None
        True
    """
    if devices is None:
        return None
    if isinstance(devices, Mesh):
        if DATA_AXIS not in devices.axis_names:
            raise ValueError(f"devices: a Mesh needs an axis named {DATA_AXIS!r} to split the data rows along, "
                             f"got axes {tuple(devices.axis_names)}")
        return devices
    if isinstance(devices, (str, bytes)) or not hasattr(devices, "__iter__"):
        raise ValueError(f"devices must be None, a sequence of jax devices or a jax.sharding.Mesh, got {devices!r}")
    devs = list(devices)
    if not devs or not all(isinstance(d, jax.Device) for d in devs) or len(set(devs)) != len(devs):
        raise ValueError(f"devices must be a non-empty sequence of distinct jax devices (e.g. jax.devices()), "
                         f"got {devs!r}")
    return Mesh(np.array(devs), (DATA_AXIS,))


def data_size(mesh: Mesh | None) -> int:
    """Number of shards the rows are split into (1 without a mesh)."""
    return 1 if mesh is None else int(mesh.shape[DATA_AXIS])


def check_divides(mesh: Mesh | None, **counts: int) -> None:
    """``ValueError`` unless every count (rows, minibatch size) is a multiple of the
    number of data shards: every device then holds the same number of rows of every
    minibatch, and nothing is padded (padding would change the means)."""
    d = data_size(mesh)
    bad = {k: v for k, v in counts.items() if v % d}
    if bad:
        said = ", ".join(f"{k.replace('_', ' ')} = {v}" for k, v in counts.items())
        raise ValueError(f"devices: splitting the data over {d} devices needs {said} to be multiples of the device "
                         f"count {d}; drop or add rows, change the minibatch size, or use fewer devices")


def shard_rows(x: Any, mesh: Mesh) -> jax.Array:
    """``x`` placed with its leading (row) axis split along ``"data"``."""
    return jax.device_put(x, NamedSharding(mesh, PartitionSpec(DATA_AXIS)))


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Every array leaf of ``tree`` replicated on all devices of ``mesh`` (Python scalars kept)."""
    rep = NamedSharding(mesh, PartitionSpec())
    return jax.tree_util.tree_map(lambda x: jax.device_put(x, rep) if isinstance(x, (jax.Array, np.ndarray)) else x,
                                  tree)
