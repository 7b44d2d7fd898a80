"""``check_generative_model``: every conformance property of the protocol in one call."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from ._properties import (check_deterministic, check_input_validation, check_normalized, check_sampling,
                          check_shapes_and_dtypes)
from ._report import as_key
from ._roundtrip import check_checkpoint_round_trip, check_config_round_trip, is_registered
from ._stats import ALPHA
from ._transforms import check_compiles_once, check_transforms

__all__ = ["CHECKS", "check_generative_model"]

CHECKS = ("shapes and dtypes", "input validation", "normalization", "sampling", "determinism", "jit/vmap/grad",
          "config round trip", "checkpoint round trip", "compile once")
"""The checks :func:`check_generative_model` runs, in order, by the names ``skip`` takes."""


def _plan(model: Any, params: Any, key: Any, num_samples: int, alpha: float, support: Any,
          random_init: bool, finite_differences: bool) -> dict[str, Callable[[], Any]]:
    kk = None if key is None else as_key(key)  # None: each check's own default key
    return {
        "shapes and dtypes": lambda: check_shapes_and_dtypes(model, params, key=kk),
        "input validation": lambda: check_input_validation(model, params, key=kk),
        "normalization": lambda: check_normalized(model, params, support=support),
        "sampling": lambda: check_sampling(model, params, key=kk, num_samples=num_samples, alpha=alpha,
                                           support=support),
        "determinism": lambda: check_deterministic(model, params, key=kk, random_init=random_init),
        "jit/vmap/grad": lambda: check_transforms(model, params, key=kk, finite_differences=finite_differences),
        "config round trip": lambda: check_config_round_trip(model),
        "checkpoint round trip": lambda: check_checkpoint_round_trip(model, params),
        "compile once": lambda: check_compiles_once(model, params, key=kk),
    }


def check_generative_model(model: Any, params: Any, *, key: Any = None, num_samples: int = 20_000,
                           alpha: float = ALPHA, support: Any = None, skip: Iterable[str] = (),
                           random_init: bool = True, finite_differences: bool = True) -> tuple[str, ...]:
    """Runs the protocol's conformance properties on ``model`` and ``params``.

    In order (the names of :data:`CHECKS`): ``"shapes and dtypes"`` (:func:`check_shapes_and_dtypes`),
    ``"input validation"`` (:func:`check_input_validation`), ``"normalization"``
    (:func:`check_normalized`), ``"sampling"`` (:func:`check_sampling`, a G-test; its
    docstring states the power), ``"determinism"`` (:func:`check_deterministic`),
    ``"jit/vmap/grad"`` (:func:`check_transforms`), ``"config round trip"``
    (:func:`check_config_round_trip`), ``"checkpoint round trip"``
    (:func:`check_checkpoint_round_trip`, only for a family registered in
    :data:`jqgen.checkpoint.MODEL_FAMILIES`: a user's own family is skipped) and
    ``"compile once"`` (:func:`check_compiles_once`). The enumerating checks need
    ``n <= 16`` or ``support``.

    Args:
        model: a :class:`jqgen.GenerativeModel`.
        params: its parameters (a pytree shaped like ``model.init``'s output).
        key: PRNG key or int seed for every check (default: each check's own fixed key).
        num_samples: samples of the G-test.
        alpha: its significance level.
        support: optional ``[M, n]`` rows, the strings of nonzero probability (for a
            constrained model too large to enumerate).
        skip: names from :data:`CHECKS` not to run.
        random_init: require ``init`` of two keys to differ (:func:`check_deterministic`).
        finite_differences: compare the gradient with finite differences
            (:func:`check_transforms`).

    Returns:
        The names of the checks that ran.

    Raises:
        AssertionError: the first property that fails, naming it, the model, the key and
            the numbers.
        ValueError: an unknown name in ``skip`` or another bad argument.

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.testing import check_generative_model
        >>> model = jqgen.MPSBornMachine(3, 2, init_noise=0.5)
        >>> ran = check_generative_model(model, model.init(jax.random.key(0)), num_samples=4000)
        >>> len(ran)
        9
    """
    skip = tuple(skip) if not isinstance(skip, str) else (skip,)
    unknown = [s for s in skip if s not in CHECKS]
    if unknown:
        raise ValueError(f"skip must name checks from {list(CHECKS)}, got {unknown}")
    plan = _plan(model, params, key, num_samples, alpha, support, random_init, finite_differences)
    ran = []
    for name in CHECKS:
        if name in skip or (name == "checkpoint round trip" and not is_registered(model)):
            continue
        plan[name]()
        ran.append(name)
    return tuple(ran)
