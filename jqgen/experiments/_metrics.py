"""The final metrics of a batch of runs (see :data:`jqgen.experiments.METRICS`), vmapped
over the model axis and compiled once per model configuration."""

from __future__ import annotations

import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..distributions import empirical_distribution, kl_divergence, mmd, total_variation

__all__ = ["DENSE_METRICS", "MAX_DENSE_BITS", "check_metrics", "final_metrics"]

#: Metrics that need the model's dense distribution (``2**n`` probabilities).
DENSE_METRICS = ("kl", "tv", "mmd", "support")
#: The largest ``n`` for which they are computed.
MAX_DENSE_BITS = 20


def check_metrics(names: Sequence[str], num_bits: int) -> None:
    """Refuses dense metrics beyond :data:`MAX_DENSE_BITS` bits (before any training)."""
    dense = [m for m in names if m in DENSE_METRICS]
    if dense and num_bits > MAX_DENSE_BITS:
        raise ValueError(f"experiment [metrics].report = {list(names)}: {dense} need the dense distribution of "
                         f"{num_bits} bits; allowed up to {MAX_DENSE_BITS} bits (report 'nll' instead)")


@functools.lru_cache(maxsize=32)
def _program(model: Any, names: tuple[str, ...]) -> Any:
    def one(params: Any, data: jax.Array, target: jax.Array) -> dict[str, jax.Array]:
        out: dict[str, jax.Array] = {}
        if "nll" in names:
            out["nll"] = -jnp.mean(model.log_prob(params, data))
        if any(m in DENSE_METRICS for m in names):
            p = model.probs(params)
            t = target.astype(p.dtype)
            values = {"kl": lambda: kl_divergence(t, p), "tv": lambda: total_variation(t, p),
                      "mmd": lambda: mmd(t, p), "support": lambda: jnp.sum(jnp.where(t > 0, p, 0))}
            out.update({m: values[m]() for m in names if m in values})
        return out

    return jax.jit(jax.vmap(one, in_axes=(0, None, None)))


def final_metrics(model: Any, params: Any, data: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """``{name: [R] float64}`` of stacked ``params`` (``R`` runs of ``model``) on ``data``."""
    names = tuple(names)
    if not names:
        return {}
    target = empirical_distribution(data, model.num_bits) if any(m in DENSE_METRICS for m in names) else jnp.zeros(1)
    values = _program(model, names)(params, jnp.asarray(data), target)
    return {k: np.asarray(v, np.float64) for k, v in values.items()}
