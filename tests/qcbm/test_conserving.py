"""The Hamming-weight-conserving QCBM (jqgen.qcbm.ConservingQCBM with the Givens ansatz).

References are independent of the subspace kernel: a dense numpy statevector of all 2**n
amplitudes with each gate applied as a 4x4 matrix on its two qubits (tensor reshapes), and
TensorCircuit's U1Circuit as the second engine.
"""

import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jqgen
from jqgen.qcbm import ConservingQCBM, Givens, subspace_bits, subspace_index, subspace_size
from tests.conftest import ALPHA, g_test_pvalue
from tests.test_compile_once import assert_second_call_compiles_nothing

OPTIONS = [dict(), dict(gate="xy"), dict(topology="all", phases="rz"),
           dict(topology="staircase", gate="xy", phases="rzz"), dict(topology="all", phases="rzz")]


def _gate_matrix(kind, t):
    """4x4 matrix on |x_i x_j> (basis 00, 01, 10, 11) of the mixing gate."""
    c, s = math.cos(t), math.sin(t)
    m = np.eye(4, dtype=complex)
    if kind == "givens":
        m[1, 1], m[2, 1], m[1, 2], m[2, 2] = c, s, -s, c
    else:  # exp(-i t (XX + YY) / 2)
        m[1, 1], m[2, 1], m[1, 2], m[2, 2] = c, -1j * s, -1j * s, c
    return m


def _apply(psi, m, qubits, n):
    t = np.moveaxis(psi.reshape((2,) * n), qubits, range(len(qubits)))
    shape = t.shape
    t = (m @ t.reshape(m.shape[0], -1)).reshape(shape)
    return np.moveaxis(t, range(len(qubits)), qubits).reshape(-1)


def dense_probs(a, params):
    """All 2**n probabilities of the Givens circuit by a full statevector (float64)."""
    n = a.num_qubits
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    psi = np.zeros(2**n, complex)
    psi[sum(1 << (n - 1 - q) for q in a.filled)] = 1
    for layer in range(a.layers):
        for m, e in enumerate(a.edges):
            psi = _apply(psi, _gate_matrix(a.gate, p["mix"][layer, m]), list(e), n)
        if a.phases != "none":
            for q in range(n):
                phi = p["rz"][layer, q]
                psi = _apply(psi, np.diag(np.exp([-0.5j * phi, 0.5j * phi])), [q], n)
        if a.phases == "rzz":
            for m, e in enumerate(a.edges):
                th = p["zz"][layer, m]
                psi = _apply(psi, np.diag(np.exp(-0.5j * th * np.array([1, -1, -1, 1]))), list(e), n)
    return np.abs(psi) ** 2


def _weights(n):
    return np.array([bin(x).count("1") for x in range(2**n)])


@pytest.mark.slow
@pytest.mark.float64
@pytest.mark.parametrize("engine", ["fused", "tensorcircuit"])
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(o.values()) or "givens-brick")
def test_agrees_with_the_full_statevector_projected_on_weight_k(opts, engine):
    a = Givens(5, 2, 2, **opts)
    m = ConservingQCBM(a, dtype=jnp.float64, engine=engine)
    params = m.init(jax.random.key(3))
    ref = dense_probs(a, params)
    assert np.abs(ref[_weights(5) != 2]).max() < 1e-14  # the reference conserves the weight too
    np.testing.assert_allclose(np.asarray(m.probs(params)), ref, atol=1e-12)
    np.testing.assert_allclose(np.asarray(m.subspace_probs(params)), ref[_weights(5) == 2], atol=1e-12)


@pytest.mark.parametrize("opts", [dict(), pytest.param(dict(gate="xy", phases="rz"), marks=pytest.mark.slow)],
                         ids=["givens", "xy-rz"])  # both engines also meet the float64 reference above
def test_engines_agree_in_float32_with_gradients(opts):
    a = Givens(5, 2, 2, **opts)
    fused, tc = ConservingQCBM(a), ConservingQCBM(a, engine="tensorcircuit")
    params = fused.init(jax.random.key(1))
    np.testing.assert_allclose(fused.subspace_probs(params), tc.subspace_probs(params), atol=2e-5)
    data = fused.sample(params, jax.random.key(2), 16)
    g1, g2 = (jax.grad(lambda p, m=m: -jnp.mean(m.log_prob(p, data)))(params) for m in (fused, tc))
    for k in g1:
        np.testing.assert_allclose(g1[k], g2[k], atol=2e-3, rtol=2e-3)


def test_probs_normalized_zero_off_weight_and_log_prob_matches():
    m = ConservingQCBM(Givens(6, 2, 3, topology="all"))
    params = m.init(jax.random.key(0))
    p = np.asarray(m.probs(params))
    assert p.sum() == pytest.approx(1, abs=1e-5)
    assert np.all(p[_weights(6) != 2] == 0) and np.all(p[_weights(6) == 2] > 0)
    lp = np.asarray(m.log_prob(params, jqgen.all_bitstrings(6)))
    assert np.all(np.isneginf(lp[_weights(6) != 2]))
    np.testing.assert_allclose(lp[_weights(6) == 2], np.log(p[_weights(6) == 2]), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(m.in_support(jqgen.all_bitstrings(6))), _weights(6) == 2)


@pytest.mark.slow
def test_wrong_weight_strings_give_minus_inf_and_a_zero_gradient_not_nan():
    m = ConservingQCBM(Givens(5, 2, 2, gate="xy", phases="rz"))
    params = m.init(jax.random.key(0))
    bad = jnp.array([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0]], jnp.uint8)
    assert np.all(np.isneginf(np.asarray(m.log_prob(params, bad))))
    g = jax.grad(lambda p: jnp.sum(m.log_prob(p, bad)))(params)
    assert all(np.all(np.asarray(v) == 0) for v in g.values())


@pytest.mark.slow
@settings(max_examples=4, deadline=None)  # each example compiles a new circuit
@given(n=st.integers(2, 6), data=st.data())
def test_every_sample_has_weight_k_and_the_index_maps_round_trip(n, data):
    k = data.draw(st.integers(0, n))
    topology = data.draw(st.sampled_from(["brick", "staircase", "all"]))
    m = ConservingQCBM(Givens(n, k, 1, topology=topology))
    params = m.init(jax.random.key(data.draw(st.integers(0, 5))))
    samples = np.asarray(m.sample(params, jax.random.key(1), 64))
    assert samples.dtype == np.uint8 and samples.shape == (64, n) and np.all(samples.sum(1) == k)
    bits = np.asarray(subspace_bits(np.arange(subspace_size(n, k)), n, k))
    expected = np.array([x for x in range(2**n) if bin(x).count("1") == k])
    np.testing.assert_array_equal(np.asarray(jqgen.bits_to_index(bits)), expected)  # increasing big-endian order
    np.testing.assert_array_equal(np.asarray(subspace_index(bits, k)), np.arange(expected.size))


def test_sampling_matches_probabilities():
    m = ConservingQCBM(Givens(6, 3, 3, topology="all"))
    params = m.init(jax.random.key(4))
    p = np.asarray(m.probs(params), np.float64)
    p /= p.sum()
    samples = np.asarray(m.sample(params, jax.random.key(5), 20000))
    assert g_test_pvalue(samples, p) > ALPHA
    q = p * (1 + 0.1 * np.where(np.arange(p.size) % 2, 1, -1))  # a 10 % distortion is rejected
    assert g_test_pvalue(samples, q / q.sum()) < 1e-6
    counts = np.asarray(m.sample_counts(params, jax.random.key(6), 5000))
    assert counts.shape == (20,) and counts.sum() == 5000


@pytest.mark.slow
def test_jit_vmap_grad_agree_with_eager():
    m = ConservingQCBM(Givens(5, 2, 2, phases="rzz"))
    params = m.init(jax.random.key(0))
    bits = m.sample(params, jax.random.key(1), 8)
    np.testing.assert_allclose(jax.jit(m.log_prob)(params, bits), m.log_prob(params, bits), rtol=1e-6)
    np.testing.assert_allclose(jax.jit(m.probs)(params), m.probs(params), atol=1e-7)
    np.testing.assert_array_equal(jax.jit(m.sample, static_argnums=2)(params, jax.random.key(1), 8), bits)
    keys = jax.random.split(jax.random.key(2), 3)
    batch = jax.vmap(m.init)(keys)
    vp = jax.vmap(m.subspace_probs)(batch)
    for i in range(3):
        np.testing.assert_allclose(vp[i], m.subspace_probs(m.init(keys[i])), atol=1e-6)
    nll = lambda p: -jnp.mean(m.log_prob(p, bits))
    g, gj = jax.grad(nll)(params), jax.jit(jax.grad(nll))(params)
    for k in g:
        np.testing.assert_allclose(g[k], gj[k], atol=1e-5)


@pytest.mark.slow
@pytest.mark.float64
@pytest.mark.parametrize("opts", [dict(), dict(gate="xy", phases="rzz", topology="all")], ids=["givens", "xy-rzz"])
def test_gradient_matches_finite_differences(opts):
    m = ConservingQCBM(Givens(5, 2, 2, **opts), dtype=jnp.float64)
    params = m.init(jax.random.key(0))
    bits = m.sample(params, jax.random.key(1), 10)
    nll = lambda p: -jnp.mean(m.log_prob(p, bits))
    g = jax.grad(nll)(params)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    gf = jax.flatten_util.ravel_pytree(g)[0]
    eps = 1e-6
    for j in range(0, flat.size, 3):
        e = jnp.zeros_like(flat).at[j].set(eps)
        fd = (nll(unravel(flat + e)) - nll(unravel(flat - e))) / (2 * eps)
        assert float(gf[j]) == pytest.approx(float(fd), abs=1e-6)


@pytest.mark.parametrize("call", [
    lambda m, p: m.probs(p),
    lambda m, p: m.subspace_probs(p),
    lambda m, p: m.log_prob(p, jnp.array([[1, 1, 0, 0, 0, 0]], jnp.uint8)),
    lambda m, p: m.sample(p, jax.random.key(0), 7),
    lambda m, p: m.sample_counts(p, jax.random.key(0), 9),
], ids=["probs", "subspace_probs", "log_prob", "sample", "sample_counts"])
def test_compile_once(call):
    assert_second_call_compiles_nothing(lambda: ConservingQCBM(Givens(6, 2, 2, phases="rz")), call)


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_qubits=4, weight=5, layers=1), "weight must be an int in \\[0, num_qubits\\] = \\[0, 4\\], got 5"),
    (dict(num_qubits=4, weight=-1, layers=1), "got -1"),
    (dict(num_qubits=4, weight=2, layers=0), "layers must be an int >= 1, got 0"),
    (dict(num_qubits=4, weight=2, layers=1, topology="ring"), "topology must be one of .* got 'ring'"),
    (dict(num_qubits=4, weight=2, layers=1, gate="cnot"), "gate must be one of .* got 'cnot'"),
    (dict(num_qubits=4, weight=2, layers=1, filled=(0, 0)), "filled must be 2 distinct qubits"),
    (dict(num_qubits=64, weight=2, layers=1), "at most 63, got 64"),
])
def test_bad_ansatz_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Givens(**kwargs)


def test_bad_inputs_raise_value_errors_naming_the_value():
    m = ConservingQCBM(Givens(4, 2, 1))
    params = m.init(jax.random.key(0))
    with pytest.raises(ValueError, match="width 3"):
        m.log_prob(params, np.zeros((2, 3), np.uint8))
    with pytest.raises(ValueError, match="found 2"):
        m.log_prob(params, np.array([[0, 2, 1, 0]]))
    with pytest.raises(ValueError, match="found 2"):
        m.in_support(np.array([[0, 2, 1, 0]]))
    for num in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="num must be a positive int"):
            m.sample(params, jax.random.key(0), num)
    with pytest.raises(ValueError, match="non-finite"):
        m.probs({"mix": params["mix"].at[0, 0].set(jnp.nan)})
    with pytest.raises(ValueError, match="must have shape"):
        m.probs({"mix": jnp.zeros((2, 3))})
    with pytest.raises(ValueError, match="index must be in \\[0, C\\(4, 2\\) = 6\\), got 6"):
        subspace_bits([6], 4, 2)
    with pytest.raises(ValueError, match="weight must be an int in \\[0, num_bits\\] = \\[0, 4\\], got 7"):
        subspace_index(np.zeros((1, 4), np.uint8), 7)


def test_memory_guard_and_dense_limit_name_the_size():
    with pytest.raises(ValueError, match="C\\(40, 10\\) = 847660528 amplitudes"):
        ConservingQCBM(Givens(40, 10, 2))
    with pytest.raises(ValueError, match="C\\(20, 5\\) = 15504 amplitudes; a training step needs .* but 1.0 KiB"):
        ConservingQCBM(Givens(20, 5, 2), max_bytes=1024)
    with pytest.raises(ValueError, match="needs 64-bit integers for num_qubits > 30"):
        ConservingQCBM(Givens(32, 2, 1), engine="tensorcircuit")
    m = ConservingQCBM(Givens(26, 1, 1))
    with pytest.raises(ValueError, match="n = 26 exceeds 24: use subspace_probs"):
        m.probs(m.init(jax.random.key(0)))


@pytest.mark.slow
def test_thirty_two_qubits_weight_four():
    m = ConservingQCBM(Givens(32, 4, 2))
    assert m.subspace_size == 35960
    params = m.init(jax.random.key(0))
    p = m.subspace_probs(params)
    assert p.shape == (35960,) and float(p.sum()) == pytest.approx(1, abs=1e-4)
    samples = m.sample(params, jax.random.key(1), 100)
    assert np.all(np.asarray(samples).sum(1) == 4)
    value, grads = jax.value_and_grad(lambda q: -jnp.mean(m.log_prob(q, samples)))(params)
    assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(grads["mix"])))


def test_config_and_checkpoint_round_trip(tmp_path):
    m = ConservingQCBM(Givens(6, 2, 2, topology="all", gate="xy", phases="rzz", filled=(4, 0)), init_scale=0.5)
    assert m.ansatz.filled == (0, 4)
    again = ConservingQCBM.from_config(json.loads(json.dumps(m.config())))
    assert again == m and hash(again) == hash(m) and m.config()["family"] == "qcbm-conserving"
    with pytest.raises(ValueError, match="must be 'qcbm-conserving'"):
        ConservingQCBM.from_config({**m.config(), "family": "qcbm"})
    params = m.init(jax.random.key(0))
    path = jqgen.save_checkpoint(os.path.join(tmp_path, "c.npz"), m, params)
    ck = jqgen.load_checkpoint(path)
    assert ck.model == m
    for k in params:
        np.testing.assert_array_equal(ck.params[k], params[k])


@pytest.mark.slow
def test_fit_learns_a_weight_k_distribution_and_other_trainers_run():
    data = np.array([[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 1, 0, 0, 0, 1]] * 4, np.uint8)
    m = ConservingQCBM(Givens(6, 2, 3, topology="all"))
    params = m.init(jax.random.key(0))
    res = jqgen.fit(m, params, data, optax.adam(0.1), key=jax.random.key(1), steps=150, progress=False)
    assert jqgen.mean_nll(m, res.params, data) < math.log(3) + 0.1 < jqgen.mean_nll(m, params, data)
    loss = jqgen.qcbm.make_loss(m, "mmd")
    res = jqgen.fit(m, params, data, optax.adam(0.05), key=jax.random.key(1), steps=5, loss=loss, progress=False)
    assert res.history.shape == (5,) and np.all(np.isfinite(res.history))
    res = jqgen.cmaes_fit(m, params, data, key=jax.random.key(2), generations=5, loss="kl", progress=False)
    assert np.all(np.isfinite(res.history))
    with pytest.raises(ValueError, match="parameter-shift rule needs a jqgen.QCBM"):
        jqgen.qcbm.make_loss(m, "mmd", shots=100)
