"""The protocol's value properties: normalization, sampling, determinism, shapes, bad input."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..protocol import GenerativeModel
from ._report import (as_key, enumerate_support, fail, leaves_equal, params_text, real_dtype, row_positions,
                      tolerance)
from ._stats import ALPHA, GTest, g_test

__all__ = ["check_deterministic", "check_input_validation", "check_normalized", "check_sampling",
           "check_shapes_and_dtypes"]


def _log_probs(model: Any, params: Any, rows: np.ndarray) -> np.ndarray:
    return np.asarray(model.log_prob(params, rows), np.float64)


def check_normalized(model: Any, params: Any, *, support: Any = None) -> None:
    """``exp(log_prob)`` sums to 1 over every string (or over the support), agrees with
    ``probs`` and is exactly 0 (``log_prob = -inf``, never NaN) off a constrained support.

    The strings are all ``2**n`` (``n <= 16``); for a model with ``in_support`` the sum runs
    over the strings it accepts, and every other string must get ``-inf``. ``probs`` is
    compared when all strings are enumerated. Tolerances: ``2e-4`` on the sum for float32
    parameters, ``1e-9`` for float64.

    Args:
        model: a :class:`jqgen.GenerativeModel`.
        params: its parameters.
        support: optional ``[M, n]`` rows, the strings of nonzero probability (a constrained
            model too large to enumerate): the sum then runs over them only.

    Raises:
        AssertionError: a property fails (the message names it, the model and the numbers).
        ValueError: ``n > 16`` without ``support``, or a malformed ``support``.

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.testing import check_normalized
        >>> model = jqgen.MPSBornMachine(3, 2)
        >>> check_normalized(model, model.init(jax.random.key(0)))
    """
    rows, off = enumerate_support(model, support)
    tol = tolerance(params)
    lp = _log_probs(model, params, rows)
    if lp.shape != (rows.shape[0],):
        raise fail("normalization", model, f"log_prob of {rows.shape} bits has shape {lp.shape}, "
                   f"want {(rows.shape[0],)}", params=params)
    if np.isnan(lp).any() or np.isposinf(lp).any():
        bad = int(np.argmax(np.isnan(lp) | np.isposinf(lp)))
        raise fail("normalization", model, f"log_prob({rows[bad].tolist()}) = {lp[bad]}", params=params)
    total = float(np.exp(lp).sum())
    if not abs(total - 1) < 10 * tol:
        raise fail("normalization", model, f"the sum of exp(log_prob) over {rows.shape[0]} strings is {total!r}, "
                   f"want 1 within {10 * tol:g}", params=params)
    if off is not None and off.size:
        lp_off = _log_probs(model, params, off)
        if not np.all(np.isneginf(lp_off)):
            bad = int(np.argmin(np.isneginf(lp_off)))
            raise fail("normalization", model, f"log_prob({off[bad].tolist()}) = {lp_off[bad]!r} for a string "
                       "outside in_support, want -inf", params=params)
    if support is None:  # all 2**n strings: probs must agree
        _check_probs(model, params, rows, off, lp, tol)


def _check_probs(model: Any, params: Any, rows: np.ndarray, off: np.ndarray | None, lp: np.ndarray,
                 tol: float) -> None:
    n = int(model.num_bits)
    p = np.asarray(model.probs(params), np.float64)
    if p.shape != (2**n,) or not np.all(p >= 0) or not abs(p.sum() - 1) < 10 * tol:
        raise fail("normalization", model, f"probs has shape {p.shape}, min {p.min()!r} and sum {p.sum()!r}; want "
                   f"[{2**n}] non-negative entries summing to 1 within {10 * tol:g}", params=params)
    weights = np.int64(1) << np.arange(n - 1, -1, -1, dtype=np.int64)
    on = p[rows.astype(np.int64) @ weights]
    err = np.abs(np.exp(lp) - on)
    if not np.all(err <= tol):
        bad = int(np.argmax(err))
        raise fail("normalization", model, f"exp(log_prob({rows[bad].tolist()})) = {np.exp(lp[bad])!r} but "
                   f"probs gives {on[bad]!r} (want agreement within {tol:g})", params=params)
    if off is not None and off.size and not np.all(p[off.astype(np.int64) @ weights] == 0):
        raise fail("normalization", model, "probs is nonzero on a string outside in_support", params=params)


def _sample_probs(model: Any, params: Any, support: Any) -> tuple[np.ndarray, np.ndarray, str]:
    """The enumerated strings, their normalized ``exp(log_prob)``, and what lies off them."""
    rows, off = enumerate_support(model, support)
    p = np.exp(_log_probs(model, params, rows))
    where = "not in the support given" if support is not None else "outside the support (in_support is False)"
    return rows, p / p.sum(), where


def check_sampling(model: Any, params: Any, *, key: Any = None, num_samples: int = 20_000, alpha: float = ALPHA,
                   support: Any = None) -> GTest:
    """Samples follow ``exp(log_prob)``: a G-test of ``num_samples`` samples at level ``alpha``.

    Draws ``model.sample(params, key, num_samples)`` and tests their counts against
    ``exp(log_prob)`` of the enumerated strings (as :func:`check_normalized`; bins with
    expected count below 5 pooled). A sample that the model gives probability zero fails
    at once.

    Power: a sampler whose distribution lies at total-variation distance ``delta`` from
    ``exp(log_prob)`` is rejected with probability at least :func:`g_test_power`
    ``(delta, num_samples, bins, alpha)``. At the defaults (20,000 samples, ``alpha =
    1e-3``) that is at least 95 % for ``delta >= 0.021`` over 8 strings (``n = 3``), 0.024
    over 16, 0.030 over 64, 0.040 over 256 and 0.054 over 1,024 (:func:`detectable_tv`);
    the bound is asymptotic: measured over 400 simulated runs on 8 strings at ``delta =
    0.02`` in the least detectable shape, the rejection rate is 0.89 against the bound's
    0.90 (``tests/test_testing.py`` checks it within 3 standard errors). A correct sampler
    fails with probability ``alpha`` on a new key; a fixed key makes the check
    deterministic. A property test over ``E`` drawn models fails somewhere with probability
    up to ``E * alpha``: pass ``alpha / E`` to keep that at ``alpha`` (a smaller level costs
    power: :func:`g_test_power`).

    Args:
        model: a :class:`jqgen.GenerativeModel`.
        params: its parameters.
        key: PRNG key or int seed of the samples (default ``jax.random.key(7)``).
        num_samples: samples to draw.
        alpha: significance level.
        support: optional ``[M, n]`` rows of nonzero probability (as :func:`check_normalized`).

    Returns:
        The :class:`GTest` ``(statistic, df, pvalue)``.

    Raises:
        AssertionError: the samples do not follow the probabilities (the message gives the
            statistic, p-value, empirical distance and the strings off by most), or a sample
            lies outside the support.
        ValueError: a bad argument.

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.testing import check_sampling
        >>> model = jqgen.MPSBornMachine(3, 2, init_noise=0.5)
        >>> check_sampling(model, model.init(jax.random.key(0)), num_samples=2000).pvalue > 1e-3
        True
    """
    if not isinstance(num_samples, (int, np.integer)) or isinstance(num_samples, bool) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    key = as_key(key, 7)
    rows, p, where = _sample_probs(model, params, support)
    x = np.asarray(model.sample(params, key, int(num_samples)))
    if x.shape != (num_samples, rows.shape[1]):
        raise fail("sampling", model, f"sample(..., {num_samples}) has shape {x.shape}", key=key, params=params)
    pos = row_positions(rows, x)
    if np.any(pos < 0):
        raise fail("sampling", model, f"sample {x[int(np.argmin(pos))].tolist()} lies {where}", key=key,
                   params=params)
    counts = np.bincount(pos, minlength=rows.shape[0])
    try:
        result = g_test(counts, p)
    except AssertionError as e:
        raise fail("sampling", model, str(e), key=key, params=params) from None
    if result.pvalue < alpha:
        freq = counts / num_samples
        worst = np.argsort(-np.abs(freq - p))[:3]
        detail = ", ".join(f"{rows[i].tolist()}: {freq[i]:.4f} sampled against {p[i]:.4f}" for i in worst)
        raise fail("sampling", model, f"G = {result.statistic:.1f} on {result.df} degrees of freedom, p-value "
                   f"{result.pvalue:.3g} < alpha = {alpha:g} with {num_samples} samples; empirical total variation "
                   f"{0.5 * np.abs(freq - p).sum():.4f}; most off: {detail}", key=key, params=params)
    return result


def _collision_num(model: Any, params: Any) -> int | None:
    """Samples per draw so that two keys give equal draws with probability < 1e-12
    (``None``: the distribution is too concentrated for any size up to 4,096)."""
    try:
        rows, p, _ = _sample_probs(model, params, None)
    except ValueError:
        return 256
    same = float(np.sum(p**2))  # the chance that two keys draw one equal sample
    return next((num for num in (64, 512, 4096) if same**num < 1e-12), None)


def check_deterministic(model: Any, params: Any, *, key: Any = None, random_init: bool = True) -> None:
    """Same key, same parameters and samples; another key, other parameters and samples.

    The other-key sample check draws enough samples (64, 512 or 4,096) that a correct sampler
    repeats itself with probability below ``1e-12``; it is skipped for a distribution
    too concentrated for that (``sum p^2`` near 1).

    Args:
        model: a :class:`jqgen.GenerativeModel`.
        params: its parameters.
        key: PRNG key or int seed (default ``jax.random.key(5)``); the other key is
            ``jax.random.fold_in(key, 1)``.
        random_init: require ``init`` of another key to give other parameters (``False``
            for a family whose ``init`` ignores the key).

    Raises:
        AssertionError: a property fails.

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.testing import check_deterministic
        >>> model = jqgen.MPSBornMachine(3, 2)
        >>> check_deterministic(model, model.init(jax.random.key(0)))
    """
    key = as_key(key, 5)
    other = jax.random.fold_in(key, 1)
    first = model.init(key)
    if not leaves_equal(first, model.init(key)):
        raise fail("determinism", model, "init(key) twice gave different parameters", key=key)
    if random_init and leaves_equal(first, model.init(other)):
        raise fail("determinism", model, "init of two different keys gave the same parameters", key=key)
    enough = _collision_num(model, params)
    num = enough or 64
    a = np.asarray(model.sample(params, key, num))
    if not np.array_equal(a, np.asarray(model.sample(params, key, num))):
        raise fail("determinism", model, f"sample(params, key, {num}) twice gave different samples", key=key,
                   params=params)
    if enough is not None and np.array_equal(a, np.asarray(model.sample(params, other, num))):
        raise fail("determinism", model, f"sample(params, key, {num}) with two different keys gave the same "
                   "samples (the sampler ignores the key?)", key=key, params=params)


def _structure(tree: Any) -> tuple[Any, list[tuple[tuple[int, ...], str]]]:
    return jax.tree_util.tree_structure(tree), [(tuple(x.shape), jnp.dtype(x.dtype).name)
                                               for x in jax.tree_util.tree_leaves(tree)]


def check_shapes_and_dtypes(model: Any, params: Any, *, key: Any = None) -> None:
    """The protocol's types: a hashable :class:`jqgen.GenerativeModel` with an int
    ``num_bits``; ``params`` shaped like ``init``'s output; ``log_prob`` of ``[..., n]`` of
    shape ``[...]`` in the parameters' real dtype; ``sample`` uint8 ``[num, n]`` of 0/1 for
    ``num`` a Python int, ``np.int64`` or ``np.int32`` (the same samples for each); ``probs`` ``[2**n]`` (``n <= 16``).

    Args:
        model: a :class:`jqgen.GenerativeModel`.
        params: its parameters.
        key: PRNG key or int seed of the samples (default ``jax.random.key(2)``).

    Raises:
        AssertionError: a property fails.

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.testing import check_shapes_and_dtypes
        >>> model = jqgen.MPSBornMachine(3, 2)
        >>> check_shapes_and_dtypes(model, model.init(jax.random.key(0)))
    """
    key = as_key(key, 2)
    name = "shapes and dtypes"
    if not isinstance(model, GenerativeModel):
        raise fail(name, model, "the model does not implement jqgen.GenerativeModel (a method is missing)")
    n = model.num_bits
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise fail(name, model, f"num_bits is {n!r}, want a positive int")
    try:
        hash(model)
    except TypeError as e:
        raise fail(name, model, f"the model is not hashable ({e})") from None
    expected = jax.eval_shape(model.init, key)
    if _structure(expected) != _structure(params):
        raise fail(name, model, f"params do not have the structure, shapes and dtypes init gives: "
                   f"{params_text(expected)}", params=params)
    real = real_dtype(params)
    x = np.asarray(model.sample(params, key, 8))
    batch = x.reshape(2, 4, n)
    for bits, shape in ((x[0], ()), (batch, (2, 4))):
        lp = model.log_prob(params, bits)
        if tuple(lp.shape) != shape or np.dtype(lp.dtype) != real:
            raise fail(name, model, f"log_prob of bits {list(bits.shape)} gave {np.dtype(lp.dtype).name}"
                       f"{list(lp.shape)}, want {real.name}{list(shape)}", params=params)
    flat = np.asarray(model.log_prob(params, x), np.float64)
    if not np.allclose(np.asarray(lp, np.float64).reshape(-1), flat, atol=10 * tolerance(params), rtol=1e-5):
        raise fail(name, model, "log_prob of bits [2, 4, n] disagrees with log_prob of the same 8 rows [8, n]",
                   params=params)
    for num in (8, np.int64(8), np.int32(8)):
        s = model.sample(params, key, num)
        values = np.asarray(s)
        if s.dtype != jnp.uint8 or s.shape != (8, n) or not np.all((values == 0) | (values == 1)) \
                or not np.array_equal(values, x):
            raise fail(name, model, f"sample(params, key, {num!r}) gave {jnp.dtype(s.dtype).name}{list(s.shape)} "
                       f"with values {sorted(set(values.reshape(-1).tolist()))}, want uint8[8, {n}] of 0/1 "
                       f"equal to sample(params, key, 8)",
                       key=key, params=params)
    if n <= 16:
        p = model.probs(params)
        if tuple(p.shape) != (2**n,) or np.dtype(p.dtype) != real:
            raise fail(name, model, f"probs gave {np.dtype(p.dtype).name}{list(p.shape)}, want {real.name}[{2**n}]",
                       params=params)


def _raises_value_error(fn: Any) -> str | None:
    """``None`` when ``fn()`` raises ValueError, else what happened instead."""
    try:
        fn()
    except ValueError:
        return None
    except Exception as e:  # noqa: BLE001 - the message reports it
        return f"raised {type(e).__name__}: {e}"
    return "returned without an error"


def check_input_validation(model: Any, params: Any, *, key: Any = None) -> None:
    """Bad input raises ``ValueError``: ``num`` of ``0``, ``-1``, ``2.5`` or ``True`` in
    ``sample``; bits of width ``n + 1`` or with a value 2 in ``log_prob``.

    Args:
        model: a :class:`jqgen.GenerativeModel`.
        params: its parameters.
        key: PRNG key or int seed (default ``jax.random.key(2)``).

    Raises:
        AssertionError: a bad input did not raise ``ValueError`` (the message says which).

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.testing import check_input_validation
        >>> model = jqgen.MPSBornMachine(3, 2)
        >>> check_input_validation(model, model.init(jax.random.key(0)))
    """
    key = as_key(key, 2)
    n = int(model.num_bits)
    cases = [(f"sample(params, key, {num!r})", lambda num=num: model.sample(params, key, num))
             for num in (0, -1, 2.5, True)]
    cases += [(f"log_prob of bits of width {n + 1}", lambda: model.log_prob(params, np.zeros((2, n + 1), np.uint8))),
              ("log_prob of bits with a value 2", lambda: model.log_prob(params, np.full((1, n), 2, np.uint8)))]
    for what, fn in cases:
        problem = _raises_value_error(fn)
        if problem is not None:
            raise fail("input validation", model, f"{what} {problem}; want ValueError", params=params)
