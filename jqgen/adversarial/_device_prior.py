"""Drawing a :class:`QCBMPrior`'s latent vectors on a quantum device through :mod:`jqgen.hardware`.

One circuit per readout basis (the prior's circuit with the basis rotation of
:func:`jqgen.adversarial._readout.basis_ops` appended), compiled for the device and run
with ``num`` shots each in one journaled :func:`jqgen.hardware.run_batch`: a rerun with the
same journal, params, ``num``, ``key`` and ``tag`` reads the counts back instead of submitting
again; another ``key`` draws fresh shots.
A device returns histograms, not shot order, so each basis's shots are expanded from its
counts and put in an order drawn from ``key``; row ``i`` pairs the ``i``-th shots of the
bases' independent executions, a sample of the product distribution the prior defines.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_finite
from ..bits import index_to_bits
from ..hardware import Device, Journal, compile_circuit, params_hash, run_batch, seeded_submit, to_qiskit
from ..qcbm import ops
from ._qcbm_prior import QCBMPrior
from ._readout import basis_ops

__all__ = ["sample_on_device"]


def _shots_of(counts: Mapping[str, int], n: int, num: int, key: jax.Array, basis: str) -> jax.Array:
    """The ``num`` shots of a histogram as uint8 ``[num, n]`` rows in an order drawn from ``key``."""
    total = sum(int(c) for c in counts.values())
    if total != num:
        raise RuntimeError(f"the device returned {total} shots for basis {basis!r}, expected {num}")
    idx = np.concatenate([np.full(int(c), int(k, 2), np.int64) for k, c in sorted(counts.items())])
    idx = np.asarray(jax.random.permutation(key, jnp.asarray(idx, jnp.int32)))
    return index_to_bits(jnp.asarray(idx, jnp.uint32), n)


def sample_on_device(
    prior: QCBMPrior,
    params: Mapping[str, Any],
    device: Device,
    num: int,
    *,
    journal: Journal | str | os.PathLike,
    key: jax.Array,
    tag: Any = None,
    initial_layout: Sequence[int] | None = None,
    submit: Callable[[list[Any], Device, int], Any] | None = None,
    poll: Callable[[Any, Device], Any] | None = None,
    **run_kwargs: Any,
) -> jax.Array:
    """``num`` latent vectors of ``prior`` drawn on ``device``: uint8 ``[num, num_latent]``.

    Args:
        prior: a :class:`QCBMPrior`.
        params: its parameters.
        device: where the circuits run (e.g. :meth:`jqgen.hardware.Device.local`).
        num: shots per basis circuit (``1 <= num <= device.max_shots``).
        journal: a :class:`jqgen.hardware.Journal` or its path; counts already journaled
            for the same circuits, ``num``, ``key`` and ``tag`` are reused, never resubmitted.
        key: PRNG key: identifies the draw (part of every request key, so another key
            gets fresh shots even for unchanged parameters, and a rerun with the same key
            reads the journal), seeds the ``local`` provider's sampling and the shots' order.
        tag: an optional JSON-serializable label of this draw (e.g. the training step).
        initial_layout: forced logical -> physical layout for compilation.
        submit: injected into :func:`jqgen.hardware.run_batch` (tests, fault injection).
        poll: injected into :func:`jqgen.hardware.run_batch`.
        run_kwargs: further :func:`jqgen.hardware.run_batch` options (``retries``,
            ``backoff``, ``sleep``, ``clock``, ``deadline_s``).

    Raises:
        ValueError: not a :class:`QCBMPrior`, bad ``params``, ``num`` or ``tag``, or a
            circuit wider than the device (before anything is submitted).

    Examples:
        >>> import os, tempfile, jax
        >>> from jqgen.adversarial._qcbm_prior import QCBMPrior
        >>> from jqgen.hardware import Device
        >>> prior = QCBMPrior(num_qubits=2, bases=("z", "x"), layers=1)
        >>> params = prior.init(jax.random.key(0))
        >>> path = os.path.join(tempfile.mkdtemp(), "prior.jsonl")
        >>> z = sample_on_device(prior, params, Device.local(2), 10, journal=path, key=jax.random.key(1))
        >>> z.shape, z.dtype.name
        ((10, 4), 'uint8')
    """
    if not isinstance(prior, QCBMPrior):
        raise ValueError(f"prior must be a QCBMPrior (a circuit to run), got {type(prior).__name__}")
    if not isinstance(device, Device):
        raise ValueError(f"device must be a jqgen.hardware.Device, got {type(device).__name__}")
    num = device.check_shots(num)
    ansatz, n = prior.model.ansatz, prior.num_qubits
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict of angle arrays, got {type(params).__name__}")
    params = {k: np.asarray(v) for k, v in params.items()}
    ansatz.check_params(params)
    check_finite(params, "params")
    if not isinstance(journal, Journal):
        journal = Journal(journal)
    gates, ph = ops(ansatz, params), params_hash(params)
    circuits = [compile_circuit(to_qiskit(n, gates + basis_ops(b, n)), device, initial_layout=initial_layout,
                                params_hash=ph) for b in prior.bases]
    draw = hashlib.sha256(np.asarray(jax.random.key_data(key)).tobytes()).hexdigest()[:16]
    tags = [{"prior": "qcbm", "basis": b, "draw": draw, "tag": tag} for b in prior.bases]
    k_submit, k_order = jax.random.split(key)
    seed = int(jax.random.randint(k_submit, (), 0, 2**31 - 1))
    counts = run_batch(circuits, device, num, journal, tags, submit=seeded_submit(submit, seed), poll=poll,
                       **run_kwargs)
    keys = jax.random.split(k_order, len(prior.bases))
    parts = [_shots_of(c, n, num, k, b) for c, k, b in zip(counts, keys, prior.bases)]
    return jnp.concatenate(parts, axis=1)
