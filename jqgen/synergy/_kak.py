"""Two-qubit unitaries to the 15 KAK angles of :func:`jqgen.qcbm.su4` (and back).

Every ``U`` in U(4) factors as ``U = e^{i phi} (B0 (x) B1) exp(i (a XX + b YY + c ZZ)) (A0 (x) A1)``
(the Cartan/KAK decomposition). In the magic (Bell) basis ``M`` local gates are real
orthogonal matrices and the core is diagonal, so with ``U_M = M^† U M``:

1. ``m = U_M^T U_M`` is symmetric unitary; its real and imaginary parts commute, and a
   real orthogonal ``P`` diagonalizes both: ``m = P D P^T`` (eigenvectors of
   ``Re m + r Im m`` for a random ``r``, checked);
2. ``D = e^{2 i theta}``, ``K1 = U_M P e^{-i theta}`` is real orthogonal, ``U_M = K1 e^{i theta} P^T``;
3. ``M K1 M^†`` and ``M P^T M^†`` are the local layers, split into single-qubit factors by
   a rank-one SVD, then into ZYZ Euler angles; ``theta`` gives ``a, b, c`` (and the dropped
   global phase) by a 4x4 linear solve.

The global phase is dropped: ``su4(kak_angles(U))`` equals ``U`` up to a phase, which no
measurement distribution sees.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["kak_angles", "su4_matrix", "phase_distance"]

_S2 = np.sqrt(0.5)
MAGIC = _S2 * np.array([[1, 0, 0, 1j], [0, 1j, 1, 0], [0, 1j, -1, 0], [1, 0, 0, -1j]])
_X = np.array([[0, 1], [1, 0]], complex)
_Y = np.array([[0, -1j], [1j, 0]])
_Z = np.diag([1.0, -1.0]).astype(complex)
# diagonals of XX, YY, ZZ in the magic basis (each +-1)
_DIAG = np.stack([np.real(np.diag(MAGIC.conj().T @ np.kron(p, p) @ MAGIC)) for p in (_X, _Y, _Z)], axis=1)
_SOLVE = np.linalg.inv(np.concatenate([_DIAG, np.ones((4, 1))], axis=1))  # theta = DIAG @ (a,b,c) + phi


def _rz(t: float) -> np.ndarray:
    return np.diag([np.exp(-0.5j * t), np.exp(0.5j * t)])


def _ry(t: float) -> np.ndarray:
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.array([[c, -s], [s, c]], complex)


def _zyz_matrix(p: np.ndarray) -> np.ndarray:
    return _rz(p[2]) @ _ry(p[1]) @ _rz(p[0])


def _pauli_rot(t: float, p: np.ndarray) -> np.ndarray:
    return np.cos(t / 2) * np.eye(4) - 1j * np.sin(t / 2) * np.kron(p, p)


def su4_matrix(p: Any) -> np.ndarray:
    """NumPy twin of :func:`jqgen.qcbm.su4` for one gate (complex128 4x4).

    Raises:
        ValueError: ``p`` not 15 finite real angles.
    """
    p = np.asarray(p)
    if p.shape != (15,) or p.dtype.kind not in "iuf" or not np.all(np.isfinite(p)):
        raise ValueError(f"p must be 15 finite real angles, got shape {p.shape} ({p.dtype})")
    p = p.astype(np.float64)
    a = np.kron(_zyz_matrix(p[0:3]), _zyz_matrix(p[3:6]))
    b = np.kron(_zyz_matrix(p[9:12]), _zyz_matrix(p[12:15]))
    core = _pauli_rot(p[8], _Z) @ _pauli_rot(p[7], _Y) @ _pauli_rot(p[6], _X)
    return b @ core @ a


def phase_distance(u: Any, v: Any) -> float:
    """``min_phi ||u - e^{i phi} v||_max``-like distance: ``1 - |tr(u^† v)| / d`` (0 iff equal up to phase)."""
    u, v = np.asarray(u), np.asarray(v)
    if u.ndim != 2 or u.shape[0] != u.shape[1] or u.shape != v.shape:
        raise ValueError(f"u and v must be square matrices of one shape, got {u.shape} and {v.shape}")
    if not (np.all(np.isfinite(u)) and np.all(np.isfinite(v))):
        raise ValueError("u and v must be finite matrices")
    return float(1.0 - abs(np.trace(u.conj().T @ v)) / u.shape[0])


def _zyz_angles(v: np.ndarray) -> np.ndarray:
    """``(a, b, c)`` with ``RZ(c) RY(b) RZ(a) = v`` up to a phase, for ``v`` in U(2)."""
    v = v / np.sqrt(np.linalg.det(v))
    b = 2 * np.arctan2(abs(v[1, 0]), abs(v[0, 0]))
    plus = 2 * np.angle(v[1, 1]) if abs(v[1, 1]) > 1e-12 else 0.0  # a + c
    minus = 2 * np.angle(v[1, 0]) if abs(v[1, 0]) > 1e-12 else 0.0  # c - a
    return np.array([(plus - minus) / 2, b, (plus + minus) / 2])


def _local_factors(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``k ≈ A (x) B`` (4x4, a tensor product up to rounding) -> ``(A, B)``."""
    r = k.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
    u, s, vh = np.linalg.svd(r)
    a = np.sqrt(s[0]) * u[:, 0].reshape(2, 2)
    b = np.sqrt(s[0]) * vh[0].reshape(2, 2)
    return a, b


def _orthogonal_diagonalizer(m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    re, im = m.real, m.imag
    best, best_err = None, np.inf
    for _ in range(20):
        r = rng.normal()
        _, p = np.linalg.eigh(re + r * im)
        d = p.T @ m @ p
        err = np.abs(d - np.diag(np.diag(d))).max()
        if err < best_err:
            best, best_err = p, err
        if err < 1e-12:
            break
    return best


def kak_angles(u: Any, *, seed: int = 0) -> np.ndarray:
    """The 15 KAK angles of a two-qubit unitary, in :func:`jqgen.qcbm.su4`'s layout.

    Args:
        u: a ``4 x 4`` unitary (qubit order big-endian, as every jqgen gate).
        seed: seeds the random combination used to diagonalize (results do not depend on
            it beyond rounding).

    Returns:
        ``float64 [15]`` with ``su4_matrix(angles) == e^{i phi} u``.

    Raises:
        ValueError: ``u`` is not a 4x4 unitary (to 1e-6).

    Examples:
        >>> import numpy as np
        >>> from jqgen.synergy import kak_angles, su4_matrix, phase_distance
        >>> cnot = np.eye(4)[[0, 1, 3, 2]]
        >>> phase_distance(su4_matrix(kak_angles(cnot)), cnot) < 1e-12
        True
    """
    u = np.asarray(u, np.complex128)
    if u.shape != (4, 4):
        raise ValueError(f"a two-qubit gate must be 4x4, got shape {u.shape}")
    if not np.allclose(u.conj().T @ u, np.eye(4), atol=1e-6):
        raise ValueError("the gate is not unitary (U^dagger U != I to 1e-6)")
    u = u / np.linalg.det(u) ** 0.25  # SU(4)
    ub = MAGIC.conj().T @ u @ MAGIC
    m = ub.T @ ub
    p = _orthogonal_diagonalizer(m, np.random.default_rng(seed))
    if np.linalg.det(p) < 0:
        p[:, 0] = -p[:, 0]
    theta = np.angle(np.diag(p.T @ m @ p)) / 2
    k1 = ub @ p @ np.diag(np.exp(-1j * theta))
    k1 = k1.real if np.abs(k1.imag).max() < 1e-6 else k1  # real orthogonal up to rounding (see module doc)
    if np.linalg.det(k1).real < 0:
        theta[0] += np.pi
        k1 = k1.copy()
        k1[:, 0] = -k1[:, 0]
    left = MAGIC @ k1 @ MAGIC.conj().T
    right = MAGIC @ p.T @ MAGIC.conj().T
    coef = _SOLVE @ theta  # a, b, c, phase
    a0, a1 = _local_factors(right)
    b0, b1 = _local_factors(left)
    out = np.concatenate([_zyz_angles(a0), _zyz_angles(a1), -2 * coef[:3], _zyz_angles(b0), _zyz_angles(b1)])
    err = phase_distance(su4_matrix(out), u)
    if err > 1e-9:  # pragma: no cover - a failure of the algebra above, reported loudly
        raise ArithmeticError(f"KAK decomposition failed to reproduce the gate (1 - |tr|/4 = {err:.2e})")
    return out
