"""The protocol under JAX's transformations: jit, vmap and grad agree with eager calls; a
second eager call on an equal model compiles nothing."""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from ._report import MAX_ENUMERATE_BITS, as_key, fail, tolerance

__all__ = ["check_compiles_once", "check_transforms", "compile_log"]

#: The checked program compiles at XLA's backend optimization level 0: it runs once, and
#: this halves its compile time (the numbers agree with the eager calls all the same).
_FAST_COMPILE = {"xla_backend_optimization_level": 0}


def _mean_ll(model: Any, data: Any, p: Any) -> jax.Array:
    return jnp.mean(model.log_prob(p, data))


def _run(model: Any, data: Any, p: Any, k: jax.Array) -> tuple[Any, ...]:
    """The user's program for one parameter set: init, value_and_grad, sample (and probs)."""
    ll, g = jax.value_and_grad(functools.partial(_mean_ll, model, data))(p)
    out = (model.init(k), ll, g, model.sample(p, k, 64))
    return out + (model.probs(p),) if model.num_bits <= MAX_ENUMERATE_BITS else out


#: ``jit(vmap(_run))`` over parameter sets and keys, the model static: an equal model with
#: equal shapes (the next hypothesis example) reuses the compiled program.
_batched = jax.jit(jax.vmap(_run, in_axes=(None, None, 0, 0)), static_argnums=0, compiler_options=_FAST_COMPILE)


def _finite_difference_error(f: Callable[[Any], Any], params: Any, grad: Any, seed: int) -> tuple[float, float]:
    """``(Re <grad, d>, (f(p + eps d) - f(p - eps d)) / (2 eps))`` for a random unit ``d``
    (jax.grad's convention: for complex leaves the real part of ``sum(grad * d)``)."""
    rng = np.random.default_rng(seed)
    leaves, treedef = jax.tree_util.tree_flatten(params)
    d = [rng.normal(size=a.shape) + (1j * rng.normal(size=a.shape) if jnp.iscomplexobj(a) else 0) for a in leaves]
    scale = 1 / np.sqrt(sum(np.sum(np.abs(v) ** 2) for v in d))
    d = [jnp.asarray(v * scale, a.dtype) for v, a in zip(d, leaves)]
    eps = 1e-2
    shifted = [jax.tree_util.tree_unflatten(treedef, [a + jnp.asarray(t, a.dtype) * v for a, v in zip(leaves, d)])
               for t in (eps, -eps)]
    fd = (float(f(shifted[0])) - float(f(shifted[1]))) / (2 * eps)
    dd = sum(float(np.real(np.sum(np.asarray(g) * np.asarray(v)))) for g, v in zip(jax.tree_util.tree_leaves(grad), d))
    return dd, fd


def _check_member(model: Any, i: int, got: tuple[Any, ...], want_params: Any, key: jax.Array,
                  mean_ll: Callable[[Any], Any], finite_differences: bool) -> bool:
    """Compares member ``i`` of the batched program with eager calls; True when its gradient
    has a nonzero entry."""
    tol = tolerance(want_params)
    name = "jit/vmap/grad"
    init, ll, g, x = got[:4]
    for a, b in zip(jax.tree_util.tree_leaves(init), jax.tree_util.tree_leaves(model.init(key))):
        if a.dtype != b.dtype or not np.allclose(np.asarray(a), np.asarray(b), atol=tol, rtol=tol):
            raise fail(name, model, f"jit(vmap(init)) member {i} differs from init(key) by "
                       f"{float(np.max(np.abs(np.asarray(a) - np.asarray(b))))!r}", key=key)
    if len(got) > 4:
        err = float(np.max(np.abs(np.asarray(got[4], np.float64) - np.asarray(model.probs(want_params), np.float64))))
        if not err <= tol:
            raise fail(name, model, f"jit(vmap(probs)) member {i} differs from probs by {err!r}", params=want_params)
    eager = float(mean_ll(want_params))
    if not (np.isclose(float(ll), eager, atol=10 * tol, rtol=1e-5) or (np.isinf(eager) and float(ll) == eager)):
        raise fail(name, model, f"jit(vmap(mean log_prob)) member {i} is {float(ll)!r}, eager {eager!r}",
                   params=want_params)
    if not np.array_equal(np.asarray(x), np.asarray(model.sample(want_params, key, 64))):
        raise fail(name, model, f"jit(vmap(sample)) member {i} differs from the eager samples", key=key,
                   params=want_params)
    if jax.tree_util.tree_structure(g) != jax.tree_util.tree_structure(want_params):
        raise fail(name, model, "grad has another tree structure than the parameters", params=want_params)
    if not np.isfinite(eager):
        return False
    for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(want_params)):
        if a.shape != b.shape or a.dtype != b.dtype or not bool(jnp.all(jnp.isfinite(a))):
            raise fail(name, model, f"a grad leaf is {jnp.dtype(a.dtype).name}{list(a.shape)} with finite entries "
                       f"{bool(jnp.all(jnp.isfinite(a)))}, want finite {jnp.dtype(b.dtype).name}{list(b.shape)}",
                       params=want_params)
    if finite_differences:
        dd, fd = _finite_difference_error(mean_ll, want_params, g, seed=i)
        if not abs(dd - fd) < 2e-3 + 2e-2 * abs(fd):
            raise fail(name, model, f"grad of the mean log_prob along a random unit direction is {dd!r} but central "
                       f"finite differences (eps 1e-2) give {fd!r}", params=want_params)
    return any(float(jnp.max(jnp.abs(a))) > 0 for a in jax.tree_util.tree_leaves(g))


def check_transforms(model: Any, params: Any, *, key: Any = None, finite_differences: bool = True) -> None:
    """``init``, ``probs``, ``log_prob``, ``sample`` and ``grad`` work in one user program,
    ``jax.jit(jax.vmap(...))`` over two parameter sets (``params`` and ``init`` of a second
    key), and agree with eager calls: equal samples, values within the dtype's tolerance, a
    finite gradient of the parameters' structure, shapes and dtypes, nonzero for at least
    one member, agreeing with central finite differences along a random direction.

    The log-likelihood is the mean over 8 samples of ``params``; ``probs`` is included for
    ``n <= 16``.

    Args:
        model: a :class:`jqgen.GenerativeModel`.
        params: its parameters.
        key: PRNG key or int seed (default ``jax.random.key(4)``), split in two.
        finite_differences: compare the gradient with finite differences (float32 needs
            a smooth ``log_prob``; ``False`` skips this part).

    Raises:
        AssertionError: a property fails.

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.testing import check_transforms
        >>> model = jqgen.MPSBornMachine(3, 2)
        >>> check_transforms(model, model.init(jax.random.key(0)))
    """
    key = as_key(key, 4)
    keys = jax.random.split(key, 2)
    data = np.asarray(model.sample(params, jax.random.fold_in(key, 2), 8))
    mean_ll = functools.partial(_mean_ll, model, data)
    members = [params, model.init(keys[1])]
    try:
        stacked = jax.tree_util.tree_map(lambda a, b: jnp.stack([a, b]), *members)
        out = _batched(model, data, stacked, keys)
    except Exception as e:  # noqa: BLE001 - any error is the finding
        raise fail("jit/vmap/grad", model, f"jit(vmap(init, probs, value_and_grad(mean log_prob), sample)) raised "
                   f"{type(e).__name__}: {e}", key=key, params=params) from e
    nonzero = False
    for i in range(2):
        got = jax.tree_util.tree_map(lambda a: a[i], out)
        nonzero |= _check_member(model, i, got, members[i], keys[i], mean_ll, finite_differences)
    if not nonzero:
        raise fail("jit/vmap/grad", model, "the gradient of the mean log_prob is zero for both parameter sets",
                   params=params)


@contextlib.contextmanager
def compile_log() -> Iterator[list[str]]:
    """The names of the programs XLA compiles inside the ``with`` block (a list filled as
    they compile), from ``jax.monitoring``'s backend-compile events.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from jqgen.testing import compile_log
        >>> f = jax.jit(lambda x: x + 1)
        >>> _ = f(jnp.ones(3))
        >>> with compile_log() as names:
        ...     _ = f(jnp.ones(3))  # cached: nothing compiles
        >>> names
        []
    """
    names: list[str] = []

    def listener(event: str, duration: float, **kwargs: Any) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            names.append(str(kwargs.get("fun_name", "?")))

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield names
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def check_compiles_once(model: Any, params: Any, *, key: Any = None) -> None:
    """A second eager ``probs``, ``log_prob`` and ``sample`` call on an equal model (rebuilt
    by ``from_config``) with equal parameters (copied arrays) compiles nothing: compiled
    functions are keyed on the model's value and the static sizes, not its identity.

    Args:
        model: a :class:`jqgen.GenerativeModel`.
        params: its parameters.
        key: PRNG key or int seed (default ``jax.random.key(8)``).

    Raises:
        AssertionError: the second calls compiled (the message names what).

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.testing import check_compiles_once
        >>> model = jqgen.MPSBornMachine(3, 2)
        >>> check_compiles_once(model, model.init(jax.random.key(0)))
    """
    key = as_key(key, 8)
    data = np.asarray(model.sample(params, key, 8))

    def calls(m: Any, p: Any) -> list[Any]:
        out = [m.log_prob(p, data), m.sample(p, key, 8)]
        return out + [m.probs(p)] if m.num_bits <= MAX_ENUMERATE_BITS else out

    jax.block_until_ready(calls(model, params))
    other = type(model).from_config(model.config())
    copied = jax.tree_util.tree_map(lambda x: jnp.asarray(np.asarray(x)), params)
    with compile_log() as names:
        jax.block_until_ready(calls(other, copied))
    if names:
        raise fail("compile once", model, f"a second eager call on an equal model compiled {names}", key=key,
                   params=params)
