"""Dense vectors and unconstrained MPS of a U(1)-symmetric MPS's layout (small n, host side).

:func:`from_dense_blocks` splits a ``2**n`` amplitude vector on the constraint into blocks by one
SVD per (bond, charge): the remainder ``rest[q]`` (rows: the ``D[k, q]`` basis states of sector
``q`` of bond ``k``; columns: suffix strings) is regrouped by the charge ``q' = q + a_k x_k``
after site ``k``::

    M[q'] = [ rest[q'][:, x_k = 0] ; rest[q' - a_k][:, x_k = 1] ] = U S V^H,
    B[k, 0, q'] , B[k, 1, q' - a_k]  <-  the two row blocks of U[:, :D[k+1, q']],
    rest[q'] <- S V^H (truncated to D[k+1, q']).

:func:`mps_index` places every block of bond ``k``'s sectors side by side (sector ``q`` at
offset ``sum_{q'' < q} D[k, q'']``), the layout of an ordinary :class:`jqgen.mps.MPS`.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._u1_layout import ChargeLayout

__all__ = ["from_dense_blocks", "mps_index"]


def from_dense_blocks(psi: np.ndarray, layout: ChargeLayout, dtype: Any) -> np.ndarray:
    """``blocks [n, 2, Q, chi, chi]`` of the amplitude vector ``psi [2**n]`` (big-endian)."""
    n, q_num, chi, dims, w = layout.num_sites, layout.num_charges, layout.chi_max, layout.dims, layout.weights
    blocks = np.zeros((n, 2, q_num, chi, chi), np.dtype(dtype))
    rest = {0: np.asarray(psi).reshape(1, -1)}
    for k in range(n - 1):
        half, a, new = 2 ** (n - k - 1), w[k], {}
        for qp in range(q_num):
            if dims[k + 1, qp] == 0:
                continue
            parts = [(x, qp - a * x, rest[qp - a * x][:, x * half:(x + 1) * half]) for x in (0, 1)
                     if qp - a * x in rest]
            u, s, vh = np.linalg.svd(np.concatenate([p for _, _, p in parts], axis=0), full_matrices=False)
            d = int(dims[k + 1, qp])
            u, s, vh = u[:, :d], s[:d], vh[:d]
            row = 0
            for x, q, part in parts:
                blocks[k, x, q, : part.shape[0], : u.shape[1]] = u[row: row + part.shape[0]]
                row += part.shape[0]
            new[qp] = s[:, None] * vh
        rest = new
    a = w[n - 1]
    for x in (0, 1):
        q = layout.target - a * x
        if q in rest:
            blocks[n - 1, x, q, : rest[q].shape[0], 0] = rest[q][:, x]
    return blocks


@functools.lru_cache(maxsize=64)
def mps_index(layout: ChargeLayout) -> tuple[int, tuple[np.ndarray, ...]]:
    """The unconstrained bond dimension and, for every active block entry (in the order of
    ``np.nonzero(layout.block_mask)``), its index ``(site, left, bit, right)`` in the MPS tensors."""
    off = layout.offsets()
    k, x, q, i, j = np.nonzero(layout.block_mask)
    q_out = q + np.asarray(layout.weights)[k] * x
    chi = int(max(1, layout.bond_dims.max()))
    return chi, (k, off[k, q] + i, x, off[k + 1, q_out] + j)
