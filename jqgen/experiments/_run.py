"""Running an experiment: groups, shards over a device mesh, a checkpoint per shard, resume,
several processes.

The runs of an :class:`~jqgen.experiments.Experiment` are split into *groups* (runs one
compiled program serves: :func:`~jqgen.experiments._build.group_key`), each group into
*shards* of at most ``shard_size`` runs, padded to a multiple of the device count with
copies of its last run (computed, never reported). A shard is one call of the training
runner (a host trainer, a sweep: one run per shard, on the default device) with a :func:`jqgen.training.stacked` strategy, its model axis placed on
``NamedSharding(Mesh(devices, ("models",)), P("models"))``: each device trains its slice of
the runs, XLA partitioning the vmapped step without communication::

    runs 0..R-1 -> groups (same program) -> shards (<= shard_size runs, padded to k * D)
    shard s:  params [R_s, ...] sharded over D devices --run(stacked(...))--> shards/<s>.npz

Files under ``out``: ``experiment.json`` (the settings and their digest), per shard
``shards/<id>.npz`` (the runner's checkpoint, written every chunk: a killed shard resumes
where it stopped) and ``shards/<id>.json`` (its runs' results, written when it completes:
a resumed experiment skips it), then ``results.json`` and ``results.csv`` (every run's
settings, status, final metrics, and in the JSON its loss curve) and ``summary.png``.

Several processes (``jax.distributed.initialize``, one per host or per GPU): process ``p`` of
``P`` trains shards ``p, p + P, ...`` on its own devices (``jax.local_devices()``); the runs
are independent, so no data crosses processes while training. Every process writes its
shard files into the shared ``out``; process 0 then waits for all of them and writes the
table.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .._checks import check_int
from ..data import load_dataset
from ..training import ModelBatch, NonFiniteLossError, run
from ._build import HOST_TRAINERS, build_model, build_strategy, group_key, run_keys
from ._host import train_sweep_shard
from ._metrics import check_metrics, final_metrics
from ._results import ExperimentResult, collect_results, write_atomically
from ._spec import Experiment, RunSettings

__all__ = ["Shard", "plan_shards", "run_experiment"]


@dataclasses.dataclass(frozen=True)
class Shard:
    """A batch of runs trained as one: its id, the runs, and the padded size."""

    id: str
    runs: tuple[RunSettings, ...]
    size: int


def plan_shards(experiment: Experiment, num_devices: int) -> list[Shard]:
    """The experiment's shards (see the module docstring), in a fixed order.

    Examples:
        >>> from jqgen.experiments import parse_experiment
        >>> e = parse_experiment({"data": {"name": "bars-stripes-2x2"}, "model": {"family": "mps"},
        ...                       "trainer": {"name": "gradient"}, "grid": {"seed": [0, 1, 2], "chi_max": [2, 4]}})
        >>> [(s.id, len(s.runs), s.size) for s in plan_shards(e, 2)]
        [('g0-s0', 3, 4), ('g1-s0', 3, 4)]
    """
    _check_experiment(experiment)
    num_devices = check_int(num_devices, "num_devices", 1)
    groups: dict[str, list[RunSettings]] = {}
    for r in experiment.runs():
        groups.setdefault(group_key(r), []).append(r)
    shards = []
    for g, runs in enumerate(groups.values()):
        per = min(experiment.shard_size or len(runs), len(runs))
        for s in range(math.ceil(len(runs) / per)):
            part = tuple(runs[s * per:(s + 1) * per])
            size = 1 if part[0].trainer in HOST_TRAINERS else num_devices * math.ceil(len(part) / num_devices)
            shards.append(Shard(f"g{g}-s{s}", part, size))
    return shards


def _check_experiment(experiment: Any) -> None:
    if not isinstance(experiment, Experiment):
        raise ValueError(f"experiment must be a jqgen.experiments.Experiment (parse_experiment, load_experiment), "
                         f"got {type(experiment).__name__}")


def _prepare_out(experiment: Experiment, out: str, overwrite: bool) -> None:
    os.makedirs(os.path.join(out, "shards"), exist_ok=True)
    path = os.path.join(out, "experiment.json")
    record = {"digest": experiment.digest(), "experiment": experiment.to_dict()}
    if os.path.exists(path) and not overwrite:
        with open(path) as f:
            old = json.load(f)
        if old.get("digest") != record["digest"]:
            raise ValueError(f"{out} holds an experiment with other settings ({path}); use another output folder, "
                             "or overwrite=True (--overwrite) to start it again")
        return
    if overwrite:
        for name in os.listdir(os.path.join(out, "shards")):
            os.remove(os.path.join(out, "shards", name))
    _write_json(path, record)


def _write_json(path: str, obj: Any) -> None:
    write_atomically(path, json.dumps(obj, indent=1))


def _placement(devices: Sequence[Any]) -> Callable[[Any], Any]:
    sharding = NamedSharding(Mesh(np.array(devices), ("models",)), PartitionSpec("models"))
    return lambda tree: jax.tree_util.tree_map(lambda x: jax.device_put(x, sharding), tree)


def _train_shard(shard: Shard, data: np.ndarray, metrics: Sequence[str], out: str, devices: Sequence[Any],
                 chunk_size: int, on_chunk: Callable[[str, int, int], None]) -> dict[str, Any]:
    runs = list(shard.runs) + [shard.runs[-1]] * (shard.size - len(shard.runs))  # padding: copies, dropped
    model = build_model(runs[0], data)
    batch = ModelBatch(model, shard.size)
    params = batch.stack([model.init(run_keys(r.seed)[0]) for r in runs])
    strategy = build_strategy(model, runs, data, jax.tree_util.tree_map(lambda x: x[0], params) if runs[0].trainer == "cmaes" else None)
    steps = runs[0].trainer_options()["steps"]
    t0 = time.perf_counter()
    error = None
    try:
        res = run(strategy, params, jnp.asarray(data), key=jax.random.key(0), steps=steps, model=batch,
                  chunk_size=min(chunk_size, steps), checkpoint_path=os.path.join(out, "shards", f"{shard.id}.npz"),
                  metadata={"experiment_shard": shard.id, "runs": [r.index for r in shard.runs]},
                  callback=lambda done, *_: on_chunk(shard.id, done, steps), progress=False, place=_placement(devices))
        params, state, history = res.params, res.state, res.metrics
        failed = np.asarray(state.failed_at)
    except NonFiniteLossError as e:  # every run of the shard failed
        params, history, error = e.params, {}, str(e)
        failed = np.full(shard.size, -2)
    seconds = time.perf_counter() - t0
    finals = final_metrics(model, params, data, metrics)
    records = []
    for r, settings in enumerate(shard.runs):
        curve = history.get(f"loss/{r}", np.array([]))
        status = ("completed" if failed[r] < 0 and error is None else
                  f"failed: non-finite loss at step {int(failed[r])}" if failed[r] >= 0 else f"failed: {error}")
        last = curve[np.isfinite(curve)]
        records.append({"run": settings.index, "shard": shard.id, "settings": settings.flat(), "status": status,
                        "final": {"loss": float(last[-1]) if last.size else math.nan,
                                  **{k: float(v[r]) for k, v in finals.items()}},
                        "curve": [float(x) for x in curve]})
    return {"shard": shard.id, "runs": records, "padded_size": shard.size, "devices": len(devices),
            "seconds": seconds}


def run_experiment(
    experiment: Experiment,
    out: str | os.PathLike[str],
    *,
    devices: Sequence[Any] | None = None,
    chunk_size: int = 50,
    overwrite: bool = False,
    progress: bool = True,
    wait_s: float = 3600.0,
) -> ExperimentResult:
    """Trains every run of ``experiment``; resumes what an earlier call left unfinished.

    Args:
        experiment: a parsed :class:`~jqgen.experiments.Experiment`.
        out: the output folder (see the module docstring for its files).
        devices: the devices of the mesh (default: this process's ``jax.local_devices()``).
        chunk_size: steps per compiled chunk (the checkpoint interval of a shard).
        overwrite: start again in a folder that holds an experiment with other settings.
        progress: a progress bar over the runs.
        wait_s: how long process 0 of several waits for the others' shards.

    Returns:
        :class:`~jqgen.experiments.ExperimentResult` (on process 0 of several: every run;
        on the others: their own).

    Raises:
        ValueError: bad settings or data, or ``out`` holding another experiment.
        TimeoutError: process 0 waited ``wait_s`` for other processes' shards.
    """
    _check_experiment(experiment)
    chunk_size = check_int(chunk_size, "chunk_size", 1)
    if isinstance(wait_s, bool) or not isinstance(wait_s, (int, float)) or not wait_s > 0:
        raise ValueError(f"wait_s must be a positive number of seconds, got {wait_s!r}")
    out = os.fspath(out)
    devices = list(devices) if devices is not None else jax.local_devices()
    if not devices:
        raise ValueError("devices must name at least one device")
    ds = load_dataset(experiment.data["name"], key=experiment.data.get("key"))
    data = np.asarray(ds.data)
    check_metrics(experiment.metrics, data.shape[1])
    shards = plan_shards(experiment, len(devices))
    me, count = jax.process_index(), jax.process_count()
    mine = [s for i, s in enumerate(shards) if i % count == me]
    if me == 0:
        _prepare_out(experiment, out, overwrite)
    else:
        os.makedirs(os.path.join(out, "shards"), exist_ok=True)
    bar = _bar(sum(len(s.runs) for s in mine), experiment.name, progress)
    t0 = time.perf_counter()
    try:
        for shard in mine:
            path = os.path.join(out, "shards", f"{shard.id}.json")
            if not os.path.exists(path):
                if experiment.trainer in HOST_TRAINERS:
                    result = train_sweep_shard(shard, data, experiment.metrics, out, _show(bar))
                else:
                    result = _train_shard(shard, data, experiment.metrics, out, devices, chunk_size, _show(bar))
                _write_json(path, result)
            if bar is not None:
                bar.update(len(shard.runs))
    finally:
        if bar is not None:
            bar.close()
    if me != 0:
        return collect_results(experiment, out, [s.id for s in mine], write=False)
    _wait_for(out, [s.id for s in shards], wait_s)
    return collect_results(experiment, out, [s.id for s in shards], write=True,
                           info={"devices": [str(d) for d in devices], "processes": count,
                                 "platform": devices[0].platform, "seconds": time.perf_counter() - t0,
                                 "shards": len(shards)})


def _wait_for(out: str, ids: list[str], wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    missing = ids
    while True:
        missing = [i for i in missing if not os.path.exists(os.path.join(out, "shards", f"{i}.json"))]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"shards {missing} of other processes did not finish within {wait_s} s")
        time.sleep(0.2)


def _bar(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="run", dynamic_ncols=True)


def _show(bar: Any) -> Callable[[str, int, int], None]:
    def show(shard: str, done: int, steps: int) -> None:
        if bar is not None:
            bar.set_postfix_str(f"{shard} step {done}/{steps}")

    return show
