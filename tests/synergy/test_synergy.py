"""Synergistic pretraining: KAK angles, Ran's MPS -> circuit layers, the mapped QCBM, the pipeline."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import unitary_group

import jqgen
from jqgen.data import bars_and_stripes
from jqgen.qcbm import su4
from jqgen.synergy import (circuit_from_mps, kak_angles, layers_state, mps_site_list, mps_to_layers,
                           phase_distance, pretrain, su4_matrix)

SPECIAL = {
    "identity": np.eye(4), "cnot": np.eye(4)[[0, 1, 3, 2]], "swap": np.eye(4)[[0, 2, 1, 3]],
    "cz": np.diag([1, 1, 1, -1]), "iswap": np.array([[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]]),
    "sqrt_swap_phase": np.diag([1, 1j, 1j, 1]) @ np.eye(4)[[0, 2, 1, 3]], "local": np.kron(np.eye(2)[[1, 0]], np.diag([1, 1j])),
}


def _dense(mps) -> np.ndarray:
    psi = np.asarray(jqgen.mps.to_dense(mps), np.complex128)
    return psi / np.linalg.norm(psi)


# --- KAK ---------------------------------------------------------------------------------


@pytest.mark.float64
def test_numpy_su4_matches_jqgen_su4():
    p = np.random.default_rng(0).normal(size=(5, 15))
    for row in p:
        assert np.abs(np.asarray(su4(jnp.asarray(row))) - su4_matrix(row)).max() < 1e-12


@settings(deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_kak_round_trip_random_unitaries(seed):
    u = unitary_group.rvs(4, random_state=seed)
    p = kak_angles(u)
    assert p.shape == (15,) and phase_distance(su4_matrix(p), u) < 1e-10
    # parameters -> unitary -> parameters -> unitary
    q = np.random.default_rng(seed).uniform(-np.pi, np.pi, 15)
    v = su4_matrix(q)
    assert phase_distance(su4_matrix(kak_angles(v)), v) < 1e-10


@pytest.mark.parametrize("name", sorted(SPECIAL))
def test_kak_degenerate_gates(name):
    u = SPECIAL[name]
    assert phase_distance(su4_matrix(kak_angles(u)), u) < 1e-10


def test_kak_bad_input():
    with pytest.raises(ValueError, match="4x4"):
        kak_angles(np.eye(2))
    with pytest.raises(ValueError, match="unitary"):
        kak_angles(2 * np.eye(4))


# --- Ran's layers ------------------------------------------------------------------------


@pytest.mark.slow
@settings(deadline=None)
@given(st.integers(2, 9), st.integers(0, 2**31 - 1), st.booleans())
@pytest.mark.float64
def test_one_layer_reproduces_a_chi2_mps(n, seed, complex_):
    dtype = jnp.complex128 if complex_ else jnp.float64
    mps = jqgen.mps.random_mps(jax.random.key(seed), n, 2, dtype=dtype)
    gates, fid = mps_to_layers(mps, 1)
    assert gates.shape == (1, n - 1, 4, 4)
    for g in gates.reshape(-1, 4, 4):
        assert np.abs(g.conj().T @ g - np.eye(4)).max() < 1e-6
    exact = abs(np.vdot(_dense(mps), layers_state(gates))) ** 2
    assert exact > 1 - 1e-6 and fid[0] > 1 - 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.float64
def test_fidelity_to_chi4_mps_does_not_decrease(seed):
    mps = jqgen.mps.random_mps(jax.random.key(seed), 10, 4, dtype=jnp.float64)
    _, fid = mps_to_layers(mps, 5)
    assert all(b >= a - 1e-9 for a, b in zip(fid, fid[1:])), fid
    for d in (1, 3):  # the reported fidelity is the circuit's
        gates, f = mps_to_layers(mps, d)
        assert f[-1] == pytest.approx(abs(np.vdot(_dense(mps), layers_state(gates))) ** 2, abs=1e-9)
        assert f == pytest.approx(fid[:d], abs=1e-9)


@pytest.mark.float64
def test_mps_estimate_matches_exact_without_truncation():
    mps = jqgen.mps.random_mps(jax.random.key(5), 8, 3, dtype=jnp.float64)
    _, exact = mps_to_layers(mps, 3, exact_fidelity=True, chi_max=16)
    _, est = mps_to_layers(mps, 3, exact_fidelity=False, chi_max=16)
    assert est == pytest.approx(exact, abs=1e-9)


@pytest.mark.slow
@pytest.mark.float64
def test_mapped_qcbm_probs_match_mps_up_to_fidelity():
    mps = jqgen.mps.random_mps(jax.random.key(3), 8, 4, dtype=jnp.float64)
    model, params, fid = circuit_from_mps(mps, 3, dtype=jnp.float64)
    assert model.ansatz.order == "staircase" and params["gates"].shape == (3, 7, 15)
    p_mps = np.abs(_dense(mps)) ** 2
    p_qcbm = np.asarray(model.probs(params))
    # TV of the measurement distributions <= trace distance sqrt(1 - F) of the pure states
    tv = 0.5 * np.abs(p_mps - p_qcbm).sum()
    assert tv <= math.sqrt(1 - fid[-1]) + 1e-9
    chi2 = jqgen.mps.random_mps(jax.random.key(4), 8, 2, dtype=jnp.float64)
    model2, params2, _ = circuit_from_mps(chi2, 1, dtype=jnp.float64)
    assert np.abs(np.asarray(model2.probs(params2)) - np.abs(_dense(chi2)) ** 2).max() < 1e-10


@pytest.mark.slow
@pytest.mark.float64
def test_extension_starts_at_the_mapped_distribution():
    mps = jqgen.mps.random_mps(jax.random.key(6), 6, 2, dtype=jnp.float64)
    m0, p0, _ = circuit_from_mps(mps, 1, dtype=jnp.float64)
    m1, p1, _ = circuit_from_mps(mps, 1, 3, key=jax.random.key(0), init_scale=0.0, dtype=jnp.float64)
    assert p1["gates"].shape == (4, 5, 15)
    assert np.abs(np.asarray(m0.probs(p0)) - np.asarray(m1.probs(p1))).max() < 1e-12
    m2, p2, _ = circuit_from_mps(mps, 1, 3, key=jax.random.key(0), init_scale=1e-3, dtype=jnp.float64)
    assert 0 < np.abs(np.asarray(m0.probs(p0)) - np.asarray(m2.probs(p2))).max() < 1e-2


@pytest.mark.slow
@pytest.mark.float64
def test_refinement_raises_fidelity():
    mps = jqgen.mps.random_mps(jax.random.key(7), 8, 4, dtype=jnp.float64)
    _, _, f = circuit_from_mps(mps, 2, dtype=jnp.float64, refine_steps=200)
    assert len(f) == 3 and f[-1] > f[1]
    exact = jqgen.mps.random_mps(jax.random.key(8), 6, 2, dtype=jnp.float64)  # Ran's layer is already exact
    _, _, f2 = circuit_from_mps(exact, 1, dtype=jnp.float64, refine_steps=20, refine_lr=0.05)
    assert f2[-1] >= f2[0] - 1e-12


def test_bad_inputs():
    mps = jqgen.mps.random_mps(jax.random.key(0), 4, 2)
    with pytest.raises(ValueError, match="num_layers"):
        mps_to_layers(mps, 0)
    with pytest.raises(ValueError, match="layers_from_mps"):
        circuit_from_mps(mps, 0)
    with pytest.raises(ValueError, match="key"):
        circuit_from_mps(mps, 1, 2)
    sites = mps_site_list(mps)
    with pytest.raises(ValueError, match="site tensor"):
        mps_to_layers(sites[:1] + [np.ones((3, 2, 1))], 1)
    with pytest.raises(ValueError, match="at least 2 sites"):
        mps_to_layers([np.ones((1, 2, 1))], 1)
    data = bars_and_stripes(2, 2)
    with pytest.raises(ValueError, match="chi"):
        pretrain(data, chi=1, layers_from_mps=1, extra_layers=0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="layers_from_mps"):
        pretrain(data, chi=2, layers_from_mps=0, extra_layers=1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="extra_layers"):
        pretrain(data, chi=2, layers_from_mps=1, extra_layers=-1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="0/1"):
        pretrain(np.full((3, 4), 2), chi=2, layers_from_mps=1, extra_layers=0, key=jax.random.key(0))


# --- pipeline ----------------------------------------------------------------------------


@pytest.mark.slow
def test_pretrain_pipeline_continues_from_the_mps():
    data = bars_and_stripes(2, 3)
    r = pretrain(data, chi=2, layers_from_mps=1, extra_layers=1, key=jax.random.key(1), mps_steps=300,
                 circuit_steps=100, init_scale=0.0)
    assert r.fidelities[0] > 1 - 1e-6  # chi = 2: one layer is exact
    # the circuit stage starts at the trained MPS's KL, and does not get worse
    assert r.circuit_history[0] == pytest.approx(r.mps_history[-1], abs=0.05)
    assert r.circuit_history[-1] <= r.circuit_history[0] + 1e-9
    p = np.asarray(r.model.probs(r.params))
    assert p.sum() == pytest.approx(1.0)


@pytest.mark.slow
def test_cli_train_synergy(tmp_path, capsys):
    from jqgen.cli import main

    out = tmp_path / "run"
    rc = main(["train", "synergy", "--data", "bars-stripes-2x3", "--chi", "2", "--layers-from-mps", "1",
               "--extra-layers", "1", "--mps-steps", "60", "--circuit-steps", "30", "--no-progress", "--out", str(out)])
    assert rc == 0
    for name in ("checkpoint.npz", "summary.json", "training_curve.png", "samples.png", "distribution.png"):
        assert (out / name).exists(), name
    ck = jqgen.load_checkpoint(out / "checkpoint.npz")
    assert ck.model.ansatz.order == "staircase" and ck.params["gates"].shape == (2, 5, 15)
    assert "fidelity of the mapped layers" in capsys.readouterr().out
    assert main(["train", "synergy", "--data", "bars-stripes-2x3", "--chi", "1", "--out", str(out)]) == 2
    assert "--chi must be >= 2" in capsys.readouterr().err
