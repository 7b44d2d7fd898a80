"""What GEO optimizes: a cost over ``{0,1}^n`` (lower is better) and which strings are valid.

A :class:`Problem` has ``num_bits``, an optional cardinality ``k`` (every valid string has
exactly ``k`` ones; the symmetric generators then only propose valid strings),
``cost(bits [B, n]) -> float64 [B]`` and ``valid(bits [B, n]) -> bool [B]`` on host arrays,
and ``describe()`` (JSON: the name and the parameters a summary records). A cost may be a
jittable JAX function (:class:`CostFunction` with ``jittable=True``: compiled once per batch
size) or any Python callable, an expensive black box evaluated in batches.

Examples:
    >>> import numpy as np
    >>> from jqgen.geo import BinaryPortfolio
    >>> p = BinaryPortfolio(mu=np.array([0.1, 0.2, 0.3]), cov=np.eye(3) * 0.01, k=2, q=1.0)
    >>> p.cost(np.array([[0, 1, 1], [1, 1, 1]], np.uint8)).round(4).tolist()
    [-0.245, inf]
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["BinaryPortfolio", "CostFunction", "Problem"]


@runtime_checkable
class Problem(Protocol):
    """A minimization problem over bitstrings (see the module docstring)."""

    num_bits: int
    k: int | None

    def cost(self, bits: np.ndarray) -> np.ndarray: ...

    def valid(self, bits: np.ndarray) -> np.ndarray: ...

    def describe(self) -> dict[str, Any]: ...


def _bits(bits: Any, n: int) -> np.ndarray:
    b = np.asarray(bits)
    if b.ndim != 2 or b.shape[1] != n:
        raise ValueError(f"bits must have shape [B, {n}], got {b.shape}")
    if not np.all((b == 0) | (b == 1)):
        raise ValueError("bits must contain only 0/1 values")
    return b.astype(np.uint8)


@dataclasses.dataclass(frozen=True, eq=False)
class CostFunction:
    """Any cost ``fn(bits [B, n]) -> [B]`` as a :class:`Problem`.

    Attributes:
        fn: the cost; invalid strings may get any value (they are never evaluated).
        num_bits: ``n``.
        k: cardinality of the valid strings, or ``None`` (every string valid).
        jittable: ``fn`` is a JAX function of a ``uint8`` array: it is jitted (compiled once
            per batch size); otherwise it is called as it is on a NumPy array.
        name: what summaries call it.
    """

    fn: Callable[[Any], Any]
    num_bits: int
    k: int | None = None
    jittable: bool = False
    name: str = "cost"

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ValueError(f"fn must be a callable bits [N, n] -> costs [N], got {type(self.fn).__name__}")
        if not isinstance(self.num_bits, int) or self.num_bits < 1:
            raise ValueError(f"num_bits must be a positive int, got {self.num_bits!r}")
        if self.k is not None and not (isinstance(self.k, int) and 0 <= self.k <= self.num_bits):
            raise ValueError(f"k must be None or an int in [0, num_bits={self.num_bits}], got {self.k!r}")
        if self.jittable:
            object.__setattr__(self, "_jit", jax.jit(self.fn))

    def valid(self, bits: Any) -> np.ndarray:
        b = _bits(bits, self.num_bits)
        return np.ones(b.shape[0], bool) if self.k is None else b.sum(axis=1) == self.k

    def cost(self, bits: Any) -> np.ndarray:
        b = _bits(bits, self.num_bits)
        out = np.asarray(self._jit(jnp.asarray(b)) if self.jittable else self.fn(b), np.float64).reshape(-1)
        if out.shape != (b.shape[0],):
            raise ValueError(f"the cost function returned {out.size} values for {b.shape[0]} strings")
        return np.where(self.valid(b), out, np.inf)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "num_bits": self.num_bits, "k": self.k}


@jax.jit
def _portfolio_cost(x: jax.Array, mu: jax.Array, cov: jax.Array, k: jax.Array, q: jax.Array) -> jax.Array:
    w = x.astype(mu.dtype) / k
    return q * jnp.einsum("bi,ij,bj->b", w, cov, w) - w @ mu


@dataclasses.dataclass(frozen=True, eq=False)
class BinaryPortfolio:
    """TN-GEO's equal-weight portfolio (Alcazar et al., Nat. Commun. 15, 2761, 2024):
    minimize ``q (x/k)^T Sigma (x/k) - mu^T (x/k)`` over ``x in {0,1}^n`` with ``sum x = k``.

    Attributes:
        mu: ``[n]`` expected returns.
        cov: ``[n, n]`` covariance of the returns.
        k: number of assets held.
        q: risk aversion (a grid of ``q`` traces a frontier).
        name: instance name for summaries.
    """

    mu: np.ndarray
    cov: np.ndarray
    k: int
    q: float = 1.0
    name: str = "portfolio"

    def __post_init__(self) -> None:
        mu, cov = np.asarray(self.mu, np.float64), np.asarray(self.cov, np.float64)
        n = mu.shape[0] if mu.ndim == 1 else -1
        if mu.ndim != 1 or cov.shape != (n, n):
            raise ValueError(f"mu must be [n] and cov [n, n], got {mu.shape} and {cov.shape}")
        if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(cov))):
            raise ValueError("mu and cov must be finite")
        if not (isinstance(self.k, (int, np.integer)) and 1 <= self.k <= n):
            raise ValueError(f"k must be an int in [1, n={n}], got {self.k!r}")
        if not np.isfinite(self.q) or self.q < 0:
            raise ValueError(f"q must be a finite number >= 0, got {self.q!r}")
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "k", int(self.k))

    @property
    def num_bits(self) -> int:
        return int(self.mu.shape[0])

    def valid(self, bits: Any) -> np.ndarray:
        return _bits(bits, self.num_bits).sum(axis=1) == self.k

    def cost(self, bits: Any) -> np.ndarray:
        b = _bits(bits, self.num_bits)
        with jax.enable_x64(True):
            f64 = jnp.float64  # explicit: an array once converted with x64 off may come back float32
            c = np.asarray(_portfolio_cost(jnp.asarray(b), jnp.asarray(self.mu, f64), jnp.asarray(self.cov, f64),
                                           jnp.asarray(float(self.k), f64), jnp.asarray(float(self.q), f64)))
        return np.where(self.valid(b), c, np.inf)

    def risk_return(self, bits: Any) -> tuple[np.ndarray, np.ndarray]:
        """Variance ``w^T Sigma w`` and mean return ``mu^T w`` of the equal weights ``x / k``."""
        w = _bits(bits, self.num_bits).astype(np.float64) / self.k
        return np.einsum("bi,ij,bj->b", w, self.cov, w), w @ self.mu

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "form": "binary", "num_bits": self.num_bits, "k": self.k, "q": float(self.q)}
