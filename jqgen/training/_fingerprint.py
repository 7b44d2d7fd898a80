"""Static fingerprints of training settings: the cache key of compiled chunks and the
settings digest a resumed run is checked against.

A strategy's step is a closure over its settings (the model, an Optax optimizer, a batch
size, a loss function). Two closures built from equal settings -- ``optax.adam(0.01)``
created twice -- are different objects, so a cache keyed on identity would compile again.
:func:`fingerprint` describes a value by what determines its behaviour instead:

* functions by their qualified name, bytecode, constants, defaults and closure cells
  (recursively), so ``optax.adam(0.01)`` built twice gives equal fingerprints and
  ``optax.adam(0.02)`` another;
* hashable configuration objects (frozen dataclasses such as jqgen's models, tuples,
  numbers, strings) by value;
* arrays by shape, dtype and a SHA-256 of their bytes;
* anything else by identity (the object itself is kept in the fingerprint, so an identity
  can never be reused by another object while the fingerprint lives).

Fingerprints are nested tuples of primitives, hashable and deterministic within a process;
:func:`digest` turns one into a SHA-256 that is stable across processes (no ``hash()``),
for the settings recorded in checkpoints.

Examples:
    >>> import optax
    >>> from jqgen.training._fingerprint import fingerprint, digest
    >>> fingerprint(optax.adam(0.01)) == fingerprint(optax.adam(0.01))
    True
    >>> digest(optax.adam(0.01)) == digest(optax.adam(0.02))
    False
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import types
from typing import Any

import numpy as np

__all__ = ["digest", "fingerprint"]

_MAX_DEPTH = 40


class _Identity:
    """An object compared by identity inside a fingerprint (kept alive by it)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _Identity) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __repr__(self) -> str:  # digest(): identities differ between processes anyway
        return f"<identity {type(self.obj).__qualname__} {id(self.obj):#x}>"


def _array(x: Any) -> tuple[Any, ...]:
    import jax

    if hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    a = np.asarray(x)
    return ("array", a.shape, a.dtype.str, hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest())


def _code(c: types.CodeType, depth: int, seen: frozenset[int]) -> tuple[Any, ...]:
    consts = tuple(_fp(k, depth, seen) for k in c.co_consts)
    return ("code", c.co_qualname if hasattr(c, "co_qualname") else c.co_name, c.co_code, consts, c.co_names)


def _function(f: types.FunctionType, depth: int, seen: frozenset[int]) -> tuple[Any, ...]:
    cells = tuple(_fp(cell.cell_contents, depth, seen) if _filled(cell) else ("empty",) for cell in f.__closure__ or ())
    defaults = _fp(f.__defaults__, depth, seen)
    kwdefaults = _fp(f.__kwdefaults__, depth, seen)
    return ("function", f.__module__, _code(f.__code__, depth, seen), cells, defaults, kwdefaults)


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents
    except ValueError:  # an empty cell (a variable assigned after the closure was made)
        return False
    return True


def _fp(obj: Any, depth: int, seen: frozenset[int]) -> Any:
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        return (type(obj).__name__, obj)
    if depth > _MAX_DEPTH or id(obj) in seen:
        return _Identity(obj)
    depth, seen = depth + 1, seen | {id(obj)}
    if isinstance(obj, types.FunctionType):
        return _function(obj, depth, seen)
    if isinstance(obj, types.MethodType):
        return ("method", _fp(obj.__func__, depth, seen), _fp(obj.__self__, depth, seen))
    if isinstance(obj, functools.partial):
        return ("partial", _fp(obj.func, depth, seen), _fp(obj.args, depth, seen), _fp(obj.keywords, depth, seen))
    if isinstance(obj, types.CodeType):
        return _code(obj, depth, seen)
    if isinstance(obj, (type, types.ModuleType, types.BuiltinFunctionType)):
        return ("named", getattr(obj, "__module__", ""), getattr(obj, "__qualname__", getattr(obj, "__name__", "")))
    if isinstance(obj, dict):
        items = sorted(((repr(k), _fp(v, depth, seen)) for k, v in obj.items()), key=lambda kv: kv[0])
        return ("dict", tuple(items))
    if isinstance(obj, (tuple, list)):  # NamedTuples too (their type is part of the key)
        return (type(obj).__qualname__, tuple(_fp(v, depth, seen) for v in obj))
    if isinstance(obj, (frozenset, set)):
        return (type(obj).__name__, tuple(sorted(repr(_fp(v, depth, seen)) for v in obj)))
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return _array(obj)
    if isinstance(obj, np.generic):
        return ("scalar", obj.dtype.str, obj.item())
    if dataclasses.is_dataclass(obj):
        fields = tuple((f.name, _fp(getattr(obj, f.name), depth, seen)) for f in dataclasses.fields(obj))
        return ("dataclass", type(obj).__module__, type(obj).__qualname__, fields)
    return _Identity(obj)


def fingerprint(obj: Any) -> Any:
    """A hashable description of ``obj`` by behaviour-determining content (see module doc)."""
    return _fp(obj, 0, frozenset())


def digest(obj: Any) -> str:
    """SHA-256 (hex) of :func:`fingerprint`, stable across processes for values without
    identity-compared parts."""
    return hashlib.sha256(repr(fingerprint(obj)).encode()).hexdigest()
