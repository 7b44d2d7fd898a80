"""Overhead of sharding an experiment's model axis (issue 20): 64 QCBMs (n = 10) sharded
over 8 forced host devices vs on one device, in one run.

Eight host devices on a 2-core CPU are no speed-up (they share the cores); what this
measures is what sharding costs: compile and run seconds of the same grid
(``jqgen.experiments.run_experiment``, 64 seeds of a Liu-Wang line circuit of 4 layers on
the cardinality-10-5-0.3 data, Adam on the KL, 200 steps) placed on one device and sharded
over 8, and as the peer the same 64 runs one after another with ``jqgen.fit`` (one
compilation, 64 calls). Compile is the first call minus a second call of the same grid
(the compiled chunk is reused, run-time work only); every figure is wall clock with the
results on the host (``run_experiment`` returns host values).

    python benchmarks/experiment_overhead.py --json benchmarks/results/experiment_overhead_cpu.json
    python benchmarks/experiment_overhead.py --runs 16 --steps 20   # a quick check
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _env  # noqa: E402

import jqgen  # noqa: E402
from jqgen.data import load_dataset  # noqa: E402
from jqgen.experiments import parse_experiment, run_experiment  # noqa: E402
from jqgen.qcbm import make_loss  # noqa: E402

DATA = "cardinality-10-5-0.3"


def experiment(runs: int, steps: int):
    return parse_experiment({
        "name": f"qcbm{runs}", "data": {"name": DATA},
        "model": {"family": "qcbm", "ansatz": "cnot-line", "layers": 4},
        "trainer": {"name": "gradient", "loss": "kl", "lr": 0.05, "steps": steps},
        "grid": {"seed": list(range(runs))}, "metrics": {"report": ["kl"]}})


def timed_experiment(e, devices, tmp: str, tag: str) -> dict:
    t0 = time.perf_counter()
    first = run_experiment(e, os.path.join(tmp, f"{tag}-a"), devices=devices, progress=False)
    t1 = time.perf_counter()
    second = run_experiment(e, os.path.join(tmp, f"{tag}-b"), devices=devices, progress=False)
    t2 = time.perf_counter()
    assert [r["curve"] for r in first.runs] == [r["curve"] for r in second.runs]
    return {"devices": len(devices), "first_call_s": t1 - t0, "run_s": t2 - t1, "compile_s": (t1 - t0) - (t2 - t1),
            "final_kl": first.column("kl").tolist()}


def timed_loop(runs: int, steps: int) -> dict:
    ds = load_dataset(DATA)
    model = jqgen.QCBM(jqgen.qcbm.ansatz_by_name("cnot-line", ds.num_bits, 4))
    loss = make_loss(model, "kl")
    times, finals = [], []
    for seed in range(runs):
        k_init, k_fit, _ = jax.random.split(jax.random.key(seed), 3)
        t0 = time.perf_counter()
        res = jqgen.fit(model, model.init(k_init), ds.data, optax.inject_hyperparams(optax.adam)(learning_rate=0.05),
                        key=k_fit, steps=steps, loss=loss, progress=False)
        jax.block_until_ready(res.params)
        times.append(time.perf_counter() - t0)
        finals.append(float(res.history[-1]))
    return {"first_call_s": times[0], "run_s": float(sum(times[1:]) * runs / max(runs - 1, 1)),
            "compile_s": times[0] - float(np.median(times[1:])) if runs > 1 else None, "last_loss": finals}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=64)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    e = experiment(args.runs, args.steps)
    other = _env.OtherCPU()
    other.start()
    with tempfile.TemporaryDirectory() as tmp:
        one = timed_experiment(e, jax.devices()[:1], tmp, "one")
        eight = timed_experiment(e, jax.devices(), tmp, "eight")
    loop = timed_loop(args.runs, args.steps)
    kl_diff = float(np.max(np.abs(np.array(one["final_kl"]) - np.array(eight["final_kl"]))))
    out = {"benchmark": "experiment_overhead", "environment": _env.environment(), "forced_host_devices": len(jax.devices()),
           "grid": {"runs": args.runs, "steps": args.steps, "data": DATA, "model": "QCBM cnot-line, 4 layers, n = 10",
                    "trainer": "Adam 0.05 on the exact KL"},
           "one_device": {k: v for k, v in one.items() if k != "final_kl"},
           "eight_devices": {k: v for k, v in eight.items() if k != "final_kl"},
           "python_loop_of_fit": {k: v for k, v in loop.items() if k != "last_loss"},
           "ratios": {"sharded_over_one_device_run": eight["run_s"] / one["run_s"],
                      "sharded_over_one_device_compile": eight["compile_s"] / max(one["compile_s"], 1e-9),
                      "loop_over_one_device_run": loop["run_s"] / one["run_s"]},
           "max_final_kl_difference_8_vs_1": kl_diff,
           "other_cpu": other.stop()}
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
