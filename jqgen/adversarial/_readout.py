"""Multi-basis readout of a circuit's state: basis rotations, the per-basis Born
distributions, and the rotation gates a device runs.

Measuring in basis ``b`` applies ``R_b`` to every qubit, then measures in the
computational basis: ``R_z = 1``, ``R_x = H``, ``R_y = H S^dagger``, so
``p_b(x) = |<x| R_b^{(x) n} U |0>|^2``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_int
from ..qcbm import Op

__all__ = ["BASES", "basis_ops", "parse_bases", "rotated_probs"]

#: Readout bases: ``"z"`` computational, ``"x"`` Hadamard first, ``"y"`` ``S^dagger`` then ``H``.
BASES = ("z", "x", "y")

_H = np.array([[1, 1], [1, -1]], np.complex128) / np.sqrt(2)
_SDG = np.diag([1, -1j]).astype(np.complex128)
_ROTATION = {"x": _H, "y": _H @ _SDG}


def parse_bases(bases: Any) -> tuple[str, ...]:
    """``bases`` as a tuple of distinct names from :data:`BASES`.

    An int ``k`` in 1..3 means the first ``k`` of ``("z", "x", "y")``; a string ``"zx"`` means
    ``("z", "x")``.

    Raises:
        ValueError: anything else (unknown or repeated names, an empty sequence, a count
            outside 1..3).

    Examples:
        >>> from jqgen.adversarial._readout import parse_bases
        >>> parse_bases(2), parse_bases("zy"), parse_bases(["x"])
        (('z', 'x'), ('z', 'y'), ('x',))
    """
    if isinstance(bases, (int, np.integer)) and not isinstance(bases, bool):
        return BASES[: check_int(bases, "bases (a count)", 1, len(BASES))]
    try:
        out = tuple(bases)
    except TypeError:
        raise ValueError(f"bases must be a count 1..3 or a sequence of 'z', 'x', 'y', got {bases!r}") from None
    if not out or any(not isinstance(b, str) or b not in BASES for b in out) or len(set(out)) != len(out):
        raise ValueError(f"bases must be a non-empty sequence of distinct names from {BASES} "
                         f"(or a count 1..3), got {bases!r}")
    return out


def _apply_every_qubit(psi: jax.Array, m: jax.Array, n: int) -> jax.Array:
    """``m^{(x) n} psi`` for a ``2x2`` matrix ``m`` (qubit 0 most significant)."""
    for q in range(n):
        x = psi.reshape(2**q, 2, 2 ** (n - q - 1))
        psi = jnp.einsum("ij,ajb->aib", m, x).reshape(-1)
    return psi


def rotated_probs(psi: jax.Array, bases: tuple[str, ...], n: int) -> jax.Array:
    """``[len(bases), 2**n]``: the Born distribution of ``psi`` measured in each basis.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jqgen.adversarial._readout import rotated_probs
        >>> zero = jnp.array([1, 0], jnp.complex64)
        >>> rotated_probs(zero, ("z", "x"), 1).round(3).tolist()
        [[1.0, 0.0], [0.5, 0.5]]
    """
    out = []
    for b in bases:
        phi = psi if b == "z" else _apply_every_qubit(psi, jnp.asarray(_ROTATION[b], psi.dtype), n)
        out.append(jnp.real(phi) ** 2 + jnp.imag(phi) ** 2)
    return jnp.stack(out)


def basis_ops(basis: str, n: int) -> list[Op]:
    """Gates appended to a circuit to measure it in ``basis``: ``H`` on every qubit for
    ``"x"``; ``RZ(-pi/2)`` (``S^dagger`` up to a global phase) then ``H`` for ``"y"``.

    Examples:
        >>> from jqgen.adversarial._readout import basis_ops
        >>> [op.name for op in basis_ops("y", 1)]
        ['rz', 'h']
    """
    if basis == "z":
        return []
    if basis == "x":
        return [Op("h", (q,)) for q in range(n)]
    if basis == "y":
        return [op for q in range(n) for op in (Op("rz", (q,), -np.pi / 2), Op("h", (q,)))]
    raise ValueError(f"basis must be one of {BASES}, got {basis!r}")
