"""jqgen._random: draws of many-axis shapes, made flat and reshaped, are jax.random's own."""

import jax
import jax.numpy as jnp
import pytest

from jqgen import _random


@pytest.mark.slow  # each many-axis draw of the reference compiles for about a second
@pytest.mark.parametrize("impl", ["threefry2x32", "rbg"])
@pytest.mark.parametrize("shape", [(5, 3, 2, 3), (2, 1, 4, 3, 3), (7,), ()])
def test_flat_draws_equal_jax_random(impl, shape):
    key = jax.random.key(3, impl=impl)
    for dtype in (jnp.float32, jnp.bfloat16):
        assert jnp.array_equal(_random.normal(key, shape, dtype), jax.random.normal(key, shape, dtype))
        assert jnp.array_equal(_random.uniform(key, shape, dtype, -2.0, 3.0),
                               jax.random.uniform(key, shape, dtype, -2.0, 3.0))
    assert _random.normal(key, shape).shape == shape


@pytest.mark.slow
@pytest.mark.float64
def test_flat_draws_equal_jax_random_in_float64_and_without_partitionable_threefry():
    key = jax.random.key(0)
    with jax.threefry_partitionable(False):
        a, b = _random.normal(key, (4, 2, 3), jnp.float64), jax.random.normal(key, (4, 2, 3), jnp.float64)
    assert a.dtype == jnp.float64 and jnp.array_equal(a, b)
