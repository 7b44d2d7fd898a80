"""Compile once: jitted methods shared by equal models.

A public eager entry point (``QCBM.probs(params)``, :func:`jqgen.mean_nll`, ...) must not
compile again when it is called a second time with the same static configuration.
``jax.jit(model.method)`` made inside the call would: every new ``jit`` object starts with
an empty cache. :func:`compiled` keeps one jitted function per *(model, method, static
arguments)*, keyed on the model's value (models are frozen, hashable dataclasses whose
equality is their configuration), so two equal models built separately share it and JAX's
own cache then keys the executables on the argument shapes and dtypes.

Examples:
    >>> import jax, jqgen
    >>> from jqgen._compiled import compiled
    >>> a = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 2))
    >>> b = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 2))
    >>> compiled(a, "probs") is compiled(b, "probs")
    True
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax

__all__ = ["compiled"]


@functools.lru_cache(maxsize=512)
def _cached(model: Any, method: str, static_argnums: tuple[int, ...]) -> Callable[..., Any]:
    return jax.jit(getattr(model, method), static_argnums=static_argnums)


def compiled(model: Any, method: str, static_argnums: tuple[int, ...] = ()) -> Callable[..., Any]:
    """``jax.jit(getattr(model, method), static_argnums=...)``, built once per equal model.

    A model that is not hashable (a third-party class outside the protocol's contract)
    gets a fresh jitted function: correct, but it compiles on every call.
    """
    try:
        return _cached(model, method, tuple(static_argnums))
    except TypeError:  # unhashable model
        return jax.jit(getattr(model, method), static_argnums=static_argnums)
