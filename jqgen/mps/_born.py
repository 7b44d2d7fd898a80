"""Born-machine probabilities of an MPS: log-probabilities, dense probabilities, sampling.

``p(x) = |psi(x)|^2 / <psi|psi>``. Amplitudes are contracted left to right for a whole
batch at once, the running boundary vector renormalized at every site with its log-norm
accumulated, so a 784-site chain (MNIST) stays finite in float32::

    v_0 = e_0,   v_{k+1} = v_k A_k[x_k] / |v_k A_k[x_k]|,   log|psi(x)| = sum_k log|...| + log|v_n[0]|

Perfect sampling brings the MPS to right-canonical form, after which
``p(x_k | x_<k) = |v_k A_k[x_k]|^2 / |v_k|^2`` exactly, and draws every site of every sample
in one ``lax.scan`` over sites (all samples in parallel).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._checks import check_bits, is_concrete
from ._canonical import canonical_with_log_norm, log_norm_sq_tensors
from ._guard import check_sample_memory
from ._core import MAX_DENSE_SITES, MPS, _to_dense, check_mps, masked, unit_rows

__all__ = ["log_amplitude_sq", "log_prob", "probs", "sample", "sample_and_log_prob"]


def _site_step(v: jax.Array, a: jax.Array) -> jax.Array:
    """``[batch, chi] x [chi, 2, chi] -> [batch, 2, chi]`` as one matrix product."""
    chi = a.shape[0]
    return (v @ a.reshape(chi, 2 * chi)).reshape(v.shape[0], 2, chi)


def _row_norm_sq(w: jax.Array) -> jax.Array:
    return jnp.sum(jnp.real(w * w.conj()), axis=-1)


@jax.jit
def _log_amp_sq(t: jax.Array, bits: jax.Array) -> jax.Array:
    """``log |psi(bits)|^2`` for uint8 ``bits [batch, n]`` (unnormalized state)."""
    batch, chi = bits.shape[0], t.shape[-1]
    rdt = jnp.finfo(t.dtype).dtype
    v0 = jnp.zeros((batch, chi), t.dtype).at[:, 0].set(1)

    def step(carry, xs):
        v, logs = carry
        a, x = xs
        w = _site_step(v, a)
        v = jnp.where((x == 1)[:, None], w[:, 1], w[:, 0])
        v, log_nrm = unit_rows(v)
        return (v, logs + 2 * log_nrm), None

    (v, logs), _ = lax.scan(step, (v0, jnp.zeros((batch,), rdt)), (t, bits.T))
    return logs + 2 * jnp.log(jnp.abs(v[:, 0]))


def _flat_bits(mps: MPS, bits: Any) -> tuple[jax.Array, tuple[int, ...]]:
    check_mps(mps)
    bits = check_bits(bits, mps.num_sites)
    lead = bits.shape[:-1]
    return bits.reshape(-1, mps.num_sites), lead


def log_amplitude_sq(mps: MPS, bits: Any) -> jax.Array:
    """``log |psi(x)|^2`` of the unnormalized state for bits ``[..., n]`` -> ``[...]``."""
    flat, lead = _flat_bits(mps, bits)
    return _log_amp_sq(masked(mps.tensors), flat).reshape(lead)


def log_prob(mps: MPS, bits: Any) -> jax.Array:
    """Exact Born log-probability ``log p(x)`` for bits ``[..., n]`` -> ``[...]``.

    Works for unnormalized, non-canonical MPS (the norm is contracted in log-space) and
    under ``jit``/``vmap``/``grad``. A bitstring of probability zero gives ``-inf``.

    Examples:
        >>> import jax, jax.numpy as jnp, jqgen
        >>> mps = jqgen.mps.random_mps(jax.random.key(0), 10, 4)
        >>> lp = jax.jit(jqgen.mps.log_prob)(mps, jqgen.all_bitstrings(10))
        >>> round(float(jnp.exp(lp).sum()), 4)
        1.0
    """
    flat, lead = _flat_bits(mps, bits)
    return _refuse_nan(_log_prob(mps.tensors, flat), "log_prob").reshape(lead)


def _refuse_nan(out: jax.Array, what: str) -> jax.Array:
    """``out`` unless it is concrete and NaN somewhere: the state has norm zero (finite,
    checked tensors give NaN nowhere else)."""
    if is_concrete(out) and np.isnan(np.asarray(out)).any():
        raise ValueError(f"{what}: the MPS has norm zero (its tensors contract to the zero state), "
                         "so it defines no distribution")
    return out


@jax.jit
def _log_prob(t: jax.Array, bits: jax.Array) -> jax.Array:
    t = masked(t)
    return _log_amp_sq(t, bits) - log_norm_sq_tensors(t)


def probs(mps: MPS) -> jax.Array:
    """Dense distribution ``[2**n]`` (big-endian order, see :mod:`jqgen.bits`), n <= 20."""
    check_mps(mps)
    if mps.num_sites > MAX_DENSE_SITES:
        raise ValueError(f"probs needs n <= {MAX_DENSE_SITES} sites, got n = {mps.num_sites}")
    return _refuse_nan(_probs(mps.tensors), "probs")


@jax.jit
def _probs(t: jax.Array) -> jax.Array:
    psi = _to_dense(t / jnp.max(jnp.abs(t)).astype(t.dtype))
    p = jnp.real(psi * psi.conj())
    return p / jnp.sum(p)


def _check_num(num: Any) -> int:
    """``num`` as a Python int (static under ``jit``): a positive Python or numpy integer."""
    if not isinstance(num, (int, np.integer)) or isinstance(num, (bool, np.bool_)) or num < 1:
        raise ValueError(
            f"num (number of samples) must be a positive Python or numpy integer (static under jit), got {num!r}"
        )
    return int(num)


def sample_and_log_prob(mps: MPS, key: jax.Array, num: int) -> tuple[jax.Array, jax.Array]:
    """Perfect samples ``uint8 [num, n]`` and their exact log-probabilities ``[num]``.

    The MPS is right-canonicalized (one QR sweep), then every site of all ``num`` samples
    is drawn in a single ``lax.scan`` from its exact conditional probability. ``num`` is a
    Python or numpy integer (static under ``jit``).

    Raises:
        ValueError: ``num`` is not a positive integer (``0``, ``-1``, ``2.5``, ``True``,
            an array), or ``mps`` is malformed.
    """
    check_mps(mps)
    num = _check_num(num)
    check_sample_memory(mps.num_sites, mps.chi_max, mps.dtype, num)
    xs, logp = _sample(mps.tensors, key, num)
    return xs, _refuse_nan(logp, "sample")


@functools.partial(jax.jit, static_argnums=2)
def _sample(t: jax.Array, key: jax.Array, num: int) -> tuple[jax.Array, jax.Array]:
    t, _ = canonical_with_log_norm(t, 0)
    chi, n = t.shape[-1], t.shape[0]
    rdt = jnp.finfo(t.dtype).dtype
    v0 = jnp.zeros((num, chi), t.dtype).at[:, 0].set(1)
    u = jax.random.uniform(key, (n, num), rdt)

    def step(carry, xs):
        v, logp = carry
        a, uk = xs
        w = _site_step(v, a)
        n0, n1 = _row_norm_sq(w[:, 0]), _row_norm_sq(w[:, 1])
        p1 = n1 / (n0 + n1)
        x = uk < p1
        v = jnp.where(x[:, None], w[:, 1], w[:, 0])
        nsq = jnp.where(x, n1, n0)
        v = v / jnp.sqrt(jnp.where(nsq > 0, nsq, jnp.ones_like(nsq))).astype(v.dtype)[:, None]
        logp = logp + jnp.log(jnp.where(x, p1, 1 - p1))
        return (v, logp), x.astype(jnp.uint8)

    (_, logp), xs = lax.scan(step, (v0, jnp.zeros((num,), rdt)), (t, u))
    return xs.T, logp


def sample(mps: MPS, key: jax.Array, num: int) -> jax.Array:
    """Perfect (exact, independent) samples from the Born distribution, ``uint8 [num, n]``.

    ``num`` is a Python or numpy integer (static under ``jit``); anything else raises
    ``ValueError``.

    Examples:
        >>> import jax, numpy as np, jqgen
        >>> mps = jqgen.mps.random_mps(jax.random.key(0), 100, 8)
        >>> jqgen.mps.sample(mps, jax.random.key(1), np.int64(5)).shape
        (5, 100)
    """
    return sample_and_log_prob(mps, key, num)[0]
