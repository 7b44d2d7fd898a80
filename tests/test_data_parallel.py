"""One data set over many devices (issue 20 part 3, data parallelism): in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (the rest of the suite keeps one
device), ``jqgen.fit(..., devices=jax.devices())`` and ``jqgen.sweep_train(...,
devices=jax.devices())`` split the rows of a random 12-bit (sweeps: 10-bit) data set of 96
rows over the 8 devices, and give the losses and parameters of the single-device run:

* gradient training (float32 MPS, minibatches of 24 drawn by the same keys, Adam): losses
  and parameters within 1e-5 (absolute, relative for losses above 1); the minibatch inside
  the compiled step is split over all 8 devices (``jax.debug.inspect_array_sharding``);
* two-site sweeps in float64 (4 minibatches, so the interleaved layout of
  ``jqgen.mps._sweep_sharded.interleave_rows`` must give each step the single-device
  minibatch): NLLs, the probabilities of all 2^10 strings and the tensors up to the signs
  of singular vectors (``|A|``: LAPACK may pick another sign of a singular vector pair
  for inputs that differ in the last bits, a gauge change that leaves the state as it is)
  within 1e-10, the same bond dimensions, and the environments of a loop stay split over
  the 8 devices (``N / 8`` rows each);
* (slow) float32 sweeps, full batch and 4 minibatches, 2 loops: NLL within 1e-4 relative
  and the probabilities of all 2^10 strings within 3e-4 (measured: 1.8e-5 and 7.4e-5;
  float32 rounding, amplified by the truncated SVDs; the float64 run shows that the
  minibatches are the same).

Row counts or minibatch sizes that are not multiples of the device count raise ValueError.
"""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import jqgen

SCRIPT = textwrap.dedent("""
    import json, sys
    PART = sys.argv[1]
    import jax
    jax.config.update("jax_enable_x64", PART == "default")
    import jax.numpy as jnp, numpy as np, optax
    from jax.sharding import NamedSharding, PartitionSpec as P
    import jqgen
    from jqgen._mesh import data_mesh

    assert jax.device_count() == 8, jax.devices()
    devs = jax.devices()
    rng = np.random.default_rng(0)
    out = {}
    diff = lambda a, b: float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
    if PART == "default":
        data = (rng.random((96, 12)) < 0.3).astype(np.uint8)
        model = jqgen.MPSBornMachine(12, 4)
        p0 = model.init(jax.random.key(0))
        seen = []
        def loss(p, batch, key):  # the default NLL, reporting how XLA placed the minibatch
            jax.debug.inspect_array_sharding(batch, callback=lambda s: seen.append(len(s.device_set)))
            return jax.value_and_grad(lambda q: -jnp.mean(model.log_prob(q, batch)))(p)
        f1, f8 = (jqgen.fit(model, p0, data, optax.adam(0.05), key=jax.random.key(1), steps=6, batch_size=24,
                            loss=loss, progress=False, devices=d) for d in (None, devs))
        out["fit"] = {"loss": diff(f1.history, f8.history), "params": diff(f1.params.tensors, f8.params.tensors),
                      "scale": float(np.max(np.abs(f1.history))), "batch_devices": seen,
                      "param_devices": len(f8.params.tensors.sharding.device_set),
                      "dtype": str(f1.params.tensors.dtype)}
        errors = []
        for n_rows, bs in ((90, None), (96, 20)):
            try:
                jqgen.fit(model, p0, data[:n_rows], optax.adam(0.05), key=jax.random.key(1), steps=1,
                          batch_size=bs, progress=False, devices=devs)
            except ValueError as e:
                errors.append(str(e))
        out["fit_errors"] = errors
        data = data[:, :10]
        allx = jnp.asarray((np.arange(1024)[:, None] >> np.arange(9, -1, -1)) & 1, jnp.uint8)
        kw = dict(max_bond=8, loops=1, key=jax.random.key(3), lr=0.05, num_batches=4, descent_steps=4,
                  progress=False, dtype=jnp.float64)
        s1, s8 = (jqgen.sweep_train(data, devices=d, **kw) for d in (None, devs))
        p1, p8 = (s.model.log_prob(jax.device_get(s.mps), allx) for s in (s1, s8))
        config = jqgen.mps.SweepConfig(8, lr=0.05, num_batches=4, descent_steps=4, dtype=jnp.float64)
        mesh = data_mesh(devs)  # one loop as sweep_train runs it (same compiled kernels), to see its environments
        rows = jax.device_put(jnp.asarray(data), NamedSharding(mesh, P("data")))
        carry, _ = jqgen.mps.sweep_loop(config, s8.mps.tensors, s8.bond_dims, rows, jax.random.key(1), 0.05, 1e-7,
                                        mesh=mesh)
        try:
            jqgen.sweep_train(data[:90], **kw, devices=devs)
            sweep_error = None
        except ValueError as e:
            sweep_error = str(e)
        out["sweep"] = {"nll": diff(s1.history["train_nll"], s8.history["train_nll"]),
                        "abs_tensors": diff(np.abs(s1.mps.tensors), np.abs(s8.mps.tensors)),
                        "probs": diff(np.exp(p1), np.exp(p8)), "dims": s1.bond_dims.tolist() == s8.bond_dims.tolist(),
                        "env_devices": len(carry.left.sharding.device_set),
                        "env_rows_per_device": sorted({s.data.shape[1] for s in carry.left.addressable_shards}),
                        "tensor_devices": len(s8.mps.tensors.sharding.device_set), "error": sweep_error}
    else:
        data = (rng.random((96, 10)) < 0.3).astype(np.uint8)
        allx = jnp.asarray((np.arange(1024)[:, None] >> np.arange(9, -1, -1)) & 1, jnp.uint8)
        for nb in (1, 4):
            kw = dict(max_bond=8, loops=2, key=jax.random.key(3), lr=0.05, num_batches=nb, progress=False)
            s1, s8 = (jqgen.sweep_train(data, devices=d, **kw) for d in (None, devs))
            p1, p8 = (jnp.exp(s.model.log_prob(jax.device_get(s.mps), allx)) for s in (s1, s8))
            out[f"sweep{nb}"] = {"nll": diff(s1.history["train_nll"], s8.history["train_nll"]),
                                 "scale": max(s1.history["train_nll"]), "probs": diff(p1, p8)}
    print(json.dumps(out))
""")


def _run(part):
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, part], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_training_on_8_host_devices_equals_the_single_device_run():
    out = _run("default")
    fit = out["fit"]
    assert fit["dtype"] == "float32", out
    assert fit["loss"] <= 1e-5 * max(1.0, fit["scale"]) and fit["params"] <= 1e-5, out
    assert fit["batch_devices"] == [1, 8] and fit["param_devices"] == 8, out
    assert len(out["fit_errors"]) == 2, out
    assert "90" in out["fit_errors"][0] and "8" in out["fit_errors"][0], out
    assert "batch size = 20" in out["fit_errors"][1], out
    sweep = out["sweep"]
    assert sweep["nll"] <= 1e-10 and sweep["probs"] <= 1e-10 and sweep["abs_tensors"] <= 1e-10 and sweep["dims"], out
    assert sweep["env_devices"] == 8 and sweep["env_rows_per_device"] == [96 // 8], out
    assert sweep["tensor_devices"] == 8, out
    assert sweep["error"] is not None and "90" in sweep["error"], out


@pytest.mark.slow
def test_float32_sweeps_on_8_host_devices_agree_to_rounding():
    out = _run("slow")
    for nb in (1, 4):
        got = out[f"sweep{nb}"]
        assert got["nll"] <= 1e-4 * got["scale"] and got["probs"] <= 3e-4, out


def test_bad_devices_are_refused_by_name():
    from jqgen.data import bars_and_stripes

    data = bars_and_stripes(3, 3)
    for bad in ("cpu", [], [jax.devices()[0]] * 2):
        with pytest.raises(ValueError, match="devices must be"):
            jqgen.sweep_train(data, max_bond=4, loops=1, key=jax.random.key(0), progress=False, devices=bad)
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("models",))
    with pytest.raises(ValueError, match="axis named 'data'"):
        jqgen.sweep_train(data, max_bond=4, loops=1, key=jax.random.key(0), progress=False, devices=mesh)
    with pytest.raises(ValueError, match="constrained"):
        jqgen.sweep_train(np.eye(9, dtype=np.uint8), max_bond=4, loops=1, key=jax.random.key(0), progress=False,
                          target=1, num_batches=1, devices=jax.devices())
