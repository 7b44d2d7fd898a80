"""Round trips: ``config``/``from_config`` through JSON, and a checkpoint file."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from ..checkpoint import MODEL_FAMILIES, load_checkpoint, save_checkpoint
from ._report import fail, leaves_equal

__all__ = ["check_checkpoint_round_trip", "check_config_round_trip", "is_registered"]


def is_registered(model: Any) -> bool:
    """True when the model's ``config()["family"]`` is in :data:`jqgen.checkpoint.MODEL_FAMILIES`
    (so :func:`jqgen.load_checkpoint` can rebuild it)."""
    try:
        family = model.config().get("family")
    except Exception:  # noqa: BLE001 - a broken config() is check_config_round_trip's finding
        return False
    return MODEL_FAMILIES.get(family) is type(model)


def check_config_round_trip(model: Any) -> None:
    """``config()`` is JSON-serializable with a non-empty ``"family"`` string, and
    ``type(model).from_config`` of it (after ``json.dumps``/``json.loads``) gives an equal
    model with an equal hash and an equal config.

    Args:
        model: a :class:`jqgen.GenerativeModel`.

    Raises:
        AssertionError: a property fails (the message shows the configs).

    Examples:
        >>> import jqgen
        >>> from jqgen.testing import check_config_round_trip
        >>> check_config_round_trip(jqgen.MPSBornMachine(3, 2))
    """
    name = "config round trip"
    config = model.config()
    if not isinstance(config, dict) or not isinstance(config.get("family"), str) or not config["family"]:
        raise fail(name, model, f"config() is {config!r}, want a dict with a non-empty 'family' string")
    try:
        text = json.dumps(config)
    except (TypeError, ValueError) as e:
        raise fail(name, model, f"config() {config!r} is not JSON-serializable ({e})") from None
    rebuilt = type(model).from_config(json.loads(text))
    if rebuilt != model:
        raise fail(name, model, f"from_config(config()) gave {rebuilt!r}, not an equal model (config {config!r})")
    if hash(rebuilt) != hash(model):
        raise fail(name, model, f"from_config(config()) is equal but hashes differently (config {config!r})")
    if rebuilt.config() != config:
        raise fail(name, model, f"the rebuilt model's config {rebuilt.config()!r} differs from {config!r}")


def check_checkpoint_round_trip(model: Any, params: Any) -> None:
    """:func:`jqgen.save_checkpoint` then :func:`jqgen.load_checkpoint` (in a temporary
    directory) give back an equal model and exactly equal parameters (structure, dtypes,
    values).

    Args:
        model: a model whose family is registered in :data:`jqgen.checkpoint.MODEL_FAMILIES`.
        params: its parameters.

    Raises:
        AssertionError: the family is not registered, or a property fails.

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.testing import check_checkpoint_round_trip
        >>> model = jqgen.MPSBornMachine(3, 2)
        >>> check_checkpoint_round_trip(model, model.init(jax.random.key(0)))
    """
    name = "checkpoint round trip"
    if not is_registered(model):
        raise fail(name, model, f"its family {model.config().get('family')!r} is not registered for "
                   f"{type(model).__name__} in jqgen.checkpoint.MODEL_FAMILIES (known: {sorted(MODEL_FAMILIES)})")
    with tempfile.TemporaryDirectory() as tmp:
        ck = load_checkpoint(save_checkpoint(os.path.join(tmp, "ck.npz"), model, params))
    if ck.model != model or hash(ck.model) != hash(model):
        raise fail(name, model, f"the checkpoint's model is {ck.model!r}", params=params)
    if not leaves_equal(ck.params, params):
        raise fail(name, model, "the checkpoint's parameters differ from those saved (structure, dtype or values)",
                   params=params)
