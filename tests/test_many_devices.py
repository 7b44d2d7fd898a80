"""Many models and big states on many devices (issue 20, part 5): in a
subprocess with ``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (the rest of the suite
keeps one device), a batch of QCBM and MPS parameter sets sharded along its model axis over
a mesh of the 8 devices gives the values and gradients of the unsharded batch, and the
results stay sharded over all 8 devices (XLA partitions the vmapped program: no
communication, the models are independent); an experiment sharded over the 8 devices gives
the one-device results; a QCBM statevector sharded over them (jqgen.qcbm.sharded_state)
equals the single-device state, with equal gradients, a slice of the memory per device and
memory flat in depth."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, sys
    FAMILIES = sys.argv[1:]
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    import jqgen
    from jqgen.data import bars_and_stripes

    assert jax.device_count() == 8, jax.devices()
    data = jnp.asarray(bars_and_stripes(2, 2))
    mesh = Mesh(np.array(jax.devices()), ("models",))
    out = {}
    for name, model in [(n, m) for n, m in [("qcbm", jqgen.QCBM(jqgen.qcbm.HardwareEfficient(4, 1))),
                                            ("mps", jqgen.MPSBornMachine(4, 2))] if n in FAMILIES]:
        params = jax.vmap(model.init)(jax.random.split(jax.random.key(0), 16))
        loss = lambda p: -jnp.mean(model.log_prob(p, data))
        batched = jax.jit(jax.vmap(jax.value_and_grad(loss)))
        one = jax.device_put(params, jax.devices()[0])
        sharded = jax.device_put(params, NamedSharding(mesh, P("models")))
        (v1, g1), (v8, g8) = batched(one), batched(sharded)
        diff = max(float(jnp.max(jnp.abs(a - jax.device_get(b))))
                   for a, b in zip(jax.tree_util.tree_leaves((v1, g1)), jax.tree_util.tree_leaves((v8, g8))))
        out[name] = {"max_abs_diff": diff, "devices": len(v8.sharding.device_set),
                     "scale": float(jnp.max(jnp.abs(v1)))}
    print(json.dumps(out))
""")


@pytest.mark.parametrize("family", ["qcbm", pytest.param("mps", marks=pytest.mark.slow)])
def test_a_sharded_batch_of_models_equals_the_unsharded_one_on_8_host_devices(family):
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, family], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in (family,):
        assert out[name]["devices"] == 8, out
        assert out[name]["max_abs_diff"] <= 1e-5 * max(1.0, out[name]["scale"]), out


EXPERIMENT_SCRIPT = textwrap.dedent("""
    import json, sys, tempfile
    import jax, jax.numpy as jnp, numpy as np, optax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    import jqgen
    from jqgen.experiments import parse_experiment, run_experiment
    from jqgen.training import ModelBatch, gradient, run, stacked

    assert jax.device_count() == 8, jax.devices()
    e = parse_experiment({"data": {"name": "bars-stripes-2x2"}, "model": {"family": "mps", "chi_max": 2},
                          "trainer": {"name": "gradient", "steps": 10},
                          "grid": {"seed": [0, 1, 2, 3, 4, 5], "lr": [0.05, 0.2]},
                          "metrics": {"report": ["kl", "nll"]}})
    tmp = tempfile.mkdtemp()
    eight = run_experiment(e, tmp + "/eight", progress=False)
    one = run_experiment(e, tmp + "/one", devices=jax.devices()[:1], progress=False)
    shard = json.load(open(tmp + "/eight/shards/g0-s0.json"))
    diff = max(max(abs(a - b) for a, b in zip(x["curve"], y["curve"])) for x, y in zip(eight.runs, one.runs))
    fdiff = max(abs(x["final"][k] - y["final"][k]) for x, y in zip(eight.runs, one.runs) for k in ("kl", "nll"))
    # the runner's place hook really spreads a stacked run over the 8 devices
    model = jqgen.MPSBornMachine(4, 2)
    batch = ModelBatch(model, 8)
    sharding = NamedSharding(Mesh(np.array(jax.devices()), ("models",)), P("models"))
    place = lambda t: jax.tree_util.tree_map(lambda x: jax.device_put(x, sharding), t)
    res = run(stacked(gradient(model, optax.adam(0.1), batch_size=6), jax.random.split(jax.random.key(0), 8)),
              batch.init(jax.random.key(1)), jqgen.data.bars_and_stripes(2, 2), key=jax.random.key(0), steps=3,
              progress=False, place=place)
    print(json.dumps({"curve_diff": diff, "final_diff": fdiff, "runs": len(eight.runs),
                      "padded": shard["padded_size"], "devices": shard["devices"],
                      "param_devices": len(jax.tree_util.tree_leaves(res.params)[0].sharding.device_set),
                      "state_devices": len(res.state.failed_at.sharding.device_set)}))
""")


def test_an_experiment_sharded_over_8_host_devices_equals_the_one_device_run():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", EXPERIMENT_SCRIPT], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["runs"] == 12 and out["padded"] == 16 and out["devices"] == 8, out
    assert out["param_devices"] == 8 and out["state_devices"] == 8, out
    assert out["curve_diff"] <= 1e-5 and out["final_diff"] <= 1e-5, out


STATEVECTOR_SCRIPT = textwrap.dedent("""
    import json, sys
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import Mesh
    import jqgen
    from jqgen.qcbm import sharded_probs, sharded_state

    assert jax.device_count() == 8, jax.devices()
    mesh = Mesh(np.array(jax.devices()), ("amps",))
    out = {}
    for name in [a for a in sys.argv[1:] if a != "--memory"]:
        model = jqgen.QCBM(jqgen.qcbm.ansatz_by_name(name, 8, 3))
        p = model.init(jax.random.key(1))
        psi = sharded_state(model, p, mesh)
        loss = lambda q, probs: -jnp.sum(jnp.log(probs(q)[:7] + 1e-6))
        g1 = jax.jit(jax.grad(lambda q: loss(q, model.probs)))(p)
        g8 = jax.jit(jax.grad(lambda q: loss(q, lambda r: sharded_probs(model, r, mesh))))(p)
        leaves = list(zip(jax.tree_util.tree_leaves(g1), jax.tree_util.tree_leaves(g8)))
        out[name] = {"state_diff": float(jnp.max(jnp.abs(psi - model.state(p)))),
                     "grad_rel": max(float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(a))) for a, b in leaves),
                     "devices": len(psi.sharding.device_set)}
    # memory per device of a value_and_grad step at n = 12, 1 vs 8 devices, depth 2 vs 8
    mem = {}
    for layers in ((2, 8) if "--memory" in sys.argv else ()):
        model = jqgen.QCBM(jqgen.qcbm.ansatz_by_name("cnot-line", 12, layers))
        p = model.init(jax.random.key(0))
        for d in (1, 8):
            m = Mesh(np.array(jax.devices()[:d]), ("amps",))
            f = jax.jit(jax.value_and_grad(lambda q: jnp.sum(sharded_probs(model, q, m)[:5])))
            mem[f"{layers}-{d}"] = f.lower(p).compile().memory_analysis().temp_size_in_bytes
    errors = []
    for devices, n in ((jax.devices()[:3], 10), (jax.devices(), 7)):
        try:
            sharded_state(jqgen.QCBM(jqgen.qcbm.LiuWang(n, 1)), jqgen.QCBM(jqgen.qcbm.LiuWang(n, 1)).init(
                jax.random.key(0)), Mesh(np.array(devices), ("amps",)))
        except ValueError as e:
            errors.append(str(e))
    print(json.dumps({"families": out, "memory": mem, "errors": errors}))
""")


def _statevector_run(*args: str) -> dict:
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", STATEVECTOR_SCRIPT, *args], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("families", [("cnot-line",), pytest.param(("line", "su4", "all", "star"),
                                                                       marks=pytest.mark.slow)])
def test_a_statevector_sharded_over_8_host_devices_equals_the_single_device_one(families):
    out = _statevector_run(*families)
    for name in families:
        r = out["families"][name]
        assert r["devices"] == 8 and r["state_diff"] <= 2e-6 and r["grad_rel"] <= 1e-4, (name, r)
    assert "power of 2" in out["errors"][0] and "n >= 2 * 3 + 2" in out["errors"][1], out["errors"]


@pytest.mark.slow
def test_a_sharded_statevector_step_holds_a_slice_per_device_flat_in_depth():
    mem, chunk = _statevector_run("--memory")["memory"], 2**12 * 8 // 8
    assert abs(mem["2-8"] - mem["8-8"]) < chunk and abs(mem["2-1"] - mem["8-1"]) < chunk, mem  # flat in depth
    assert mem["8-8"] <= mem["8-1"] / 5 and mem["8-8"] <= 24 * chunk, mem  # each device holds a slice
