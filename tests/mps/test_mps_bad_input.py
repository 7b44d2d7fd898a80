"""Bad input raises ValueError naming the problem, eagerly and (via jqgen.checked) under jit."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jqgen

N = 6
MPS = jqgen.mps.random_mps(jax.random.key(0), N, 3)


@given(width=st.integers(1, 12).filter(lambda w: w != N), batch=st.integers(1, 4))
def test_wrong_bit_width(width, batch):
    with pytest.raises(ValueError, match=f"width {width}.*{N} sites"):
        jqgen.mps.log_prob(MPS, np.zeros((batch, width), np.uint8))


@given(
    hnp.arrays(np.int64, (3, N), elements=st.integers(-3, 5)).filter(
        lambda a: not np.isin(a, [0, 1]).all()
    )
)
def test_non_binary_values(bits):
    with pytest.raises(ValueError, match="only 0/1 values"):
        jqgen.mps.log_prob(MPS, bits)


def test_non_binary_floats_and_scalars():
    with pytest.raises(ValueError, match="only 0/1"):
        jqgen.mps.log_prob(MPS, np.full((1, N), 0.5))
    with pytest.raises(ValueError, match="scalar"):
        jqgen.mps.log_prob(MPS, np.uint8(1))


@pytest.mark.parametrize("chi", [0, -2, 1.5, True])
def test_bad_chi_max(chi):
    with pytest.raises(ValueError, match="chi_max"):
        jqgen.mps.random_mps(jax.random.key(0), 4, chi)
    with pytest.raises(ValueError, match="chi_max"):
        jqgen.MPSBornMachine(num_bits=4, chi_max=chi)


@pytest.mark.slow
def test_64_bit_model_dtypes_need_x64():
    """In JAX's default 32-bit mode a float64/complex128 model is refused (JAX would make
    float32 parameters, with a warning, for a model that claims float64)."""
    assert not jax.config.jax_enable_x64
    for dtype in (jnp.float64, jnp.complex128, "float64"):
        with pytest.raises(ValueError, match="needs 64-bit JAX.*jax_enable_x64"):
            jqgen.MPSBornMachine(4, 2, dtype=dtype)
    with jax.enable_x64(True):
        for dtype in (jnp.float64, jnp.complex128):
            model = jqgen.MPSBornMachine(4, 2, dtype=dtype)
            assert model.init(jax.random.key(0)).tensors.dtype == dtype


@pytest.mark.parametrize("n", [0, 1, -1, 2.0])
def test_bad_number_of_sites(n):
    with pytest.raises(ValueError, match="n \\(number of sites\\)"):
        jqgen.mps.random_mps(jax.random.key(0), n, 2)


@given(shape=hnp.array_shapes(min_dims=1, max_dims=5, max_side=4))
def test_mismatched_tensor_shapes(shape):
    arr = np.zeros(shape, np.float32)
    ok = len(shape) == 4 and shape[2] == 2 and shape[1] == shape[3] and shape[0] >= 2
    if ok:
        return
    with pytest.raises(ValueError):
        jqgen.mps.from_tensors(arr)
    with pytest.raises(ValueError, match="tensors"):
        jqgen.mps.log_prob(jqgen.mps.MPS(jnp.asarray(arr)), np.zeros((1, max(1, shape[0])), np.uint8))


@pytest.mark.slow
def test_mismatched_batch_shapes():
    keys = jax.random.split(jax.random.key(1), 3)
    batch = jax.vmap(lambda k: jqgen.mps.random_mps(k, N, 2))(keys)
    with pytest.raises(ValueError, match="shape \\[n, chi_max, 2, chi_max\\].*vmap"):
        jqgen.mps.log_prob(batch, np.zeros((3, N), np.uint8))  # forgot vmap
    with pytest.raises(ValueError):
        jax.vmap(jqgen.mps.log_prob)(batch, np.zeros((4, 1, N), np.uint8))  # 3 MPS, 4 bit batches
    model = jqgen.MPSBornMachine(N, 2)
    with pytest.raises(ValueError, match="width 5"):
        jqgen.fit(model, model.init(jax.random.key(0)), np.zeros((8, 5), np.uint8), optax.adam(0.1),
                  key=jax.random.key(0), steps=2, progress=False)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_parameters(bad):
    t = np.array(MPS.tensors)
    t[2, 0, 1, 0] = bad
    with pytest.raises(ValueError, match="non-finite"):
        jqgen.mps.log_prob(jqgen.mps.MPS(jnp.asarray(t)), np.zeros((1, N), np.uint8))
    with pytest.raises(ValueError, match="non-finite"):
        jqgen.mps.sample(jqgen.mps.MPS(jnp.asarray(t)), jax.random.key(0), 3)
    with pytest.raises(ValueError, match="non-finite"):
        jqgen.mps.from_tensors(t)


def test_bad_sample_count_and_centre():
    for num in (0, -1, 2.5, True, np.zeros(3)):  # numpy integers are accepted (issue 13)
        with pytest.raises(ValueError, match="num"):
            jqgen.mps.sample(MPS, jax.random.key(0), num)
    with pytest.raises(ValueError, match="center"):
        jqgen.mps.canonicalize(MPS, N)
    with pytest.raises(ValueError, match="n <= 20"):
        jqgen.mps.probs(jqgen.mps.random_mps(jax.random.key(0), 21, 1))
    with pytest.raises(ValueError, match="length 2\\*\\*n"):
        jqgen.mps.from_dense(np.ones(12))
    with pytest.raises(ValueError, match="zero vector"):
        jqgen.mps.from_dense(np.zeros(8))


def test_value_checks_under_jit_with_checked():
    f = jqgen.checked(jqgen.mps.log_prob)
    assert f(MPS, np.zeros((2, N), np.uint8)).shape == (2,)
    with pytest.raises(ValueError, match="0/1"):
        f(MPS, jnp.full((2, N), 2, jnp.int32))
    nan_mps = jqgen.mps.MPS(MPS.tensors.at[0, 0, 0, 0].set(jnp.nan))
    with pytest.raises(ValueError, match="NaN or inf"):
        f(nan_mps, np.zeros((2, N), np.uint8))
    # without checked(), a traced call does not raise (checks are no-ops)
    assert jax.jit(jqgen.mps.log_prob)(MPS, jnp.zeros((1, N), jnp.uint8)).shape == (1,)
