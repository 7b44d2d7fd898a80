"""Chang, Meade, Beasley and Sharaiha's cardinality-constrained portfolio (Computers & OR 27,
1271 (2000)) as a :class:`Problem` over asset sets.

Weights ``w`` with ``sum w = 1``, exactly ``K`` assets held, ``w_min <= w_i <= w_max`` for a
held asset (Chang et al.: ``K = 10``, ``w_min = 0.01``, ``w_max = 1``), and ``lambda in [0, 1]``
(their grid: 51 values 0, 0.02, ..., 1); minimize ``lambda w^T Sigma w - (1 - lambda) mu^T w``.
The bitstring is the asset set (valid iff it has exactly ``K`` ones); its cost is the optimum
of the convex QP over the held assets' weights (:func:`box_budget_qp`'s solver, gathered
``Sigma_S, mu_S``, vmapped over the batch and jitted once per batch-size bucket).

Examples:
    >>> import numpy as np
    >>> from jqgen.geo import ChangPortfolio, synthetic_instance
    >>> p = ChangPortfolio(synthetic_instance(n=8, seed=0), K=3, lam=0.5)
    >>> bits = np.array([[1, 1, 1, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0]], np.uint8)
    >>> c = p.cost(bits)
    >>> bool(np.isfinite(c[0])), bool(np.isinf(c[1]))
    (True, True)
    >>> w = p.weights(bits[:1])
    >>> bool(abs(w.sum() - 1) < 1e-12), int((w > 0).sum())
    (True, 3)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._problem import _bits
from ._qp import solve_kernel

__all__ = ["ChangPortfolio"]


@jax.jit
def _gather(idx: jax.Array, mu: jax.Array, cov: jax.Array, lam: jax.Array):
    sig = cov[idx[:, :, None], idx[:, None, :]]
    return 2.0 * lam * sig, -(1.0 - lam) * mu[idx]


def _bucket(b: int) -> int:
    return max(8, 1 << (b - 1).bit_length())


@dataclasses.dataclass(frozen=True, eq=False)
class ChangPortfolio:
    """The cardinality-constrained mean-variance problem of Chang et al. (2000) over asset sets.

    Attributes:
        instance: the assets (:class:`PortfolioInstance`).
        K: number of assets held (every valid string has ``K`` ones).
        lam: ``lambda in [0, 1]``: 0 maximizes the return, 1 minimizes the variance.
        w_min, w_max: bounds on a held asset's weight, ``0 <= w_min <= w_max <= 1`` with
            ``K w_min <= 1 <= K w_max``.
    """

    instance: Any  # PortfolioInstance (not imported: _portfolio imports this module)
    K: int
    lam: float
    w_min: float = 0.01
    w_max: float = 1.0

    def __post_init__(self) -> None:
        if not all(hasattr(self.instance, a) for a in ("name", "n", "mu", "cov")):
            raise ValueError(f"instance must be a PortfolioInstance, got {type(self.instance).__name__}")
        n = self.instance.n
        if not (isinstance(self.K, (int, np.integer)) and 1 <= self.K <= n):
            raise ValueError(f"K must be an int in [1, n={n}], got {self.K!r}")
        if not (np.isfinite(self.lam) and 0.0 <= self.lam <= 1.0):
            raise ValueError(f"lam must be a number in [0, 1], got {self.lam!r}")
        if not (np.isfinite(self.w_min) and np.isfinite(self.w_max) and 0.0 <= self.w_min <= self.w_max <= 1.0):
            raise ValueError(f"need 0 <= w_min <= w_max <= 1, got w_min={self.w_min!r}, w_max={self.w_max!r}")
        if self.K * self.w_min > 1.0 + 1e-12 or self.K * self.w_max < 1.0 - 1e-12:
            raise ValueError(f"no weights satisfy K w_min <= 1 <= K w_max: K={self.K}, w_min={self.w_min!r}, "
                             f"w_max={self.w_max!r}")
        object.__setattr__(self, "K", int(self.K))
        object.__setattr__(self, "lam", float(self.lam))
        object.__setattr__(self, "w_min", float(self.w_min))
        object.__setattr__(self, "w_max", float(self.w_max))

    @property
    def num_bits(self) -> int:
        return self.instance.n

    @property
    def k(self) -> int:
        return self.K

    def valid(self, bits: Any) -> np.ndarray:
        return _bits(bits, self.num_bits).sum(axis=1) == self.K

    def _solve(self, bits: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(valid [B], idx [V, K], w [V, K], objective [V])`` for the valid rows."""
        b = _bits(bits, self.num_bits)
        ok = b.sum(axis=1) == self.K
        idx = np.nonzero(b[ok])[1].reshape(-1, self.K)
        v = idx.shape[0]
        if v == 0:
            return ok, idx, np.zeros((0, self.K)), np.zeros(0)
        if self.K * self.w_min >= 1.0 - 1e-12 or self.K * self.w_max <= 1.0 + 1e-12:  # one feasible point
            w = np.full((v, self.K), 1.0 / self.K)
        else:
            pad = np.concatenate([idx, np.broadcast_to(idx[:1], (_bucket(v) - v, self.K))])
            with jax.enable_x64(True):
                q, c = _gather(jnp.asarray(pad), jnp.asarray(self.instance.mu), jnp.asarray(self.instance.cov),
                               jnp.asarray(self.lam, jnp.float64))
                lo = jnp.full(c.shape, self.w_min, jnp.float64)
                hi = jnp.full(c.shape, self.w_max, jnp.float64)
                w = np.asarray(solve_kernel(q, c, lo, hi)[0])[:v]
        sig = self.instance.cov[idx[:, :, None], idx[:, None, :]]
        obj = self.lam * np.einsum("bi,bij,bj->b", w, sig, w) - (1.0 - self.lam) * np.einsum(
            "bi,bi->b", w, self.instance.mu[idx])
        return ok, idx, w, obj

    def cost(self, bits: Any) -> np.ndarray:
        """``lambda w^T Sigma w - (1 - lambda) mu^T w`` at the optimal weights; ``+inf`` for
        strings without exactly ``K`` ones."""
        ok, _, _, obj = self._solve(bits)
        out = np.full(ok.shape[0], np.inf)
        out[ok] = obj
        return out

    def weights(self, bits: Any) -> np.ndarray:
        """``[B, n]`` optimal weights (zero for assets not held; NaN rows for invalid strings)."""
        ok, idx, w, _ = self._solve(bits)
        full = np.zeros((ok.shape[0], self.num_bits))
        full[~ok] = np.nan
        rows = np.repeat(np.nonzero(ok)[0], self.K)
        full[rows, idx.reshape(-1)] = w.reshape(-1)
        return full

    def risk_return(self, bits: Any) -> tuple[np.ndarray, np.ndarray]:
        """Variance ``w^T Sigma w`` and mean return ``mu^T w`` of the optimal weights (NaN for
        invalid strings)."""
        w = self.weights(bits)
        return np.einsum("bi,ij,bj->b", w, self.instance.cov, w), w @ self.instance.mu

    def describe(self) -> dict[str, Any]:
        return {"name": self.instance.name, "form": "chang", "num_bits": self.num_bits, "k": self.K,
                "lam": self.lam, "w_min": self.w_min, "w_max": self.w_max}
