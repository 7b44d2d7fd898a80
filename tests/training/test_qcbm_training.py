"""Training QCBMs: fit with exact and shot-based losses, CMA-ES, checkpoints, CLI, bad input."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jqgen
from jqgen.cli import main
from jqgen.data import bars_and_stripes
from jqgen.qcbm import QCBM, HardwareEfficient, LiuWang, SU4Brickwork

BAS22 = bars_and_stripes(2, 2)


def valid_rate(model, params, data):
    p = np.asarray(model.probs(params), np.float64)
    return float(p[np.asarray(jqgen.distributions.empirical_distribution(data, model.num_bits)) > 0].sum())


@pytest.mark.slow
def test_exact_mmd_training_learns_bars_and_stripes():
    model = QCBM(HardwareEfficient(4, 3, "all"))
    res = jqgen.fit(model, model.init(jax.random.key(0)), BAS22, optax.adam(0.1), key=jax.random.key(1),
                    steps=200, loss=jqgen.qcbm.make_loss(model, "mmd"), progress=False)
    assert res.history[-1] < res.history[0] / 5
    assert valid_rate(model, res.params, BAS22) > 0.9


@pytest.mark.slow
def test_shot_based_parameter_shift_training_learns_bars_and_stripes():
    model = QCBM(HardwareEfficient(4, 3, "all"))
    loss = jqgen.qcbm.make_loss(model, "mmd", shots=2000)
    res = jqgen.fit(model, model.init(jax.random.key(0)), BAS22, optax.adam(0.1), key=jax.random.key(1),
                    steps=150, loss=loss, progress=False)
    assert valid_rate(model, res.params, BAS22) > 0.85


@pytest.mark.slow
def test_kl_training_with_fit_and_nll_default_loss():
    model = QCBM(LiuWang(4, 2))
    res = jqgen.fit(model, model.init(jax.random.key(0)), BAS22, optax.adam(0.05), key=jax.random.key(1),
                    steps=60, loss=jqgen.qcbm.make_loss(model, "kl"), progress=False)
    assert res.history[-1] < res.history[0]
    # the default loss (mean NLL via log_prob) also works for QCBMs
    res2 = jqgen.fit(model, model.init(jax.random.key(0)), BAS22, optax.adam(0.05), key=jax.random.key(1),
                     steps=30, progress=False)
    assert np.isfinite(res2.history).all() and res2.history[-1] < res2.history[0]


@pytest.mark.slow
def test_cmaes_lowers_loss_and_resume_is_identical(tmp_path):
    pytest.importorskip("evosax")
    model = QCBM(HardwareEfficient(4, 1))
    p0 = model.init(jax.random.key(0))
    full = jqgen.cmaes_fit(model, p0, BAS22, key=jax.random.key(1), generations=30, chunk_size=10, progress=False)
    assert full.history[-1] < full.history[0]
    path = tmp_path / "cma.npz"

    class Killed(Exception):
        pass

    def kill(done, p, st, h):
        if done == 10:
            raise Killed

    with pytest.raises(Killed):
        jqgen.cmaes_fit(model, p0, BAS22, key=jax.random.key(1), generations=30, chunk_size=10, progress=False,
                        checkpoint_path=path, callback=kill)
    resumed = jqgen.cmaes_fit(model, p0, BAS22, key=jax.random.key(1), generations=30, chunk_size=10,
                              progress=False, checkpoint_path=path)
    np.testing.assert_array_equal(resumed.history, full.history)
    for k in full.params:
        np.testing.assert_array_equal(np.asarray(resumed.params[k]), np.asarray(full.params[k]))


@pytest.mark.slow
def test_cmaes_state_survives_a_checkpoint(tmp_path):
    pytest.importorskip("evosax")
    model = QCBM(LiuWang(4, 1))
    p0 = model.init(jax.random.key(0))
    res = jqgen.cmaes_fit(model, p0, BAS22, key=jax.random.key(1), generations=5, progress=False, shots=500,
                               population_size=8)
    path = jqgen.save_checkpoint(tmp_path / "c.npz", model, res.params, opt_state=res.opt_state)
    ck = jqgen.load_checkpoint(path, optimizer=jqgen.training.CMAES(8))
    assert ck.model == model
    for a, b in zip(jax.tree_util.tree_leaves(ck.opt_state), jax.tree_util.tree_leaves(res.opt_state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("ansatz", [HardwareEfficient(4, 2, "star"), LiuWang(4, 2, ((0, 2), (2, 1), (1, 3))),
                                    SU4Brickwork(4, 1, "staircase")])
def test_checkpoint_round_trip(tmp_path, ansatz):
    model = QCBM(ansatz, init_scale=0.1)
    params = model.init(jax.random.key(0))
    path = jqgen.save_checkpoint(tmp_path / "q.npz", model, params)
    ck = jqgen.load_checkpoint(path)
    assert ck.model == model
    np.testing.assert_array_equal(np.asarray(ck.model.probs(ck.params)), np.asarray(model.probs(params)))


@pytest.mark.slow
def test_cli_train_qcbm_writes_outputs_and_sample_works(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "qcbm", "--data", "bars-stripes-2x2", "--ansatz", "all", "--layers", "2", "--steps", "60",
               "--shots", "500", "--no-progress", "--out", str(out)])
    assert rc == 0
    for name in ("checkpoint.npz", "summary.json", "training_curve.png", "samples.png", "distribution.png"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hyperparameters"]["shots"] == 500 and 0 <= summary["valid_rate"] <= 1
    assert main(["sample", str(out / "checkpoint.npz"), "--num", "8", "--out", str(tmp_path / "s.png")]) == 0
    capsys.readouterr()


@pytest.mark.slow
def test_cli_train_qcbm_cmaes_and_chow_liu(tmp_path, capsys):
    pytest.importorskip("evosax")
    rc = main(["train", "qcbm", "--data", "bars-stripes-2x2", "--ansatz", "chow-liu", "--layers", "1",
               "--optimizer", "cmaes", "--steps", "10", "--no-progress", "--out", str(tmp_path / "c")])
    assert rc == 0
    assert "valid-pattern rate" in capsys.readouterr().out


@pytest.mark.parametrize("argv,msg", [
    (["--layers", "0"], "positive integer"),
    (["--ansatz", "ring"], "invalid choice"),
    (["--shots", "-3"], "positive integer"),
    (["--data", "bars-stripes-0x3"], "bars-stripes"),
])
def test_cli_train_qcbm_bad_arguments(argv, msg, capsys, tmp_path):
    """Usage errors exit 2; a bad --data set exits 3 (bad data, jqgen.cli)."""
    rc = main(["train", "qcbm", "--no-progress", "--out", str(tmp_path / "x"), *argv])
    assert rc == (3 if argv[0] == "--data" else 2)
    assert msg in capsys.readouterr().err


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match=r"40-qubit statevector needs 8\.0 TiB.*MPS"):
        QCBM(HardwareEfficient(40, 2))
    with pytest.raises(ValueError, match="layers"):
        HardwareEfficient(4, 0)
    with pytest.raises(ValueError, match="topology"):
        HardwareEfficient(4, 1, "ring")
    with pytest.raises(ValueError, match="cnots"):
        LiuWang(3, 1, ((0, 0),))
    with pytest.raises(ValueError, match="order"):
        SU4Brickwork(3, 1, "zigzag")
    with pytest.raises(ValueError, match="engine"):
        QCBM(LiuWang(3, 1), engine="qiskit")
    with pytest.raises(ValueError, match="float64 needs 64-bit JAX.*jax_enable_x64"):  # JAX's default 32-bit mode
        QCBM(LiuWang(3, 1), dtype=jnp.float64)
    model = QCBM(HardwareEfficient(4, 2))
    params = model.init(jax.random.key(0))
    bad = dict(params, xx=jnp.zeros((3, 3), jnp.float32))
    with pytest.raises(ValueError, match=r"params\['xx'\] must have shape \(2, 3\)"):
        model.probs(bad)
    with pytest.raises(ValueError, match="keys"):
        model.probs({"first": params["first"]})
    with pytest.raises(ValueError, match="non-finite"):
        model.probs(dict(params, first=params["first"].at[0, 0].set(jnp.nan)))
    for shots in (0, -5, 2.5):
        with pytest.raises(ValueError, match="positive int"):
            model.sample(params, jax.random.key(0), shots)
        with pytest.raises(ValueError, match="positive int"):
            jqgen.qcbm.make_loss(model, "mmd", shots=shots)
    with pytest.raises(ValueError, match="width 5"):
        model.log_prob(params, jnp.zeros((2, 5), jnp.uint8))
    with pytest.raises(ValueError, match="width 9"):
        jqgen.fit(model, params, bars_and_stripes(3, 3), optax.adam(0.1), key=jax.random.key(0), steps=1,
                  loss=jqgen.qcbm.make_loss(model), progress=False)
    with pytest.raises(ValueError, match="loss must be one of"):
        jqgen.qcbm.make_loss(model, "hinge")
    with pytest.raises(ValueError, match="autodiff"):
        jqgen.qcbm.make_loss(model, "mmd", shots=100, gradient="autodiff")
    with pytest.raises(ValueError, match="sigmas"):
        jqgen.distributions.mmd(jnp.ones(4) / 4, jnp.ones(4) / 4, sigmas=(0.0,))
    with pytest.raises(ValueError, match="2\\*\\*n"):
        jqgen.distributions.mmd(jnp.ones(3) / 3, jnp.ones(3) / 3)


def test_memory_guard_respects_max_bytes():
    with pytest.raises(ValueError, match="at most 10 qubits"):
        QCBM(HardwareEfficient(12, 1), max_bytes=8 * 2**10 * 8)
    QCBM(HardwareEfficient(10, 1), max_bytes=8 * 2**10 * 8)
