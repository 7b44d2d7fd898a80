"""The test harness runs JAX in its default mode, as users do: float32, x64 off, with strict
dtype promotion.

Tests that need float64 ask for it with ``@pytest.mark.float64`` (tests/conftest.py); none
may switch ``jax_enable_x64`` on for the whole suite.
"""

import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest


def _process_wide_x64() -> bool:
    """``jax_enable_x64`` as a new thread sees it (not a thread-local enable_x64 context)."""
    out = []
    t = threading.Thread(target=lambda: out.append(bool(jax.config.jax_enable_x64)))
    t.start()
    t.join()
    return out[0]


def test_the_default_mode_is_float32():
    assert not jax.config.jax_enable_x64 and not _process_wide_x64()
    assert jnp.asarray(1.0).dtype == jnp.float32 and jnp.zeros(3).dtype == jnp.float32
    assert jnp.asarray(np.float64(1.0)).dtype == jnp.float32  # numpy float64 data becomes float32
    assert jnp.arange(3).dtype == jnp.int32
    assert jax.random.normal(jax.random.key(0), (2,)).dtype == jnp.float32


@pytest.mark.float64
def test_the_float64_marker_enables_x64_for_the_test_only():
    assert jax.config.jax_enable_x64 and jnp.asarray(1.0).dtype == jnp.float64
    assert not _process_wide_x64()  # thread-local: the process-wide flag stays off


def test_strict_dtype_promotion_is_on():
    with pytest.raises(jax.dtypes.TypePromotionError):
        jnp.float32(1) + jnp.complex64(1)
