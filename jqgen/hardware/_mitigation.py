"""Readout-error mitigation with TensorCircuit's ``ReadoutMit``, and a noisy-readout wrapper
for the offline ``local`` provider.

Only ``tencent`` mitigates readout server-side; for other providers
:func:`calibrate_readout` runs ``ReadoutMit``'s calibration circuits through
:func:`run_batch` (so they are journaled, resumable and counted in ``Journal.budget()``)
and :func:`mitigate_counts` corrects logical counts with the calibration
(``method="square"``: constrained least squares, a probability vector times the shots).

:func:`noisy_readout` wraps a ``poll`` so that each measured bit of every shot flips with
a given probability (``p01``: 0 read as 1, ``p10``: 1 read as 0; scalars or one value per
physical qubit): a readout-noisy ``local::testing`` device for tests.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..distributions import counts_to_probs
from ..qcbm import tc_settings
from . import _runner
from ._compile import compile_circuit
from ._device import Device
from ._journal import Journal

__all__ = ["calibrate_readout", "mitigate_counts", "noisy_readout"]


def _qiskit_from_tc(c: Any, width: int) -> Any:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(width)
    for g in c.to_qir():
        name = str(g["name"]).lower()
        if name != "x":
            raise ValueError(f"unexpected gate {name!r} in a readout calibration circuit")
        qc.x(*[int(i) for i in g["index"]])
    return qc


def calibrate_readout(
    device: Device,
    qubits: Sequence[int],
    journal: Journal,
    *,
    shots: int = 8192,
    method: str = "local",
    tag: Any = "readout-calibration",
    **run_kwargs: Any,
) -> Any:
    """Calibrates readout errors of the physical ``qubits`` of ``device``.

    Args:
        device: the device.
        qubits: physical qubits to calibrate (e.g. ``Compiled.layout``).
        journal: where the calibration runs are journaled.
        shots: shots per calibration circuit.
        method: ``"local"`` (two circuits, independent per-qubit errors) or ``"global"``
            (``2**len(qubits)`` circuits, correlated errors).
        tag: part of every calibration circuit's tag (``{"role": tag, "i": index,
            "method": method, "qubits": [...]}``); change it to recalibrate.
        run_kwargs: :func:`run_batch` options (``submit``, ``poll``, ``retries``, ...).

    Returns:
        a calibrated ``tensorcircuit.results.readout_mitigation.ReadoutMit``.
    """
    qs = sorted(int(q) for q in qubits)
    if not qs or len(set(qs)) != len(qs) or qs[0] < 0 or qs[-1] >= device.num_qubits:
        raise ValueError(f"qubits must be distinct physical qubits of {device.spec}, got {list(qubits)}")
    if method not in ("local", "global"):
        raise ValueError(f"method must be 'local' or 'global', got {method!r}")
    width = qs[-1] + 1

    def execute(circuits: Sequence[Any], cal_shots: int) -> list[dict[str, int]]:
        compiled = [compile_circuit(_qiskit_from_tc(c, width), device, initial_layout=list(range(width))) for c in circuits]
        for c in compiled:
            if tuple(c.layout) != tuple(range(width)):
                raise RuntimeError(f"calibration circuit was routed away from its qubits (layout {c.layout})")
        tags = [{"role": tag, "i": i, "method": method, "qubits": qs} for i in range(len(compiled))]
        return _runner.run_batch(compiled, device, int(cal_shots), journal, tags, **run_kwargs)

    shots = device.check_shots(shots)
    with tc_settings(backend=None, dtype=None):
        from tensorcircuit.results.readout_mitigation import ReadoutMit

        mit = ReadoutMit(execute)
        mit.cals_from_system(qs, shots=shots, method=method)
    return mit


def mitigate_counts(mit: Any, counts: Mapping[str, Any], layout: Sequence[int], *, method: str = "square") -> dict[str, float]:
    """Readout-mitigated logical counts.

    Args:
        mit: from :func:`calibrate_readout` (its qubits must include ``layout``).
        counts: logical big-endian counts (as :func:`run_batch` returns them).
        layout: ``layout[i]``: the physical qubit that measured logical qubit ``i``.
        method: ``"square"`` (constrained least squares: non-negative) or ``"inverse"``
            (quasi-counts, may be negative).

    Returns:
        logical bitstring -> mitigated (float) count; the values sum to the shots.
        Deterministic (the solver's random start is seeded).
    """
    if not callable(getattr(mit, "apply_correction", None)):
        raise ValueError(f"mit must be the calibration calibrate_readout returns, got {type(mit).__name__}")
    if method not in ("square", "inverse"):
        raise ValueError(f"method must be 'square' or 'inverse', got {method!r}")
    n = len(layout)
    counts_to_probs(counts, n)  # validates: n-bit keys of 0/1 (one bit per layout entry), counts >= 0, not empty
    # ReadoutMit's "square" solver starts from np.random.rand: seed it (and restore the
    # global state) so that the same counts and calibration give the same result.
    state = np.random.get_state()
    np.random.seed(0)
    try:
        with tc_settings(backend=None, dtype=None):
            out = mit.apply_correction(
                {str(k): v for k, v in counts.items()}, list(range(n)), logical_physical_mapping={i: int(p) for i, p in enumerate(layout)},
                method=method,
            )
    finally:
        np.random.set_state(state)
    return {str(k): float(v) for k, v in sorted(out.items())}


def _flip(counts: Mapping[str, int], p01: np.ndarray, p10: np.ndarray, rng: np.random.Generator) -> dict[str, int]:
    keys = sorted(counts)
    if not keys:
        return {}
    width = len(keys[0])
    bits = np.array([[c == "1" for c in k] for k in keys], dtype=bool)
    reps = np.array([int(counts[k]) for k in keys])
    shots = np.repeat(bits, reps, axis=0)
    u = rng.random(shots.shape)
    flip = np.where(shots, u < p10[:width], u < p01[:width])
    shots = shots ^ flip
    out: dict[str, int] = {}
    for row in shots:
        s = "".join("1" if b else "0" for b in row)
        out[s] = out.get(s, 0) + 1
    return dict(sorted(out.items()))


def noisy_readout(
    p01: float | Sequence[float],
    p10: float | Sequence[float] | None = None,
    *,
    seed: int = 0,
    poll: Callable[[Any, Device], Any] | None = None,
    width: int = 64,
) -> Callable[[Any, Device], Any]:
    """A ``poll`` for :func:`run_batch` whose physical counts have readout errors.

    Each bit of each shot flips independently: ``0 -> 1`` with probability ``p01``,
    ``1 -> 0`` with ``p10`` (default ``p01``); scalars or one value per physical qubit
    (character ``j`` of the big-endian physical bitstring is qubit ``j``). Flips are drawn
    from ``numpy.random.default_rng(seed)`` in polling order.

    Examples:
        >>> import numpy as np
        >>> from jqgen.hardware._mitigation import _flip
        >>> _flip({"00": 5}, np.ones(2), np.zeros(2), np.random.default_rng(0))
        {'11': 5}
    """
    inner = poll or _runner._default_poll

    def vec(p: Any) -> np.ndarray:
        a = np.broadcast_to(np.asarray(p, np.float64), (width,)) if np.ndim(p) == 0 else np.asarray(p, np.float64)
        if not np.all((a >= 0) & (a <= 1)):  # NaN fails too
            raise ValueError(f"readout error probabilities must lie in [0, 1], got {p!r}")
        return a

    a01 = vec(p01)
    a10 = vec(p01 if p10 is None else p10)
    rng = np.random.default_rng(seed)

    def wrapped(task: Any, device: Device) -> Any:
        counts = inner(task, device)
        if counts is None:
            return None
        key = next(iter(counts), "")
        if len(key) > min(len(a01), len(a10)):
            raise ValueError(f"readout error probabilities given for {min(len(a01), len(a10))} qubits, counts have {len(key)}")
        return _flip(counts, a01, a10, rng)

    return wrapped


def noisy_gates(p1: float, p2: float | None = None, *,
                submit: Callable[[list[Any], Device, int], Any] | None = None) -> Callable[[list[Any], Device, int], Any]:
    """A ``submit`` for :func:`run_batch` that adds depolarizing gate noise (``local`` only).

    Every submitted circuit becomes a TensorCircuit ``DMCircuit`` with a depolarizing
    channel after each gate (TensorCircuit's noise models: ``depolarizingchannel`` with
    total error ``p1`` after one-qubit gates, ``generaldepolarizingchannel`` with total
    error ``p2`` (``p2 / 15`` per two-qubit Pauli) after two-qubit gates; ``p2`` defaults to ``p1``), which the ``local`` provider samples
    exactly. With :func:`noisy_readout` as the ``poll`` this is a noisy offline device.

    Raises:
        ValueError: ``p1`` outside [0, 3/4] or ``p2`` outside [0, 15/16].
    """
    p2 = p1 if p2 is None else p2
    if not (0 <= p1 <= 0.75 and 0 <= p2 <= 15 / 16):
        raise ValueError(f"depolarizing probabilities must satisfy 0 <= p1 <= 3/4 and 0 <= p2 <= 15/16, got {p1}, {p2}")
    inner = submit or _runner._default_submit

    def noisy(c: Any) -> Any:
        with tc_settings(backend=None, dtype=None) as tc:
            from tensorcircuit.noisemodel import NoiseConf, circuit_with_noise

            qir = c.to_qir()
            dm = tc.DMCircuit.from_qir(qir, c.circuit_param)
            conf = NoiseConf()
            for name, arity in sorted({(g["name"], len(g["index"])) for g in qir}):
                if arity == 1 and p1 > 0:
                    conf.add_noise(name, [tc.channels.depolarizingchannel(p1 / 3, p1 / 3, p1 / 3)])
                elif arity == 2 and p2 > 0:
                    conf.add_noise(name, [tc.channels.generaldepolarizingchannel(p2 / 15, 2)])
            return circuit_with_noise(dm, conf)

    def wrapped(circuits: list[Any], device: Device, shots: int) -> Any:
        if device.provider != "local":
            raise ValueError(f"simulated gate noise applies to the local provider only, not {device.spec}")
        return inner([noisy(c) for c in circuits], device, shots)

    return wrapped
