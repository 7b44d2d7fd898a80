"""Saving and loading trained models: one ``.npz`` per checkpoint.

A checkpoint holds the flattened parameter leaves (``param_0``, ``param_1``, ...), optionally
the optimizer-state leaves (``opt_0``, ...), and a JSON header (``__jqgen__``) with the
model's :meth:`config`, the jqgen version, every leaf's tree path, shape and dtype, and
free-form metadata. Only arrays are stored (no pickles), so loading rebuilds the model from
its config and the pytree structure from ``jax.eval_shape(model.init, key)``; every leaf is
checked against that structure before anything is returned.

Examples:
    >>> import jax, jqgen
    >>> from jqgen.checkpoint import load_checkpoint, save_checkpoint
    >>> model = jqgen.MPSBornMachine(num_bits=4, chi_max=2)
    >>> params = model.init(jax.random.key(0))
    >>> import os, tempfile; path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> _ = save_checkpoint(path, model, params, metadata={"note": "demo"})
    >>> ck = load_checkpoint(path)
    >>> ck.model == model, ck.metadata
    (True, {'note': 'demo'})
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
import zipfile
import zlib
from typing import Any, Iterator, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._version import __version__
from .mps import MPSBornMachine, SymmetricMPSBornMachine
from .qcbm import QCBM, ConservingQCBM

__all__ = ["Checkpoint", "MODEL_FAMILIES", "checkpoint_info", "load_checkpoint", "model_from_config", "save_checkpoint",
           "update_metadata"]

FORMAT_VERSION = 1
_HEADER = "__jqgen__"

class _Families(Mapping[str, type]):
    """Model classes by family name; a family of a layer above this module (the adversarial
    network, built on flax) is named by ``(module, class)`` and imported on first use, so
    this module never imports it (nor flax) unless such a checkpoint is read or written."""

    def __init__(self, classes: Mapping[str, type], deferred: Mapping[str, tuple[str, str]]) -> None:
        self._classes, self._deferred = dict(classes), dict(deferred)

    def __getitem__(self, family: str) -> type:
        if family in self._classes:
            return self._classes[family]
        module, name = self._deferred[family]
        import importlib

        return getattr(importlib.import_module(module), name)

    def __iter__(self) -> Iterator[str]:
        return iter([*self._classes, *self._deferred])

    def __len__(self) -> int:
        return len(self._classes) + len(self._deferred)

    def __contains__(self, family: object) -> bool:
        return family in self._classes or family in self._deferred


#: Model classes by the ``"family"`` entry of their ``config()``. A new family adds its
#: class here; every class implements the protocol's ``from_config(config) -> model``
#: (classmethod, see :class:`jqgen.GenerativeModel`).
MODEL_FAMILIES: Mapping[str, type] = _Families(
    {"mps": MPSBornMachine, "symmetric-mps": SymmetricMPSBornMachine, "qcbm": QCBM, "qcbm-conserving": ConservingQCBM},
    {"aan": ("jqgen.adversarial", "AssociativeAdversarialNetwork"), "batch": ("jqgen.training", "ModelBatch")},
)


class Checkpoint(NamedTuple):
    """What :func:`load_checkpoint` returns.

    Attributes:
        model: the model rebuilt from its config.
        params: parameters (same pytree structure, shapes and dtypes as ``model.init``).
        metadata: the ``metadata`` dict given to :func:`save_checkpoint` (after a JSON round
            trip: tuples come back as lists), ``{}`` if none.
        opt_state: the optimizer state, when it was saved and ``optimizer`` was passed to
            :func:`load_checkpoint`; else ``None``.
    """

    model: Any
    params: Any
    metadata: dict[str, Any]
    opt_state: Any


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.generic, np.ndarray, jax.Array)):
        return np.asarray(obj).tolist()
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    raise TypeError(f"metadata value {obj!r} of type {type(obj).__name__} is not JSON-serializable")


def _is_key(x: Any) -> bool:
    return jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _flatten(tree: Any, prefix: str) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    arrays: dict[str, np.ndarray] = {}
    specs: list[dict[str, Any]] = []
    for i, (path, leaf) in enumerate(jax.tree_util.tree_flatten_with_path(tree)[0]):
        spec: dict[str, Any] = {"path": jax.tree_util.keystr(path)}
        if hasattr(leaf, "dtype") and _is_key(leaf):
            spec["key_impl"] = str(jax.random.key_impl(leaf))
            leaf = jax.random.key_data(leaf)
        arr = np.asarray(leaf)
        spec.update(shape=list(arr.shape), dtype=arr.dtype.name)
        arrays[f"{prefix}_{i}"] = arr
        specs.append(spec)
    return arrays, specs


def save_checkpoint(
    path: str | os.PathLike[str],
    model: Any,
    params: Any,
    *,
    metadata: Mapping[str, Any] | None = None,
    opt_state: Any = None,
) -> str:
    """Writes ``model``, ``params`` (and optionally ``opt_state``) to one ``.npz`` file.

    The file is written to a temporary file in the same directory, fsynced and renamed
    over ``path``, so a reader never sees a partial checkpoint.

    Args:
        path: destination file (written as given; ``.npz`` is the conventional suffix).
        model: a model whose ``config()`` has a ``"family"`` registered in
            :data:`MODEL_FAMILIES`.
        params: its parameters.
        metadata: JSON-serializable dict (numpy scalars/arrays and tuples are converted).
        opt_state: optional optimizer state (only its leaves are stored; pass the optimizer
            to :func:`load_checkpoint` to restore it).

    Returns:
        ``path`` as a string.

    Raises:
        ValueError: the model family is not registered, or ``params`` do not have the
            structure, shapes and dtypes of ``model.init``'s.
        TypeError: metadata (or config) that JSON cannot represent.
    """
    path = os.fspath(path)
    if not callable(getattr(model, "config", None)):
        raise ValueError(f"model must be a jqgen model with config(), got {type(model).__name__}")
    config = dict(model.config())
    if config.get("family") not in MODEL_FAMILIES:
        raise ValueError(f"model family {config.get('family')!r} is not registered in jqgen.checkpoint.MODEL_FAMILIES")
    arrays, param_specs = _flatten(params, "param")
    with warnings.catch_warnings():  # a 64-bit model without x64 warns here as in its init
        warnings.simplefilter("ignore")
        target = jax.eval_shape(model.init, jax.random.key(0))
    _unflatten(target, arrays, param_specs, "param", "params", f"cannot save: params do not match {model!r}", build=False)
    for name, arr in arrays.items():  # load_checkpoint refuses NaN/inf: never write what cannot be read back
        if np.issubdtype(arr.dtype, np.inexact) and not np.all(np.isfinite(arr)):
            raise ValueError(f"cannot save: params contain a non-finite value (leaf {name}); "
                             "a checkpoint holds finite parameters only")
    opt_specs = None
    if opt_state is not None:
        opt_arrays, opt_specs = _flatten(opt_state, "opt")
        arrays.update(opt_arrays)
    header = {
        "format": FORMAT_VERSION,
        "jqgen_version": __version__,
        "config": config,
        "params": param_specs,
        "opt_state": opt_specs,
        "metadata": dict(metadata) if metadata is not None else {},
    }
    return _write(path, header, arrays)


def _write(path: str, header: Mapping[str, Any], arrays: dict[str, np.ndarray]) -> str:
    """Writes ``arrays`` and the JSON ``header`` to a temporary file in the same directory,
    fsyncs it and renames it over ``path`` (a reader never sees a partial checkpoint)."""
    text = json.dumps(header, default=_json_default, allow_nan=True)
    arrays = {**arrays, _HEADER: np.array(text)}
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)
    return path


def update_metadata(path: str | os.PathLike[str], metadata: Mapping[str, Any]) -> str:
    """Adds ``metadata`` to a checkpoint's own (entries of the same name are replaced),
    keeping everything else byte for byte: model, parameters, optimizer or training state
    (so a training run still resumes from it). Atomic like :func:`save_checkpoint`.

    Raises:
        FileNotFoundError, ValueError: as :func:`checkpoint_info`.
    """
    path = os.fspath(path)
    header, arrays = _read(path)
    header = dict(header, metadata={**header["metadata"], **dict(metadata)})
    return _write(path, header, arrays)


def _umask() -> int:
    """The process umask (mkstemp creates files 0600; checkpoints get the usual mode)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no way to read it without setting it
    os.umask(mask)
    return mask


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if not raw.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # else numpy suggests unpickling it
            raise ValueError("not a NumPy .npz file: it does not start with the zip header")
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as e:
        raise ValueError(f"{path} is not a readable jqgen checkpoint ({type(e).__name__}: {e})") from None
    if _HEADER not in arrays:
        raise ValueError(f"{path} is not a jqgen checkpoint (no {_HEADER!r} entry)")
    try:
        header = json.loads(str(arrays.pop(_HEADER)))
    except ValueError as e:
        raise ValueError(f"{path}: corrupt checkpoint header ({e})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_VERSION:
        fmt = header.get("format") if isinstance(header, dict) else None
        raise ValueError(f"{path}: unsupported checkpoint format {fmt!r} (this jqgen reads format {FORMAT_VERSION})")
    for field in ("config", "params", "metadata"):
        if field not in header:
            raise ValueError(f"{path}: corrupt checkpoint header (no {field!r})")
    for field in ("params", "opt_state"):
        specs = header.get(field)
        if specs is not None and not (isinstance(specs, list) and all(isinstance(s, dict) for s in specs)):
            raise ValueError(f"{path}: corrupt checkpoint header ({field!r} is not a list of leaf specs)")
    if not isinstance(header["config"], dict) or not isinstance(header["metadata"], dict):
        raise ValueError(f"{path}: corrupt checkpoint header (config/metadata are not dicts)")
    return header, arrays


def checkpoint_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON header of a checkpoint, without building anything: ``config``,
    ``metadata``, ``jqgen_version``, ``params``/``opt_state`` leaf specs (path, shape, dtype).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a (readable) jqgen checkpoint.
    """
    return _read(path)[0]


def _needs_x64(header: Mapping[str, Any]) -> str | None:
    """The first stored leaf (``"path: dtype"``) that needs ``jax_enable_x64``, or ``None``."""
    for spec in (header.get("params") or []) + (header.get("opt_state") or []):
        try:
            dt = np.dtype(str(spec.get("dtype", "")))
        except TypeError:
            raise ValueError(f"corrupt checkpoint header (leaf dtype {spec.get('dtype')!r})") from None
        if (dt.itemsize == 8 and dt.kind in "fiu") or (dt.itemsize == 16 and dt.kind == "c"):
            if "key_impl" not in spec:
                return f"{spec.get('path')}: {dt}"
    return None


def model_from_config(config: Mapping[str, Any]) -> Any:
    """Rebuilds a model from its ``config()`` dict: ``MODEL_FAMILIES[family].from_config``.

    Raises:
        ValueError: unknown family or arguments the model rejects.
    """
    config = dict(config)
    family = config.get("family")
    cls = MODEL_FAMILIES.get(family)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown model family {family!r}; known: {sorted(MODEL_FAMILIES)}")
    return cls.from_config(config)


def _unflatten(
    target: Any,
    arrays: dict[str, np.ndarray],
    specs: list[dict[str, Any]],
    prefix: str,
    what: str,
    where: str,
    build: bool = True,
) -> Any:
    """Checks the stored leaves against ``target`` (a tree of ShapeDtypeStructs): count,
    paths, shapes, dtypes and (when ``build``) finiteness; returns the filled tree, or
    ``None`` when not ``build``."""
    expected, treedef = jax.tree_util.tree_flatten_with_path(target)
    if len(specs) != len(expected):
        raise ValueError(
            f"{where}: {what} has {len(specs)} leaves but the model expects {len(expected)} "
            f"({[jax.tree_util.keystr(p) for p, _ in expected]})"
        )
    leaves = []
    for i, ((kp, want), spec) in enumerate(zip(expected, specs)):
        name = jax.tree_util.keystr(kp)
        if spec.get("path") != name:
            raise ValueError(f"{where}: {what} leaf {i} is {spec.get('path')!r} but the model expects {name!r}")
        key = f"{prefix}_{i}"
        if key not in arrays:
            raise ValueError(f"{where}: {what} leaf {name} ({key}) is missing from the file")
        arr = arrays[key]
        is_key = _is_key(want)
        want_shape = tuple(want.shape)
        if is_key:
            want_shape = tuple(jax.eval_shape(jax.random.key_data, want).shape)
        if tuple(arr.shape) != want_shape:
            raise ValueError(f"{where}: {what} leaf {name} has shape {tuple(arr.shape)}, expected {want_shape}")
        want_dtype = None if is_key else np.dtype(want.dtype)
        if want_dtype is not None and arr.dtype != want_dtype:
            raise ValueError(f"{where}: {what} leaf {name} has dtype {arr.dtype}, expected {want_dtype}")
        if not build:
            continue
        if np.issubdtype(arr.dtype, np.inexact) and not np.all(np.isfinite(arr)):
            bad = tuple(int(j) for j in np.argwhere(~np.isfinite(arr))[0])
            raise ValueError(f"{where}: {what} leaf {name} contains a non-finite value ({arr[bad].item()!r}) at index {bad}")
        if is_key:
            leaves.append(jax.random.wrap_key_data(jnp.asarray(arr), impl=spec.get("key_impl")))
        else:
            leaves.append(jnp.asarray(arr, dtype=want_dtype))
    return jax.tree_util.tree_unflatten(treedef, leaves) if build else None


def load_checkpoint(path: str | os.PathLike[str], optimizer: Any = None) -> Checkpoint:
    """Reads a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the ``.npz`` file.
        optimizer: the Optax ``GradientTransformation`` the optimizer state was made with;
            its structure comes from ``jax.eval_shape(optimizer.init, params)``. Without it
            (or when no state was saved) ``opt_state`` is ``None``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable jqgen checkpoint, an unknown model family, leaves whose
            number, paths, shapes or dtypes do not match the model (or optimizer), or
            NaN/inf values.
    """
    path = os.fspath(path)
    header, arrays = _read(path)
    # 64-bit leaves cannot be restored without x64 (eval_shape would silently give 32-bit;
    # a 64-bit model cannot even be built): say so with the path, before building the model
    wide = _needs_x64(header)
    if wide and not jax.config.jax_enable_x64:
        raise ValueError(
            f"{path} holds 64-bit values ({wide}); enable "
            "jax.config.update('jax_enable_x64', True) before loading it"
        )
    model = model_from_config(header["config"])
    target = jax.eval_shape(model.init, jax.random.key(0))
    params = _unflatten(target, arrays, header["params"], "param", "params", path)
    opt_state = None
    if optimizer is not None and header.get("opt_state") is not None:
        opt_target = jax.eval_shape(optimizer.init, params)
        opt_state = _unflatten(opt_target, arrays, header["opt_state"], "opt", "opt_state", path)
    return Checkpoint(model, params, header["metadata"], opt_state)
