"""The run directory every ``jqgen train`` command writes, and what goes with it.

:func:`prepare_run` resolves ``--out`` (default ``runs/<name>`` from the data set's
:func:`slug`), refuses the folder of a finished run (one whose ``summary.json`` exists)
unless ``--overwrite`` (which deletes the run's files first), creates it and returns a
:class:`RunDir`: the output paths, the file a re-run resumes from, and the progress the
trainer reports (for the one-line message of an interrupted run, :func:`interrupted_message`).
:meth:`RunDir.write_summary` writes strict JSON (NaN/inf -> ``null``, :func:`write_json`)
and :meth:`RunDir.print_paths` the block of output paths. Also here: the scoped
:func:`x64` context, :func:`checkpoint_needs_x64`, :func:`device_name`, the training
runner's checkpoints (:func:`training_record`, :func:`add_metadata`), and
:class:`TrainingStopped`, the exception of a run that stopped on a non-finite loss after
writing its outputs (exit code 1).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import math
import os
import re
from typing import Any, Iterator, Mapping, Sequence

import jax
import numpy as np

from ..checkpoint import checkpoint_info, save_checkpoint, update_metadata

__all__ = [
    "RunDir",
    "TrainingStopped",
    "add_metadata",
    "checkpoint_needs_x64",
    "command_scope",
    "device_name",
    "interrupted_message",
    "json_safe",
    "prepare_run",
    "resolve_out",
    "settings_diff",
    "slug",
    "training_record",
    "write_json",
    "x64",
]

SUMMARY = "summary.json"
CHECKPOINT = "checkpoint.npz"


class TrainingStopped(Exception):
    """Training stopped on a non-finite loss; the outputs (last good parameters) are
    written. The message is printed as ``jqgen: error: <message>`` and the exit code is 1."""


@dataclasses.dataclass
class RunDir:
    """An output folder of a training command.

    Attributes:
        out: the folder.
        paths: output file name -> path, in the order :meth:`print_paths` lists them.
        resume_path: the file a re-run of the same command resumes from (a checkpoint or a
            journal), or ``None`` when the trainer cannot resume.
        unit: what the trainer counts (``"steps"``, ``"loops"``, ``"generations"``), or ``None``.
        total: how many of them the command asked for.
        done: how many are done (the trainer's callback reports them via :meth:`progress`).
    """

    out: str
    paths: dict[str, str]
    resume_path: str | None
    unit: str | None
    total: int | None
    done: int = 0

    def __getitem__(self, name: str) -> str:
        return self.paths[name]

    @property
    def checkpoint(self) -> str:
        """``<out>/checkpoint.npz``."""
        return os.path.join(self.out, CHECKPOINT)

    def progress(self, done: int) -> None:
        """Records that ``done`` units are finished."""
        self.done = int(done)

    @contextlib.contextmanager
    def resuming(self) -> Iterator[None]:
        """Context of the trainer's call: a ``ValueError`` it raises while resuming from an
        existing :attr:`resume_path` (one written with other settings, or not by the
        training runner) gets the hint to pass ``--overwrite``."""
        resumes = self.resume_path is not None and os.path.exists(self.resume_path)
        try:
            yield
        except ValueError as e:
            if not resumes:
                raise
            raise ValueError(f"{e} (jqgen: re-run with the settings of that run to resume it, pass --overwrite to "
                             "start afresh, or choose another --out)") from None

    def write_final_checkpoint(self, model: Any, params: Any, opt_state: Any, metadata: Mapping[str, Any]) -> None:
        """The run's final checkpoint: ``model``, ``params``, ``opt_state`` and ``metadata``
        plus the training runner's ``metadata["training"]`` (so the runner still resumes
        from it). Written last, just before summary.json: until then the runner's own
        (resumable) checkpoint is in place."""
        final = dict(metadata)
        training = training_record(self.checkpoint)
        if training is not None:
            final["training"] = training
        save_checkpoint(self.checkpoint, model, params, metadata=final, opt_state=opt_state)

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        """Writes ``<out>/summary.json`` (strict JSON); the run counts as finished from then on."""
        write_json(os.path.join(self.out, SUMMARY), summary)

    def print_paths(self) -> None:
        """Prints the ``output`` block: the folder, then every output path."""
        print(f"  output     {self.out}")
        for path in self.paths.values():
            print(f"             {path}")


_ACTIVE_RUN: contextvars.ContextVar[RunDir | None] = contextvars.ContextVar("jqgen_cli_active_run", default=None)


@contextlib.contextmanager
def command_scope() -> Iterator[None]:
    """Scope of one command: the run :func:`prepare_run` makes in it is the one that
    :func:`interrupted_message` describes."""
    token = _ACTIVE_RUN.set(None)
    try:
        yield
    finally:
        _ACTIVE_RUN.reset(token)


def prepare_run(
    out: str | None,
    *,
    default_name: str,
    files: Sequence[str],
    overwrite: bool,
    unit: str | None = "steps",
    total: int | None = None,
    resumable: bool = True,
    resume_path: str | None = None,
    continues: bool = False,
    extra_files: Sequence[str] = (),
) -> RunDir:
    """Resolves, checks and creates the output folder of a training command.

    Args:
        out: ``--out`` (``None``: ``runs/<default_name>``).
        default_name: the folder name under ``runs`` (from the data set's :func:`slug`).
        files: the output files, in print order (``checkpoint.npz``, ``summary.json``, plots).
        overwrite: ``--overwrite``: a finished run's folder is reused, its files (``files``
            and ``extra_files``) deleted first; without it, such a folder is refused.
        unit, total: what the trainer counts and how many of them were asked for.
        resumable: whether a re-run resumes (else it starts over).
        resume_path: the file a re-run resumes from (default ``<out>/checkpoint.npz``).
        continues: the command continues a finished run instead of replacing it (a sweep
            raised to more ``--loops``, a device run replayed from its journal): a finished
            run's folder whose ``resume_path`` exists is accepted without ``--overwrite``
            (the command checks that the settings agree).
        extra_files: other files of the run (e.g. the default journal), deleted by ``overwrite``.

    Returns:
        The :class:`RunDir`, also the active run of the command (:func:`interrupted_message`).

    Raises:
        ValueError: ``out`` holds a finished run and neither ``overwrite`` nor ``continues``.
    """
    out = resolve_out(out, default_name)
    resume_path = (resume_path or os.path.join(out, CHECKPOINT)) if resumable else None
    summary = os.path.join(out, SUMMARY)
    continued = continues and resume_path is not None and os.path.exists(resume_path)
    if os.path.exists(summary) and not (overwrite or continued):
        raise ValueError(f"{out} holds a finished run ({summary} exists); pass --overwrite to replace it, "
                         "or choose another --out")
    if overwrite:
        for name in (*files, *extra_files):
            path = os.path.join(out, name)
            if os.path.isfile(path):
                os.remove(path)
    os.makedirs(out, exist_ok=True)
    paths = {name: os.path.join(out, name) for name in files}
    run = RunDir(out, paths, resume_path, unit, total)
    _ACTIVE_RUN.set(run)
    return run


def resolve_out(out: str | None, default_name: str) -> str:
    """``--out``, or ``runs/<default_name>`` without one."""
    return out if out is not None else os.path.join("runs", default_name)


def interrupted_message(training: bool) -> str:
    """The one line printed when a command is interrupted (Ctrl-C, exit code 130)."""
    run = _ACTIVE_RUN.get()
    if run is None:
        return "jqgen: interrupted before training started; nothing was saved" if training else "jqgen: interrupted"
    after = ""
    if run.unit is not None:
        done = _steps_saved(run.resume_path)  # what a re-run resumes from
        done = run.done if done is None else done
        after = f" after {done} of {run.total} {run.unit}" if run.total is not None else f" after {done} {run.unit}"
    if run.resume_path is None:
        return f"jqgen: interrupted{after}; this command does not resume: re-run it to start again"
    if os.path.exists(run.resume_path):
        return f"jqgen: interrupted{after}; re-run the same command to resume from {run.resume_path}"
    return f"jqgen: interrupted{after}, before the first checkpoint; re-run the same command to start again"


def _steps_saved(path: str | None) -> int | None:
    """Steps done in the training runner's checkpoint at ``path``, or ``None`` (no such checkpoint)."""
    try:
        return int(training_record(path)["steps_done"])  # type: ignore[arg-type,index]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def settings_diff(before: Mapping[str, Any], now: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    """``--option OLD (now NEW)`` for each of ``keys`` recorded in ``before`` with another value."""
    return [f"--{k.replace('_', '-')} {before[k]} (now {now[k]})" for k in keys if k in before and before[k] != now[k]]


def training_record(path: str) -> Any:
    """``metadata["training"]`` of the checkpoint at ``path`` (written by the training
    runner, :func:`jqgen.training.run`: steps done, status, metrics), or ``None`` (no file,
    or none recorded)."""
    if not os.path.exists(path):
        return None
    return (checkpoint_info(path).get("metadata") or {}).get("training")


def add_metadata(path: str, metadata: Mapping[str, Any]) -> None:
    """Adds ``metadata`` to the training runner's checkpoint at ``path`` (everything else,
    ``metadata["training"]`` included, is kept, so the runner still resumes from it)."""
    update_metadata(path, metadata)


def slug(name: str) -> str:
    """A folder-name form of a data-set name or path (``../x/mnist.npz`` -> ``mnist``)."""
    is_file = os.sep in name or name.endswith((".npy", ".npz"))
    base = os.path.splitext(os.path.basename(name.rstrip("/\\")))[0] if is_file else name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-") or "data"


def device_name() -> str:
    """The default jax device, e.g. ``cpu`` or ``gpu (NVIDIA H200)``."""
    dev = jax.devices()[0]
    return dev.platform if dev.device_kind == dev.platform else f"{dev.platform} ({dev.device_kind})"


def x64(enable: bool) -> Any:
    """Context enabling 64-bit dtypes when asked. Scoped (thread-local), so an in-process
    ``main`` call leaves the caller's ``jax_enable_x64`` as it was."""
    if not enable:
        return contextlib.nullcontext()
    ctx = getattr(jax, "enable_x64", None)
    if ctx is None:  # jax < 0.7
        from jax.experimental import enable_x64 as ctx
    return ctx(True)


def checkpoint_needs_x64(header: Mapping[str, Any]) -> bool:
    """Whether a checkpoint (its :func:`jqgen.checkpoint_info` header) stores 64-bit leaves,
    which load only with ``jax_enable_x64`` (PRNG keys excepted)."""
    for spec in (header.get("params") or []) + (header.get("opt_state") or []):
        try:
            dtype = np.dtype(str(spec.get("dtype", "")))
        except TypeError:
            raise ValueError(f"corrupt checkpoint header (leaf dtype {spec.get('dtype')!r})") from None
        wide = (dtype.itemsize == 8 and dtype.kind in "fiu") or (dtype.itemsize == 16 and dtype.kind == "c")
        if wide and "key_impl" not in spec:
            return True
    return False


def json_safe(obj: Any) -> Any:
    """NaN/inf -> ``None`` and tuples -> lists, so the result is strict JSON."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: str, obj: Any) -> None:
    """Writes ``obj`` as indented strict JSON (NaN/inf -> ``null``) with a final newline."""
    with open(path, "w") as f:
        json.dump(json_safe(obj), f, indent=2, allow_nan=False)
        f.write("\n")
