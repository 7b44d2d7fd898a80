"""QCBM statevectors against an independent dense-matrix simulation written here.

The reference builds every gate as ``scipy.linalg.expm(-i theta P / 2)`` of a Pauli
string on the full ``2**n`` space (Kronecker products, qubit 0 most significant), and each
ansatz from its documented structure, without jqgen's gate functions or op lists.
"""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.linalg import expm

import jqgen
from jqgen.qcbm import QCBM, HardwareEfficient, LiuWang, Op, SU4Brickwork

PAULI = {"I": np.eye(2), "X": np.array([[0, 1], [1, 0]]), "Y": np.array([[0, -1j], [1j, 0]]), "Z": np.diag([1.0, -1.0])}


def full_op(n, factors):
    """Kronecker product over all qubits of {qubit: 2x2 matrix} (identity elsewhere)."""
    out = np.eye(1)
    for q in range(n):
        out = np.kron(out, factors.get(q, np.eye(2)))
    return out


def rot(n, theta, paulis):
    """exp(-i theta/2 P) for P = prod_q paulis[q] on n qubits."""
    return expm(-0.5j * theta * full_op(n, {q: PAULI[p] for q, p in paulis.items()}))


def cnot(n, c, t):
    p0, p1 = np.diag([1.0, 0.0]), np.diag([0.0, 1.0])
    return full_op(n, {c: p0}) + full_op(n, {c: p1, t: PAULI["X"]})


def run(n, gates):
    psi = np.zeros(2**n, complex)
    psi[0] = 1
    for g in gates:
        psi = g @ psi
    return psi


def ref_hea(a, p):
    n, g = a.num_qubits, []
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
    for q in range(n):
        g += [rot(n, p["first"][q, 0], {q: "X"}), rot(n, p["first"][q, 1], {q: "Z"})]
    for layer in range(a.layers):
        for e, (i, j) in enumerate(a.edges):
            g.append(rot(n, p["xx"][layer, e], {i: "X", j: "X"}))
        for q in range(n):
            g += [rot(n, p["rot"][layer, q, 0], {q: "X"}), rot(n, p["rot"][layer, q, 1], {q: "Z"})]
    return run(n, g)


def ref_liu_wang(a, p):
    n, g = a.num_qubits, []
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
    pairs = a.cnots if a.cnots is not None else [(i, i + 1) for i in range(n - 1)]
    for q in range(n):
        g += [rot(n, p["first"][q, 0], {q: "X"}), rot(n, p["first"][q, 1], {q: "Z"})]
    for layer in range(a.layers):
        g += [cnot(n, c, t) for c, t in pairs]
        for q in range(n):
            r = p["rot"][layer, q]
            g += [rot(n, r[0], {q: "Z"}), rot(n, r[1], {q: "X"}), rot(n, r[2], {q: "Z"})]
    return run(n, g)


def ref_su4_gate(n, i, a):
    def zyz(q, x):
        return [rot(n, x[0], {q: "Z"}), rot(n, x[1], {q: "Y"}), rot(n, x[2], {q: "Z"})]

    j = i + 1
    return (zyz(i, a[0:3]) + zyz(j, a[3:6])
            + [rot(n, a[6], {i: "X", j: "X"}), rot(n, a[7], {i: "Y", j: "Y"}), rot(n, a[8], {i: "Z", j: "Z"})]
            + zyz(i, a[9:12]) + zyz(j, a[12:15]))


def ref_su4(a, p):
    n, g = a.num_qubits, []
    gates = np.asarray(p["gates"], np.float64)
    seq = (list(range(0, n - 1, 2)) + list(range(1, n - 1, 2))) if a.order == "brick" else list(range(n - 1))
    for layer in range(a.layers):
        for i in seq:
            g += ref_su4_gate(n, i, gates[layer, i])
    return run(n, g)


REFERENCE = {HardwareEfficient: ref_hea, LiuWang: ref_liu_wang, SU4Brickwork: ref_su4}


@st.composite
def ansatze(draw):
    # the smallest sizes that still hold every structure: n = 4 has the brick order's two
    # sublayers, all-to-all and star couplings, a non-trivial CNOT tree; 2 layers repeat
    n = draw(st.integers(2, 4))
    layers = draw(st.integers(1, 2))
    kind = draw(st.sampled_from(["hea", "lw", "lw-tree", "su4"]))
    if kind == "hea":
        return HardwareEfficient(n, layers, draw(st.sampled_from(["line", "all", "star"])))
    if kind == "lw":
        return LiuWang(n, layers)
    if kind == "lw-tree":
        perm = draw(st.permutations(range(n)))
        return LiuWang(n, layers, tuple((perm[draw(st.integers(0, k - 1))], perm[k]) for k in range(1, n)))
    return SU4Brickwork(n, layers, draw(st.sampled_from(["brick", "staircase"])))


@pytest.mark.slow
@given(ansatze(), st.integers(0, 2**31 - 1))
@pytest.mark.float64
def test_fused_and_tensorcircuit_engines_match_dense_reference(ansatz, seed):
    model = QCBM(ansatz, dtype=jnp.float64)
    params = model.init(jax.random.key(seed))
    ref = REFERENCE[type(ansatz)](ansatz, params)
    np.testing.assert_allclose(np.asarray(model.state(params)), ref, atol=1e-10)
    tc_model = QCBM(ansatz, dtype=jnp.float64, engine="tensorcircuit")
    np.testing.assert_allclose(np.asarray(tc_model.state(params)), ref, atol=1e-10)
    np.testing.assert_allclose(np.asarray(jqgen.qcbm.tc_circuit(ansatz, params).state()), ref, atol=1e-10)


GATES_1Q = {"rx": "X", "ry": "Y", "rz": "Z"}
GATES_2Q = {"rxx": "XX", "ryy": "YY", "rzz": "ZZ"}


@st.composite
def random_circuits(draw):
    n = draw(st.integers(1, 5))
    ops = []
    for _ in range(draw(st.integers(1, 12))):
        choices = list(GATES_1Q) + (list(GATES_2Q) + ["cnot"] if n > 1 else [])
        name = draw(st.sampled_from(choices))
        if name in GATES_1Q:
            ops.append(Op(name, (draw(st.integers(0, n - 1)),), draw(st.floats(-7, 7))))
        else:
            a, b = draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
            ops.append(Op(name, (a, b), None if name == "cnot" else draw(st.floats(-7, 7))))
    return n, ops


@pytest.mark.slow
@given(random_circuits())
@pytest.mark.float64
def test_random_tensorcircuit_circuits_match_dense_reference(circuit):
    n, ops = circuit
    gates = []
    for op in ops:
        if op.name == "cnot":
            gates.append(cnot(n, *op.qubits))
        elif op.name in GATES_1Q:
            gates.append(rot(n, op.angle, {op.qubits[0]: GATES_1Q[op.name]}))
        else:
            p = GATES_2Q[op.name]
            gates.append(rot(n, op.angle, {op.qubits[0]: p[0], op.qubits[1]: p[1]}))
    jops = [Op(o.name, o.qubits, None if o.angle is None else jnp.float64(o.angle)) for o in ops]
    state = jqgen.qcbm.circuit_from_ops(n, jops, jnp.float64).state()
    np.testing.assert_allclose(np.asarray(state), run(n, gates), atol=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [jnp.float32, pytest.param(jnp.float64, marks=pytest.mark.float64)])
@given(ansatze(), st.integers(0, 2**31 - 1))
def test_probabilities_are_normalized_and_log_prob_consistent(dtype, ansatz, seed):
    model = QCBM(ansatz, dtype=dtype)
    params = model.init(jax.random.key(seed))
    p = model.probs(params)
    assert p.dtype == dtype
    tol = 1e-5 if dtype == jnp.float32 else 1e-12
    assert abs(float(jnp.sum(p)) - 1) < tol
    bits = jqgen.all_bitstrings(ansatz.num_qubits)
    np.testing.assert_allclose(np.exp(np.asarray(model.log_prob(params, bits))), np.asarray(p), rtol=1e-4, atol=1e-7)


@pytest.mark.slow
@pytest.mark.float64
def test_su4_kak_zero_is_identity_and_gates_are_unitary():
    key = jax.random.key(0)
    p = jax.random.normal(key, (20, 15), jnp.float64) * 3
    u = np.asarray(jqgen.qcbm.su4(p))
    np.testing.assert_allclose(u @ np.conj(np.swapaxes(u, 1, 2)), np.broadcast_to(np.eye(4), u.shape), atol=1e-12)
    np.testing.assert_allclose(np.asarray(jqgen.qcbm.su4(jnp.zeros(15, jnp.float64))), np.eye(4), atol=1e-15)


@pytest.mark.slow
def test_vmap_over_parameter_sets_equals_python_loop():
    model = QCBM(HardwareEfficient(5, 3, "all"))
    batch = jax.vmap(model.init)(jax.random.split(jax.random.key(3), 6))
    together = jax.jit(jax.vmap(model.probs))(batch)
    for i in range(6):
        one = model.probs(jax.tree_util.tree_map(lambda x: x[i], batch))
        np.testing.assert_allclose(np.asarray(together[i]), np.asarray(one), atol=1e-6)


def test_compiles_once_for_new_parameter_values():
    model = QCBM(LiuWang(6, 4))
    traces = []

    @jax.jit
    def f(params):
        traces.append(1)
        return model.probs(params)

    for s in range(3):
        f(model.init(jax.random.key(s)))
    assert len(traces) == 1


@pytest.mark.slow  # a fresh interpreter; tests/qcbm/test_tc_settings.py checks the settings in-process
def test_importing_tensorcircuit_keeps_the_callers_x64_setting():
    code = (
        "import jax; jax.config.update('jax_enable_x64', True)\n"
        "import jax.numpy as jnp, jqgen\n"
        "a = jqgen.qcbm.HardwareEfficient(3, 1)\n"
        "m = jqgen.QCBM(a, dtype=jnp.float64, engine='tensorcircuit')\n"
        "p = m.init(jax.random.key(0)); s = m.state(p); jqgen.qcbm.tc_circuit(a, p)\n"
        "assert jax.config.jax_enable_x64 and s.dtype == jnp.complex128, (jax.config.jax_enable_x64, s.dtype)\n"
        "m32 = jqgen.QCBM(a, engine='tensorcircuit'); assert m32.state(m32.init(jax.random.key(0))).dtype == jnp.complex64\n"
        "assert jax.config.jax_enable_x64\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
