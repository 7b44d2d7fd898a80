"""Training a QCBM on a device: shot-based losses and parameter-shift gradients.

:func:`train_on_device` runs, per step, one :func:`run_batch` call holding every circuit
of the step: two unshifted circuits (``role`` ``"loss"``: the reported loss; ``"dloss"``:
an independent histogram at which ``dL/dp`` is taken, as in
:func:`jqgen.qcbm.make_loss`) and ``2 * P`` shifted circuits (tag ``{"step": s, "k": k,
"sign": +1 | -1}``, angle ``k`` of the flat parameter vector moved by ``+-pi/2``). Every
angle of jqgen's ansätze enters through one Pauli rotation, so
``dL/dtheta_k = sum_x g(x) [p_{theta + pi/2 e_k}(x) - p_{theta - pi/2 e_k}(x)] / 2``
exactly in expectation (``g = dL/dp``). The Optax update runs on the host.

Compilation is done once (:class:`CircuitTemplate`): the circuit is transpiled with free
qiskit ``Parameter`` s and each circuit of a step is the template with angles assigned, so
a step costs no transpilation.

Resuming: the journal keys every circuit by (circuit hash, shots, device, tag); a run
restarted with the same journal, model, initial parameters, data, optimizer, shots and
key replays the journaled steps from their counts (nothing is resubmitted) and continues.
For the ``local`` provider, each submission seeds TensorCircuit's sampler from
``(key, step, submission number within the step)``, so the continued run reaches the
same parameters and losses as an uninterrupted one. Real providers draw fresh shots.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from typing import Any, Callable, Iterator, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ._compile import Compiled, _ansatz_of, _transpile, circuit_hash, params_hash, to_qiskit
from ._device import Device
from ._journal import Journal

__all__ = ["CircuitTemplate", "DeviceTrainResult", "counts_to_probs", "seeded_submit", "train_on_device"]


def counts_to_probs(counts: Mapping[str, Any], num_bits: int) -> np.ndarray:
    """Logical big-endian counts -> normalized ``[2**num_bits]`` float64 vector (row order of
    :meth:`jqgen.QCBM.probs`)."""
    p = np.zeros(2**num_bits, np.float64)
    for k, c in counts.items():
        if len(k) != num_bits:
            raise ValueError(f"counts key {k!r} does not have {num_bits} bits")
        p[int(k, 2)] += float(c)
    s = p.sum()
    if s <= 0:
        raise ValueError("counts are empty")
    return p / s


def _flat_index_params(ansatz: Any) -> tuple[dict[str, np.ndarray], int]:
    """Params whose elements are their own index in ``ravel_pytree`` order (sorted keys)."""
    out, off = {}, 0
    for k, shape in sorted(ansatz.param_shapes().items()):
        size = int(np.prod(shape))
        out[k] = np.arange(off, off + size).reshape(shape)
        off += size
    return out, off


class CircuitTemplate:
    """A QCBM's circuit compiled once for a device with free angles; :meth:`bind` assigns
    a flat angle vector (``ravel_pytree`` order of the params) and returns a
    :class:`Compiled` circuit without transpiling again.

    Args:
        model: a :class:`jqgen.QCBM` or bare ansatz.
        device: the target :class:`Device`.
        initial_layout, seed: as in :func:`jqgen.hardware.compile_circuit`.
    """

    def __init__(self, model: Any, device: Device, *, initial_layout: Sequence[int] | None = None, seed: int = 0) -> None:
        from qiskit.circuit import ParameterVector

        from jqgen.qcbm import ops

        ansatz = _ansatz_of(model)
        n = int(ansatz.num_qubits)
        if n > device.num_qubits:
            raise ValueError(f"circuit has {n} qubits, more than {device.spec} has ({device.num_qubits})")
        idx, num = _flat_index_params(ansatz)
        theta = ParameterVector("theta", num)
        used: set[int] = set()

        def parameter(index: Any) -> Any:
            k = int(index)
            if k in used:
                raise ValueError(f"parameter {k} drives two gates: the two-term shift rule does not apply")
            used.add(k)
            return theta[k]

        qc = to_qiskit(n, ops(ansatz, idx), parameter)
        out, self.layout = _transpile(qc, device, initial_layout, seed)
        self.circuit = out
        self.device = device
        self.num_logical = n
        self.num_params = num
        self._params = list(out.parameters)
        self._index = np.array([p.index for p in self._params], dtype=np.int64)

    def bind(self, flat: Any, params_hash_: str | None = None) -> Compiled:
        """The compiled circuit at the angles ``flat`` (``[num_params]``)."""
        flat = np.asarray(flat, np.float64).reshape(-1)
        if flat.shape[0] != self.num_params:
            raise ValueError(f"expected {self.num_params} angles, got {flat.shape[0]}")
        vals = [float(v) for v in flat[self._index]]
        bound = self.circuit.assign_parameters(vals, inplace=False)
        return _TemplateCompiled(bound, self.num_logical, self.layout, self.device, circuit_hash(bound, self.layout), params_hash_)


@contextlib.contextmanager
def _local_backend() -> Iterator[None]:
    """TensorCircuit's numpy backend as a context (the ``local`` provider's simulation of a
    few-qubit circuit is ~5x faster there than in eager JAX); restores the previous backend
    (and JAX's ``jax_enable_x64``) even when the body raises."""
    from jqgen.qcbm._tc import tensorcircuit

    tc = tensorcircuit()
    old = tc.backend.name
    x64 = bool(jax.config.jax_enable_x64)
    tc.set_backend("numpy")
    try:
        yield
    finally:
        tc.set_backend(old)
        if bool(jax.config.jax_enable_x64) != x64:
            jax.config.update("jax_enable_x64", x64)


class _TemplateCompiled(Compiled):
    """A :class:`Compiled` whose ``tc.Circuit`` is built on the numpy backend for ``local``."""

    def tc_circuit(self) -> Any:
        if self.device.provider != "local":
            return super().tc_circuit()
        with _local_backend():
            return super().tc_circuit()


def seeded_submit(submit: Callable[[list[Any], Device, int], Any] | None, seed: int) -> Callable[[list[Any], Device, int], Any]:
    """Wraps a ``submit`` (default: TensorCircuit's ``apis.submit_task``) so that each call
    first seeds TensorCircuit's backend random state (what ``local`` samples with) from
    ``(seed, call number)``: reproducible local shots. For ``local`` the call runs on
    TensorCircuit's numpy backend (faster for small circuits). Real providers: unchanged."""
    from ._runner import _default_submit

    inner = submit or _default_submit
    calls = [0]

    def wrapped(circuits: list[Any], device: Device, shots: int) -> Any:
        calls[0] += 1
        if device.provider != "local":
            return inner(circuits, device, shots)
        from jqgen.qcbm._tc import tensorcircuit

        tc = tensorcircuit()
        s = int(np.random.SeedSequence([int(seed), calls[0] - 1]).generate_state(1)[0] % (2**31 - 1))
        with _local_backend():
            tc.backend.set_random_state(s)
            return inner(circuits, device, shots)

    return wrapped


def _step_seed(key: jax.Array, step: int) -> int:
    k = jax.random.fold_in(key, step)
    return int(jax.random.randint(k, (), 0, 2**31 - 1))


@dataclasses.dataclass
class DeviceTrainResult:
    """What :func:`train_on_device` returns.

    Attributes:
        params: the final parameters.
        history: ``[steps]`` loss estimated from the ``"loss"`` circuit of each step.
        budget: ``Journal.budget()`` at the end (tasks and shots submitted, all runs).
        submitted: tasks this call submitted (0 for a fully journaled replay).
        journal_path: the journal file.
    """

    params: dict[str, jax.Array]
    history: np.ndarray
    budget: dict[str, int]
    submitted: int
    journal_path: str


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
    callback: Callable[[int, dict[str, jax.Array], float], Any] | None = None,
    initial_layout: Sequence[int] | None = None,
    submit: Callable[[list[Any], Device, int], Any] | None = None,
    poll: Callable[[Any, Device], Any] | None = None,
    readout_mitigation: Any = None,
    run_id: str | None = None,
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
        sigmas: MMD bandwidths (default :data:`jqgen.qcbm.DEFAULT_SIGMAS`).
        callback: ``callback(step, params_after_step, loss)`` after each step; an exception
            it raises stops training (the journal keeps everything done so far).
        initial_layout: forced logical -> physical layout for compilation.
        submit, poll: injected into :func:`run_batch` (tests, fault injection, noise).
        readout_mitigation: a calibrated ``ReadoutMit`` (:func:`calibrate_readout` on
            :meth:`CircuitTemplate` 's layout qubits): every histogram is mitigated
            (:func:`mitigate_counts`) before use; the journal keeps the raw counts.
        run_id: a label of this run in the journal's request tags (default: derived from
            ``key``), so one journal can hold several runs, and a journal reused with another
            key never hands this run another run's counts.
        run_kwargs: further :func:`run_batch` options (``retries``, ``backoff``, ``sleep``, ...).
    """
    from jqgen.qcbm import DEFAULT_SIGMAS, distribution_loss, empirical_distribution

    if loss not in ("mmd", "kl"):
        raise ValueError(f"loss must be 'mmd' or 'kl', got {loss!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    shots = device.check_shots(shots)
    ansatz = _ansatz_of(model)
    params = {k: jnp.asarray(v) for k, v in params.items()}
    ansatz.check_params(params)
    n = int(ansatz.num_qubits)
    from ._runner import run_batch

    f = distribution_loss(loss, sigmas=DEFAULT_SIGMAS if sigmas is None else tuple(sigmas), eps=eps)
    target = np.asarray(empirical_distribution(jnp.asarray(data), n, jnp.float32), np.float64)
    loss_fn = jax.jit(f)
    grad_fn = jax.jit(jax.grad(f))
    template = CircuitTemplate(model, device, initial_layout=initial_layout)
    flat0, unravel = ravel_pytree(params)
    dtype = flat0.dtype
    num = int(flat0.shape[0])
    if num != template.num_params:
        raise ValueError(f"params have {num} angles but the circuit has {template.num_params}")
    journal = Journal(journal_path)
    opt_state = optimizer.init(params)
    history: list[float] = []
    submitted = [0]

    def counting(inner: Callable[[list[Any], Device, int], Any]) -> Callable[[list[Any], Device, int], Any]:
        def wrapped(circuits: list[Any], dev: Device, s: int) -> Any:
            tasks = inner(circuits, dev, s)  # count only what the provider accepted
            submitted[0] += len(tasks) if isinstance(tasks, (list, tuple)) else 1
            return tasks

        return wrapped

    if run_id is None:
        run_id = hashlib.sha256(np.asarray(jax.random.key_data(key)).tobytes()).hexdigest()[:16]
    shift = np.pi / 2
    eye = np.eye(num) * shift
    tgt = jnp.asarray(target, jnp.float32)
    for step in range(steps):
        flat = np.asarray(ravel_pytree(params)[0], np.float64)
        ph = params_hash(params)
        thetas = [flat, flat] + [flat + eye[k] for k in range(num)] + [flat - eye[k] for k in range(num)]
        tags: list[Any] = [{"run": run_id, "step": step, "role": "loss"}, {"run": run_id, "step": step, "role": "dloss"}]
        tags += [{"run": run_id, "step": step, "k": k, "sign": sign} for sign in (1, -1) for k in range(num)]
        circuits = [template.bind(t, ph if i < 2 else None) for i, t in enumerate(thetas)]
        counts = run_batch(
            circuits, device, shots, journal, tags,
            submit=counting(seeded_submit(submit, _step_seed(key, step))), poll=poll, **run_kwargs,
        )
        if readout_mitigation is not None:
            from ._mitigation import mitigate_counts

            counts = [mitigate_counts(readout_mitigation, c, template.layout) for c in counts]
        probs = np.stack([counts_to_probs(c, n) for c in counts])
        value = float(loss_fn(jnp.asarray(probs[0], jnp.float32), tgt))
        g = np.asarray(grad_fn(jnp.asarray(probs[1], jnp.float32), tgt), np.float64)
        shifted = probs[2:] @ g
        grad_flat = (shifted[:num] - shifted[num:]) / 2
        grads = unravel(jnp.asarray(grad_flat, dtype))
        with jax.numpy_dtype_promotion("standard"):  # Optax mixes Python floats and int32 counts
            updates, opt_state = optimizer.update(grads, opt_state, params)
        params = jax.tree_util.tree_map(lambda p, u: (p + u).astype(p.dtype), params, updates)
        history.append(value)
        if callback is not None:
            callback(step, params, value)
    return DeviceTrainResult(params, np.asarray(history, np.float64), journal.budget(), submitted[0], journal.path)

