"""The ``engine="tensorcircuit"`` executor of :class:`jqgen.qcbm.Givens`: TensorCircuit-NG's
``U1Circuit``, which also simulates only the ``C(n, k)`` subspace (same basis order).

``U1Circuit`` has ``rz``, ``rzz`` and the parametrized ``iswap(theta)``
(``|01> -> cos(theta pi/2) |01> + i sin(theta pi/2) |10>``), so the gates are written as:

* XY mixer ``exp(-i t (XX + YY) / 2)`` = ``iswap(theta = -2 t / pi)``;
* Givens ``G(t)`` = ``S_i^dagger iswap(2 t / pi) S_i`` with ``S_i = diag(1, i)`` on qubit
  ``i`` (conjugating ``[[c, i s], [i s, c]]`` on ``|01>, |10>`` by ``diag(1, i)`` gives
  ``[[c, -s], [s, c]]``); ``S`` is ``RZ(pi/2)`` up to a global phase, which cancels.

Layers are applied with ``lax.scan``, each a ``U1Circuit(n, k, inputs=psi)``; TensorCircuit
is used inside :func:`jqgen.qcbm.tc_settings` only.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._gates import complex_dtype
from ._tc import tc_settings

__all__ = ["tc_subspace_state"]


def _apply_layer(c: Any, a: Any, lp: dict[str, jax.Array], cdtype: Any) -> None:
    half_pi = np.pi / 2  # phase angles are passed complex: U1Circuit multiplies them with complex masks
    for m, (i, j) in enumerate(a.edges):
        t = lp["mix"][m]
        if a.gate == "xy":
            c.iswap(i, j, theta=-t / half_pi)
        else:
            c.rz(i, theta=half_pi)
            c.iswap(i, j, theta=t / half_pi)
            c.rz(i, theta=-half_pi)
    if a.phases != "none":
        for q in range(a.num_qubits):
            c.rz(q, theta=lp["rz"][q].astype(cdtype))
    if a.phases == "rzz":
        for m, (i, j) in enumerate(a.edges):
            c.rzz(i, j, theta=lp["zz"][m].astype(cdtype))


def tc_subspace_state(a: Any, params: dict[str, jax.Array]) -> jax.Array:
    """The ``C(n, k)`` amplitudes of :class:`Givens` ``a`` computed by ``tc.U1Circuit``
    (complex; real part only when ``a.is_real``, like :func:`fused_state`)."""
    real = params["mix"].dtype
    cdtype = complex_dtype(real)
    n, k = a.num_qubits, a.weight
    with tc_settings("jax", jnp.dtype(cdtype).name) as tc:
        psi0 = jnp.asarray(tc.U1Circuit(n, k, filled=list(a.filled)).state()).astype(cdtype)

        def layer(psi: jax.Array, lp: dict[str, jax.Array]) -> tuple[jax.Array, None]:
            c = tc.U1Circuit(n, k, inputs=psi)
            _apply_layer(c, a, lp, cdtype)
            return jnp.asarray(c.state()).astype(cdtype), None

        psi, _ = lax.scan(layer, psi0, params)
    return jnp.real(psi) if a.is_real else psi
