"""Exact likelihoods of a data set under any model of the protocol, in fixed-size batches.

:func:`batched_log_prob` pads the data to a whole number of batches of one size and runs
one jitted ``model.log_prob`` per batch; the jitted function is shared by equal models
(:func:`jqgen._compiled.compiled`), so a second call with the same model and batch size
compiles nothing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._checks import check_bits
from .._compiled import compiled
from ..protocol import GenerativeModel

__all__ = ["batched_log_prob", "mean_nll"]


def batched_log_prob(model: GenerativeModel, params: Any, data: Any, batch_size: int = 1024) -> np.ndarray:
    """``float64 [N]`` log-probabilities of ``data [N, n]`` under the model.

    The data run in batches of ``min(batch_size, N)`` rows (one compilation per model and
    batch size; the last batch is padded and its padding dropped).

    Raises:
        ValueError: data of another width, non-binary or empty data, or ``batch_size`` not
            a positive integer.

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.data import bars_and_stripes
        >>> model = jqgen.MPSBornMachine(num_bits=4, chi_max=2)
        >>> jqgen.batched_log_prob(model, model.init(jax.random.key(0)), bars_and_stripes(2, 2), 4).shape
        (6,)
    """
    data = check_bits(data, model.num_bits, name="data")
    if data.ndim != 2:
        raise ValueError(f"data must have shape [N, {model.num_bits}], got {tuple(data.shape)}")
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    n_data = data.shape[0]
    if n_data == 0:
        raise ValueError("data is empty")
    batch_size = int(min(batch_size, n_data))
    n_batches = math.ceil(n_data / batch_size)
    padded = np.zeros((n_batches * batch_size, data.shape[1]), np.uint8)
    padded[:n_data] = np.asarray(data)
    lp_fn = compiled(model, "log_prob")
    out = [np.asarray(lp_fn(params, padded[b * batch_size : (b + 1) * batch_size]), np.float64) for b in range(n_batches)]
    lp = np.concatenate(out)[:n_data]
    if np.isnan(lp).any():
        i = int(np.argmax(np.isnan(lp)))
        raise ValueError(f"the model gives log p = NaN for data row {i}: its parameters define no distribution "
                         "(NaN/inf entries, or a state of norm zero)")
    return lp


def mean_nll(model: GenerativeModel, params: Any, data: Any, batch_size: int = 1024) -> float:
    """Mean negative log-likelihood (nats) of ``data [N, n]`` under the model, from
    :func:`batched_log_prob` (one compilation per model and batch size).

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.data import bars_and_stripes
        >>> model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(num_qubits=4, layers=1))
        >>> nll = jqgen.mean_nll(model, model.init(jax.random.key(0)), bars_and_stripes(2, 2))
        >>> nll > 0
        True
    """
    return -float(batched_log_prob(model, params, data, batch_size).mean())
