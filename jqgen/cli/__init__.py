"""The ``jqgen`` command line: train a model on a data set, sample and evaluate a checkpoint.

    jqgen train mps [--data bars-stripes-4x4] [--chi-max 32] [--steps 2000] ...
    jqgen train mps --method sweep --data mnist.npz --chi-max 100 [--loops 20] ...
    jqgen train qcbm --data bars-stripes-3x3 --ansatz line --layers 10 --loss mmd [--shots N]
    jqgen train qcbm --data bars-stripes-2x2 --ansatz all --layers 2 --loss kl --device local::testing
    jqgen train qcbm-device --data bars-stripes-2x2 --ansatz all --layers 2 --steps 30
    jqgen train synergy --data bars-stripes-4x3 --chi 4 --extra-layers 4
    jqgen train adversarial --data digits --prior qcbm --qubits 8 --bases 2 --steps 5000
    jqgen sample runs/mps-bars-stripes-4x4/checkpoint.npz --num 16 [--out FILE] [--npy FILE]
    jqgen evaluate runs/qcbm-line-cardinality-12-6-0.3-s0/checkpoint.npz --samples 10000
    jqgen run runs/qcbm-all-bars-stripes-2x2/checkpoint.npz --device local::testing --shots 2000
    jqgen experiment examples/experiments/qcbm_seeds.toml [--out DIR] [--devices N]
    jqgen --version

Every ``jqgen train`` command writes its run folder (``--out``, default
``runs/<family>-<data>``): ``checkpoint.npz``, ``summary.json`` and plots. A folder whose
``summary.json`` exists holds a finished run and is refused unless ``--overwrite`` (which
deletes the run's files first); the sweep and device trainers continue a finished run of
the same settings instead (more ``--loops`` / ``--steps``). An interrupted run resumes
when the same command is re-run (sweeps and device runs always; gradient and CMA-ES runs
with the training runner's checkpoints). The commands that read a checkpoint write into
its folder, the run directory: ``jqgen sample`` (``samples-seed<SEED>.png``; a relative
``--out``/``--npy`` is taken in that folder), ``jqgen evaluate`` (``evaluation.json``) and
``jqgen run`` (``device-<provider>-<name>/``). ``--data`` takes a data-set name
(:data:`jqgen.data.DATASET_NAMES`) or a ``.npy``/``.npz`` file, ``--key`` the array of an
``.npz``. Progress: a bar on a terminal; with stderr redirected to a file, one plain line
per chunk of steps (loops, rounds) instead, each written once; ``--no-progress`` for none.

Exit codes:

* 0: success.
* 1: training stopped on a non-finite loss (the last good parameters are saved).
* 2: usage error: a bad option or option value, settings the model refuses (sizes beyond
  the memory guard included), a run folder in the way, a bad device (one line on stderr).
* 3: bad data or checkpoint: a ``--data`` set or checkpoint that is missing, unreadable
  (truncated, not a ``.npy``/``.npz``), or invalid (non-binary values, a header the model
  refuses) (one line on stderr).
* 130: interrupted (Ctrl-C): one line on stderr naming the file a re-run resumes from.

Layout: :mod:`jqgen.cli._main` (parser, dispatch, exit codes), one module per command
(``train_mps``, ``train_sweep``, ``train_qcbm``, ``train_qcbm_device``, ``train_synergy``,
``train_adversarial``, ``sample``, ``evaluate``, ``run_device``, ``geo``, ``experiment``,
``info``), each with ``register(subparsers)``; shared
helpers in ``_args`` (argument types, data loading), ``_rundir`` (run folders, summaries,
interrupts, x64) and ``_report`` (evaluation and printing).
"""

from ._main import main

__all__ = ["main"]
