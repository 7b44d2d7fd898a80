"""Strict test harness: float64 available (models still default to float32), strict dtype
promotion (no silent float32 -> float64 or real -> complex mixing) and warnings as errors
(set in pyproject.toml)."""

import os

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)
os.environ["JQGEN_COMPILE_CACHE"] = "none"  # in-process CLI calls: no on-disk compile cache


@pytest.fixture(autouse=True)
def strict_dtype_promotion():
    """jqgen's own code runs under strict promotion (``jqgen.fit`` runs the Optax update,
    which mixes Python floats and int32 counts, under standard promotion itself)."""
    with jax.numpy_dtype_promotion("strict"):
        yield

settings.register_profile(
    "default",
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


@pytest.fixture
def shared_data():
    """Path of ../shared/data (the project's real data sets); skips when absent."""
    path = os.path.abspath(SHARED_DATA)
    if not os.path.isdir(path):
        pytest.skip("../shared/data is not present")
    return path


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
