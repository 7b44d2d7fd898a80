"""MPS -> circuit decompositions: the gate-by-gate sweep (environments in MPS form) against dense
references, its monotonicity and unitarity, the dispatch of ``circuit_from_mps``, bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm
from scipy.stats import unitary_group

import jqgen
from jqgen.synergy import (DECOMPOSITIONS, circuit_from_mps, layers_fidelity, layers_state, mps_to_layers,
                           sweep_decomposition, sweep_layers)


def random_sites(seed: int, n: int, chi: int, complex_: bool = True) -> list[np.ndarray]:
    """A random MPS as NumPy site tensors (bonds min(chi, 2^k, 2^(n-k))): no JAX compile."""
    rng = np.random.default_rng(seed)
    bonds = [min(chi, 2**k, 2 ** (n - k)) for k in range(n + 1)]
    out = []
    for k in range(n):
        shape = (bonds[k], 2, bonds[k + 1])
        t = rng.normal(size=shape) + (1j * rng.normal(size=shape) if complex_ else 0)
        out.append(t)
    return out


def padded_mps(sites: list[np.ndarray], chi: int) -> jqgen.mps.MPS:
    """The site tensors as a jqgen MPS (zero padding to ``chi``), without JAX compiles."""
    t = np.zeros((len(sites), chi, 2, chi), sites[0].dtype)
    for k, a in enumerate(sites):
        t[k, : a.shape[0], :, : a.shape[2]] = a
    return jqgen.mps.MPS(jnp.asarray(t))


def dense(sites: list[np.ndarray]) -> np.ndarray:
    v = np.ones((1, 1), np.complex128)
    for t in sites:
        v = np.einsum("pi,isj->psj", v, t).reshape(-1, t.shape[2])
    v = v.reshape(-1)
    return v / np.linalg.norm(v)


def dense_fidelity(sites, gates) -> float:
    return float(abs(np.vdot(dense(sites), layers_state(np.asarray(gates)))) ** 2)


def random_layers(seed: int, depth: int, n: int) -> np.ndarray:
    g = unitary_group.rvs(4, size=depth * (n - 1), random_state=seed)
    return np.asarray(g).reshape(depth, n - 1, 4, 4)


def assert_unitary(gates, atol=1e-6):
    g = np.asarray(gates).reshape(-1, 4, 4)
    assert np.abs(np.einsum("kba,kbc->kac", g.conj(), g) - np.eye(4)).max() < atol


# --- the sweep ---------------------------------------------------------------------------


@pytest.mark.parametrize("chi_max", [None, 4])  # exact environments, and truncated ones
def test_every_gate_update_raises_the_fidelity_and_keeps_gates_unitary(chi_max):
    sites = random_sites(0, 8, 4)
    gates, _ = mps_to_layers(sites, 3)
    r = sweep_layers(sites, gates, sweeps=6, tol=None, chi_max=chi_max)
    before, after = r.updates[:, 0], r.updates[:, 1]
    assert r.updates.shape == (6 * 3 * 7, 2)
    assert (after >= before - 1e-12).all()  # no single update lowers |<a|L|b>|^2
    assert_unitary(r.gates)
    assert len(r.history) == len(r.seconds) == 7
    if chi_max is None:  # nothing truncated: the whole trace is the exact fidelity, non-decreasing
        assert r.truncation < 1e-20
        assert (np.diff(after) >= -1e-12).all() and (np.diff(r.history) >= -1e-12).all()
        assert r.history[-1] == pytest.approx(dense_fidelity(sites, r.gates), abs=1e-10)
    else:
        assert r.truncation > 0


@pytest.mark.parametrize("n", [2, 3, 6, 10])
def test_mps_form_fidelities_match_dense(n):
    sites = random_sites(n, n, 8)
    g = random_layers(n, 3, n)
    assert layers_fidelity(sites, g) == pytest.approx(dense_fidelity(sites, g), abs=1e-10)
    r = sweep_layers(sites, g, sweeps=3)
    assert r.fidelity == pytest.approx(dense_fidelity(sites, r.gates), abs=1e-10)
    assert r.history[0] == pytest.approx(dense_fidelity(sites, g), abs=1e-10)
    d = sweep_decomposition(sites, 2, sweeps=2)
    assert d.fidelities[-1] == pytest.approx(dense_fidelity(sites, d.gates), abs=1e-10)
    assert d.truncation < 1e-20 and len(d.fidelities) == len(d.seconds) == 2


@pytest.mark.slow
@pytest.mark.parametrize("n", [12, 14])
def test_mps_form_fidelities_match_dense_up_to_14_qubits(n):
    sites = random_sites(n, n, 8)
    d = sweep_decomposition(sites, 3, sweeps=4)
    assert d.fidelities[-1] == pytest.approx(dense_fidelity(sites, d.gates), abs=1e-9)
    assert layers_fidelity(sites, d.gates) == pytest.approx(dense_fidelity(sites, d.gates), abs=1e-9)


@settings(max_examples=4, deadline=None)
@given(st.integers(2, 9), st.integers(0, 2**31 - 1), st.booleans())
def test_one_layer_reaches_a_chi2_mps(n, seed, complex_):
    sites = random_sites(seed, n, 2, complex_)
    d = sweep_decomposition(sites, 1)
    assert d.fidelities[0] > 1 - 1e-6 and dense_fidelity(sites, d.gates) > 1 - 1e-6
    assert_unitary(d.gates)


def test_sweep_recovers_an_exact_layer_from_a_perturbed_start():
    sites = random_sites(3, 7, 2)
    gates, _ = mps_to_layers(sites, 1)
    rng = np.random.default_rng(0)
    kicks = [expm(0.2j * (h + h.conj().T)) for h in rng.normal(size=(6, 4, 4))]
    start = np.stack([np.asarray(k) @ g for k, g in zip(kicks, gates[0])])[None]
    r = sweep_layers(sites, start, sweeps=40, tol=1e-12)
    assert r.history[0] < 0.9 and r.fidelity > 1 - 1e-6
    assert dense_fidelity(sites, r.gates) > 1 - 1e-6


def test_sweeps_beat_rans_layers():
    sites = random_sites(4, 9, 8)
    gates, ran = mps_to_layers(sites, 3)
    swept = sweep_layers(sites, gates, sweeps=8)
    grown = sweep_decomposition(sites, 3, sweeps=4)
    assert swept.fidelity > ran[-1] + 0.02 and grown.fidelities[-1] > ran[-1] + 0.02
    assert grown.fidelities == sorted(grown.fidelities)  # more layers, more fidelity
    evaluated = sweep_layers(sites, gates, sweeps=0)  # evaluation only
    assert np.array_equal(evaluated.gates, gates) and evaluated.fidelity == pytest.approx(ran[-1], abs=1e-9)


def test_sweep_accepts_a_jqgen_mps():
    sites = random_sites(5, 5, 4, complex_=False)
    d = sweep_decomposition(padded_mps(sites, 4), 2, sweeps=2)
    assert d.fidelities[-1] == pytest.approx(dense_fidelity(sites, d.gates), abs=1e-6)


# --- circuit_from_mps dispatch -----------------------------------------------------------


@pytest.mark.float64
@pytest.mark.parametrize("name", ["sweep", "ran+sweep"])
def test_swept_gates_in_kak_angles_give_the_qcbm_state(name):
    sites = random_sites(1, 6, 4, complex_=False)
    mps = padded_mps(sites, 4)
    model, params, fid = circuit_from_mps(mps, 2, decomposition=name, dtype=jnp.float64, sweeps=4)
    _, _, ran = circuit_from_mps(mps, 2, decomposition="ran", dtype=jnp.float64)
    assert len(fid) == (2 if name == "sweep" else 3) and fid[-1] > ran[-1]
    state = np.asarray(model.state(params), np.complex128)
    assert abs(np.vdot(dense(sites), state)) ** 2 == pytest.approx(fid[-1], abs=1e-9)


def test_decomposition_names_and_bad_input():
    assert DECOMPOSITIONS == ("ran", "ran+adam", "ran+sweep", "sweep")
    mps = padded_mps(random_sites(0, 4, 2, complex_=False), 2)
    with pytest.raises(ValueError, match=r"decomposition must be one of ran, ran\+adam, ran\+sweep, sweep, got 'svd'"):
        circuit_from_mps(mps, 1, decomposition="svd")
    with pytest.raises(ValueError, match="refine_steps >= 1 goes with decomposition 'ran\\+adam' only"):
        circuit_from_mps(mps, 1, decomposition="sweep", refine_steps=10)
    with pytest.raises(ValueError, match="refine_steps"):
        circuit_from_mps(mps, 1, decomposition="ran+adam")
    with pytest.raises(ValueError, match="sweeps must be an integer >= 1"):
        circuit_from_mps(mps, 1, decomposition="sweep", sweeps=0)
    with pytest.raises(ValueError, match="decomposition must be one of"):
        jqgen.synergy.pretrain(np.zeros((2, 4), np.uint8), chi=2, layers_from_mps=1, extra_layers=0,
                               key=jax.random.key(0), decomposition="qr")


def test_sweep_bad_input():
    sites = random_sites(0, 4, 2)
    gates = random_layers(0, 1, 4)
    with pytest.raises(ValueError, match=r"gates must have shape \[D >= 1, 3, 4, 4\] for 4 qubits, got \(1, 2, 4, 4\)"):
        sweep_layers(sites, gates[:, :2])
    with pytest.raises(ValueError, match="not all unitary"):
        sweep_layers(sites, 2 * gates)
    with pytest.raises(ValueError, match="sweeps must be an integer >= 0, got -1"):
        sweep_layers(sites, gates, sweeps=-1)
    with pytest.raises(ValueError, match="tol must be None or a finite number >= 0"):
        sweep_layers(sites, gates, tol=-1.0)
    with pytest.raises(ValueError, match="chi_max must be an integer >= 2, got 1"):
        sweep_decomposition(sites, 1, chi_max=1)
    with pytest.raises(ValueError, match="num_layers must be an integer >= 1, got 0"):
        sweep_decomposition(sites, 0)
    with pytest.raises(ValueError, match="blas_threads"):
        layers_fidelity(sites, gates, blas_threads=0)
    with pytest.raises(ValueError, match="at least 2 sites"):
        sweep_decomposition([np.ones((1, 2, 1))], 1)
    with pytest.raises(ValueError, match="norm 0"):
        sweep_decomposition([np.zeros((1, 2, 1)), np.ones((1, 2, 1))], 1)
    with pytest.raises(ValueError, match="non-finite"):
        layers_fidelity([np.full((1, 2, 1), np.nan), np.ones((1, 2, 1))], gates[:, :1])


def test_cli_rejects_an_unknown_decomposition(capsys):
    from jqgen.cli import main

    assert main(["train", "synergy", "--decomposition", "svd", "--out", "unused"]) == 2
    assert "invalid choice: 'svd'" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_train_synergy_with_the_sweep(tmp_path):
    import json

    from jqgen.cli import main

    out = tmp_path / "run"
    assert main(["train", "synergy", "--data", "bars-stripes-2x3", "--chi", "4", "--layers-from-mps", "2",
                 "--extra-layers", "1", "--decomposition", "sweep", "--mps-steps", "100", "--circuit-steps", "20",
                 "--no-progress", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hyperparameters"]["decomposition"] == "sweep" and len(summary["fidelities"]) == 2


def test_cli_decomposition_options():
    from jqgen.cli.train_synergy import DECOMPOSITIONS as CLI_NAMES
    from jqgen.cli.train_synergy import mapping

    assert CLI_NAMES == DECOMPOSITIONS
    assert mapping(None, None) == ("sweep", 0)
    assert mapping(None, 50) == ("ran+adam", 50)  # --refine-steps alone still means Adam
    assert mapping("ran+adam", None) == ("ran+adam", 300)
    assert mapping("ran", 0) == ("ran", 0)
    with pytest.raises(ValueError, match="--refine-steps goes with --decomposition ran\\+adam, not sweep"):
        mapping("sweep", 10)


@pytest.mark.slow  # a whole CLI run: ~10 s on an idle CPU (compilations of both stages and the plots)
def test_cli_train_synergy_summary_keeps_one_fidelity_per_mapped_layer(tmp_path):
    """The default decomposition (sweep) writes ``fidelities``, one per mapped layer, nondecreasing."""
    import json

    from jqgen.cli import main

    out = tmp_path / "run"
    assert main(["train", "synergy", "--data", "bars-stripes-2x2", "--chi", "4", "--layers-from-mps", "2",
                 "--extra-layers", "0", "--mps-steps", "5", "--circuit-steps", "2", "--no-progress",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    fid = summary["fidelities"]
    assert summary["hyperparameters"]["decomposition"] == "sweep" and len(fid) == 2
    assert all(0 <= f <= 1 + 1e-6 for f in fid) and fid == sorted(fid)
