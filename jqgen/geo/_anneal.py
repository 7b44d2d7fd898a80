"""Swap-move simulated annealing in JAX: the weight-preserving baseline of GEO.

Every state holds exactly ``k`` ones. A move picks one held and one unheld position
uniformly at random and swaps them (the ``k (n - k)`` swaps are the neighbours of a
state), and the proposal is accepted with the Metropolis rule ``min(1, exp(-delta / T))``
at a geometric schedule ``T_s = T_0 (T_1 / T_0)^(s / (steps - 1))``. Independent chains
are ``vmap``-ed and the whole anneal is one jitted ``lax.scan`` in float64, compiled once
per ``(n, k, chains, steps)`` (and per cost function for a :class:`CostFunction`).

The cost must be a JAX function:

* :class:`BinaryPortfolio`: the cost change of a swap ``a -> b`` is computed from ``mu``,
  ``cov`` and the kept vector ``g = cov @ x`` in O(n)
  (``delta = q/k^2 (2 (g_b - g_a) + S_aa + S_bb - 2 S_ab) - (mu_b - mu_a)/k``);
* :class:`CostFunction` with ``jittable=True`` and a cardinality ``k``: every proposal is
  re-evaluated in full by its ``fn``.

:func:`swap_temperatures` sets ``T_0`` and ``T_1`` from the cost scale of random swaps.

Examples:
    >>> import numpy as np
    >>> from jqgen.geo import BinaryPortfolio
    >>> from jqgen.geo._anneal import anneal_swaps
    >>> p = BinaryPortfolio(mu=np.array([0.1, 0.2, 0.3, 0.4]), cov=np.eye(4) * 0.01, k=2)
    >>> bits, costs, accepted = anneal_swaps(p, np.array([[1, 1, 0, 0]], np.uint8), 50,
    ...                                      t_initial=0.1, t_final=0.001, seed=0)
    >>> bits.shape, costs.shape, bool(np.all(bits.sum(-1) == 2))
    ((50, 1, 4), (50, 1), True)
    >>> bool(np.allclose(costs, p.cost(bits.reshape(-1, 4)).reshape(50, 1)))
    True
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from ._problem import BinaryPortfolio, CostFunction

__all__ = ["anneal_swaps", "swap_temperatures"]


def swap_temperatures(deltas: Any, accept_initial: float = 0.8, accept_final: float = 1e-3) -> tuple[float, float]:
    """Initial and final temperatures from the cost changes of random swaps.

    The scale ``s`` is the median of the positive (uphill) changes among ``deltas`` (the
    largest ``|delta|`` if none is positive, 1 if all are zero). ``T_0`` accepts an uphill
    move of size ``s`` with probability ``accept_initial`` and ``T_1`` with probability
    ``accept_final``: ``T = s / ln(1 / p)``.

    Args:
        deltas: cost changes ``c(swap(x)) - c(x)`` of random valid strings ``x``.
        accept_initial: acceptance of a typical uphill move at the start, in (0, 1).
        accept_final: the same at the end, in (0, accept_initial).

    Examples:
        >>> t0, t1 = swap_temperatures([1.0, -2.0, 1.0, 3.0], 0.5, 0.01)
        >>> round(t0, 4), round(t1, 4)
        (1.4427, 0.2171)
    """
    d = np.asarray(deltas, np.float64).reshape(-1)
    if d.size == 0 or not np.all(np.isfinite(d)):
        raise ValueError(f"deltas must be a non-empty array of finite numbers, got {d.size} values")
    if not 0.0 < accept_initial < 1.0:
        raise ValueError(f"accept_initial must be in (0, 1), got {accept_initial!r}")
    if not 0.0 < accept_final < accept_initial:
        raise ValueError(f"accept_final must be in (0, accept_initial={accept_initial}), got {accept_final!r}")
    up = d[d > 0]
    scale = float(np.median(up)) if up.size else float(np.max(np.abs(d)))
    scale = scale if scale > 0 else 1.0
    return scale / float(np.log(1.0 / accept_initial)), scale / float(np.log(1.0 / accept_final))


def _chain_step(carry: tuple, key: jax.Array, t: jax.Array, propose: Callable) -> tuple:
    """One Metropolis swap of one chain: ``carry = (held [k], unheld [n-k], x [n], cost, g)``."""
    held, unheld, x, cost, g = carry
    ki, kj, ku = jax.random.split(key, 3)
    i = jax.random.randint(ki, (), 0, held.shape[0])
    j = jax.random.randint(kj, (), 0, unheld.shape[0])
    a, b = held[i], unheld[j]
    xp = x.at[a].set(0).at[b].set(1)
    cp, gp = propose(xp, a, b, cost, g)
    delta = cp - cost
    accept = (delta <= 0) | (jax.random.uniform(ku, (), jnp.float64) < jnp.exp(-delta / t))
    new = (held.at[i].set(b), unheld.at[j].set(a), xp, cp, gp)
    carry = jax.tree_util.tree_map(lambda n_, o: jnp.where(accept, n_, o), new, carry)
    return carry, (xp, cp, accept)


def _scan(key: jax.Array, x0: jax.Array, cost0: jax.Array, g0: jax.Array, t0: jax.Array, t1: jax.Array,
          steps: int, k: int, propose: Callable) -> tuple[jax.Array, jax.Array, jax.Array]:
    chains, n = x0.shape
    order = jnp.argsort(-x0.astype(jnp.int32), axis=1, stable=True).astype(jnp.int32)
    held, unheld = order[:, :k], order[:, k:]
    frac = jnp.arange(steps, dtype=jnp.float64) / max(steps - 1, 1)
    temps = t0 * (t1 / t0) ** frac
    keys = jax.random.split(key, (steps, chains))
    step = jax.vmap(functools.partial(_chain_step, propose=propose), in_axes=(0, 0, None))

    def body(carry: tuple, inp: tuple) -> tuple:
        return step(carry, *inp)

    _, (bits, costs, accepted) = jax.lax.scan(body, (held, unheld, x0, cost0, g0), (keys, temps))
    return bits, costs, accepted


@functools.partial(jax.jit, static_argnames=("steps", "k"))
def _anneal_portfolio(key: jax.Array, x0: jax.Array, mu: jax.Array, cov: jax.Array, q: jax.Array,
                      t0: jax.Array, t1: jax.Array, *, steps: int, k: int) -> tuple:
    c2, inv_k = q / (k * k), jnp.float64(1.0 / k)
    xf = x0.astype(jnp.float64)
    g0 = xf @ cov
    cost0 = c2 * jnp.sum(xf * g0, axis=1) - inv_k * (xf @ mu)

    def propose(xp: jax.Array, a: jax.Array, b: jax.Array, cost: jax.Array, g: jax.Array) -> tuple:
        quad = 2.0 * (g[b] - g[a]) + cov[a, a] + cov[b, b] - 2.0 * cov[a, b]
        return cost + c2 * quad - inv_k * (mu[b] - mu[a]), g - cov[a] + cov[b]

    return _scan(key, x0, cost0, g0, t0, t1, steps, k, propose)


@functools.partial(jax.jit, static_argnames=("fn", "steps", "k"))
def _anneal_function(key: jax.Array, x0: jax.Array, t0: jax.Array, t1: jax.Array, *,
                     fn: Callable, steps: int, k: int) -> tuple:
    cost0 = jnp.asarray(fn(x0)).astype(jnp.float64).reshape(x0.shape[0])
    g0 = jnp.zeros((x0.shape[0], 0), jnp.float64)

    def propose(xp: jax.Array, a: jax.Array, b: jax.Array, cost: jax.Array, g: jax.Array) -> tuple:
        return jnp.asarray(fn(xp[None])).astype(jnp.float64).reshape(()), g

    return _scan(key, x0, cost0, g0, t0, t1, steps, k, propose)


def check_swap_problem(problem: Any) -> int:
    """The cardinality ``k`` of a problem the swap annealer accepts (else ``ValueError``)."""
    jittable = isinstance(problem, CostFunction) and problem.jittable
    if not (isinstance(problem, BinaryPortfolio) or jittable):
        raise ValueError("problem must be a BinaryPortfolio or a CostFunction(jittable=True) for swap annealing, "
                         f"got {type(problem).__name__}")
    k, n = problem.k, problem.num_bits
    if k is None or not 0 < k < n:
        raise ValueError(f"swap annealing needs a cardinality 0 < k < num_bits={n}, got k={k!r}")
    return int(k)


def anneal_swaps(problem: BinaryPortfolio | CostFunction, starts: Any, steps: int, *, t_initial: float,
                 t_final: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs one chain from each row of ``starts`` for ``steps`` swap proposals.

    Every proposal's cost is one evaluation of the cost; the starts' costs are computed
    again inside (the caller has already counted them).

    Args:
        problem: a :class:`BinaryPortfolio` or a ``CostFunction(jittable=True)`` with
            ``0 < k < num_bits``.
        starts: ``[chains, n]`` valid strings (exactly ``k`` ones each).
        steps: proposals per chain, >= 1.
        t_initial: temperature of the first proposal, > 0.
        t_final: temperature of the last proposal, in (0, t_initial].
        seed: seed of the proposals and the acceptance draws.

    Returns:
        ``bits`` uint8 ``[steps, chains, n]`` (every proposed string), ``costs`` float64
        ``[steps, chains]`` (their costs) and ``accepted`` bool ``[steps, chains]``.
    """
    k, n = check_swap_problem(problem), problem.num_bits
    x0 = np.asarray(starts)
    if x0.ndim != 2 or x0.shape[1] != n or x0.shape[0] < 1:
        raise ValueError(f"starts must have shape [chains >= 1, {n}], got {x0.shape}")
    if not np.all(problem.valid(x0)):
        raise ValueError(f"starts must be valid strings with exactly k={k} ones")
    if not (isinstance(steps, (int, np.integer)) and steps >= 1):
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if not (np.isfinite(t_initial) and t_initial > 0 and np.isfinite(t_final) and 0 < t_final <= t_initial):
        raise ValueError(f"temperatures must satisfy 0 < t_final <= t_initial, got t_initial={t_initial!r}, "
                         f"t_final={t_final!r}")
    with jax.enable_x64(True):
        key, x = jax.random.key(int(seed)), jnp.asarray(x0.astype(np.uint8))
        t0, t1 = jnp.float64(t_initial), jnp.float64(t_final)
        if isinstance(problem, BinaryPortfolio):
            # explicit dtypes: a host array converted before under x32 may come back float32 otherwise
            mu, cov = jnp.asarray(problem.mu, jnp.float64), jnp.asarray(problem.cov, jnp.float64)
            out = _anneal_portfolio(key, x, mu, cov, jnp.float64(problem.q), t0, t1, steps=int(steps), k=k)
        else:
            out = _anneal_function(key, x, t0, t1, fn=problem.fn, steps=int(steps), k=k)
        bits, costs, accepted = (np.asarray(o) for o in out)
    return bits.astype(np.uint8), costs.astype(np.float64), accepted.astype(bool)
