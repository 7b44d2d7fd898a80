"""Validation of a :func:`jqgen.training.sweep_train` run before it starts: sizes, the memory
its environments need per device, the initial MPS and the BLAS thread count."""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import numpy as np

from .._checks import check_finite, check_fits
from .._memory import available_memory
from ..mps import MPS, BlockMPS, SweepConfig, log_norm
from ..mps._guard import WORKING_COPIES

__all__ = ["check_run"]


def check_run(data: np.ndarray, config: SweepConfig, loops: Any, init_mps: Any, blas_threads: Any,
              constraint: Any = None, shards: int = 1) -> None:
    """``ValueError`` for a run that cannot start: fewer than 3 sites, bad ``loops``, more
    minibatches than rows, environments (``N / shards`` rows per device) and tensor copies
    that do not fit in memory, a bad or zero ``init`` MPS (``constraint``: the run's
    :class:`~jqgen.training._sweep.Constraint` or ``None``), a bad ``blas_threads``."""
    n_data, n = data.shape
    if n < 3:
        raise ValueError(f"number of sites must be at least 3 for two-site sweeps, got {n}")
    if isinstance(loops, bool) or not isinstance(loops, int) or loops < 1:
        raise ValueError(f"loops must be a positive int, got {loops!r}")
    if config.num_batches > n_data:
        raise ValueError(f"num_batches must be at most the number of samples ({n_data}), got {config.num_batches!r}")
    item = jnp.dtype(config.dtype).itemsize
    lin, quad = 2 * n * -(-n_data // shards) * item, WORKING_COPIES * n * 2 * item  # per device: lin chi + quad chi^2
    have = available_memory()
    best = int((-lin + math.sqrt(lin * lin + 4 * quad * have)) / (2 * quad))
    check_fits(lin * config.max_bond + quad * config.max_bond**2, f"sweep training of {n_data} samples of {n} bits"
               f"{f' over {shards} devices' if shards > 1 else ''} at max_bond = "
               f"{config.max_bond} (left and right environments [n, N, chi] and {WORKING_COPIES} tensor copies)",
               largest=f"at most max_bond = {best} fits with these data")
    if isinstance(init_mps, MPS) and (constraint is not None or not (
            init_mps.num_sites == n and init_mps.chi_max <= config.max_bond and not jnp.iscomplexobj(init_mps.tensors))):
        raise ValueError(f"init must be a real MPS of {n} sites with padding <= max_bond={config.max_bond} (a BlockMPS "
                         f"for a constrained run), got an MPS of {init_mps.num_sites} sites, padding {init_mps.chi_max}, "
                         f"{jnp.dtype(init_mps.dtype).name}")
    if isinstance(init_mps, BlockMPS):
        want = None if constraint is None else constraint.model(init_mps.blocks.shape[-1], config.dtype)
        shape = None if want is None else (n, 2, want.layout.num_charges)
        if want is None or init_mps.blocks.shape[:3] != shape or init_mps.blocks.shape[-1] > config.max_bond \
                or jnp.iscomplexobj(init_mps.blocks):
            raise ValueError(f"init must be a real BlockMPS of blocks [n, 2, Q, chi, chi] = {shape} + (chi, chi) with "
                             f"chi <= max_bond={config.max_bond} for a constrained run, got shape "
                             f"{tuple(init_mps.blocks.shape)}")
    if init_mps is not None:
        leaf = init_mps.tensors if isinstance(init_mps, MPS) else init_mps.blocks
        check_finite(leaf, "init")
        zero = not np.any(np.asarray(leaf)) or (
            isinstance(init_mps, MPS) and not np.isfinite(float(log_norm(init_mps))))
        if zero:
            raise ValueError("init is the zero state (its tensors contract to norm 0): it defines no distribution "
                             "and the sweeps cannot factorize it; pass init='uniform' or 'random', or a nonzero MPS")
    if blas_threads is not None and (isinstance(blas_threads, bool) or not isinstance(blas_threads, int)
                                     or blas_threads < 1):
        raise ValueError(f"blas_threads must be a positive int or None, got {blas_threads!r}")
