"""Training with fit: convergence, determinism, chunking, NaN handling."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jqgen
from jqgen.data import bars_and_stripes


@pytest.mark.slow  # a learning reproduction (the quickstart example also learns BAS)
def test_bars_and_stripes_3x3_reaches_ideal_nll():
    data = bars_and_stripes(3, 3)
    model = jqgen.MPSBornMachine(9, 8)
    res = jqgen.fit(model, model.init(jax.random.key(0)), data, optax.adam(0.05),
                    key=jax.random.key(1), steps=600, progress=False)
    nll = jqgen.mean_nll(model, res.params, data)
    assert abs(nll - np.log(14)) < 0.05
    assert res.history.shape == (600,) and res.history[-1] < res.history[0]
    samples = np.asarray(model.sample(res.params, jax.random.key(2), 2000))
    valid = {bytes(r) for r in data}
    assert np.mean([bytes(r) in valid for r in samples]) > 0.97


@pytest.mark.slow
def test_complex_parameters_train_in_the_descent_direction():
    data = bars_and_stripes(2, 3)
    model = jqgen.MPSBornMachine(6, 8, dtype=jnp.complex64)
    res = jqgen.fit(model, model.init(jax.random.key(0)), data, optax.adam(0.02),
                    key=jax.random.key(1), steps=400, progress=False)
    assert jqgen.mean_nll(model, res.params, data) < np.log(len(data)) + 0.05


@pytest.mark.slow
def test_fit_is_deterministic_and_independent_of_chunking():
    data = bars_and_stripes(2, 2)
    model = jqgen.MPSBornMachine(4, 3)
    p0 = model.init(jax.random.key(0))
    kw = dict(key=jax.random.key(1), steps=37, batch_size=3, progress=False)
    a = jqgen.fit(model, p0, data, optax.adam(0.05), chunk_size=10, **kw)
    b = jqgen.fit(model, p0, data, optax.adam(0.05), chunk_size=10, **kw)
    c = jqgen.fit(model, p0, data, optax.adam(0.05), chunk_size=37, **kw)
    np.testing.assert_array_equal(a.history, b.history)
    np.testing.assert_allclose(a.history, c.history, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(a.params.tensors), np.asarray(c.params.tensors), rtol=1e-5, atol=1e-6)
    d = jqgen.fit(model, p0, data, optax.adam(0.05), chunk_size=10, **{**kw, "key": jax.random.key(2)})
    assert not np.array_equal(a.history, d.history)  # minibatches depend on the key


def _nan_at(step: int) -> optax.GradientTransformation:
    """An optimizer that is SGD except that it emits NaN updates at ``step``."""

    def init(params):
        return jnp.zeros((), jnp.int32)

    def update(grads, count, params=None):
        bad = count == step
        upd = jax.tree_util.tree_map(lambda g: jnp.where(bad, jnp.nan, -0.01) * g, grads)
        return upd, count + 1

    return optax.GradientTransformation(init, update)


@pytest.mark.slow
def test_non_finite_loss_stops_with_last_good_params():
    data = bars_and_stripes(2, 2)
    model = jqgen.MPSBornMachine(4, 2)
    p0 = model.init(jax.random.key(0))
    calls = []
    with pytest.raises(jqgen.NonFiniteLossError, match="step 6") as info:
        jqgen.fit(model, p0, data, _nan_at(5), key=jax.random.key(1), steps=30, chunk_size=4,
                  progress=False, callback=lambda *a: calls.append(a[0]))
    err = info.value
    assert err.step == 6 and len(err.history) == 7 and not np.isfinite(err.history[-1])
    assert np.all(np.isfinite(err.history[:-1]))
    assert np.all(np.isfinite(np.asarray(err.params.tensors)))
    # the good params are those of step 5: five SGD steps from p0
    ref = jqgen.fit(model, p0, data, _nan_at(-1), key=jax.random.key(1), steps=5, progress=False)
    np.testing.assert_allclose(np.asarray(err.params.tensors), np.asarray(ref.params.tensors), rtol=1e-6)
    assert calls == [4]  # callbacks ran for the chunks before the failure


def test_mean_nll_matches_log_prob_and_rejects_bad_args():
    data = bars_and_stripes(2, 2)
    model = jqgen.MPSBornMachine(4, 2)
    p = model.init(jax.random.key(0))
    ref = -float(jnp.mean(model.log_prob(p, data)))
    assert jqgen.mean_nll(model, p, data, batch_size=4) == pytest.approx(ref, rel=1e-6)
    for kw in ({"steps": 0}, {"steps": 3, "batch_size": 0}, {"steps": 3, "chunk_size": -1}):
        with pytest.raises(ValueError):
            jqgen.fit(model, p, data, optax.adam(0.1), key=jax.random.key(0), progress=False, **kw)


def test_fit_reuses_its_compiled_chunk_across_calls():
    from jqgen.training._runner import _Keyed, _chunk_program

    data = bars_and_stripes(2, 2)
    model = jqgen.MPSBornMachine(4, 2)
    p0 = model.init(jax.random.key(0))
    a = jqgen.fit(model, p0, data, optax.adam(0.05), key=jax.random.key(1), steps=30, chunk_size=10, progress=False)
    strategy = jqgen.training.gradient(model, optax.adam(0.05), batch_size=data.shape[0])
    run_chunk = _chunk_program(_Keyed(strategy.step), 10)
    size = run_chunk._cache_size()
    # another step count and an optimizer built anew with the same settings: no new compilation
    b = jqgen.fit(model, p0, data, optax.adam(0.05), key=jax.random.key(1), steps=25, chunk_size=10, progress=False)
    assert run_chunk._cache_size() == size == 1
    np.testing.assert_array_equal(a.history[:25], b.history)


def test_fit_resumes_from_its_checkpoint_to_the_identical_result(tmp_path):
    data = bars_and_stripes(2, 2)
    model = jqgen.MPSBornMachine(4, 3)
    p0 = model.init(jax.random.key(0))
    kw = dict(key=jax.random.key(1), steps=30, chunk_size=10, batch_size=3, progress=False)
    full = jqgen.fit(model, p0, data, optax.adam(0.05), **kw)
    path = tmp_path / "run.npz"

    class Killed(Exception):
        pass

    def kill(done, params, state, history):
        if done == 20:
            raise Killed

    with pytest.raises(Killed):
        jqgen.fit(model, p0, data, optax.adam(0.05), checkpoint_path=path, callback=kill, **kw)
    info = jqgen.checkpoint_info(path)["metadata"]["training"]
    assert info["steps_done"] == 20 and info["status"] == "running" and len(info["metrics"]["loss"]) == 20
    resumed = jqgen.fit(model, p0, data, optax.adam(0.05), checkpoint_path=path, **kw)
    np.testing.assert_array_equal(np.asarray(resumed.params.tensors), np.asarray(full.params.tensors))
    np.testing.assert_array_equal(resumed.history, full.history)
    assert resumed.status == "completed" and resumed.steps_done == 30
    with pytest.raises(ValueError, match="other settings.*optimizer"):
        jqgen.fit(model, p0, data, optax.adam(0.01), checkpoint_path=path, **kw)
    with pytest.raises(ValueError, match="key"):
        jqgen.fit(model, p0, data, optax.adam(0.05), checkpoint_path=path, **{**kw, "key": jax.random.key(2)})


def test_distribution_losses_train_any_model_with_dense_probs():
    """make_loss's exact (autodiff) losses are not QCBM-only: an MPS trains on MMD; the
    parameter-shift rule, which needs Pauli-rotation angles, refuses it."""
    data = bars_and_stripes(2, 2)
    model = jqgen.MPSBornMachine(4, 2)
    res = jqgen.fit(model, model.init(jax.random.key(0)), data, optax.adam(0.05), key=jax.random.key(1), steps=30,
                    loss=jqgen.qcbm.make_loss(model, "mmd"), progress=False)
    assert res.history[-1] < 0.5 * res.history[0]
    with pytest.raises(ValueError, match="parameter-shift rule needs a jqgen.QCBM"):
        jqgen.qcbm.make_loss(model, "mmd", shots=100)
