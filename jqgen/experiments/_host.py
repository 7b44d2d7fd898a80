"""A run of a host trainer (two-site sweeps): one run per shard, trained by
:func:`jqgen.training.sweep_train` with the shard's checkpoint, keyed as ``jqgen train mps
--method sweep --seed`` (``k_train = split(key(seed))[0]``)."""

from __future__ import annotations

import math
import os
import time
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..training import NonFiniteLossError, sweep_train
from ._metrics import final_metrics

__all__ = ["train_sweep_shard"]


def train_sweep_shard(shard: Any, data: np.ndarray, metrics: Sequence[str], out: str,
                      on_chunk: Callable[[str, int, int], None]) -> dict[str, Any]:
    """Trains the shard's one sweep run; returns the shard record (as the vmapped shards')."""
    (settings,) = shard.runs
    opts, model_opts = settings.trainer_options(), settings.model_options()
    t0 = time.perf_counter()
    status = "completed"
    try:
        res = sweep_train(data, max_bond=model_opts["chi_max"], loops=opts["steps"],
                          key=jax.random.split(jax.random.key(settings.seed))[0], lr=opts["lr"],
                          descent_steps=opts["descent_steps"], num_batches=opts["num_batches"], cutoff=opts["cutoff"],
                          normalized_grad=True, lr_decay_on_rise=0.2,
                          min_improvement=opts["min_improvement"] or None, dtype=getattr(jnp, model_opts["dtype"]),
                          checkpoint_path=os.path.join(out, "shards", f"{shard.id}.npz"), progress=False,
                          callback=lambda done, *_: on_chunk(shard.id, done, opts["steps"]))
        curve = np.asarray(res.history["train_nll"], np.float64)
        if res.status != "completed":
            status = f"completed ({res.status})"
        finals = final_metrics(res.model, jax.tree_util.tree_map(lambda x: x[None], res.mps), data, metrics)
        final = {k: float(v[0]) for k, v in finals.items()}
    except NonFiniteLossError as e:
        curve, final, status = np.asarray(e.history, np.float64), {k: math.nan for k in metrics}, f"failed: {e}"
    finite = curve[np.isfinite(curve)]
    record = {"run": settings.index, "shard": shard.id, "settings": settings.flat(), "status": status,
              "final": {"loss": float(finite[-1]) if finite.size else math.nan, **final},
              "curve": [float(x) for x in curve]}
    return {"shard": shard.id, "runs": [record], "padded_size": 1, "devices": 1,
            "seconds": time.perf_counter() - t0}
