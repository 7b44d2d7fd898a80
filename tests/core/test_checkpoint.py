"""Checkpoints: exact round trips (params, model, optimizer state, metadata) and clear
errors for missing, corrupt, mismatched or non-finite files."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jqgen
from jqgen.checkpoint import _read, _write, checkpoint_info, load_checkpoint, model_from_config, save_checkpoint
from jqgen.data import bars_and_stripes


def _trained(model, steps=3, lr=0.1):
    """Params and Adam state after a few real steps (so every leaf is non-trivial)."""
    params = jax.jit(model.init)(jax.random.key(1))
    opt = optax.adam(lr)
    opt_state = opt.init(params)
    data = jnp.asarray(bars_and_stripes(2, model.num_bits // 2))

    @jax.jit
    def step(params, opt_state):
        g = jax.grad(lambda p: -jnp.mean(model.log_prob(p, data)))(params)
        with jax.numpy_dtype_promotion("standard"):  # optax's adam computes b1 ** int32 count
            updates, opt_state = opt.update(jax.tree_util.tree_map(jnp.conj, g), opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    for _ in range(steps):
        params, opt_state = step(params, opt_state)
    return params, opt, opt_state


def _assert_trees_equal(a, b):
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _rewrite(path, edit):
    """Rewrites an .npz checkpoint after ``edit(arrays, header)`` changed it in place."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(str(arrays["__jqgen__"]))
    edit(arrays, header)
    arrays["__jqgen__"] = np.array(json.dumps(header))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.complex64, pytest.param(jnp.float64, marks=pytest.mark.float64)])
def test_round_trip_params_model_metadata(tmp_path, dtype):
    model = jqgen.MPSBornMachine(num_bits=6, chi_max=3, init_noise=0.25, dtype=dtype)
    params, _, _ = _trained(model)
    meta = {"data": "bars-stripes-2x3", "image_shape": (2, 3), "nll": np.float32(1.5), "steps": 3, "note": None}
    path = tmp_path / "ckpt.npz"
    assert save_checkpoint(path, model, params, metadata=meta) == str(path)
    ck = load_checkpoint(path)
    assert ck.model == model and ck.model.config() == model.config()
    assert hash(ck.model) == hash(model)
    _assert_trees_equal(ck.params, params)
    assert isinstance(ck.params, jqgen.mps.MPS)
    assert ck.metadata == {"data": "bars-stripes-2x3", "image_shape": [2, 3], "nll": 1.5, "steps": 3, "note": None}
    assert ck.opt_state is None
    bits = jqgen.all_bitstrings(6)
    lp = jax.jit(lambda m, p: m.log_prob(p, bits), static_argnums=0)
    np.testing.assert_array_equal(np.asarray(lp(ck.model, ck.params)), np.asarray(lp(model, params)))
    info = checkpoint_info(path)
    assert info["config"] == model.config() and info["jqgen_version"] == jqgen.__version__
    assert [s["path"] for s in info["params"]] == [".tensors"]
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # no temporary files left behind


@pytest.mark.slow
def test_opt_state_round_trip_and_resume(tmp_path):
    model = jqgen.MPSBornMachine(num_bits=4, chi_max=2)
    params, opt, opt_state = _trained(model, steps=4)
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, model, params, opt_state=opt_state, metadata={"steps": 4})
    ck = load_checkpoint(path, optimizer=opt)
    _assert_trees_equal(ck.opt_state, opt_state)
    assert int(ck.opt_state[0].count) == 4
    # the restored state continues training exactly like the original
    g = jax.jit(jax.grad(lambda p: -jnp.mean(model.log_prob(p, jnp.asarray(bars_and_stripes(2, 2))))))(params)
    with jax.numpy_dtype_promotion("standard"):
        u1, _ = opt.update(g, opt_state, params)
        u2, _ = opt.update(g, ck.opt_state, ck.params)
    _assert_trees_equal(u1, u2)
    assert load_checkpoint(path).opt_state is None  # no optimizer given: state not rebuilt
    # an optimizer with a different state structure is rejected
    with pytest.raises(ValueError, match="opt_state"):
        load_checkpoint(path, optimizer=optax.chain(optax.clip_by_global_norm(1.0), optax.adam(0.1), optax.scale(1.0)))
    # no state saved: None even with an optimizer
    save_checkpoint(path, model, params)
    assert load_checkpoint(path, optimizer=opt).opt_state is None


def test_overwrite_is_atomic_replacement(tmp_path):
    model = jqgen.MPSBornMachine(num_bits=4, chi_max=2)
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, model, model.init(jax.random.key(0)), metadata={"v": 1})
    p2 = model.init(jax.random.key(5))
    save_checkpoint(path, model, p2, metadata={"v": 2})
    ck = load_checkpoint(path)
    assert ck.metadata == {"v": 2}
    _assert_trees_equal(ck.params, p2)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


def test_save_rejects_bad_inputs_without_writing(tmp_path):
    model = jqgen.MPSBornMachine(num_bits=4, chi_max=2)
    params = model.init(jax.random.key(0))
    path = tmp_path / "ckpt.npz"
    with pytest.raises(TypeError, match="JSON"):
        save_checkpoint(path, model, params, metadata={"f": object()})
    with pytest.raises(ValueError, match="shape"):
        save_checkpoint(path, jqgen.MPSBornMachine(num_bits=4, chi_max=3), params)
    with pytest.raises(ValueError, match="dtype"):
        save_checkpoint(path, model, jqgen.mps.MPS(params.tensors.astype(jnp.complex64)))
    with pytest.raises(FileNotFoundError):
        save_checkpoint(tmp_path / "no" / "such" / "dir.npz", model, params)
    assert os.listdir(tmp_path) == []


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_checkpoint(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file at all" * 10)
    with pytest.raises(ValueError, match="not a readable jqgen checkpoint"):
        load_checkpoint(garbage)

    model = jqgen.MPSBornMachine(num_bits=4, chi_max=2)
    good = tmp_path / "good.npz"
    save_checkpoint(good, model, model.init(jax.random.key(0)))
    raw = good.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError):
        load_checkpoint(truncated)
    flipped = tmp_path / "flipped.npz"  # corrupt bytes inside a stored array (CRC mismatch)
    flipped.write_bytes(raw[:200] + bytes(b ^ 0xFF for b in raw[200:260]) + raw[260:])
    with pytest.raises(ValueError):
        load_checkpoint(flipped)

    plain = tmp_path / "plain.npz"  # a valid npz that is not a checkpoint
    np.savez(plain, x=np.zeros(3))
    with pytest.raises(ValueError, match="not a jqgen checkpoint"):
        load_checkpoint(plain)

    bad_json = tmp_path / "bad_json.npz"
    np.savez(bad_json, __jqgen__=np.array("{not json"))
    with pytest.raises(ValueError, match="header"):
        load_checkpoint(bad_json)


def test_mismatched_shapes_dtypes_and_family(tmp_path):
    model = jqgen.MPSBornMachine(num_bits=5, chi_max=3)
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, model, model.init(jax.random.key(0)))

    def chi4(arrays, header):
        header["config"]["chi_max"] = 4

    _rewrite(path, chi4)
    with pytest.raises(ValueError, match=r"\.tensors has shape \(5, 3, 2, 3\), expected \(5, 4, 2, 4\)"):
        load_checkpoint(path)

    save_checkpoint(path, model, model.init(jax.random.key(0)))
    _rewrite(path, lambda a, h: h["config"].update(dtype="complex64"))
    with pytest.raises(ValueError, match="dtype float32, expected complex64"):
        load_checkpoint(path)

    save_checkpoint(path, model, model.init(jax.random.key(0)))
    _rewrite(path, lambda a, h: h["config"].update(family="qcbm-from-the-future"))
    with pytest.raises(ValueError, match="unknown model family"):
        load_checkpoint(path)

    save_checkpoint(path, model, model.init(jax.random.key(0)))
    _rewrite(path, lambda a, h: a.pop("param_0"))
    with pytest.raises(ValueError, match="missing"):
        load_checkpoint(path)

    save_checkpoint(path, model, model.init(jax.random.key(0)))
    _rewrite(path, lambda a, h: h.update(format=99))
    with pytest.raises(ValueError, match="format 99"):
        load_checkpoint(path)

    with pytest.raises(ValueError, match="chi_max"):
        model_from_config({"family": "mps", "num_bits": 4, "chi_max": 0, "init_noise": 0.5, "dtype": "float32"})


def test_non_finite_params_rejected_at_load(tmp_path):
    model = jqgen.MPSBornMachine(num_bits=4, chi_max=2)
    params = model.init(jax.random.key(0))
    path = tmp_path / "nan.npz"
    with pytest.raises(ValueError, match="cannot save: params contain a non-finite value"):
        save_checkpoint(path, model, jqgen.mps.MPS(params.tensors.at[1, 0, 1, 0].set(jnp.nan)))
    assert not path.exists()
    save_checkpoint(path, model, params)
    header, arrays = _read(path)  # a file edited (or written by another program) after saving
    _write(str(path), header, {**arrays, "param_0": np.asarray(params.tensors.at[1, 0, 1, 0].set(jnp.nan))})
    with pytest.raises(ValueError, match=r"non-finite value \(.*nan\) at index \(1, 0, 1, 0\)"):
        load_checkpoint(path)
    _write(str(path), header, {**arrays, "param_0": np.asarray(params.tensors.at[0, 0, 0, 0].set(jnp.inf))})
    with pytest.raises(ValueError, match="non-finite"):
        load_checkpoint(path)


def test_64_bit_checkpoint_needs_x64(tmp_path):
    path = tmp_path / "f64.npz"
    with jax.enable_x64(True):  # a float64 model needs x64 (jqgen.MPSBornMachine refuses it otherwise)
        model = jqgen.MPSBornMachine(num_bits=4, chi_max=2, dtype=jnp.float64)
        save_checkpoint(path, model, model.init(jax.random.key(0)))
    with jax.enable_x64(False):
        with pytest.raises(ValueError, match=r"f64\.npz holds 64-bit values.*jax_enable_x64"):
            load_checkpoint(path)
    with jax.enable_x64(True):
        assert load_checkpoint(path).params.tensors.dtype == jnp.float64
