"""``jqgen experiment FILE.toml``: every run of an experiment's grid (:mod:`jqgen.experiments`),
vmapped and sharded over this machine's devices, or over several processes joined by
``jax.distributed``; writes ``results.json``, ``results.csv`` and ``summary.png``. A killed
experiment resumes its unfinished shards when the same command is re-run.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

import jax

from ._args import add_progress_argument, positive_int
from ._progress import bar_wanted
from ._rundir import x64
from ..experiments import load_experiment, run_experiment

__all__ = ["command", "register"]

_EXAMPLE = """\
name = "qcbm-seeds"
[data]
name = "bars-stripes-3x3"
[model]
family = "qcbm"
ansatz = "line"
layers = 4
[trainer]
name = "gradient"
loss = "kl"
lr = 0.05
steps = 300
[grid]
seed = [0, 1, 2, 3]
lr = [0.02, 0.05, 0.1]
[metrics]
report = ["kl", "tv", "nll"]"""


def register(commands: Any) -> None:
    """Adds the ``experiment`` parser to the top-level subparsers."""
    e = commands.add_parser(
        "experiment", help="a grid of runs, vmapped and sharded over the devices",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train every run of an experiment file's grid (seeds and hyperparameters; see\n"
        "jqgen.experiments): runs that share one compiled program are vmapped together and their\n"
        "model axis is sharded over the devices; each shard is checkpointed, and a re-run resumes\n"
        "the unfinished ones. Writes results.json, results.csv and summary.png to --out.\n\n"
        "Several hosts: start one process per host with --coordinator HOST:PORT --num-processes P\n"
        "--process-id I (jax.distributed.initialize); process I trains shards I, I + P, ... on its\n"
        "own devices, and process 0 writes the table into the shared --out.\n\n"
        "Example file:\n\n" + _EXAMPLE)
    e.add_argument("file", metavar="FILE.toml", help="the experiment file")
    e.add_argument("--out", default=None, help="output directory (default: runs/experiment-<name>)")
    e.add_argument("--overwrite", action="store_true", help="start again in an --out that holds other settings")
    e.add_argument("--devices", type=positive_int, default=None,
                   help="use the first N local devices (default: all of them)")
    e.add_argument("--chunk-size", type=positive_int, default=50,
                   help="steps per compiled chunk, the checkpoint interval (default: %(default)s)")
    e.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="jax.distributed coordinator address (with --num-processes and --process-id)")
    e.add_argument("--num-processes", type=positive_int, default=None, help="processes of a distributed run")
    e.add_argument("--process-id", type=int, default=None, help="this process's index in a distributed run")
    add_progress_argument(e)
    e.set_defaults(func=command)


def _distributed(args: argparse.Namespace) -> None:
    given = [args.coordinator is not None, args.num_processes is not None, args.process_id is not None]
    if any(given) and not all(given):
        raise ValueError("--coordinator, --num-processes and --process-id go together (a distributed run)")
    if all(given):
        if not 0 <= args.process_id < args.num_processes:
            raise ValueError(f"--process-id {args.process_id} is not allowed; expected 0 <= id < "
                             f"--num-processes {args.num_processes}")
        jax.distributed.initialize(args.coordinator, num_processes=args.num_processes, process_id=args.process_id)


def command(args: argparse.Namespace) -> int:
    """Runs ``jqgen experiment``."""
    experiment = load_experiment(args.file)
    _distributed(args)
    devices = jax.local_devices()
    if args.devices is not None:
        if args.devices > len(devices):
            raise ValueError(f"--devices {args.devices} is not allowed: this process has {len(devices)} local devices")
        devices = devices[:args.devices]
    out = args.out or os.path.join("runs", f"experiment-{experiment.name}")
    wide = any(r.model_options()["dtype"] in ("float64", "complex128") for r in experiment.runs())
    with x64(wide):
        res = run_experiment(experiment, out, devices=devices, chunk_size=args.chunk_size, overwrite=args.overwrite,
                             progress=bar_wanted(args.no_progress))
    _print_summary(experiment, res, out)
    return 0


def _print_summary(experiment: Any, res: Any, out: str) -> None:
    failed = [r for r in res.runs if r["status"] != "completed"]
    print(f"jqgen experiment {experiment.name}: {len(res.runs)} runs ({len(failed)} failed) on "
          f"{len(res.info.get('devices', []))} device(s) x {res.info.get('processes', 1)} process(es)")
    metric = experiment.metrics[0] if experiment.metrics else "loss"
    ranked = sorted(res.runs, key=lambda r: (math.isnan(r["final"].get(metric, math.nan)),
                                             r["final"].get(metric, math.nan)))
    for r in ranked[:5]:
        shown = {k: r["settings"][k] for k in experiment.varying}
        print(f"  run {r['run']:>4}  {metric} {r['final'].get(metric, math.nan):.5g}  {shown}")
    for path in res.files:
        print(f"  wrote {path}")
