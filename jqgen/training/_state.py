"""The runner's checkpoint: one ordinary jqgen checkpoint per run, resumable.

The file is written by :func:`jqgen.checkpoint.save_checkpoint`, so ``jqgen sample`` and
``jqgen evaluate`` read it like any other: the model, its current parameters, the
strategy's state as the optimizer-state leaves, and ``metadata["training"]``::

    {"format": 1, "strategy": "gradient", "config": {...},   # the strategy's settings
     "key": {"impl": ..., "data": [...]},                     # the run's PRNG key
     "data": {"shape": [N, n], "sha256": ...},                # the training data
     "steps_done": 120, "status": "running" | "completed" | "stopped: <reason>",
     "metrics": {"loss": [...], ...},                          # one value per step done
     "scalars": {"3": 0.2, ...}}                               # Python-scalar state leaves

Array leaves of the state are stored as the checkpoint's optimizer state in the state's own
structure (so ``load_checkpoint(path, optimizer=optax.adam(...))`` reads a gradient run's
Optax state), Python-scalar leaves (a sweep's learning-rate scale) exactly in JSON. A resume compares strategy, config, key and data with the
run's and refuses (``ValueError`` naming each difference) when they differ; ``steps`` may
differ (raise it to train on). Writes are atomic (temporary file, fsync, rename), so a
run killed at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..checkpoint import checkpoint_info, load_checkpoint, save_checkpoint

__all__ = ["RunRecord", "data_record", "key_record", "restore_run", "save_run", "stored_state"]

_FORMAT = 1
#: A setting that cannot be described across processes (e.g. a loss function holding
#: objects compared by identity): recorded as this and not compared on resume.
UNDESCRIBED = "<not comparable across processes>"
_SCALARS = (bool, int, float, str, type(None))


class RunRecord(NamedTuple):
    """A restored run: parameters, state, steps done, metrics, status."""

    params: Any
    state: Any
    steps_done: int
    metrics: dict[str, list[float]]
    status: str


def key_record(key: jax.Array) -> dict[str, Any]:
    """``{"impl", "data"}`` of a typed or raw (``uint32``) PRNG key; a raw key counts as the
    default implementation's typed key (the same random bits)."""
    if not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(jnp.asarray(key, jnp.uint32))
    return {"impl": str(jax.random.key_impl(key)), "data": np.asarray(jax.random.key_data(key)).tolist()}


def key_from_record(rec: Mapping[str, Any]) -> jax.Array:
    """The typed PRNG key of a :func:`key_record`."""
    return jax.random.wrap_key_data(jnp.asarray(rec["data"], jnp.uint32), impl=rec["impl"])


def data_record(data: Any) -> dict[str, Any]:
    """Shape and SHA-256 of the training data (what a resume must match)."""
    arr = np.ascontiguousarray(np.asarray(data))
    return {"shape": list(arr.shape), "sha256": hashlib.sha256(arr.tobytes()).hexdigest()}


def _is_scalar(x: Any) -> bool:
    return isinstance(x, _SCALARS)


def _split(state: Any) -> tuple[Any, dict[str, Any]]:
    """The state's array leaves in its own structure (Python-scalar leaves removed), and the
    scalar leaves by their index among all leaves."""
    leaves = jax.tree_util.tree_leaves(state)
    arrays = jax.tree_util.tree_map(lambda x: None if _is_scalar(x) else x, state)
    scalars = {str(i): x for i, x in enumerate(leaves) if _is_scalar(x)}
    return arrays, scalars


def save_run(path: str, model: Any, params: Any, state: Any, record: Mapping[str, Any],
             metadata: Mapping[str, Any] | None = None) -> None:
    """Writes the run's checkpoint (atomically)."""
    arrays, scalars = _split(state)
    training = dict(record)
    training.update(format=_FORMAT, scalars=scalars)
    meta = dict(metadata or {})
    meta["training"] = training
    save_checkpoint(path, model, params, metadata=meta, opt_state=arrays)


class _StateTemplate:
    """Stands in for an optimizer in :func:`load_checkpoint`: the state's array leaves."""

    def __init__(self, arrays: Any) -> None:
        self._specs = jax.tree_util.tree_map(
            lambda a: a if _is_key(a) else jax.ShapeDtypeStruct(jnp.shape(a), jnp.asarray(a).dtype), arrays)

    def init(self, params: Any) -> Any:
        return self._specs


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _differences(saved: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    out = []
    for name in ("strategy", "config", "key", "data"):
        a, b = saved.get(name), expected.get(name)
        if name == "config" and isinstance(a, dict) and isinstance(b, dict):
            out += [f"{name}.{k}: {a.get(k)!r} in the checkpoint, {b.get(k)!r} in this run"
                    for k in sorted(set(a) | set(b))
                    if a.get(k) != b.get(k) and UNDESCRIBED not in (a.get(k), b.get(k))]
        elif a != b:
            out.append(f"{name}: {a!r} in the checkpoint, {b!r} in this run")
    return out


def restore_run(path: str, template_state: Any, expected: Mapping[str, Any], *, same_model: Any = None) -> RunRecord:
    """Reads a run's checkpoint written by :func:`save_run` after checking it against the
    run's ``expected`` record (strategy, config, key, data).

    Args:
        path: the checkpoint.
        template_state: the strategy's ``init`` output (structure and leaf dtypes).
        expected: this run's record.
        same_model: if given, the checkpoint's model must equal it.

    Raises:
        ValueError: not a run checkpoint, or one written with other settings.
    """
    info = checkpoint_info(path)
    training = (info.get("metadata") or {}).get("training")
    if not isinstance(training, dict) or training.get("format") != _FORMAT:
        raise ValueError(f"{path} exists and is not a resumable training checkpoint; choose another path")
    diff = _differences(training, expected)
    if diff:
        raise ValueError(f"{path} was written by a run with other settings ({'; '.join(diff)}); resume with the "
                         "same settings, or use another checkpoint path")
    template_leaves, treedef = jax.tree_util.tree_flatten(template_state)
    arrays_template, _ = _split(template_state)
    ck = load_checkpoint(path, optimizer=_StateTemplate(arrays_template))
    if same_model is not None and ck.model != same_model:
        raise ValueError(f"{path} holds a model {ck.model!r}, this run trains {same_model!r}")
    arrays = iter(jax.tree_util.tree_leaves(ck.opt_state))
    scalars = training.get("scalars") or {}
    leaves = [scalars.get(str(i), leaf) if _is_scalar(leaf) else next(arrays) for i, leaf in enumerate(template_leaves)]
    state = jax.tree_util.tree_unflatten(treedef, leaves)
    metrics = {k: [float("nan") if v is None else float(v) for v in vals]
               for k, vals in (training.get("metrics") or {}).items()}
    return RunRecord(ck.params, state, int(training["steps_done"]), metrics, str(training.get("status", "running")))


def stored_state(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The array leaves of a run checkpoint's strategy state by tree path (``".dims"``,
    ``"[0].count"``), without knowing the strategy: for reports on a run that stopped.

    Examples:
        >>> import jax, optax, jqgen, os, tempfile
        >>> from jqgen.data import bars_and_stripes
        >>> model = jqgen.MPSBornMachine(num_bits=4, chi_max=2)
        >>> path = os.path.join(tempfile.mkdtemp(), "run.npz")
        >>> _ = jqgen.fit(model, model.init(jax.random.key(0)), bars_and_stripes(2, 2), optax.adam(0.1),
        ...               key=jax.random.key(1), steps=3, progress=False, checkpoint_path=path)
        >>> int(stored_state(path)["[0].count"])
        3
    """
    specs = checkpoint_info(path).get("opt_state") or []
    with np.load(os.fspath(path), allow_pickle=False) as z:
        return {spec["path"]: np.asarray(z[f"opt_{i}"]) for i, spec in enumerate(specs)}


def checkpoint_exists(path: str | os.PathLike[str] | None) -> bool:
    return path is not None and os.path.exists(path)
