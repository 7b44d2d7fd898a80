"""Histograms, empirical distributions, shot histograms and device counts."""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_batch, check_bits, check_shots, is_concrete
from ..bits import bits_to_index
from ._validate import check_num_bits, check_values, distribution

__all__ = ["counts_to_probs", "empirical_distribution", "histogram", "sample_counts"]


def histogram(samples: Any, num_bits: int) -> jax.Array:
    """Counts of each bitstring among ``samples [Q, num_bits]``: int32 ``[2**num_bits]``.

    Entry ``i`` counts the samples whose big-endian integer is ``i`` (the order of
    :func:`jqgen.bits.all_bitstrings` and of every model's ``probs``).

    Raises:
        ValueError: a width other than ``num_bits``, or (concrete) a value other than 0/1.

    Examples:
        >>> import numpy as np
        >>> from jqgen.distributions import histogram
        >>> histogram(np.array([[0, 1], [1, 1], [0, 1]]), 2).tolist()
        [0, 2, 0, 1]
    """
    num_bits = check_num_bits(num_bits)
    samples = check_bits(samples, num_bits, name="samples")
    idx = bits_to_index(samples.reshape(-1, num_bits)).astype(jnp.int32)
    return jnp.bincount(idx, length=2**num_bits).astype(jnp.int32)


def empirical_distribution(samples: Any, num_bits: int, dtype: Any = jnp.float32) -> jax.Array:
    """The normalized histogram of ``samples [Q, num_bits]``, ``[2**num_bits]`` of ``dtype``.

    ``t(x) = |{j : samples[j] = x}| / Q``, the data distribution of the QCBM losses.

    Raises:
        ValueError: as :func:`histogram`, or no samples (``Q = 0``).

    Examples:
        >>> import numpy as np
        >>> from jqgen.distributions import empirical_distribution
        >>> empirical_distribution(np.array([[0, 1], [1, 1], [0, 1], [0, 1]]), 2).tolist()
        [0.0, 0.75, 0.0, 0.25]
    """
    if int(np.prod(np.shape(samples)[:-1])) == 0:
        raise ValueError(f"samples must hold at least one sample, got shape {np.shape(samples)}")
    c = histogram(samples, num_bits).astype(dtype)
    return c / jnp.sum(c)


def sample_counts(p: Any, key: jax.Array, shots: int) -> jax.Array:
    """Multinomial histogram of ``shots`` draws from the distribution ``p [N]``: int32 ``[N]``.

    Exact and sort-free: sorted uniforms ``u_(1) <= ... <= u_(shots)`` are the normalized
    cumulative sums of ``shots + 1`` exponential variables, and the count of ``x`` is the
    number of them between the CDF's breakpoints ``F(x - 1)`` and ``F(x)`` (a difference of
    ranks from one ``searchsorted``): ``O(N log shots + shots)``. ``p`` need not be
    normalized (it is divided by its sum).

    Args:
        p: non-negative weights ``[N]`` (e.g. a model's ``probs``).
        key: a PRNG key; equal keys give equal histograms.
        shots: a positive int (static under ``jit``).

    Raises:
        ValueError: ``shots`` not a positive int, ``p`` not 1-D, or (concrete) a NaN,
            infinite or negative entry.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from jqgen.distributions import sample_counts
        >>> c = sample_counts(jnp.array([0.5, 0.0, 0.25, 0.25]), jax.random.key(0), 1000)
        >>> int(c.sum()), int(c[1])
        (1000, 0)
    """
    check_shots(shots, "shots")
    check_batch(shots, 16, "sample_counts' sorted uniforms")
    p = distribution(p, "p")
    if is_concrete(p) and not np.asarray(p).sum() > 0:
        raise ValueError("p sums to zero: there is no distribution to sample from")
    e = jax.random.exponential(key, (shots + 1,), p.dtype)
    s = jnp.cumsum(e)
    u = s[:-1] / s[-1]  # sorted uniforms on [0, 1)
    cdf = jnp.cumsum(p)
    cdf = cdf / cdf[-1]
    ranks = jnp.searchsorted(u, cdf, side="left").astype(jnp.int32)
    ranks = ranks.at[-1].set(shots)
    return jnp.diff(ranks, prepend=jnp.zeros((1,), jnp.int32))


def _counts_vector(counts: Mapping[Any, Any], num_bits: int) -> np.ndarray:
    """Dense float64 ``[2**num_bits]`` counts from bitstring keys, every key and value checked."""
    out = np.zeros(2**num_bits, np.float64)
    for k, c in counts.items():
        if not isinstance(k, str) or len(k) != num_bits:
            raise ValueError(f"counts key {k!r} is not a {num_bits}-bit string (big-endian, one character per qubit)")
        bad = next((i for i, ch in enumerate(k) if ch not in "01"), None)
        if bad is not None:
            raise ValueError(f"counts key {k!r} is not a bitstring: character {k[bad]!r} at position {bad} "
                             "is not 0 or 1")
        try:
            v = float(c)
        except (TypeError, ValueError):
            raise ValueError(f"counts[{k!r}] must be a number, got {c!r}") from None
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"counts[{k!r}] = {c!r}; counts must be finite and >= 0")
        out[int(k, 2)] += v
    return out


def counts_to_probs(counts: Any, num_bits: int) -> Any:
    """Counts -> the normalized ``[2**num_bits]`` distribution (row order of ``probs``).

    ``counts`` is a mapping from big-endian bitstrings (character ``i`` is qubit ``i``, as
    devices and :func:`jqgen.hardware.run_batch` return them) to counts, or a dense array
    ``[2**num_bits]`` of counts (e.g. :func:`histogram`). Counts may be fractional (readout
    mitigation returns floats); ``p(x) = counts(x) / sum counts``.

    Args:
        counts: ``{"0101": 12, ...}`` or an array ``[2**num_bits]``.
        num_bits: the number of bits ``n``.

    Returns:
        float64 NumPy ``[2**num_bits]`` for concrete counts; for a traced array (under
        ``jit``), a JAX array of its floating dtype, unchecked.

    Raises:
        ValueError: a key that is not an ``n``-character string of 0s and 1s (naming the
            key), a count that is negative, NaN, infinite or not a number, an array not of
            shape ``[2**n]``, or counts that sum to 0.

    Examples:
        >>> from jqgen.distributions import counts_to_probs
        >>> counts_to_probs({"01": 3, "11": 1}, 2).tolist()
        [0.0, 0.75, 0.0, 0.25]
    """
    num_bits = check_num_bits(num_bits)
    if isinstance(counts, Mapping):
        c = _counts_vector(counts, num_bits)
    else:
        c = counts if hasattr(counts, "shape") else np.asarray(counts)
        if tuple(c.shape) != (2**num_bits,):
            raise ValueError(f"counts must be a mapping of bitstrings or an array of shape ({2**num_bits},), "
                             f"got shape {tuple(c.shape)}")
        check_values(c, "counts")
        if not is_concrete(c):
            if not jnp.issubdtype(c.dtype, jnp.floating):
                c = c.astype(jnp.result_type(float))
            return c / jnp.sum(c)
        c = np.asarray(c, np.float64)
    total = c.sum()
    if not total > 0:
        raise ValueError("counts are empty (they sum to 0)")
    return c / total
