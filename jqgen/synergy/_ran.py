"""Ran's encoding of an MPS into staircase layers of two-qubit gates (PRA 101, 032310, 2020).

One layer: truncate the state to bond dimension 2, bring it to right-canonical form
``B_0 ... B_{n-1}`` and read off ``n - 1`` two-qubit unitaries on ``(i, i + 1)``, applied in
the order ``i = 0, 1, ..., n - 2`` to ``|0...0>``::

    q0  |0>-[G0]----------------  s_0          G_i (i < n-2): columns (alpha, 0) = B_i[alpha, :, :]
    q1  |0>-[  ]-[G1]-----------  s_1          G_{n-2}:       columns (alpha, 0) = (B_{n-2} B_{n-1})[alpha]
    q2  |0>------[  ]-[G2]------  s_2          the other columns complete the isometry
    q3  |0>-----------[  ]------  s_3          (the edge site is merged into G_0 / G_{n-2})

The right-canonical condition makes the given columns orthonormal, so each ``G_i`` is a
unitary completion of an isometry, and the layer ``U`` maps ``|0...0>`` exactly onto the
bond-2 approximation. Then the state is *disentangled*, ``|psi> <- U^† |psi>``, applying
``G_{n-2}^†, ..., G_0^†`` to the MPS with SVD recompression, and the procedure repeats.
After ``D`` layers ``|psi> ≈ U_1 U_2 ... U_D |0>``: ``U_D`` acts first on ``|0>``.

This is a one-off, host-side preprocessing step (NumPy, complex128, bonds of any size), not a
jitted kernel: it runs once per pretrained model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["mps_to_layers", "layers_state", "mps_site_list"]


def mps_site_list(mps: Any) -> list[np.ndarray]:
    """A jqgen :class:`~jqgen.mps.MPS` (padded) as a list of complex128 ``[chi_l, 2, chi_r]`` tensors,
    with the padding cut away (static bond dimensions)."""
    from ..mps import bond_dims
    from ..mps._structure import check_mps

    check_mps(mps)
    t = np.asarray(mps.tensors)
    n, chi = t.shape[0], t.shape[1]
    d = bond_dims(n, chi)
    return [t[k, : d[k], :, : d[k + 1]].astype(np.complex128) for k in range(n)]


def site_tensors(mps: Any) -> list[np.ndarray]:
    """A jqgen :class:`~jqgen.mps.MPS` or a list of ``[chi_l, 2, chi_r]`` tensors as a checked
    list of complex128 site tensors (at least 2 sites, matching bonds, boundary bonds 1)."""
    a = [np.asarray(t, np.complex128) for t in mps] if isinstance(mps, (list, tuple)) else mps_site_list(mps)
    n = len(a)
    if n < 2:
        raise ValueError(f"the MPS needs at least 2 sites to map onto two-qubit gates, got {n}")
    for k, t in enumerate(a):
        if t.ndim != 3 or t.shape[1] != 2 or (k > 0 and t.shape[0] != a[k - 1].shape[2]):
            raise ValueError(f"site tensor {k} has shape {t.shape}: expected [chi_l, 2, chi_r] with chi_l equal "
                             f"to the previous site's chi_r")
    if a[0].shape[0] != 1 or a[-1].shape[2] != 1:
        raise ValueError(f"boundary bonds must have dimension 1, got {a[0].shape[0]} and {a[-1].shape[2]}")
    if not all(np.isfinite(t).all() for t in a):
        raise ValueError("the MPS has non-finite entries")
    if _is_zero_state(a):
        raise ValueError("the MPS is the zero state (norm 0): there is no state to map onto gates")
    return a


def _is_zero_state(a: list[np.ndarray]) -> bool:
    """Whether the chain contracts to norm 0 (transfer matrices, rescaled at each site)."""
    env = np.ones((1, 1), np.complex128)
    for t in a:
        env = np.einsum("ab,asc,bsd->cd", env, t.conj(), t)
        scale = np.abs(env).max()
        if not scale > 0:
            return True
        env = env / scale
    return False


def _left_canonical(a: list[np.ndarray]) -> list[np.ndarray]:
    """QR sweep left to right; the norm ends in the last tensor."""
    a = list(a)
    for k in range(len(a) - 1):
        cl, _, cr = a[k].shape
        q, r = np.linalg.qr(a[k].reshape(cl * 2, cr))
        a[k] = q.reshape(cl, 2, q.shape[1])
        a[k + 1] = np.einsum("ij,jsk->isk", r, a[k + 1])
    return a


def _truncate_right_canonical(a: list[np.ndarray], chi: int) -> list[np.ndarray]:
    """From a left-canonical list: SVD sweep right to left keeping ``chi`` values; returns a
    normalized right-canonical list."""
    a = list(a)
    for k in range(len(a) - 1, 0, -1):
        cl, _, cr = a[k].shape
        u, s, vh = np.linalg.svd(a[k].reshape(cl, 2 * cr), full_matrices=False)
        m = min(chi, s.size)
        a[k] = vh[:m].reshape(m, 2, cr)
        a[k - 1] = np.einsum("isj,jk->isk", a[k - 1], u[:, :m] * s[:m])
    a[0] = a[0] / np.linalg.norm(a[0])
    return a


def _complete(columns: dict[int, np.ndarray]) -> np.ndarray:
    """A 4x4 unitary whose column ``j`` is ``columns[j]`` (orthonormal vectors), the rest
    an orthonormal completion."""
    g = np.zeros((4, 4), np.complex128)
    given = [j for j, v in columns.items() if np.linalg.norm(v) > 1e-12]
    for j in given:
        g[:, j] = columns[j] / np.linalg.norm(columns[j])
    free = [j for j in range(4) if j not in given]
    if free:
        basis = g[:, given] if given else np.zeros((4, 0), np.complex128)
        # orthonormal complement of the given columns: the last columns of a full QR
        q, _ = np.linalg.qr(np.concatenate([basis, np.eye(4)], axis=1))
        g[:, free] = q[:, len(given) : len(given) + len(free)]
    # polish (the given columns are orthonormal only up to the truncation's rounding)
    u, _, vh = np.linalg.svd(g)
    return u @ vh


def _layer_from_right_canonical(b: list[np.ndarray]) -> np.ndarray:
    """``[n - 1, 4, 4]`` gates of one staircase layer preparing the bond-2 right-canonical MPS ``b``."""
    n = len(b)
    gates = []
    for i in range(n - 1):
        t = b[i] if i < n - 2 else np.einsum("isj,jtk->istk", b[n - 2], b[n - 1]).reshape(b[n - 2].shape[0], 2, 2)
        t = t.reshape(t.shape[0], 2, -1)
        cols = {}
        for alpha in range(t.shape[0]):
            v = np.zeros((2, 2), np.complex128)  # (s, beta) with beta padded to 2
            v[:, : t.shape[2]] = t[alpha]
            cols[2 * alpha] = v.reshape(4)
        gates.append(_complete(cols))
    return np.stack(gates)


def _apply_gate(a: list[np.ndarray], g: np.ndarray, i: int, chi_max: int, cutoff: float) -> None:
    """In place on the list: gate ``g`` on sites ``(i, i + 1)``; the singular values go left."""
    cl, cr = a[i].shape[0], a[i + 1].shape[2]
    theta = np.einsum("isj,jtk->istk", a[i], a[i + 1])
    theta = np.einsum("ab,ibk->iak", g, theta.reshape(cl, 4, cr)).reshape(cl * 2, 2 * cr)
    u, s, vh = np.linalg.svd(theta, full_matrices=False)
    keep = max(1, min(chi_max, int((s > cutoff * s[0]).sum()) if s[0] > 0 else 1))
    a[i] = (u[:, :keep] * s[:keep]).reshape(cl, 2, keep)
    a[i + 1] = vh[:keep].reshape(keep, 2, cr)


def _zero_amplitude(a: list[np.ndarray]) -> complex:
    v = np.ones(1, np.complex128)
    for t in a:
        v = v @ t[:, 0, :]
    return complex(v[0])


def mps_to_layers(mps: Any, num_layers: int, *, chi_max: int | None = None, cutoff: float = 1e-14,
                  exact_fidelity: bool | None = None) -> tuple[np.ndarray, list[float]]:
    """Ran's method: ``num_layers`` staircase layers of two-qubit gates approximating ``mps``.

    Args:
        mps: a jqgen :class:`~jqgen.mps.MPS` (any normalization) or a list of
            ``[chi_l, 2, chi_r]`` site tensors.
        num_layers: ``D >= 1``.
        chi_max: largest bond kept while disentangling (default: twice the input's largest
            bond, at least 4).
        cutoff: relative singular-value cutoff while disentangling.
        exact_fidelity: compute the fidelities from dense statevectors (``n <= 24``).

    Returns:
        ``(gates, fidelities)``: ``gates [D, n - 1, 4, 4]`` in *application order* (layer 0
        acts first on ``|0...0>``; within a layer gate ``i`` acts on qubits ``(i, i + 1)`` in
        the order ``i = 0 .. n - 2``, i.e. the ``"staircase"`` order of
        :class:`jqgen.qcbm.SU4Brickwork`), and ``fidelities[k] = |<psi|circuit_k>|^2`` with the
        first ``k + 1`` layers found: computed from dense statevectors when
        ``exact_fidelity`` (default: ``n <= 16``), else estimated in MPS form as
        ``|<0|U_k^† ... U_1^†|psi>|^2`` (exact when nothing was truncated while disentangling).

    Raises:
        ValueError: ``num_layers < 1``, fewer than two sites, or ``chi_max < 2``.
    """
    if not isinstance(num_layers, (int, np.integer)) or isinstance(num_layers, bool) or num_layers < 1:
        raise ValueError(f"num_layers must be an integer >= 1, got {num_layers!r}")
    a = site_tensors(mps)
    n = len(a)
    widest = max(t.shape[2] for t in a)
    chi_max = max(4, 2 * widest) if chi_max is None else chi_max
    if not isinstance(chi_max, (int, np.integer)) or chi_max < 2:
        raise ValueError(f"chi_max must be an integer >= 2, got {chi_max!r}")
    exact_fidelity = n <= 16 if exact_fidelity is None else exact_fidelity
    if exact_fidelity and n > 24:
        raise ValueError(f"exact_fidelity needs dense statevectors; n = {n} > 24")
    a = _left_canonical(a)
    a[-1] = a[-1] / np.linalg.norm(a[-1])
    target = _dense(a) if exact_fidelity else None
    layers, fidelities = [], []
    for _ in range(num_layers):
        gates = _layer_from_right_canonical(_truncate_right_canonical(a, 2))
        for i in range(n - 2, -1, -1):  # U^dagger = G_0^† ... G_{n-2}^†: G_{n-2}^† acts first
            _apply_gate(a, gates[i].conj().T, i, chi_max, cutoff)
        a = _left_canonical(a)
        a[-1] = a[-1] / np.linalg.norm(a[-1])
        layers.append(gates)
        if target is not None:
            fidelities.append(float(abs(np.vdot(target, layers_state(np.stack(layers[::-1])))) ** 2))
        else:
            fidelities.append(float(abs(_zero_amplitude(a)) ** 2))
    return np.stack(layers[::-1]), fidelities


def _dense(a: list[np.ndarray]) -> np.ndarray:
    v = np.ones((1, 1), np.complex128)
    for t in a:
        v = np.einsum("pi,isj->psj", v, t).reshape(-1, t.shape[2])
    return v.reshape(-1) / np.linalg.norm(v)


def layers_state(gates: np.ndarray) -> np.ndarray:
    """Dense statevector (complex128, big-endian) of staircase layers applied to ``|0...0>``
    (a reference for tests and small systems).

    Raises:
        ValueError: not ``[D, n - 1, 4, 4]`` with ``n <= 24``, or non-finite gates.
    """
    gates = np.asarray(gates)
    if gates.ndim != 4 or gates.shape[2:] != (4, 4) or gates.shape[1] < 1 or gates.shape[1] + 1 > 24:
        raise ValueError(f"gates must have shape [D, n - 1, 4, 4] with 2 <= n <= 24, got {gates.shape}")
    if not np.all(np.isfinite(gates)):
        raise ValueError("gates contain non-finite entries")
    d, m = gates.shape[:2]
    n = m + 1
    psi = np.zeros(2**n, np.complex128)
    psi[0] = 1
    for layer in gates:
        for i, g in enumerate(layer):
            psi = psi.reshape(2**i, 4, 2 ** (n - i - 2))
            psi = np.einsum("ab,ibk->iak", g, psi).reshape(-1)
    return psi
