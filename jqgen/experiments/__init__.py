"""Many runs at once: experiments over grids of seeds and hyperparameters, vmapped on a
device and sharded across the devices of a mesh (and across processes with
``jax.distributed``), one checkpoint per shard, one results table.

An experiment (a TOML file or a dict; :func:`load_experiment`, :func:`parse_experiment`)
names the data, the model, the trainer of :mod:`jqgen.training` and a grid;
:func:`run_experiment` trains every run and writes ``results.json``, ``results.csv`` and
``summary.png``. Runs that share one compiled program (they differ in seed, and for the
gradient trainer in learning rate) are vmapped together with :func:`jqgen.training.stacked`
and their model axis is sharded over the devices; a killed experiment resumes only its
unfinished shards, each from its last checkpoint. ``jqgen experiment FILE.toml`` runs one
from the command line.

Examples:
    >>> import tempfile, jqgen
    >>> from jqgen.experiments import parse_experiment, run_experiment
    >>> e = parse_experiment({"data": {"name": "bars-stripes-2x2"},
    ...                       "model": {"family": "mps", "chi_max": 2},
    ...                       "trainer": {"name": "gradient", "lr": 0.1, "steps": 30},
    ...                       "grid": {"seed": [0, 1, 2]}, "metrics": {"report": ["kl", "nll"]}})
    >>> res = run_experiment(e, tempfile.mkdtemp(), progress=False)
    >>> len(res.runs), res.runs[0]["status"], bool(res.column("kl").max() < res.runs[0]["curve"][0])
    (3, 'completed', True)
"""

from ._metrics import DENSE_METRICS, MAX_DENSE_BITS
from ._results import ExperimentResult
from ._run import Shard, plan_shards, run_experiment
from ._spec import METRICS, Experiment, RunSettings, load_experiment, parse_experiment

__all__ = [
    "DENSE_METRICS",
    "Experiment",
    "ExperimentResult",
    "MAX_DENSE_BITS",
    "METRICS",
    "RunSettings",
    "Shard",
    "load_experiment",
    "parse_experiment",
    "plan_shards",
    "run_experiment",
]
