"""Validation, config parsing and compile-once dispatch shared by the latent priors."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_batch, check_bits, check_finite, check_int, is_concrete
from .._compiled import compiled

__all__ = ["call", "check_features", "check_num", "check_params", "fields_from_config", "untrained"]


def check_features(features: Any, width: int) -> jax.Array:
    """``features [N, width]`` of 0/1 values as uint8 (values checked when concrete).

    Raises:
        ValueError: not two-dimensional, no rows, another width, or (concrete) a value
            other than 0/1.
    """
    shape = tuple(np.shape(features))
    if len(shape) != 2 or shape[0] == 0:
        raise ValueError(f"features must be a non-empty [N, {width}] array of 0/1 bits (the discriminator's "
                         f"binarized hidden units), got shape {shape}")
    return check_bits(features, width, name="features")


def check_num(num: Any, width: int | None = None) -> int:
    """``num`` (samples to draw) as a Python int ``>= 1``; static under ``jit``. With
    ``width`` (latent entries per sample), also refuses (before allocating) a ``num`` whose
    samples cannot fit in memory at once."""
    num = check_int(num, "num", 1)
    if width is not None:
        check_batch(num, 8 * int(width) + 32, f"sampling {width}-entry latent vectors")
    return num


def check_params(params: Any, keys: tuple[str, ...], what: str) -> None:
    """Raises ``ValueError`` unless ``params`` is a dict with exactly ``keys`` whose leaves are
    finite (NaN/inf: a ``ValueError`` when concrete, a checkify check when traced)."""
    if not isinstance(params, Mapping) or set(params) != set(keys):
        got = sorted(params) if isinstance(params, Mapping) else type(params).__name__
        raise ValueError(f"{what} params must be a dict with keys {sorted(keys)}, got {got}")
    check_finite(params, f"{what} params")


def call(obj: Any, kernel: str, static_argnums: tuple[int, ...], *args: Any) -> Any:
    """``obj.kernel(*args)``: through a jitted function cached on ``obj``'s value when the
    dynamic arguments are concrete (compile once per equal prior and shapes), inline when
    traced (inside the caller's ``jit``/``grad``)."""
    dynamic = [a for i, a in enumerate(args) if i not in static_argnums]
    if is_concrete(*dynamic):
        return compiled(obj, kernel, static_argnums)(*args)
    return getattr(obj, kernel)(*args)


def untrained(params: Any) -> tuple[jax.Array, Any]:
    """``(0.0, params)``: the ``value_and_grad`` of a prior with nothing to learn."""
    return jnp.zeros((), jnp.float32), params


def fields_from_config(cls: type, name: str, config: Mapping[str, Any], required: tuple[str, ...],
                       tuples: tuple[str, ...] = ()) -> dict[str, Any]:
    """The constructor arguments of ``cls`` from its ``config()`` dict.

    Args:
        cls: the prior's dataclass.
        name: its ``"prior"`` name.
        config: the dict (``"prior"`` entry optional, must equal ``name``).
        required: fields that must be present.
        tuples: fields stored as JSON lists, turned back into tuples.

    Raises:
        ValueError: not a mapping, another prior, missing or unknown entries.
    """
    if not isinstance(config, Mapping):
        raise ValueError(f"config must be a dict (a prior's config()), got {type(config).__name__}")
    cfg = dict(config)
    got = cfg.pop("prior", name)
    if got != name:
        raise ValueError(f"config['prior'] must be {name!r} for a {cls.__name__}, got {got!r}")
    fields = {f.name for f in dataclasses.fields(cls)}
    if not set(required) <= set(cfg) <= fields:
        raise ValueError(f"a {cls.__name__} config needs {sorted(required)} and may have "
                         f"{sorted(fields - set(required))}, got {sorted(cfg)}")
    for k in tuples:
        if isinstance(cfg.get(k), list):
            cfg[k] = tuple(cfg[k])
    return cfg
