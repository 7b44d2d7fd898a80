"""Circuits of a QCBM on a device: the once-compiled :class:`CircuitTemplate`, seeded local
submission, and counts -> probabilities.

Compilation is done once (:class:`CircuitTemplate`): the circuit is transpiled with free
qiskit ``Parameter`` s and each circuit of a training step is the template with angles
assigned, so a step costs no transpilation. :func:`seeded_submit` makes the ``local``
provider's shots reproducible (TensorCircuit's sampler seeded from ``(key, step,
submission number within the step)``), so a resumed run reaches the same parameters and
losses as an uninterrupted one; real providers draw fresh shots. The trainers are in
:mod:`jqgen.hardware._device_train` and :mod:`jqgen.hardware._cmaes_device`.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Sequence

import jax
import numpy as np

from .._checks import check_int
from ._compile import Compiled, _ansatz_of, _check_layout, _transpile, circuit_hash, to_qiskit
from ._device import Device

__all__ = ["CircuitTemplate", "seeded_submit"]


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
        initial_layout: as in :func:`jqgen.hardware.compile_circuit`.
        seed: as in :func:`jqgen.hardware.compile_circuit`.
    """

    def __init__(self, model: Any, device: Device, *, initial_layout: Sequence[int] | None = None, seed: int = 0) -> None:
        from qiskit.circuit import ParameterVector

        from jqgen.qcbm import ops

        ansatz = _ansatz_of(model)
        n = int(ansatz.num_qubits)
        if n > device.num_qubits:
            raise ValueError(f"circuit has {n} qubits, more than {device.spec} has ({device.num_qubits})")
        initial_layout = _check_layout(initial_layout, n, device)
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


def _local_backend() -> contextlib.AbstractContextManager[Any]:
    """TensorCircuit's numpy backend as a context yielding the ``tensorcircuit`` module (the
    ``local`` provider's simulation of a few-qubit circuit is ~5x faster there than in eager
    JAX): :func:`jqgen.qcbm.tc_settings`, which restores the previous backend, dtype and JAX's
    ``jax_enable_x64`` even when the body raises."""
    from jqgen.qcbm import tc_settings

    return tc_settings(backend="numpy", dtype=None)


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

    if submit is not None and not callable(submit):
        raise ValueError(f"submit must be None or a callable, got {type(submit).__name__}")
    seed = check_int(seed, "seed", 0)
    inner = submit or _default_submit
    calls = [0]

    def wrapped(circuits: list[Any], device: Device, shots: int) -> Any:
        calls[0] += 1
        if device.provider != "local":
            return inner(circuits, device, shots)
        s = int(np.random.SeedSequence([int(seed), calls[0] - 1]).generate_state(1)[0] % (2**31 - 1))
        with _local_backend() as tc:
            tc.backend.set_random_state(s)
            return inner(circuits, device, shots)

    return wrapped


def _step_seed(key: jax.Array, step: int) -> int:
    k = jax.random.fold_in(key, step)
    return int(jax.random.randint(k, (), 0, 2**31 - 1))
