"""Strict test harness, float32 by default as users run jqgen.

* JAX's default mode: ``jax_enable_x64`` stays off, so every test runs the float32 path that
  users get without configuring anything (tests/test_harness.py checks it). A test that
  needs float64 for what it checks (central finite differences, dense references at
  1e-10, float64 models) says so with ``@pytest.mark.float64``: it then runs inside
  ``with jax.enable_x64(True):`` (thread-local, undone after the test). Nothing may leave the
  process-wide flag switched on: that fails the test that did it.
* Strict dtype promotion (no silent float32 -> float64 or real -> complex mixing) and
  warnings as errors (set in pyproject.toml).

Shared helpers: :func:`dense_reference` (an independent numpy contraction of an MPS) and
:func:`g_test_pvalue` (goodness of fit of samples to exact probabilities, from
:mod:`jqgen.testing`).
"""

import os
import tempfile

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

os.environ["JQGEN_COMPILE_CACHE"] = "none"  # in-process CLI calls do not set a cache of their own

#: One on-disk XLA compilation cache for the whole test run, shared by the xdist workers and
#: the CLI subprocesses the tests start (``JQGEN_TEST_XLA_CACHE``, default a fresh directory
#: per run): many tests compile the same programs. Compile-once tests are unaffected: they
#: count XLA compile requests, which a disk hit still is (jax's backend_compile event).
XLA_CACHE = os.environ.get("JQGEN_TEST_XLA_CACHE") or os.path.join(
    tempfile.gettempdir(), f"jqgen-test-xla-{os.environ.get('PYTEST_XDIST_TESTRUNUID', os.getpid())}")
if XLA_CACHE.lower() != "none":
    jax.config.update("jax_compilation_cache_dir", XLA_CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)

def xla_cache_env() -> dict[str, str]:
    """Environment for a subprocess (a plain Python script) to share the run's XLA cache."""
    if XLA_CACHE.lower() == "none":
        return {}
    return {"JAX_COMPILATION_CACHE_DIR": XLA_CACHE, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0.2"}


@pytest.fixture(autouse=True)
def jax_mode(request):
    """float32 unless the test is marked ``float64``; afterwards, x64 is off process-wide."""
    if request.node.get_closest_marker("float64") is not None:
        with jax.enable_x64(True):
            yield
    else:
        yield
    assert not jax.config.jax_enable_x64, "the test left jax_enable_x64 on (use @pytest.mark.float64)"


@pytest.fixture(autouse=True)
def strict_dtype_promotion(jax_mode):
    """jqgen's own code runs under strict promotion (``jqgen.fit`` runs the Optax update,
    which mixes Python floats and int32 counts, under standard promotion itself)."""
    with jax.numpy_dtype_promotion("strict"):
        yield


settings.register_profile(
    "default",
    max_examples=8,  # many properties compile per example; HYPOTHESIS_PROFILE=thorough runs 200
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

#: The project's real data sets: ../shared/data next to the repository root.
SHARED_DATA = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "shared", "data"))


@pytest.fixture
def shared_data():
    """Path of ../shared/data (the project's real data sets); skips when absent."""
    if not os.path.isdir(SHARED_DATA):
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


def dense_reference(tensors: np.ndarray) -> np.ndarray:
    """Independent numpy contraction: amplitude of every bitstring by explicit products of
    the site matrices A_k[:, x_k, :] between boundary vectors e_0 (big-endian order)."""
    t = np.asarray(tensors)
    n = t.shape[0]
    out = np.empty(2**n, dtype=np.result_type(t.dtype, np.float64))
    for idx in range(2**n):
        v = t[0, 0, (idx >> (n - 1)) & 1, :]
        for k in range(1, n):
            v = v @ t[k, :, (idx >> (n - 1 - k)) & 1, :]
        out[idx] = v[0]
    return out


# Significance of the goodness-of-fit tests and the G-test: one implementation, the one users
# get (jqgen/testing/_stats.py). Seeds are fixed, so each test is a deterministic pass/fail;
# each test adds a power check (a distorted distribution must be rejected by a wide margin
# at its sample size).
from jqgen.testing._stats import ALPHA, g_test_pvalue  # noqa: E402  (re-exported for the tests)


#: Docstring examples that run long (a training run, a pipeline): the slow tier runs them
#: (``python -m pytest -m slow``); the default suite keeps to its time budget (README). Test
#: functions carry ``@pytest.mark.slow`` themselves; a doctest item has no decorator.
SLOW_DOCTESTS = frozenset({
    "jqgen.synergy._pipeline.pretrain", "jqgen.qcbm._model.QCBM", "jqgen.mps._u1_model.SymmetricMPSBornMachine",
    "jqgen.geo._loop.geo", "jqgen.evaluation._report.evaluate", "jqgen.training._sweep.sweep_train",
    "jqgen.mps._born.sample", "jqgen.mps._born.log_prob", "jqgen.geo._chang", "jqgen.qcbm._objective.make_loss",
    "jqgen.geo._anneal", "jqgen.training._cmaes.cmaes_fit", "jqgen.mps._model.MPSBornMachine", "jqgen.geo._qp",
    "jqgen.mps._u1_likelihood.log_amp_sq", "jqgen.mps._u1_likelihood.log_norm_sq",
    "jqgen.adversarial._train.adversarial", "jqgen.adversarial._networks.apply_discriminator",
    "jqgen.adversarial._device_prior.sample_on_device",
    # run by tests/test_testing.py and tests/test_protocol_conformance.py in the default tier
    "jqgen.testing._model_check.check_generative_model", "jqgen.testing._transforms.check_transforms",
})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Marks the doctests of :data:`SLOW_DOCTESTS` ``slow`` (before ``-m`` selects)."""
    from _pytest.doctest import DoctestItem

    for item in items:
        if isinstance(item, DoctestItem) and item.name in SLOW_DOCTESTS:
            item.add_marker(pytest.mark.slow)
