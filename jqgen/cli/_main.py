"""The ``jqgen`` parser, the dispatch to the commands, and the exit codes (one place).

Each command module has ``register(subparsers)``, which adds its parser and sets
``func`` (``args -> 0``) as its default. :func:`main` parses, turns on the persistent
compile cache, runs the command inside :func:`jqgen.cli._rundir.command_scope`, and maps
what it raises to the exit codes of :mod:`jqgen.cli`.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

import jax

from . import evaluate, experiment, geo, info, run_device, sample, train_adversarial, train_mps, train_qcbm, train_qcbm_device, train_synergy
from ._args import BadInput, Parser
from ._report import version
from ._rundir import TrainingStopped, command_scope, interrupted_message

__all__ = ["build_parser", "main", "persistent_compile_cache"]

#: Exit codes (see the :mod:`jqgen.cli` docstring).
EXIT_OK, EXIT_NON_FINITE, EXIT_USAGE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def build_parser() -> Parser:
    """The ``jqgen`` argument parser with every command registered."""
    parser = Parser(prog="jqgen", description="Quantum and quantum-inspired generative models in JAX.")
    parser.add_argument("--version", action="version", version=f"jqgen {version()} (jax {jax.__version__})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,sample,evaluate,run,geo,experiment,info}")
    train = commands.add_parser("train", help="train a model on a data set")
    families = train.add_subparsers(dest="family", required=True, metavar="{mps,qcbm,synergy,qcbm-device,adversarial}")
    for module in (train_mps, train_qcbm, train_synergy, train_qcbm_device, train_adversarial):
        module.register(families)
    for module in (sample, evaluate, run_device, geo, experiment, info):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``jqgen`` command line with ``argv`` (default ``sys.argv[1:]``); returns
    the exit code (0 ok, 1 non-finite loss, 2 usage error, 3 bad data or checkpoint,
    130 interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors
        return e.code if isinstance(e.code, int) else (EXIT_OK if e.code is None else EXIT_USAGE)
    with command_scope():
        try:
            persistent_compile_cache(os.environ.get("JQGEN_COMPILE_CACHE"))
            return args.func(args)
        except KeyboardInterrupt:
            print(interrupted_message(training=args.command == "train"), file=sys.stderr)
            return EXIT_INTERRUPTED
        except TrainingStopped as e:  # the outputs are written
            print(f"jqgen: error: {e}", file=sys.stderr)
            return EXIT_NON_FINITE
        except FloatingPointError as e:  # a trainer without a last-good-state handler
            print(f"jqgen: error: {e}; nothing was saved", file=sys.stderr)
            return EXIT_NON_FINITE
        except BadInput as e:
            print(f"jqgen: error: {_one_line(e)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except (ValueError, FileNotFoundError) as e:
            print(f"jqgen: error: {_one_line(e)}", file=sys.stderr)
            return EXIT_USAGE


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def persistent_compile_cache(path: str | None) -> None:
    """Keeps jax's compiled programs on disk so that a second ``jqgen`` run with the same
    shapes skips XLA compilation (a two-site sweep compiles two programs per bond bucket:
    2.4 s of a 3.6 s run at D_max = 8 on 2 CPU cores, 0.7 s with the cache). Directory:
    ``$JQGEN_COMPILE_CACHE``, else ``~/.cache/jqgen/xla``; ``JQGEN_COMPILE_CACHE=none``
    turns it off. Set once per process (the ``jqgen`` command is the process's owner; the
    library itself never sets it)."""
    if path is not None and path.strip().lower() in ("", "none", "off", "0"):
        return
    if jax.config.jax_compilation_cache_dir:  # the caller chose one
        return
    path = path or os.path.join(os.path.expanduser("~"), ".cache", "jqgen", "xla")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:  # read-only home: run without a cache
        return
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
