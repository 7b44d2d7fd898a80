"""jqgen's fused engine: fusion plans, every block width, adjoint against backprop, memory."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jqgen
from jqgen.distributions import kl_divergence
from jqgen.qcbm import QCBM, HardwareEfficient, LiuWang, SU4Brickwork
from jqgen.qcbm import _engine as E

from .test_qcbm_circuits import REFERENCE, ansatze


@pytest.fixture
def block_width(monkeypatch):
    """Sets the platform's block width ``k`` for one test."""
    def set_k(k):
        monkeypatch.setitem(E.BLOCK_QUBITS, jax.default_backend(), k)
    return set_k


def kl_grads(ansatz, params, gradient, target):
    def loss(p):
        psi = ansatz.state(p, gradient)
        return kl_divergence(target, jnp.real(psi) ** 2 + jnp.imag(psi) ** 2)
    return jax.jit(jax.value_and_grad(loss))(params)


def test_plan_fuses_rotations_into_pairs_and_cnot_runs_into_one_permutation():
    rot = [("u", (q,)) for q in range(5) for _ in range(3)]
    cnots = [("cnot", (i, i + 1)) for i in range(4)]
    blocks = E.plan(tuple(cnots + rot), 5, 2)
    assert [(b.kind, b.qubits) for b in blocks] == [("perm", ()), ("u", (0, 1)), ("u", (2, 3)), ("u", (4,))]
    # k = 3: CNOTs fold into dense blocks, no permutation; every gate lands in exactly one block
    blocks = E.plan(tuple(cnots + rot), 5, 3)
    assert all(b.kind == "u" and len(b.qubits) <= 3 for b in blocks)
    assert sorted(g for b in blocks for g in b.members) == list(range(len(cnots + rot)))


@pytest.mark.slow
@pytest.mark.float64
@settings(max_examples=12, deadline=None)
@given(ansatze(), st.integers(0, 2**31 - 1), st.integers(1, 4))
def test_every_block_width_matches_dense_reference_and_adjoint_equals_backprop_float64(ansatz, seed, k):
    # the monkeypatch fixture cannot be used under hypothesis; set and restore by hand
    old = E.BLOCK_QUBITS.get(jax.default_backend())
    E.BLOCK_QUBITS[jax.default_backend()] = k
    try:
        params = ansatz.init(jax.random.key(seed), jnp.float64)
        np.testing.assert_allclose(np.asarray(ansatz.state(params)), REFERENCE[type(ansatz)](ansatz, params), atol=1e-10)
        target = jnp.asarray(np.random.default_rng(seed).dirichlet(np.ones(2**ansatz.num_qubits)))
        va, ga = kl_grads(ansatz, params, "adjoint", target)
        vb, gb = kl_grads(ansatz, params, "backprop", target)
        assert abs(float(va - vb)) < 1e-12
        for name in ga:
            np.testing.assert_allclose(np.asarray(ga[name]), np.asarray(gb[name]), atol=1e-10)
    finally:
        E.BLOCK_QUBITS[jax.default_backend()] = old


@pytest.mark.slow
@pytest.mark.parametrize("ansatz", [LiuWang(8, 3), LiuWang(7, 2, ((3, 0), (0, 6), (6, 1), (1, 2), (2, 4), (4, 5))),
                                    SU4Brickwork(6, 2), HardwareEfficient(6, 2, "all")], ids=str)
def test_adjoint_equals_backprop_float32(ansatz):
    params = ansatz.init(jax.random.key(0))
    target = jnp.asarray(np.random.default_rng(0).dirichlet(np.ones(2**ansatz.num_qubits)), jnp.float32)
    _, ga = kl_grads(ansatz, params, "adjoint", target)
    _, gb = kl_grads(ansatz, params, "backprop", target)
    for name in ga:
        np.testing.assert_allclose(np.asarray(ga[name]), np.asarray(gb[name]), atol=1e-5)


@pytest.mark.slow  # two compiles: ~3 s on a quiet 2-core machine
def test_adjoint_equals_backprop_small_float32():
    ansatz = LiuWang(4, 2)
    params = ansatz.init(jax.random.key(1))
    target = jnp.asarray(np.random.default_rng(1).dirichlet(np.ones(16)), jnp.float32)
    _, ga = kl_grads(ansatz, params, "adjoint", target)
    _, gb = kl_grads(ansatz, params, "backprop", target)
    for name in ga:
        np.testing.assert_allclose(np.asarray(ga[name]), np.asarray(gb[name]), atol=1e-5)


def _temp_bytes(model, params):
    target = jnp.full((2**model.num_bits,), 2.0**-model.num_bits)
    f = jax.jit(jax.value_and_grad(lambda p: kl_divergence(target, model.probs(p))))
    return f.lower(params).compile().memory_analysis().temp_size_in_bytes


@pytest.mark.slow
def test_compiled_adjoint_memory_is_flat_in_depth_and_backprop_grows():
    n = 10
    sizes = {}
    for grad in ("adjoint", "backprop"):
        for layers in (2, 8):
            model = QCBM(LiuWang(n, layers), gradient=grad)
            sizes[grad, layers] = _temp_bytes(model, model.init(jax.random.key(0)))
    state = 2**n * 8
    assert sizes["adjoint", 8] - sizes["adjoint", 2] <= 2 * state, sizes
    assert sizes["backprop", 8] - sizes["backprop", 2] >= 6 * state, sizes  # one state per layer at least


def test_memory_guard_counts_the_gradient_method_and_names_the_largest_n():
    a = LiuWang(12, 16)
    have = QCBM(a).step_bytes()
    QCBM(a, max_bytes=have)  # adjoint: fits exactly
    largest = QCBM(LiuWang(4, 16), gradient="backprop").max_qubits(have)
    assert largest < 12 and QCBM(LiuWang(largest, 16), gradient="backprop").step_bytes() <= have
    assert QCBM(LiuWang(largest + 1, 16), gradient="backprop").step_bytes() > have
    with pytest.raises(ValueError, match=rf"backprop gradients and 16 layers.*use at most {largest} qubits"):
        QCBM(a, gradient="backprop", max_bytes=have)
    assert QCBM(a, max_bytes=have).max_qubits(have) == 12
    assert QCBM(LiuWang(12, 64)).step_bytes() == QCBM(LiuWang(12, 1)).step_bytes()  # flat in depth
    with pytest.raises(ValueError, match="gradient must be"):
        QCBM(a, gradient="parameter-shift")


def test_config_round_trips_the_gradient_method():
    model = QCBM(SU4Brickwork(4, 2), gradient="backprop")
    assert QCBM.from_config(model.config()) == model
    cfg = model.config()
    cfg.pop("gradient")
    assert QCBM.from_config(cfg).gradient == "adjoint"


@pytest.mark.slow  # two compiles, ~3-12 s at this machine's load
@pytest.mark.float64
@pytest.mark.parametrize("kw", [{}, {"gate": "xy", "phases": "rzz", "topology": "all"}], ids=str)
def test_givens_adjoint_equals_backprop_float64(kw):
    a = jqgen.qcbm.Givens(6, 2, 3, **kw)
    params = a.init(jax.random.key(0), jnp.float64)
    w = jnp.arange(a.subspace_size, dtype=jnp.float64) ** 1.5

    def grads(gradient):
        return jax.jit(jax.grad(lambda p: jnp.sum(jnp.abs(a.state(p, gradient)) ** 2 * w)))(params)

    ga, gb = grads("adjoint"), grads("backprop")
    for name in ga:
        np.testing.assert_allclose(np.asarray(ga[name]), np.asarray(gb[name]), atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 7), data=st.data())
def test_cnot_index_equals_the_numpy_permutation_and_apply_cnots_permutes(n, data):
    from jqgen.qcbm import _gates as G

    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    cnots = data.draw(st.lists(pairs, max_size=8))
    perm = G.cnot_permutation(n, cnots)
    np.testing.assert_array_equal(np.asarray(G.cnot_index(n, cnots)), perm)
    psi = jnp.asarray(np.random.default_rng(n).normal(size=2**n), jnp.float32)
    out = np.asarray(G.apply_cnots(psi, cnots, n))
    expected = np.zeros(2**n, np.float32)
    expected[perm] = np.asarray(psi)  # CNOTs |x> = |perm[x]>
    np.testing.assert_array_equal(out, expected)
    # the VJP is the transpose: <P^T ct, psi> = <ct, P psi>
    ct = jnp.asarray(np.random.default_rng(n + 1).normal(size=2**n), jnp.float32)
    (back,) = jax.vjp(lambda x: G.apply_cnots(x, cnots, n), psi)[1](ct)
    np.testing.assert_allclose(float(jnp.vdot(back, psi)), float(jnp.vdot(ct, out)), rtol=1e-5)


def test_angle_ids_locate_plain_parameters_and_refuse_computed_angles():
    a = LiuWang(4, 2)
    example = {k: v[0] for k, v in a.block_params(a.init(jax.random.key(0))).items()}
    gates = lambda p: E.gates_from_ops(a.block_ops(p))  # noqa: E731
    ids = E.angle_ids(gates, example)
    rotations = [i for i, g in enumerate(gates(example)) if g.kind == "u"]
    assert [ids[i] for i in rotations] == list(range(12))  # rot [4, 3] raveled, in the ops' order
    doubled = lambda p: [E.Gate("u", (0,), E.Rotation("rx", 2 * p["rot"][0, 0])),  # noqa: E731
                         E.Gate("u", (1,), E.Rotation("rx", p["rot"][1, 0] + 7))]
    assert E.angle_ids(doubled, example) == [None, None]
    # the traced fallback gives the same block values as the located angles
    blocks = E.plan(tuple((g.kind, g.qubits) for g in gates(example)), 4, 2)
    located = E.BlockValues(blocks, gates(example), jnp.complex64, ids)
    traced = E.BlockValues(blocks, gates(example), jnp.complex64, None)
    for x, y in zip(located.grouped(gates(example), example), traced.grouped(gates(example), example)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("make", [lambda n: HardwareEfficient(n, 4), lambda n: LiuWang(n, 4),
                                  lambda n: SU4Brickwork(n, 4, "staircase")], ids=["hea", "liu-wang", "su4"])
def test_the_gradient_program_grows_by_few_ops_per_qubit(make):
    """Blocks of one structure share one vectorized build and their angles are read in one
    slice, so a qubit more adds its state passes only (about 40-140 ops), not its gates'
    matrices (310-1350 ops per qubit before, when compile time grew 10x from n = 12 to 20
    for SU(4) layers)."""
    def ops(n):
        model = QCBM(make(n))
        f = jax.value_and_grad(lambda p, t: kl_divergence(t, model.probs(p)))
        t = jnp.full((2**n,), 2.0**-n, jnp.float32)
        return jax.jit(f).trace(model.init(jax.random.key(0)), t).lower().as_text().count("stablehlo.")
    assert (ops(10) - ops(6)) / 4 < 200
