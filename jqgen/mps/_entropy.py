"""Schmidt spectra and bond entanglement entropies (diagnostics and plots)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from ._canonical import canonical_with_log_norm
from ._core import MPS, check_mps

__all__ = ["entanglement_entropies", "schmidt_values"]


def schmidt_values(mps: MPS) -> jax.Array:
    """Schmidt coefficients of the normalized state at bonds ``1 .. n-1``: ``[n - 1, chi_max]``
    (descending, zero-padded; each row's squares sum to 1).

    The state is left-canonicalized, then an SVD sweep from the right reads off the
    singular values of the centre matrix at every bond. Diagnostics only: like any SVD,
    its gradient is undefined where singular values are degenerate (zero padding included).
    """
    check_mps(mps)
    return _schmidt(mps.tensors)


@jax.jit
def _schmidt(t: jax.Array) -> jax.Array:
    t, _ = canonical_with_log_norm(t, t.shape[0] - 1)
    chi = t.shape[-1]

    def step(c, a):
        m = jnp.einsum("asb,bc->asc", a, c).reshape(chi, 2 * chi)
        u, s, _ = jnp.linalg.svd(m, full_matrices=False)
        return u * s.astype(u.dtype)[None, :], s

    _, s = lax.scan(step, jnp.eye(chi, dtype=t.dtype), t[1:], reverse=True)
    return s


def entanglement_entropies(mps: MPS) -> jax.Array:
    """Von Neumann entanglement entropy (nats) of each bond ``1 .. n-1``, shape ``[n - 1]``.

    Examples:
        >>> import jax.numpy as jnp, jqgen
        >>> jqgen.mps.entanglement_entropies(jqgen.mps.product_mps(jnp.ones((4, 2)), 2)).tolist()
        [0.0, 0.0, 0.0]
    """
    p = schmidt_values(mps) ** 2
    p = p / jnp.sum(p, axis=-1, keepdims=True)
    return jnp.sum(jnp.where(p > 0, -p * jnp.log(jnp.where(p > 0, p, 1)), 0), axis=-1)
