"""TensorCircuit's global settings: jqgen selects them only inside ``jqgen.qcbm.tc_settings``
and leaves the caller's backend, dtype and JAX's ``jax_enable_x64`` as they were."""

import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jqgen
from jqgen.qcbm import tc_settings
from jqgen.qcbm._tc import tensorcircuit

JQGEN = pathlib.Path(jqgen.__file__).parent


def _global_x64():
    from jqgen.qcbm._tc import _global_x64

    return _global_x64()


@pytest.fixture
def user_settings():
    """The test plays a user who picks TensorCircuit's backend and dtype and JAX's x64 flag
    (process-wide); everything is put back afterwards."""
    tc = tensorcircuit()
    saved = (tc.backend.name, tc.dtypestr, _global_x64())

    def pick(backend, dtype, x64):
        tc.set_backend(backend)
        tc.set_dtype(dtype)  # TensorCircuit sets jax_enable_x64 here; the user then sets theirs
        jax.config.update("jax_enable_x64", x64)
        return tc

    yield pick
    tc.set_backend(saved[0])
    tc.set_dtype(saved[1])
    jax.config.update("jax_enable_x64", saved[2])


def _jqgen_uses_tensorcircuit(tmp_path, dtype):
    """Everything in jqgen that runs TensorCircuit: the tensorcircuit engine, export,
    hardware compilation, binding and a local run."""
    a = jqgen.qcbm.HardwareEfficient(3, 1)
    model = jqgen.QCBM(a, dtype=dtype, engine="tensorcircuit")
    params = model.init(jax.random.key(0))
    p = np.asarray(model.probs(params))
    c = jqgen.qcbm.tc_circuit(a, params)
    assert c.gate_count() == 14
    np.testing.assert_allclose(np.abs(np.asarray(c.state())) ** 2, p, atol=1e-5)
    pytest.importorskip("qiskit")
    from jqgen import hardware

    dev = hardware.Device.local(3)
    compiled = hardware.compile_qcbm(model, params, dev)
    compiled.tc_circuit()
    hardware.bind(model, params)
    (counts,) = hardware.run_batch([compiled], dev, 50, hardware.Journal(tmp_path / "j.jsonl"), ["t"],
                                   submit=hardware.seeded_submit(None, 0))
    assert sum(counts.values()) == 50


# complex128 gates need x64 (TensorCircuit's set_dtype("complex128") switches it on).
@pytest.mark.slow
@pytest.mark.parametrize("backend, dtype, x64", [
    ("numpy", "complex64", False), ("numpy", "complex64", True), ("numpy", "complex128", True),
    ("jax", "complex64", False), ("jax", "complex128", True),
])
def test_the_callers_settings_survive_every_use(user_settings, tmp_path, backend, dtype, x64):
    tc = user_settings(backend, dtype, x64)
    _jqgen_uses_tensorcircuit(tmp_path, jnp.float32)
    if x64:
        _jqgen_uses_tensorcircuit(tmp_path, jnp.float64)
    assert (tc.backend.name, tc.dtypestr, _global_x64()) == (backend, dtype, x64)
    assert bool(jax.config.jax_enable_x64) == x64


def test_a_float64_circuit_keeps_the_callers_x64_inside_and_after(user_settings):
    """complex128 gates need TensorCircuit's set_dtype, which sets jax_enable_x64 globally."""
    tc = user_settings("numpy", "complex64", True)
    a = jqgen.qcbm.HardwareEfficient(3, 1)
    with jax.enable_x64(False):  # a caller's x64 context (thread-local) differs from the global flag
        assert tc_settings is jqgen.qcbm.tc_settings
        with tc_settings("jax", "complex128"):
            assert not jax.config.jax_enable_x64 and _global_x64()
        assert not jax.config.jax_enable_x64
    assert _global_x64() and tc.dtypestr == "complex64"
    s = jqgen.QCBM(a, dtype=jnp.float64, engine="tensorcircuit").state(
        jqgen.QCBM(a, dtype=jnp.float64).init(jax.random.key(1)))
    assert s.dtype == jnp.complex128 and _global_x64() and tc.backend.name == "numpy"


def test_settings_apply_inside_the_block_and_are_restored_when_it_raises(user_settings):
    tc = user_settings("numpy", "complex64", False)
    with pytest.raises(RuntimeError, match="boom"):
        with tc_settings(backend="jax", dtype="complex128") as inner:
            assert inner is tc and (tc.backend.name, tc.dtypestr) == ("jax", "complex128")
            assert not jax.config.jax_enable_x64  # the caller's flag, not set_dtype's
            with tc_settings(backend="numpy", dtype=None):
                assert (tc.backend.name, tc.dtypestr) == ("numpy", "complex128")
            assert tc.backend.name == "jax"
            raise RuntimeError("boom")
    assert (tc.backend.name, tc.dtypestr, _global_x64()) == ("numpy", "complex64", False)
    with tc_settings(backend=None, dtype=None):
        assert (tc.backend.name, tc.dtypestr) == ("numpy", "complex64")


def test_bad_settings_change_nothing(user_settings):
    tc = user_settings("numpy", "complex64", True)
    with pytest.raises(ValueError, match="dtype"):
        with tc_settings(dtype="float16"):
            pass
    with pytest.raises(ValueError):
        with tc_settings(backend="no-such-backend"):
            pass
    assert (tc.backend.name, tc.dtypestr, _global_x64()) == ("numpy", "complex64", True)


def _sources():
    return sorted(JQGEN.rglob("*.py"))


def test_no_private_jax_imports():
    hits = [f"{p.relative_to(JQGEN.parent)}:{i}" for p in _sources()
            for i, line in enumerate(p.read_text().splitlines(), 1) if "jax._src" in line]
    assert hits == []


def test_only_one_module_sets_tensorcircuit_settings():
    pattern = re.compile(r"set_backend|set_dtype")
    modules = {str(p.relative_to(JQGEN.parent)) for p in _sources() if pattern.search(p.read_text())}
    assert modules == {"jqgen/qcbm/_tc.py"}
