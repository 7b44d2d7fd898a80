"""Training a QCBM on a device: shot-based losses and parameter-shift gradients, through the runner.

:func:`train_on_device` is a host strategy of :func:`jqgen.training.run`: each step is one
:func:`run_batch` call holding every circuit of the step: two unshifted circuits (``role``
``"loss"``: the reported loss; ``"dloss"``: an independent histogram at which ``dL/dp`` is
taken, as in :func:`jqgen.qcbm.make_loss`) and ``2 * P`` shifted circuits (tag ``{"step":
s, "k": k, "sign": +1 | -1}``, angle ``k`` of the flat parameter vector moved by
``+-pi/2``). Every angle of jqgen's ansätze enters through one Pauli rotation, so
``dL/dtheta_k = sum_x g(x) [p_{theta + pi/2 e_k}(x) - p_{theta - pi/2 e_k}(x)] / 2``
exactly in expectation (``g = dL/dp``). The Optax update runs on the host.

Resuming: the journal keys every circuit by (circuit hash, shots, device, tag); a run
restarted with the same journal, model, initial parameters, data, optimizer, shots and
key replays the journaled steps from their counts (nothing is resubmitted) and continues;
with ``checkpoint_path`` it also skips the replay.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._checks import check_finite
from ..distributions import DEFAULT_SIGMAS, counts_to_probs, distribution_loss, empirical_distribution
from ..training import Callback, Strategy, run
from ._compile import _ansatz_of, params_hash
from ._device import Device
from ._journal import Journal
from ._train import CircuitTemplate, _step_seed, seeded_submit

__all__ = ["DeviceTrainResult", "train_on_device"]


@dataclasses.dataclass
class DeviceTrainResult:
    """What :func:`train_on_device` returns.

    Attributes:
        params: the final parameters.
        history: ``[steps]`` loss estimated from the ``"loss"`` circuit of each step.
        budget: ``Journal.budget()`` at the end (tasks and shots submitted, all runs).
        submitted: tasks this call submitted (0 for a fully journaled replay).
        journal_path: the journal file.
        state: the optimizer state.
    """

    params: dict[str, jax.Array]
    history: np.ndarray
    budget: dict[str, int]
    submitted: int
    journal_path: str
    state: Any = None


def _counting(inner: Callable[[list[Any], Device, int], Any], submitted: list[int]) -> Callable[..., Any]:
    def wrapped(circuits: list[Any], dev: Device, s: int) -> Any:
        tasks = inner(circuits, dev, s)  # count only what the provider accepted
        submitted[0] += len(tasks) if isinstance(tasks, (list, tuple)) else 1
        return tasks

    return wrapped


def _mitigated(counts: list[Any], mitigation: Any, layout: Any) -> list[Any]:
    if mitigation is None:
        return counts
    from ._mitigation import mitigate_counts

    return [mitigate_counts(mitigation, c, layout) for c in counts]


def parameter_shift_strategy(model: Any, params_like: Any, target: np.ndarray, device: Device, *, shots: int,
                             optimizer: Any, journal: Journal, template: CircuitTemplate, loss: str,
                             sigmas: Sequence[float], eps: float, run_id: str, submitted: list[int],
                             submit: Any, poll: Any, readout_mitigation: Any, run_kwargs: Mapping[str, Any]) -> Strategy:
    """The host strategy of :func:`train_on_device` (one journaled batch per step)."""
    from ._runner import run_batch

    f = distribution_loss(loss, sigmas=sigmas, eps=eps)
    loss_fn, grad_fn = jax.jit(f), jax.jit(jax.grad(f))
    flat0, unravel = ravel_pytree(params_like)
    num, dtype, n = int(flat0.shape[0]), flat0.dtype, template.num_logical
    eye = np.eye(num) * (np.pi / 2)
    tgt = jnp.asarray(target, jnp.float32)

    def init(params: Any, key: jax.Array) -> Any:
        with jax.numpy_dtype_promotion("standard"):
            return optimizer.init(params)

    def host_step(params: Any, opt_state: Any, data: Any, step: int, key: jax.Array):
        flat = np.asarray(ravel_pytree(params)[0], np.float64)
        ph = params_hash(params)
        thetas = [flat, flat] + [flat + eye[k] for k in range(num)] + [flat - eye[k] for k in range(num)]
        tags: list[Any] = [{"run": run_id, "step": step, "role": "loss"}, {"run": run_id, "step": step, "role": "dloss"}]
        tags += [{"run": run_id, "step": step, "k": k, "sign": sign} for sign in (1, -1) for k in range(num)]
        circuits = [template.bind(t, ph if i < 2 else None) for i, t in enumerate(thetas)]
        counts = run_batch(circuits, device, shots, journal, tags, poll=poll, **run_kwargs,
                           submit=_counting(seeded_submit(submit, _step_seed(key, step)), submitted))
        probs = np.stack([counts_to_probs(c, n) for c in _mitigated(counts, readout_mitigation, template.layout)])
        value = float(loss_fn(jnp.asarray(probs[0], jnp.float32), tgt))
        g = np.asarray(grad_fn(jnp.asarray(probs[1], jnp.float32), tgt), np.float64)
        shifted = probs[2:] @ g
        grads = unravel(jnp.asarray((shifted[:num] - shifted[num:]) / 2, dtype))
        with jax.numpy_dtype_promotion("standard"):  # Optax mixes Python floats and int32 counts
            updates, opt_state = optimizer.update(grads, opt_state, params)
        params = jax.tree_util.tree_map(lambda p, u: (p + u).astype(p.dtype), params, updates)
        return params, opt_state, {"loss": value}

    config = {"model": model.config(), "device": device.spec, "shots": shots, "loss": loss, "run_id": run_id,
              "sigmas": [float(s) for s in sigmas], "eps": float(eps)}
    return Strategy("parameter-shift-device", init, host_step=host_step, config=config)


def train_on_device(
    model: Any,
    params: Mapping[str, Any],
    data: Any,
    device: Device,
    *,
    shots: int,
    steps: int,
    optimizer: Any,
    journal_path: str,
    key: jax.Array,
    loss: str = "mmd",
    sigmas: Sequence[float] | None = None,
    eps: float = 1e-8,
    callback: Callback | None = None,
    initial_layout: Sequence[int] | None = None,
    submit: Callable[[list[Any], Device, int], Any] | None = None,
    poll: Callable[[Any, Device], Any] | None = None,
    readout_mitigation: Any = None,
    run_id: str | None = None,
    checkpoint_path: str | None = None,
    progress: bool = False,
    **run_kwargs: Any,
) -> DeviceTrainResult:
    """Trains a QCBM with shot-based loss and parameter-shift gradients on ``device``.

    Args:
        model: a :class:`jqgen.QCBM`.
        params: initial parameters.
        data: training bitstrings ``[N, n]``; the target is their empirical distribution.
        device: where the circuits run (e.g. ``parse_device("local::testing", ...)``).
        shots: shots per circuit.
        steps: optimizer steps (each one :func:`run_batch` of ``2 * P + 2`` circuits).
        optimizer: an Optax ``GradientTransformation``.
        journal_path: the :class:`Journal` file (reused to resume).
        key: PRNG key; seeds the local provider's sampling per step.
        loss: ``"mmd"`` or ``"kl"`` (clipped at ``eps``).
        sigmas: MMD bandwidths (default :data:`jqgen.distributions.DEFAULT_SIGMAS`).
        callback: the runner's ``callback(steps_done, params, opt_state, history)`` after
            each step; an exception it raises stops training (the journal keeps everything
            done so far).
        initial_layout: forced logical -> physical layout for compilation.
        submit: injected into :func:`run_batch` (tests, fault injection, noise).
        poll: injected into :func:`run_batch` (tests, fault injection, noise).
        readout_mitigation: a calibrated ``ReadoutMit`` (:func:`calibrate_readout` on
            :meth:`CircuitTemplate` 's layout qubits): every histogram is mitigated
            (:func:`mitigate_counts`) before use; the journal keeps the raw counts.
        run_id: a label of this run in the journal's request tags (default: derived from
            ``key``), so one journal can hold several runs, and a journal reused with another
            key never hands this run another run's counts.
        checkpoint_path: optional runner checkpoint (resume without replaying the journal).
        progress: show a progress bar.
        run_kwargs: further :func:`run_batch` options (``retries``, ``backoff``, ``sleep``, ...).
    """
    if loss not in ("mmd", "kl"):
        raise ValueError(f"loss must be 'mmd' or 'kl', got {loss!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    shots = device.check_shots(shots)
    ansatz = _ansatz_of(model)
    params = {k: jnp.asarray(v) for k, v in params.items()}
    ansatz.check_params(params)
    check_finite(params, "params")
    n = int(ansatz.num_qubits)
    target = np.asarray(empirical_distribution(jnp.asarray(data), n, jnp.float32), np.float64)
    template = CircuitTemplate(model, device, initial_layout=initial_layout)
    num = int(ravel_pytree(params)[0].shape[0])
    if num != template.num_params:
        raise ValueError(f"params have {num} angles but the circuit has {template.num_params}")
    journal = Journal(journal_path)
    if run_id is None:
        run_id = hashlib.sha256(np.asarray(jax.random.key_data(key)).tobytes()).hexdigest()[:16]
    submitted = [0]
    strategy = parameter_shift_strategy(
        model, params, target, device, shots=shots, optimizer=optimizer, journal=journal, template=template,
        loss=loss, sigmas=DEFAULT_SIGMAS if sigmas is None else tuple(sigmas), eps=eps, run_id=run_id,
        submitted=submitted, submit=submit, poll=poll, readout_mitigation=readout_mitigation, run_kwargs=run_kwargs)
    res = run(strategy, params, np.asarray(data), key=key, steps=steps, model=model, checkpoint_path=checkpoint_path,
              callback=callback, progress=progress, desc=f"{device.spec}")
    return DeviceTrainResult(res.params, res.history, journal.budget(), submitted[0], journal.path, res.state)
