"""The synergistic-pretraining pipeline: train an MPS, map it into a circuit, extend, train on.

Rudolph, Miller, Motlagh, Chen, Acharya, Perdomo-Ortiz, "Synergistic pretraining of
parametrized quantum circuits via tensor networks", Nat. Commun. 14, 8367 (2023):

1. **wheels**: an MPS Born machine of bond dimension ``chi`` is trained on the data
   (``jqgen.fit``, Adam on the NLL);
2. **mapping**: Ran's method (:func:`mps_to_layers`), optionally refined by Adam or by
   gate-by-gate sweeps (:func:`sweep_decomposition`), turns it into ``layers_from_mps``
   staircase layers of two-qubit unitaries, each converted to 15 KAK angles
   (:func:`kak_angles`), so the mapped circuit is an ordinary parameter set of
   ``QCBM(SU4Brickwork(n, D + L, "staircase"))``;
3. **wings**: ``extra_layers`` more SU(4) layers start near the identity (angles drawn from
   ``N(0, init_scale^2)``), so the extended circuit starts at the mapped distribution, and the
   circuit is trained as a QCBM (exact KL/NLL/MMD, or shots with parameter-shift).
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import _random
from ..data import validate_binary
from ..distributions import empirical_distribution, entropy
from ..mps import MPSBornMachine
from ..qcbm import QCBM, SU4Brickwork, make_loss
from ..training import fit
from ._kak import kak_angles
from ._ran import mps_to_layers
from ._sweep import _blas_limit, sweep_decomposition, sweep_layers

__all__ = ["DECOMPOSITIONS", "SynergyResult", "circuit_from_mps", "pretrain"]


class SynergyResult(NamedTuple):
    """What :func:`pretrain` returns.

    Attributes:
        mps_model, mps_params: the trained MPS stage.
        model, params: the QCBM (``SU4Brickwork`` staircase) after circuit training.
        mapped_params: the circuit parameters right after mapping and extension.
        fidelities: ``|<psi_MPS|circuit>|^2`` of the mapping (see :func:`circuit_from_mps`).
        mps_history: per-step loss of the MPS stage (KL(data || MPS) = NLL - H(data) when the
            batch is the full data set).
        circuit_history: per-step loss of the circuit stage (the chosen ``loss``).
    """

    mps_model: MPSBornMachine
    mps_params: Any
    model: QCBM
    params: Any
    mapped_params: Any
    fidelities: list[float]
    mps_history: np.ndarray
    circuit_history: np.ndarray


def _check_int(name: str, v: Any, lo: int) -> int:
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(v)


#: The MPS -> circuit decompositions of :func:`circuit_from_mps`.
DECOMPOSITIONS = ("ran", "ran+adam", "ran+sweep", "sweep")


def _angles(gates: np.ndarray) -> np.ndarray:
    return np.stack([[kak_angles(g) for g in layer] for layer in gates]).astype(np.float64)


def _map_ran(mps: Any, d: int, o: dict) -> tuple[Any, list[float]]:
    gates, fidelities = mps_to_layers(mps, d, chi_max=o["chi_max"])
    return _angles(gates), list(fidelities)


def _map_ran_adam(mps: Any, d: int, o: dict) -> tuple[Any, list[float]]:
    angles, fidelities = _map_ran(mps, d, o)
    n = int(mps.tensors.shape[0])
    refined, fid = _refine(mps, SU4Brickwork(n, d, "staircase"), jnp.asarray(angles, o["dtype"]), o["refine_steps"],
                           o["refine_lr"])
    return refined, fidelities + [fid]


def _map_ran_sweep(mps: Any, d: int, o: dict) -> tuple[Any, list[float]]:
    gates, fidelities = mps_to_layers(mps, d, chi_max=o["chi_max"])
    r = sweep_layers(mps, gates, sweeps=o["sweeps"], chi_max=o["chi_max"])
    return _angles(r.gates), list(fidelities) + [r.fidelity]


def _map_sweep(mps: Any, d: int, o: dict) -> tuple[Any, list[float]]:
    r = sweep_decomposition(mps, d, sweeps=o["sweeps"], chi_max=o["chi_max"])
    return _angles(r.gates), list(r.fidelities)


_MAPPERS = {"ran": _map_ran, "ran+adam": _map_ran_adam, "ran+sweep": _map_ran_sweep, "sweep": _map_sweep}


def _decomposition(name: Any, refine_steps: int) -> str:
    name = ("ran+adam" if refine_steps else "ran") if name is None else name
    if name not in DECOMPOSITIONS:
        raise ValueError(f"decomposition must be one of {', '.join(DECOMPOSITIONS)}, got {name!r}")
    if (name == "ran+adam") != (refine_steps > 0):
        raise ValueError(f"refine_steps >= 1 goes with decomposition 'ran+adam' only, got decomposition {name!r} "
                         f"and refine_steps {refine_steps}")
    return name


def circuit_from_mps(mps: Any, layers_from_mps: int, extra_layers: int = 0, *, key: jax.Array | None = None,
                     init_scale: float = 1e-2, dtype: Any = jnp.float32, chi_max: int | None = None,
                     decomposition: str | None = None, refine_steps: int = 0, refine_lr: float = 0.01,
                     sweeps: int = 8) -> tuple[QCBM, dict[str, jax.Array], list[float]]:
    """Maps an MPS into a QCBM parameter set (staircase layers in KAK form, plus near-identity layers).

    The decompositions (``D = layers_from_mps``):

    * ``"ran"``: Ran's analytic layers (:func:`mps_to_layers`);
    * ``"ran+adam"``: then ``refine_steps`` Adam steps maximizing ``|<psi_MPS|circuit>|^2``
      over the angles, from the dense MPS state (``n <= 20``); the best iterate is kept;
    * ``"ran+sweep"``: Ran's ``D`` layers, then ``sweeps`` gate-by-gate passes
      (:func:`sweep_layers`; environments in MPS form, any ``n``);
    * ``"sweep"``: layers grown one at a time, each Ran's layer of the residual followed by
      ``sweeps`` passes over all layers (:func:`sweep_decomposition`; any ``n``).

    Args:
        mps: a jqgen :class:`~jqgen.mps.MPS` (e.g. a trained ``MPSBornMachine``'s params).
        layers_from_mps: ``D >= 1`` staircase layers mapped from the MPS.
        extra_layers: ``L >= 0`` layers appended after them, angles ``N(0, init_scale^2)``.
        key: PRNG key of the extra layers' angles (required when ``extra_layers > 0``).
        init_scale: standard deviation of the extra layers' angles.
        dtype: float32 or float64 angles.
        chi_max: bond cap of the intermediate MPS (see :func:`mps_to_layers`,
            :func:`sweep_layers`).
        decomposition: one of :data:`DECOMPOSITIONS`; ``None`` (default): ``"ran+adam"``
            when ``refine_steps > 0``, else ``"ran"`` (as before decompositions had names).
        refine_steps: Adam steps of ``"ran+adam"`` (and only of it).
        refine_lr: their learning rate.
        sweeps: passes of ``"ran+sweep"`` (in all) and ``"sweep"`` (at every depth).

    Returns:
        ``(model, params, fidelities)`` with ``model = QCBM(SU4Brickwork(n, D + L, "staircase"))``.
        ``fidelities``: ``|<psi_MPS|circuit>|^2`` after each of Ran's layers, then that of the
        refined or swept circuit (``"ran+adam"``, ``"ran+sweep"``); for ``"sweep"`` the
        fidelity reached at each depth. ``fidelities[-1]`` is always the mapped circuit's.

    Raises:
        ValueError: a bad count, an unknown decomposition, or ``refine_steps`` given to
            another decomposition than ``"ran+adam"``.

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.synergy import circuit_from_mps
        >>> mps = jqgen.mps.random_mps(jax.random.key(0), 6, 4)
        >>> _, _, ran = circuit_from_mps(mps, 2)
        >>> model, params, fid = circuit_from_mps(mps, 2, decomposition="sweep")
        >>> params["gates"].shape, bool(fid[-1] > ran[-1])
        ((2, 5, 15), True)
    """
    d = _check_int("layers_from_mps", layers_from_mps, 1)
    ell = _check_int("extra_layers", extra_layers, 0)
    refine_steps = _check_int("refine_steps", refine_steps, 0)
    name = _decomposition(decomposition, refine_steps)
    sweeps = _check_int("sweeps", sweeps, 1)
    if not init_scale >= 0:
        raise ValueError(f"init_scale must be >= 0, got {init_scale}")
    if ell > 0 and key is None:
        raise ValueError("extra_layers > 0 needs a key for their initial angles")
    n = int(mps.tensors.shape[0])
    model = QCBM(SU4Brickwork(n, d + ell, "staircase"), dtype=dtype, init_scale=init_scale)
    opts = {"chi_max": chi_max, "dtype": model.dtype, "refine_steps": refine_steps, "refine_lr": refine_lr,
            "sweeps": sweeps}
    with _blas_limit(1):  # NumPy on small matrices: one BLAS thread is fastest (see _sweep)
        angles, fidelities = _MAPPERS[name](mps, d, opts)
    mapped = jnp.asarray(angles, model.dtype)
    if ell:
        extra = init_scale * _random.normal(key, (ell, n - 1, 15), model.dtype)
        mapped = jnp.concatenate([mapped, extra])
    return model, {"gates": mapped}, fidelities


def _refine(mps: Any, ansatz: SU4Brickwork, gates: jax.Array, steps: int, lr: float) -> tuple[jax.Array, float]:
    from ..mps import to_dense

    if ansatz.num_qubits > 20:
        raise ValueError(f"refine_steps needs the dense MPS state; n = {ansatz.num_qubits} > 20")
    psi = jnp.asarray(to_dense(mps)).astype(jnp.complex128 if gates.dtype == jnp.float64 else jnp.complex64)
    psi = psi / jnp.linalg.norm(psi).astype(psi.dtype)

    def infidelity(g: jax.Array) -> jax.Array:
        return 1 - jnp.abs(jnp.vdot(psi, ansatz.state({"gates": g}))) ** 2

    opt = optax.adam(lr)

    @jax.jit
    def run(g0: jax.Array) -> tuple[jax.Array, jax.Array]:
        def step(carry, _):
            g, s, best, best_loss = carry
            loss, grad = jax.value_and_grad(infidelity)(g)
            better = loss < best_loss  # keep the best iterate seen (``g`` before this update)
            best, best_loss = jnp.where(better, g, best), jnp.where(better, loss, best_loss)
            upd, s = opt.update(grad, s, g)
            return (optax.apply_updates(g, upd), s, best, best_loss), None

        start = infidelity(g0)
        (g, _, best, best_loss), _ = jax.lax.scan(step, (g0, opt.init(g0), g0, start), None, length=steps)
        last = infidelity(g)
        return jnp.where(last < best_loss, g, best), jnp.minimum(last, best_loss)

    with jax.numpy_dtype_promotion("standard"):  # optax is not strict-promotion clean
        g, loss = run(gates)
    return g, float(1.0 - loss)


def pretrain(data: Any, *, chi: int, layers_from_mps: int, extra_layers: int, key: jax.Array,
             mps_steps: int = 1000, mps_lr: float = 0.01, circuit_steps: int = 500, circuit_lr: float = 0.01,
             loss: str = "kl", shots: int | None = None, init_scale: float = 1e-2, dtype: Any = jnp.float32,
             refine_steps: int = 0, decomposition: str | None = None, sweeps: int = 8, progress: bool = False,
             checkpoint_dir: str | os.PathLike[str] | None = None,
             callback: Callable[[str, int, Any], None] | None = None) -> SynergyResult:
    """MPS stage, mapping, extension and circuit stage in one call.

    Args:
        data: ``[N, n]`` 0/1 training samples (``n >= 2``).
        chi: bond dimension of the MPS stage (``>= 2``).
        layers_from_mps: circuit layers mapped from the MPS (``>= 1``).
        extra_layers: near-identity layers appended (``>= 0``).
        key: PRNG key (MPS init and minibatches, extra angles, circuit stage).
        mps_steps: Adam steps of the MPS stage (full batch, NLL).
        mps_lr: Adam learning rate of the MPS stage.
        circuit_steps: Adam steps of the circuit stage.
        circuit_lr: Adam learning rate of the circuit stage.
        loss: circuit loss, ``"kl"``, ``"nll"`` or ``"mmd"`` (see :func:`jqgen.qcbm.make_loss`).
        shots: ``None`` for exact probabilities, else shots per circuit (parameter-shift).
        init_scale: angle scale of the extra layers.
        dtype: float32 or float64.
        refine_steps: the mapping (see :func:`circuit_from_mps`).
        decomposition: the mapping (see :func:`circuit_from_mps`).
        sweeps: the mapping (see :func:`circuit_from_mps`).
        progress: progress bars.
        checkpoint_dir: if given, each training stage checkpoints there
            (``mps_stage.npz``, ``circuit_stage.npz``) and a rerun resumes it; a finished
            stage is not trained again (the mapping between them is deterministic).
        callback: ``callback(stage, steps_done, history)`` after every chunk of steps of
            either stage (``stage`` is ``"mps"`` or ``"circuit"``; ``history`` the stage's
            so far, as :func:`jqgen.fit` passes it).

    Returns:
        A :class:`SynergyResult`.

    Raises:
        ValueError: bad data, ``chi < 2``, ``layers_from_mps < 1``, ``extra_layers < 0``,
            non-positive steps or learning rates, or a statevector that does not fit.

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.data import bars_and_stripes
        >>> r = jqgen.synergy.pretrain(bars_and_stripes(2, 3), chi=2, layers_from_mps=1, extra_layers=1,
        ...                            key=jax.random.key(0), mps_steps=50, circuit_steps=20)
        >>> r.params["gates"].shape, len(r.circuit_history)
        ((2, 5, 15), 20)
    """
    data = validate_binary(data, name="data")
    n = data.shape[1]
    if n < 2:
        raise ValueError(f"synergistic pretraining needs at least 2 qubits, got {n}")
    chi = _check_int("chi", chi, 2)
    _check_int("layers_from_mps", layers_from_mps, 1)
    _check_int("extra_layers", extra_layers, 0)
    _decomposition(decomposition, _check_int("refine_steps", refine_steps, 0))
    _check_int("sweeps", sweeps, 1)
    _check_int("mps_steps", mps_steps, 1)
    _check_int("circuit_steps", circuit_steps, 1)
    for name, v in (("mps_lr", mps_lr), ("circuit_lr", circuit_lr)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive number, got {v!r}")
    # build (and memory-check) the circuit model before spending time on the MPS stage
    QCBM(SU4Brickwork(n, layers_from_mps + extra_layers, "staircase"), dtype=dtype)
    k_mps, k_fit, k_extra, k_circ = jax.random.split(key, 4)
    mps_model = MPSBornMachine(n, chi, dtype=dtype)
    stage = (lambda name: None) if checkpoint_dir is None else (lambda name: os.path.join(checkpoint_dir, name))

    def report(name: str) -> Any:
        return None if callback is None else (lambda done, params, state, history: callback(name, done, history))

    res = fit(mps_model, mps_model.init(k_mps), data, optax.adam(mps_lr), key=k_fit, steps=mps_steps,
              progress=progress, desc=f"MPS chi={chi}", checkpoint_path=stage("mps_stage.npz"), callback=report("mps"))
    data_entropy = float(entropy(empirical_distribution(data, n, dtype)))  # KL = NLL - H(data)
    model, mapped, fidelities = circuit_from_mps(res.params, layers_from_mps, extra_layers, key=k_extra,
                                                 init_scale=init_scale, dtype=dtype, refine_steps=refine_steps,
                                                 decomposition=decomposition, sweeps=sweeps)
    circ = fit(model, mapped, data, optax.adam(circuit_lr), key=k_circ, steps=circuit_steps, progress=progress,
               desc=f"circuit D={layers_from_mps}+{extra_layers}", loss=make_loss(model, loss, shots=shots),
               checkpoint_path=stage("circuit_stage.npz"), callback=report("circuit"))
    return SynergyResult(mps_model, res.params, model, circ.params, mapped, fidelities,
                         np.asarray(res.history) - data_entropy, np.asarray(circ.history))
