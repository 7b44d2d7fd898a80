"""Gate-by-gate sweeps: staircase layers optimized towards an MPS, environments in MPS form.

Rudolph, Chen, Miller, Acharya, Perdomo-Ortiz, "Decomposition of matrix product states into
shallow quantum circuits", arXiv:2209.00595 (Ran's layers, then every gate optimized);
the update is the standard one of tensor-network optimization (Evenbly & Vidal, PRB 79,
144108 (2009)). For ``D`` staircase layers ``U = L_{D-1} ... L_0``,
``L_l = G_{l,n-2} ... G_{l,0}`` (gate ``G_{l,i}`` on qubits ``(i, i + 1)``, ``L_0`` acting
first), and a normalized MPS ``|psi>``, the overlap

    f = <psi| U |0...0>

is linear in every gate: ``f = sum_ab G_ab E_ab``, where the *environment* ``E`` is the
network with that gate cut out. Over unitaries ``G``, ``|f|`` is largest at the polar factor
of ``conj(E)``: with the SVD ``conj(E) = X S Y^†``, ``G = X Y^†`` gives ``f = tr S``, the
nuclear norm of ``E``, which is never below ``|tr(G_old^T E)|``: no update lowers the
fidelity ``|f|^2`` (the gates are visited one at a time, each with the others fixed).

Environments of layer ``l``: the target evolved by the inverse later layers,
``|A_l> = L_{l+1}^† ... L_{D-1}^† |psi>``, and ``|B_l> = L_{l-1} ... L_0 |0>``, both MPS
whose bonds are capped at ``chi_max`` (SVD truncation at the orthogonality centre; each
truncated state is renormalized and its discarded weight recorded). Inside a layer,
``<A_l| L_l |B_l>`` is a chain: with ``L_i[a, b, m]`` (``A``'s bond left of its site ``i``,
``B``'s bond right of its site ``i``, qubit ``i``'s line entering ``G_i``) and ``R_i`` its
mirror image,

    E_i[s n, m t] = sum L_i[a, b, m] B_{i+1}[b, t, c] conj(A_i)[a, s, d] R_i[d, c, n],

``O(chi^3)`` per gate. An upward pass (layers ``0 .. D-1``, gates left to right) builds the
``B_l`` it needs as it goes and stores them for the next, downward, pass (layers
``D-1 .. 0``, gates right to left), which builds the ``A_l`` the next upward pass uses. No
dense ``2^n`` state is formed, so this runs at ``n = 50+`` (NumPy, complex128, host side:
a one-off mapping).

:func:`sweep_decomposition` grows the circuit instead (Rudolph et al.'s iterated
Ran + optimization): Ran's layer of the residual ``U^† |psi>`` is added below the others,
and all layers are swept, depth after depth. Where the caps bind (``truncation > 0``) every
update still raises the overlap of the truncated environments, but those overlaps are only
estimates of the fidelity (renormalized truncated states overstate it), so the reported
fidelities are then evaluated afresh by :func:`layers_fidelity` with a doubled cap.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any, NamedTuple

import numpy as np

from ._ran import _layer_from_right_canonical, _left_canonical, _truncate_right_canonical, site_tensors

__all__ = ["LayerSweep", "SweepDecomposition", "layers_fidelity", "sweep_decomposition", "sweep_layers"]


class LayerSweep(NamedTuple):
    """What :func:`sweep_layers` returns.

    Attributes:
        gates: ``complex128 [D, n - 1, 4, 4]`` unitaries, application order (as
            :func:`mps_to_layers`).
        fidelity: ``|<psi|U|0>|^2`` after the last pass, in MPS form: exact when nothing was
            truncated, else evaluated afresh (layers split in the middle, bonds up to
            ``2 chi_max``).
        history: the sweep's own fidelity before the first pass, then after each pass
            (estimates from the truncated environments when ``truncation > 0``).
        seconds: wall time at each ``history`` entry (0 first).
        updates: ``[num_updates, 2]`` fidelity before and after every gate update.
        truncation: the largest, over passes, of one pass's summed discarded weights of
            the environment states (0: nothing truncated, the fidelities are exact).
    """

    gates: np.ndarray
    fidelity: float
    history: list[float]
    seconds: list[float]
    updates: np.ndarray
    truncation: float


class SweepDecomposition(NamedTuple):
    """What :func:`sweep_decomposition` returns.

    Attributes:
        gates: ``complex128 [D, n - 1, 4, 4]`` unitaries, application order.
        fidelities: ``fidelities[k]``: the fidelity reached with ``k + 1`` layers (MPS form,
            as :attr:`LayerSweep.fidelity`); the last is the returned circuit's.
        seconds: wall time when each depth was done.
        truncation: the largest of :attr:`LayerSweep.truncation` over the depths.
    """

    gates: np.ndarray
    fidelities: list[float]
    seconds: list[float]
    truncation: float


# --- MPS kernels -------------------------------------------------------------------------


def _zero_state(n: int) -> list[np.ndarray]:
    t = np.zeros((1, 2, 1), np.complex128)
    t[0, 0, 0] = 1
    return [t.copy() for _ in range(n)]


def _right_canonical(a: list[np.ndarray]) -> list[np.ndarray]:
    """QR sweep right to left; the norm ends in site 0."""
    a = list(a)
    for k in range(len(a) - 1, 0, -1):
        cl, _, cr = a[k].shape
        q, r = np.linalg.qr(a[k].reshape(cl, 2 * cr).T)
        a[k] = q.T.reshape(q.shape[1], 2, cr)
        a[k - 1] = np.einsum("isj,kj->isk", a[k - 1], r)
    return a


def _split(theta: np.ndarray, chi_max: int, cutoff: float, centre_left: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """SVD of ``[cl * 2, 2 * cr]``: ``(left, right, discarded weight)``; the singular values
    go to the left factor when ``centre_left``, else to the right one."""
    u, s, vh = np.linalg.svd(theta, full_matrices=False)
    total = float(np.sum(s**2))
    keep = max(1, min(chi_max, int((s > cutoff * s[0]).sum()) if s[0] > 0 else 1))
    lost = float(np.sum(s[keep:] ** 2)) / total if total > 0 else 0.0
    if centre_left:
        return u[:, :keep] * s[:keep], vh[:keep], lost
    return u[:, :keep], s[:keep, None] * vh[:keep], lost


def _apply_layer(a: list[np.ndarray], layer: np.ndarray, chi_max: int, cutoff: float,
                 inverse: bool) -> tuple[list[np.ndarray], float]:
    """``L |a>`` (gates ``0 .. n-2``, centre moving right) or ``L^† |a>`` (``G_{n-2}^†`` first,
    centre moving left), truncated at the centre and renormalized; returns the sum of the
    discarded weights too."""
    n = len(a)
    a = _left_canonical(a) if inverse else _right_canonical(a)
    lost = 0.0
    for i in (range(n - 2, -1, -1) if inverse else range(n - 1)):
        g = layer[i].conj().T if inverse else layer[i]
        cl, cr = a[i].shape[0], a[i + 1].shape[2]
        theta = (g @ np.tensordot(a[i], a[i + 1], axes=([2], [0])).reshape(cl, 4, cr)).reshape(cl * 2, 2 * cr)
        left, right, dw = _split(theta, chi_max, cutoff, centre_left=inverse)
        a[i], a[i + 1] = left.reshape(cl, 2, -1), right.reshape(-1, 2, cr)
        lost += dw
    c = 0 if inverse else n - 1
    a[c] = a[c] / np.linalg.norm(a[c])
    return a, lost


def _overlap(a: list[np.ndarray], b: list[np.ndarray]) -> complex:
    """``<a|b>``."""
    v = np.ones((1, 1), np.complex128)
    for x, y in zip(a, b):
        v = np.einsum("ab,asc,bsd->cd", v, x.conj(), y, optimize=True)
    return complex(v[0, 0])


# --- one layer ---------------------------------------------------------------------------


def _y(left: np.ndarray, b: np.ndarray, ac: np.ndarray) -> np.ndarray:
    """``Y[m, t, c, s, d] = sum_ab L[a, b, m] B[b, t, c] conj(A)[a, s, d]``."""
    return np.tensordot(np.tensordot(left, b, axes=([1], [0])), ac, axes=([0], [0]))


def _left_step(y: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``L'[d, c, n] = sum Y[m, t, c, s, d] G[s, n, m, t]``."""
    return np.tensordot(y, g, axes=([0, 1, 3], [2, 3, 0])).transpose(1, 0, 2)


def _w(ac: np.ndarray, right: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``W[a, s, n, b, t] = sum_cd conj(A)[a, s, d] R[d, c, n] B[b, t, c]``."""
    return np.tensordot(np.tensordot(ac, right, axes=([2], [0])), b, axes=([2], [2]))


def _right_step(w: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``R'[a, b, m] = sum W[a, s, n, b, t] G[s, n, m, t]``."""
    return np.tensordot(w, g, axes=([1, 2, 4], [0, 1, 3]))


def _best_gate(env: np.ndarray) -> tuple[np.ndarray, float]:
    """The unitary ``G`` maximizing ``|sum G * env|`` and that maximum (the nuclear norm)."""
    x, s, yh = np.linalg.svd(env.reshape(4, 4).conj())
    return x @ yh, float(s.sum())


def _optimize_layer(a: list[np.ndarray], b: list[np.ndarray], layer: np.ndarray,
                    rightward: bool) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Every gate of ``layer`` in turn (left to right if ``rightward``) replaced by its optimum
    for ``<a| layer |b>``: the boundary tensors of one side are built first with the old
    gates, those of the other side along the pass with the new ones. Returns the new layer
    and ``(|f|^2 before, |f|^2 after)`` of each update."""
    n = len(a)
    ac = [t.conj() for t in a]
    g = [layer[i].reshape(2, 2, 2, 2) for i in range(n - 1)]  # [out_i, out_i+1, in_i, in_i+1]
    steps: list[tuple[float, float]] = []

    def update(i: int, env: np.ndarray) -> None:
        before = abs(np.sum(g[i] * env)) ** 2
        best, f = _best_gate(env)
        g[i] = best.reshape(2, 2, 2, 2)
        steps.append((float(before), f * f))

    first_left, first_right = b[0].transpose(0, 2, 1), ac[n - 1].transpose(0, 2, 1)
    envs = [first_right] if rightward else [first_left]  # right envs R_{n-2} .. R_0, or left envs L_0 .. L_{n-2}
    for i in (range(n - 2, 0, -1) if rightward else range(n - 2)):
        envs.append(_right_step(_w(ac[i], envs[-1], b[i + 1]), g[i]) if rightward
                    else _left_step(_y(envs[-1], b[i + 1], ac[i]), g[i]))
    if rightward:
        rights, left = envs[::-1], first_left  # rights[i] = R_i
        for i in range(n - 1):
            y = _y(left, b[i + 1], ac[i])
            update(i, np.tensordot(y, rights[i], axes=([2, 4], [1, 0])).transpose(2, 3, 0, 1))
            left = _left_step(y, g[i])
    else:
        lefts, right = envs, first_right
        for i in range(n - 2, -1, -1):
            w = _w(ac[i], right, b[i + 1])
            update(i, np.tensordot(w, lefts[i], axes=([0, 3], [0, 1])).transpose(0, 1, 3, 2))
            right = _right_step(w, g[i])
    return np.stack([x.reshape(4, 4) for x in g]), steps


# --- sweeps ------------------------------------------------------------------------------


def _target(mps: Any) -> list[np.ndarray]:
    a = _left_canonical(site_tensors(mps))
    nrm = np.linalg.norm(a[-1])
    if not nrm > 0:
        raise ValueError("the MPS has norm 0")
    a[-1] = a[-1] / nrm
    return a


def _check_gates(gates: Any, n: int) -> np.ndarray:
    g = np.asarray(gates, np.complex128)
    if g.ndim != 4 or g.shape[1:] != (n - 1, 4, 4) or g.shape[0] < 1:
        raise ValueError(f"gates must have shape [D >= 1, {n - 1}, 4, 4] for {n} qubits, got {g.shape}")
    if not np.allclose(np.einsum("dkba,dkbc->dkac", g.conj(), g), np.eye(4), atol=1e-6):
        raise ValueError("gates are not all unitary (G^dagger G != I to 1e-6)")
    return g


def _check_options(chi_max: Any, sweeps: Any, tol: Any, widest: int) -> int:
    if not isinstance(sweeps, (int, np.integer)) or isinstance(sweeps, bool) or sweeps < 0:
        raise ValueError(f"sweeps must be an integer >= 0, got {sweeps!r}")
    if tol is not None and not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be None or a finite number >= 0, got {tol!r}")
    chi_max = max(64, 4 * widest) if chi_max is None else chi_max
    if not isinstance(chi_max, (int, np.integer)) or isinstance(chi_max, bool) or chi_max < 2:
        raise ValueError(f"chi_max must be an integer >= 2, got {chi_max!r}")
    return int(chi_max)


def _tops(target: list[np.ndarray], layers: list[np.ndarray], chi_max: int, cutoff: float) -> tuple[list, float]:
    """``A_l`` for ``l = 0 .. D-1`` (``A_{D-1}`` = the target) and the discarded weight."""
    tops, lost = [target], 0.0
    for layer in layers[:0:-1]:
        a, dw = _apply_layer(tops[0], layer, chi_max, cutoff, inverse=True)
        tops.insert(0, a)
        lost += dw
    return tops, lost


class _Passes(NamedTuple):
    layers: list[np.ndarray]
    history: list[float]
    seconds: list[float]
    updates: list[tuple[float, float]]
    truncation: float
    residual: Any  # U^dagger |psi> after a downward pass, else None


def _run_passes(target: list[np.ndarray], layers: list[np.ndarray], sweeps: int, tol: float | None, chi_max: int,
                cutoff: float) -> _Passes:
    """Alternating upward / downward passes over the layers (see the module docstring)."""
    t0 = time.perf_counter()
    n, depth = len(target), len(layers)
    tops, worst = _tops(target, layers, chi_max, cutoff)
    bottoms: list = []
    history, seconds, updates, residual = [], [], [], None
    for p in range(sweeps):
        lost = 0.0
        if p % 2 == 0:  # upward: A_l from the last downward pass, B_l built here
            b, bottoms = _zero_state(n), []
            for l in range(depth):
                layers[l], st = _optimize_layer(tops[l], b, layers[l], rightward=True)
                updates += st
                bottoms.append(b)
                if l < depth - 1:
                    b, dw = _apply_layer(b, layers[l], chi_max, cutoff, inverse=False)
                    lost += dw
        else:  # downward: B_l from the upward pass, A_l built here
            a, tops = target, [None] * depth
            for l in range(depth - 1, -1, -1):
                layers[l], st = _optimize_layer(a, bottoms[l], layers[l], rightward=False)
                updates += st
                tops[l] = a
                a, dw = _apply_layer(a, layers[l], chi_max, cutoff, inverse=True)
                lost += dw
            residual = a
        worst = max(worst, lost)
        if not history:
            history.append(updates[0][0])
            seconds.append(0.0)
        history.append(updates[-1][1])
        seconds.append(time.perf_counter() - t0)
        if tol is not None and p % 2 == 1 and history[-1] - history[-2] < tol:
            break
    return _Passes(layers, history, seconds, updates, worst, residual)


def _final_fidelity(target: list[np.ndarray], r: _Passes, chi_max: int, cutoff: float) -> float:
    """The last pass's fidelity, exact when nothing was truncated; else evaluated afresh with
    the layers split in the middle and bonds up to ``2 chi_max``: truncated environments
    are renormalized and can overstate it badly (0.34 for 0.10 after 8 passes over 8 layers
    on the 64-qubit MNIST MPS of ``benchmarks/decomposition_bench.py``)."""
    if r.truncation <= 1e-12:
        return r.history[-1]
    return _layers_fidelity(target, np.stack(r.layers), 2 * chi_max, cutoff)


def _blas_limit(threads: int | None) -> Any:
    """Context limiting NumPy's BLAS/LAPACK threads (these matrices are small: on a busy
    2-core machine one thread ran the sweeps 5-7x faster than two)."""
    if threads is None:
        return contextlib.nullcontext()
    if not isinstance(threads, (int, np.integer)) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"blas_threads must be None or an integer >= 1, got {threads!r}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - only a speed-up
        return contextlib.nullcontext()
    return threadpool_limits(int(threads), user_api="blas")


def sweep_layers(mps: Any, gates: Any, *, sweeps: int = 20, tol: float | None = 1e-6, chi_max: int | None = None,
                 cutoff: float = 1e-14, blas_threads: int | None = 1) -> LayerSweep:
    """Optimizes staircase layers gate by gate towards ``mps`` (see the module docstring).

    Args:
        mps: a jqgen :class:`~jqgen.mps.MPS` or a list of ``[chi_l, 2, chi_r]`` site tensors
            (any normalization).
        gates: ``[D, n - 1, 4, 4]`` unitaries in application order (e.g. from
            :func:`mps_to_layers`).
        sweeps: largest number of passes over the layers (alternately upward and downward).
        tol: stop after a downward pass that raised the fidelity by less (``None``: run all
            ``sweeps``).
        chi_max: bond cap of the environment states (default ``max(64, 4 chi_psi)``).
        cutoff: relative singular-value cutoff of the environment states.
        blas_threads: NumPy BLAS threads while it runs (``None``: unchanged).

    Returns:
        A :class:`LayerSweep`; with ``sweeps = 0`` the gates are unchanged and the fidelity is
        evaluated only.

    Raises:
        ValueError: a bad MPS, gates of the wrong shape or not unitary, ``sweeps < 0``,
            ``tol < 0`` or ``chi_max < 2``.

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.synergy import mps_to_layers, sweep_layers
        >>> mps = jqgen.mps.random_mps(jax.random.key(0), 6, 4)
        >>> gates, ran = mps_to_layers(mps, 2)
        >>> res = sweep_layers(mps, gates, sweeps=6)
        >>> bool(res.fidelity > ran[-1]), res.gates.shape
        (True, (2, 5, 4, 4))
    """
    target = _target(mps)
    n = len(target)
    g = _check_gates(gates, n)
    chi_max = _check_options(chi_max, sweeps, tol, max(t.shape[2] for t in target))
    with _blas_limit(blas_threads):
        if sweeps == 0:
            f = _layers_fidelity(target, g, chi_max, cutoff)
            return LayerSweep(g, f, [f], [0.0], np.zeros((0, 2)), 0.0)
        r = _run_passes(target, list(g), sweeps, tol, chi_max, cutoff)
        f = _final_fidelity(target, r, chi_max, cutoff)
    return LayerSweep(np.stack(r.layers), f, r.history, r.seconds, np.asarray(r.updates, np.float64), r.truncation)


def sweep_decomposition(mps: Any, num_layers: int, *, sweeps: int = 8, tol: float | None = 1e-6,
                        chi_max: int | None = None, cutoff: float = 1e-14,
                        blas_threads: int | None = 1) -> SweepDecomposition:
    """Layers grown one at a time: Ran's layer of the residual ``U^† |psi>`` is added below
    the others (it acts first on ``|0>``), then all layers are swept (:func:`sweep_layers`).

    Args:
        mps: a jqgen :class:`~jqgen.mps.MPS` or a list of site tensors.
        num_layers: ``D >= 1``.
        sweeps: passes at every depth (rounded up to even: each depth ends on a downward
            pass, which leaves the residual of the next Ran layer).
        tol: as :func:`sweep_layers`.
        chi_max: as :func:`sweep_layers`.
        cutoff: as :func:`sweep_layers`.
        blas_threads: as :func:`sweep_layers`.

    Returns:
        A :class:`SweepDecomposition`.

    Raises:
        ValueError: ``num_layers < 1`` or as :func:`sweep_layers`.

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.synergy import sweep_decomposition
        >>> res = sweep_decomposition(jqgen.mps.random_mps(jax.random.key(0), 6, 4), 2)
        >>> res.gates.shape, bool(res.fidelities[1] > res.fidelities[0] > 0.9)
        ((2, 5, 4, 4), True)
    """
    if not isinstance(num_layers, (int, np.integer)) or isinstance(num_layers, bool) or num_layers < 1:
        raise ValueError(f"num_layers must be an integer >= 1, got {num_layers!r}")
    t0 = time.perf_counter()
    target = _target(mps)
    chi_max = _check_options(chi_max, sweeps, tol, max(t.shape[2] for t in target))
    sweeps += sweeps % 2
    layers: list[np.ndarray] = []
    residual, fidelities, seconds, worst = target, [], [], 0.0
    with _blas_limit(blas_threads):
        for _ in range(num_layers):
            layers.insert(0, _layer_from_right_canonical(_truncate_right_canonical(_left_canonical(residual), 2)))
            if sweeps:
                r = _run_passes(target, layers, sweeps, tol, chi_max, cutoff)
                layers, residual, worst = r.layers, r.residual, max(worst, r.truncation)
                fidelities.append(_final_fidelity(target, r, chi_max, cutoff))
            else:
                residual = target
                for layer in layers:
                    residual, dw = _apply_layer(residual, layer, chi_max, cutoff, inverse=True)
                    worst = max(worst, dw)
                fidelities.append(abs(_overlap(_zero_state(len(target)), residual)) ** 2)
            seconds.append(time.perf_counter() - t0)
    return SweepDecomposition(np.stack(layers), fidelities, seconds, worst)


def layers_fidelity(mps: Any, gates: Any, *, chi_max: int | None = None, cutoff: float = 1e-14,
                    blas_threads: int | None = 1) -> float:
    """``|<psi|U|0>|^2`` in MPS form: the first ``D // 2`` layers applied to ``|0>``, the others'
    inverses to ``|psi>`` (bonds capped at ``chi_max``, default ``max(64, 4 chi_psi)``; exact
    when nothing is truncated).

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.synergy import layers_fidelity, mps_to_layers
        >>> mps = jqgen.mps.random_mps(jax.random.key(0), 6, 4)
        >>> gates, ran = mps_to_layers(mps, 2)  # Ran's fidelities: exact, from dense states
        >>> abs(layers_fidelity(mps, gates) - ran[-1]) < 1e-6
        True
    """
    target = _target(mps)
    n = len(target)
    g = _check_gates(gates, n)
    chi_max = _check_options(chi_max, 0, 0.0, max(t.shape[2] for t in target))
    with _blas_limit(blas_threads):
        return _layers_fidelity(target, g, chi_max, cutoff)


def _layers_fidelity(target: list[np.ndarray], g: np.ndarray, chi_max: int, cutoff: float) -> float:
    half = len(g) // 2
    b, a = _zero_state(len(target)), target
    for layer in g[:half]:
        b, _ = _apply_layer(b, layer, chi_max, cutoff, inverse=False)
    for layer in g[half:][::-1]:
        a, _ = _apply_layer(a, layer, chi_max, cutoff, inverse=True)
    return abs(_overlap(a, b)) ** 2
