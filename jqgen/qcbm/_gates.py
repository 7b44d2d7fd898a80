"""Gate matrices and the statevector kernels of jqgen's fused executor.

Every parametrized gate is a Pauli rotation ``exp(-i theta P / 2)`` (``P`` a Pauli string),
so the two-term parameter-shift rule with shifts of ``+-pi/2`` holds for every parameter of
every ansatz. Gate matrices take their dtype from the angles: float32 angles give complex64
gates, float64 give complex128.

Statevectors are ``[2**n]`` arrays in big-endian order (qubit 0 is the most significant
bit, as in TensorCircuit and :mod:`jqgen.bits`). The kernels apply a whole layer at once:

* :func:`apply_1q_layer`: one 2x2 gate on every qubit, two qubits per pass (a 4x4
  Kronecker factor applied by a broadcast multiply-and-sum, which XLA fuses into one loop);
* :func:`apply_2q`: a 4x4 gate on adjacent qubits ``(i, i+1)`` in one pass;
* :func:`apply_cnots`: any CNOT network, which permutes basis states, as one gather whose
  indices are computed in the program (the network is linear over GF(2): ``n`` columns, no
  ``2**n`` constant); its transpose, the inverse gather, is given as the VJP instead of a
  scatter;
* :func:`zz_phase`: commuting ``ZZ`` rotations on any graph as one diagonal multiply (an
  ``RXX`` block is this diagonal between Hadamard layers, see :mod:`._ansatz`).
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_finite, is_concrete

__all__ = [
    "apply_1q_layer",
    "apply_2q",
    "apply_cnots",
    "cnot_index",
    "cnot_permutation",
    "hadamard",
    "product_state",
    "rx",
    "rxx",
    "ry",
    "ryy",
    "rz",
    "rzz",
    "su4",
    "zz_phase",
]


def complex_dtype(real: jnp.dtype) -> jnp.dtype:
    """complex128 for float64 angles, complex64 otherwise."""
    return jnp.dtype(jnp.complex128 if jnp.dtype(real) == jnp.float64 else jnp.complex64)


def _angles(theta: Any, name: str = "theta") -> jax.Array:
    """Real angles; ``ValueError`` for another dtype or (concrete) NaN/inf. Traced angles
    are not checked (the kernels stay as cheap as the bare formulas under ``jit``)."""
    if isinstance(theta, str):
        raise ValueError(f"{name} must be real angles, got {theta!r}")
    theta = jnp.asarray(theta)
    if not jnp.issubdtype(theta.dtype, jnp.floating) and not jnp.issubdtype(theta.dtype, jnp.integer):
        raise ValueError(f"{name} must be real angles, got dtype {theta.dtype}")
    if is_concrete(theta):
        check_finite(theta, name)
    return theta


def _cs(theta: jax.Array) -> tuple[jax.Array, jax.Array]:
    theta = _angles(theta)
    dt = complex_dtype(theta.dtype)
    half = theta / 2
    return jnp.cos(half).astype(dt), jnp.sin(half).astype(dt)


def _mat(rows: Sequence[Sequence[jax.Array]]) -> jax.Array:
    return jnp.stack([jnp.stack(list(r), axis=-1) for r in rows], axis=-2)


def rx(theta: jax.Array) -> jax.Array:
    """``exp(-i theta X / 2)``, shape ``theta.shape + (2, 2)``."""
    c, s = _cs(theta)
    return _mat([[c, -1j * s], [-1j * s, c]])


def ry(theta: jax.Array) -> jax.Array:
    """``exp(-i theta Y / 2)``."""
    c, s = _cs(theta)
    return _mat([[c, -s], [s, c]])


def rz(theta: jax.Array) -> jax.Array:
    """``exp(-i theta Z / 2)`` = diag(e^{-i theta/2}, e^{i theta/2})."""
    c, s = _cs(theta)
    z = jnp.zeros_like(c)
    return _mat([[c - 1j * s, z], [z, c + 1j * s]])


def hadamard(dtype: jnp.dtype) -> jax.Array:
    """The Hadamard gate in the complex ``dtype``."""
    return jnp.asarray(np.array([[1, 1], [1, -1]]) / np.sqrt(2), dtype)


def _pauli_rotation_2q(theta: jax.Array, p: np.ndarray) -> jax.Array:
    c, s = _cs(theta)
    eye = jnp.eye(4, dtype=c.dtype)
    return c[..., None, None] * eye - 1j * s[..., None, None] * jnp.asarray(p, c.dtype)


_X = np.array([[0, 1], [1, 0]])
_Y = np.array([[0, -1j], [1j, 0]])
_Z = np.array([[1, 0], [0, -1]])


def rxx(theta: jax.Array) -> jax.Array:
    """``exp(-i theta X(x)X / 2)``, shape ``theta.shape + (4, 4)``."""
    return _pauli_rotation_2q(theta, np.kron(_X, _X))


def ryy(theta: jax.Array) -> jax.Array:
    """``exp(-i theta Y(x)Y / 2)``."""
    return _pauli_rotation_2q(theta, np.kron(_Y, _Y).real)


def rzz(theta: jax.Array) -> jax.Array:
    """``exp(-i theta Z(x)Z / 2)``."""
    return _pauli_rotation_2q(theta, np.kron(_Z, _Z))


def _zyz(p: jax.Array) -> jax.Array:
    """``RZ(p[2]) RY(p[1]) RZ(p[0])`` (``p[0]`` acts first), any SU(2) element."""
    return rz(p[..., 2]) @ ry(p[..., 1]) @ rz(p[..., 0])


def su4(p: jax.Array) -> jax.Array:
    """A general two-qubit gate from 15 angles in KAK form, shape ``p.shape[:-1] + (4, 4)``.

    ``U = (B0 (x) B1) RZZ(p[8]) RYY(p[7]) RXX(p[6]) (A0 (x) A1)``, with ``A0 = ZYZ(p[0:3])``,
    ``A1 = ZYZ(p[3:6])``, ``B0 = ZYZ(p[9:12])``, ``B1 = ZYZ(p[12:15])`` and
    ``ZYZ(a, b, c) = RZ(c) RY(b) RZ(a)``. Every SU(4) matrix has this form up to a global
    phase; all-zero angles give the identity.
    """
    p = _angles(p, "p")
    if p.ndim < 1 or p.shape[-1] != 15:
        raise ValueError(f"p must have shape [..., 15] (the KAK angles), got {p.shape}")
    kron = lambda a, b: jnp.einsum("...ij,...kl->...ikjl", a, b).reshape(a.shape[:-2] + (4, 4))
    a = kron(_zyz(p[..., 0:3]), _zyz(p[..., 3:6]))
    b = kron(_zyz(p[..., 9:12]), _zyz(p[..., 12:15]))
    core = rzz(p[..., 8]) @ ryy(p[..., 7]) @ rxx(p[..., 6])
    return b @ core @ a


# --------------------------------------------------------------------------- kernels


@jax.custom_vjp
def _block(s: jax.Array, g: jax.Array) -> jax.Array:
    """``out[i, a, j] = sum_b g[a, b] s[i, b, j]`` as one fused broadcast multiply-and-sum."""
    return jnp.sum(g[None, :, :, None] * s[:, None, :, :], axis=2)


def _block_fwd(s: jax.Array, g: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    return _block(s, g), (s, g)


def _block_bwd(res: tuple[jax.Array, jax.Array], ct: jax.Array) -> tuple[jax.Array, jax.Array]:
    # JAX's complex VJP is the plain transpose (no conjugation): s_bar = g^T ct, g_bar = ct s^T.
    s, g = res
    return _block(ct, g.T), jnp.einsum("iaj,ibj->ab", ct, s)


_block.defvjp(_block_fwd, _block_bwd)


def _apply_block(psi: jax.Array, g: jax.Array, start: int, width: int, n: int) -> jax.Array:
    """Applies a ``2**width`` square matrix ``g`` to qubits ``start .. start+width-1``.

    Reverse mode uses a hand-written VJP (the same fused kernel with ``g^T`` and one
    contraction for ``g``'s cotangent): about 35% faster than XLA's derived backward pass,
    which materializes the broadcast product. (Forward-mode ``jvp`` is not defined.)
    """
    d = 2**width
    return _block(psi.reshape(2**start, d, 2 ** (n - start - width)), g).reshape(-1)


def apply_1q_layer(psi: jax.Array, gates: jax.Array) -> jax.Array:
    """Applies ``gates[i]`` (``[n, 2, 2]``) to qubit ``i`` for every ``i``."""
    n = gates.shape[0]
    i = 0
    while i < n:
        if i + 1 < n:
            pair = jnp.einsum("ij,kl->ikjl", gates[i], gates[i + 1]).reshape(4, 4)
            psi = _apply_block(psi, pair, i, 2, n)
            i += 2
        else:
            psi = _apply_block(psi, gates[i], i, 1, n)
            i += 1
    return psi


def apply_2q(psi: jax.Array, gate: jax.Array, i: int, n: int) -> jax.Array:
    """Applies a 4x4 ``gate`` to the adjacent qubits ``(i, i + 1)``."""
    return _apply_block(psi, gate, i, 2, n)


def product_state(vectors: jax.Array) -> jax.Array:
    """The statevector ``v_0 (x) v_1 (x) ... (x) v_{n-1}`` of ``vectors [n, 2]``."""
    out = vectors[0]
    for v in vectors[1:]:
        out = (out[:, None] * v[None, :]).reshape(-1)
    return out


def cnot_permutation(n: int, cnots: Sequence[tuple[int, int]]) -> np.ndarray:
    """Where each basis state goes under the CNOTs ``(control, target)`` applied in order.

    Returns ``perm`` (int32 ``[2**n]``) with ``CNOTs |x> = |perm[x]>``.
    """
    idx = np.arange(2**n, dtype=np.int64)
    out = idx.copy()
    for c, t in cnots:
        control = (out >> (n - 1 - c)) & 1
        out = out ^ (control << (n - 1 - t))
    return out.astype(np.int32)


def _cnot_image(x: int, n: int, cnots: Sequence[tuple[int, int]]) -> int:
    for c, t in cnots:
        x ^= ((x >> (n - 1 - c)) & 1) << (n - 1 - t)
    return x


def cnot_index(n: int, cnots: Sequence[tuple[int, int]]) -> jax.Array:
    """:func:`cnot_permutation` computed in the program: ``perm[x]`` is the XOR of the
    images of ``x``'s set bits (a CNOT network is a linear map over GF(2)), so the program
    holds ``n`` integers instead of a ``2**n`` constant and builds the indices in one fused
    pass.

    Examples:
        >>> import numpy as np
        >>> from jqgen.qcbm._gates import cnot_index, cnot_permutation
        >>> bool(np.array_equal(np.asarray(cnot_index(4, [(0, 1), (1, 2)])), cnot_permutation(4, [(0, 1), (1, 2)])))
        True
    """
    idx = jax.lax.iota(jnp.int32, 2**n)
    out = jnp.zeros_like(idx)
    for j in range(n):
        col = _cnot_image(1 << j, n, cnots)
        out = out ^ (((idx >> j) & 1) * jnp.int32(col))
    return out


def apply_cnots(psi: jax.Array, cnots: Sequence[tuple[int, int]], n: int,
                indices: tuple[jax.Array, jax.Array] | None = None) -> jax.Array:
    """``psi`` after the CNOTs ``(control, target)`` applied in order: one gather
    ``out[y] = psi[P^-1 y]`` (the inverse network is the CNOTs in reverse order); the VJP
    is the gather by ``P``. ``indices``: ``(cnot_index(n, reversed cnots), cnot_index(n,
    cnots))`` computed once outside a loop (else here)."""
    cnots = [tuple(c) for c in cnots]
    inv, fwd_index = indices if indices is not None else (cnot_index(n, cnots[::-1]), cnot_index(n, cnots))
    return _gather(psi, inv, fwd_index)


@jax.custom_vjp
def _gather(x: jax.Array, inv: jax.Array, back: jax.Array) -> jax.Array:
    return x[inv]


def _gather_fwd(x: jax.Array, inv: jax.Array, back: jax.Array) -> tuple[jax.Array, jax.Array]:
    return x[inv], back


def _gather_bwd(back: jax.Array, ct: jax.Array) -> tuple[jax.Array, None, None]:
    return ct[back], None, None


_gather.defvjp(_gather_fwd, _gather_bwd)


def _spins(n: int, dtype: jnp.dtype) -> list[jax.Array]:
    idx = jax.lax.iota(jnp.int32, 2**n)
    return [(1 - 2 * ((idx >> (n - 1 - q)) & 1)).astype(dtype) for q in range(n)]


def zz_phase(psi: jax.Array, thetas: jax.Array, edges: Sequence[tuple[int, int]], n: int) -> jax.Array:
    """Applies ``prod_e RZZ(thetas[e])`` on ``edges`` (they commute) as one diagonal.

    ``RZZ(t)|x> = exp(-i t s_i s_j / 2)|x>`` with spins ``s = 1 - 2 x``.
    """
    real = thetas.dtype
    s = _spins(n, real)
    phase = jnp.zeros((2**n,), real)
    for e, (i, j) in enumerate(edges):
        phase = phase + thetas[e] * (s[i] * s[j])
    half = -phase / 2
    return psi * jax.lax.complex(jnp.cos(half), jnp.sin(half))
