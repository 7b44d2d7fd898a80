"""QCBM speed: jqgen's fused engine against the same circuit written with TensorCircuit, in one run.

Circuit: Liu & Wang's ansatz with a CNOT line, ``L`` blocks: RX RZ on every qubit, then
``L`` x (CNOT line; RZ RX RZ on every qubit). Measured: ``jit(value_and_grad(KL(target || p)))``
with a fixed random target passed as an argument (as training passes its data, so no
``2**n`` constant is compiled in), float32; compile time (lower + compile) apart from the median
step time (``block_until_ready``), at every ``n`` and depth of the grid:

* ``jqgen``: jqgen's fused engine (``QCBM()``: fused blocks, layers in ``lax.scan``,
  adjoint gradients);
* ``tc_scan``: TensorCircuit with ``lax.scan`` over blocks (``QCBM(engine="tensorcircuit")``);
* ``tc_plain``: the circuit as one ``tc.Circuit`` of named gates, unrolled in Python. Its
  compile grows with the gate count (61 s at n = 12, depth 4); it runs in a child process
  killed after ``--plain-limit`` seconds (default 120) and is recorded as skipped then.

Also: peak memory (``memory_analysis()`` of the compiled step: temporaries + arguments +
outputs) of jqgen's step vs depth at n = 20 with adjoint and backprop gradients; a
STREAM-like copy bandwidth measured in the same run and each jqgen step's effective
bandwidth (the plan's state traffic per step / step time); ``vmap`` of 64 models at
n = 10; sampling throughput at n = 20. The load average is recorded before and after
(the machine may be shared).

    python benchmarks/qcbm_bench.py --json benchmarks/results/qcbm_bench_cpu.json   # full grid, < 15 min
    python benchmarks/qcbm_bench.py --quick    # smoke test: n = 4, 6; depth 2, 4 (writes nothing)
    python benchmarks/qcbm_bench.py --n 12 16 --layers 4 --no-plain   # any sub-grid
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _env  # noqa: E402

import jqgen  # noqa: E402
from jqgen.distributions import kl_divergence  # noqa: E402
from jqgen.qcbm import QCBM, LiuWang  # noqa: E402
from jqgen.qcbm import _engine  # noqa: E402


#: sizes of the full run and of ``--quick``: the grid (n, depth), plain TensorCircuit's cells (tried under the
#: compile limit), the memory sweep (n, depths), vmap (n, models), sampling (n, shots)
FULL = {"n": (12, 16, 20, 22), "layers": (4, 8, 16), "plain": ((12, 4), (12, 8), (16, 4)), "memory": (20, (4, 8, 16)),
        "vmap": (10, 64), "sampling": (20, 1_000_000), "min_time": 0.5, "copy_mib": 256}
QUICK = {"n": (4, 6), "layers": (2, 4), "plain": ((4, 2),), "memory": (6, (2, 4)), "vmap": (4, 8),
         "sampling": (8, 10_000), "min_time": 0.05, "copy_mib": 16}


def timed(fn, args, repeats: int, min_time: float = 1.0) -> dict:
    """Compile time and the median step time: at least 3 steps, then more until ``repeats`` steps or
    ``min_time`` seconds."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(*args))  # warm-up
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (len(times) < repeats and time.perf_counter() - start < min_time):
        t = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t)
    return {"compile_s": round(compile_s, 3), "step_ms": round(1e3 * statistics.median(times), 4), "repeats": len(times)}


def target(n: int) -> jax.Array:
    return jnp.asarray(np.random.default_rng(0).dirichlet(np.ones(2**n)), jnp.float32)


def loss_fns(n: int, layers: int, with_tc: bool = True, gradient: str = "adjoint"):
    ansatz = LiuWang(n, layers)
    t = target(n)
    fused = QCBM(ansatz, gradient=gradient)

    def kl_of(model):
        return jax.value_and_grad(lambda p, t: kl_divergence(t, model.probs(p)))

    def plain(p, t):
        psi = jqgen.qcbm.circuit_from_ops(n, jqgen.qcbm.ops(ansatz, p), jnp.float32).state()
        return kl_divergence(t, jnp.real(psi) ** 2 + jnp.imag(psi) ** 2)

    fns = {"jqgen": kl_of(fused)}
    if with_tc:
        fns.update(tc_scan=kl_of(QCBM(ansatz, engine="tensorcircuit")), tc_plain=jax.value_and_grad(plain))
    return (fused.init(jax.random.key(0)), t), fns


def copy_bandwidth(mib: int) -> dict:
    """STREAM-like copy: ``y = 2 x`` on ``mib`` MiB of float32 (bytes read + written / time)."""
    x = jnp.ones((mib * 2**20 // 4,), jnp.float32)
    f = jax.jit(lambda a: a * 2)
    jax.block_until_ready(f(x))
    ts = []
    for _ in range(10):
        t = time.perf_counter()
        jax.block_until_ready(f(x))
        ts.append(time.perf_counter() - t)
    return {"mib": mib, "gb_per_s": round(2 * x.nbytes / min(ts) / 1e9, 2), "median_gb_per_s": round(2 * x.nbytes / statistics.median(ts) / 1e9, 2)}


def plan_traffic_bytes(n: int, layers: int) -> int:
    """State traffic of a jqgen step by its plan: per fused block, forward 2 state transfers
    (read, write) and adjoint backward 6 (inverse pass 2, cotangent pass 2, block gradient
    reads 2); the loss and the first layer are not counted."""
    a = LiuWang(n, layers)
    p = a.init(jax.random.key(0))
    gates = _engine.gates_from_ops(a.block_ops({k: v[0] for k, v in a.block_params(p).items()}))
    blocks = _engine.plan(tuple((g.kind, g.qubits) for g in gates), n, _engine.block_qubits())
    return len(blocks) * layers * 8 * 2**n * 8


def memory_bytes(n: int, layers: int, gradient: str) -> dict:
    args, fns = loss_fns(n, layers, False, gradient)
    m = jax.jit(fns["jqgen"]).lower(*args).compile().memory_analysis()
    return {"temp": int(m.temp_size_in_bytes), "argument": int(m.argument_size_in_bytes), "output": int(m.output_size_in_bytes),
            "total": int(m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes)}


def plain_child(n: int, layers: int, repeats: int, min_time: float) -> None:
    args, fns = loss_fns(n, layers, True)
    print("RESULT " + json.dumps(timed(fns["tc_plain"], args, repeats, min_time)), flush=True)


def plain_in_child(n: int, layers: int, repeats: int, min_time: float, limit: float) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--plain-child", str(n), str(layers), "--repeats", str(repeats)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=limit + 60 * (n >= 16))
    except subprocess.TimeoutExpired:
        return {"skipped": f"compile + timing exceeded the {limit:.0f} s limit"}
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
    if not line:
        return {"skipped": f"child failed: {r.stderr[-300:]}"}
    return json.loads(line[0][7:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--n", type=int, nargs="*", default=None, help="qubit counts of the grid (default: the preset's)")
    ap.add_argument("--layers", type=int, nargs="*", default=None, help="depths of the grid")
    ap.add_argument("--no-plain", action="store_true", help="skip unrolled TensorCircuit")
    ap.add_argument("--plain-limit", type=float, default=120.0, help="seconds before an unrolled TensorCircuit cell is "
                    "abandoned (recorded as skipped)")
    ap.add_argument("--jqgen-only", action="store_true", help="no TensorCircuit paths")
    ap.add_argument("--no-extras", action="store_true", help="skip the memory, vmap and sampling sections")
    ap.add_argument("--quick", action="store_true", help="smoke test: small sizes; writes nothing unless --json")
    ap.add_argument("--plain-child", type=int, nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    cfg = dict(QUICK if args.quick else FULL)
    if args.plain_child:
        plain_child(*args.plain_child, args.repeats, cfg["min_time"])
        return
    if args.quick:
        args.repeats = min(args.repeats, 5)
    if args.n:
        cfg["n"] = tuple(args.n)
    if args.layers:
        cfg["layers"] = tuple(args.layers)
    min_time = cfg["min_time"]
    tc = not args.jqgen_only
    env = _env.environment()
    other = _env.OtherCPU().start()
    out: dict = {"benchmark": "qcbm", "circuit": "LiuWang(n, L): RX RZ, then L x (CNOT line; RZ RX RZ)",
                 "loss": "jit(value_and_grad(KL(target || p))), float32, target an argument", "quick": args.quick, "sizes": cfg,
                 "block_qubits": _engine.block_qubits(), "plain_limit_s": args.plain_limit}
    out["copy_bandwidth"] = bw = copy_bandwidth(cfg["copy_mib"])
    print(f"copy bandwidth: {bw}", flush=True)

    grid = {}
    for n in cfg["n"]:
        for layers in cfg["layers"]:
            cell: dict = {}
            args_nt, fns = loss_fns(n, layers, tc)
            reps = args.repeats if n <= 16 else max(3, args.repeats // 4)
            cell["jqgen"] = timed(fns["jqgen"], args_nt, reps, min_time)
            traffic = plan_traffic_bytes(n, layers)
            cell["jqgen"]["plan_traffic_mb"] = round(traffic / 1e6, 1)
            cell["jqgen"]["effective_gb_per_s"] = round(traffic / (cell["jqgen"]["step_ms"] / 1e3) / 1e9, 2)
            cell["jqgen"]["fraction_of_copy_bw"] = round(cell["jqgen"]["effective_gb_per_s"] / bw["gb_per_s"], 3)
            if tc:
                cell["tc_scan"] = timed(fns["tc_scan"], args_nt, reps, min_time)
                if not args.no_plain and (n, layers) in {tuple(c) for c in cfg["plain"]}:
                    cell["tc_plain"] = plain_in_child(n, layers, reps, min_time, args.plain_limit)
                elif not args.no_plain:
                    cell["tc_plain"] = {"skipped": f"not tried: compile expected above the {args.plain_limit:.0f} s "
                                                   "limit (61 s at n = 12, depth 4; grows with the gate count)"}
                for ref in ("tc_scan", "tc_plain"):
                    if "step_ms" in cell.get(ref, {}):
                        cell[f"step_speedup_vs_{ref}"] = round(cell[ref]["step_ms"] / cell["jqgen"]["step_ms"], 2)
            cell["loadavg"] = list(os.getloadavg())
            grid[f"n{n}_L{layers}"] = cell
            print(f"n={n} L={layers}: {cell}", flush=True)
    out["grid"] = grid
    # the keys of the earlier format (compare_commits.py reads them): depth 4 at n = 12, 16, 20
    if "n12_L4" in grid:
        out["n12"] = grid["n12_L4"]
    out["larger"] = {n: grid[f"n{n}_L4"] for n in (16, 20) if f"n{n}_L4" in grid}

    if not args.no_extras:
        n_m, depths = cfg["memory"]
        out[f"memory_n{n_m}"] = mem = {g: {str(L): memory_bytes(n_m, L, g) for L in depths} for g in ("adjoint", "backprop")}
        out[f"memory_n{n_m}"]["statevector_bytes"] = 2**n_m * 8
        print(f"memory n={n_m}: {mem}", flush=True)

        n_v, n_models = cfg["vmap"]
        model = QCBM(LiuWang(n_v, 4))
        t10 = target(n_v)
        vg = jax.value_and_grad(lambda p: kl_divergence(t10, model.probs(p)))
        one = model.init(jax.random.key(0))
        batch = jax.vmap(model.init)(jax.random.split(jax.random.key(1), n_models))
        single = timed(vg, (one,), args.repeats, min_time)
        many = timed(jax.vmap(vg), (batch,), args.repeats, min_time)
        vkey = f"vmap{n_models}_n{n_v}"
        out[vkey] = {"one_model": single, f"{n_models}_models": many,
                     f"cost_ratio_{n_models}_vs_1": round(many["step_ms"] / single["step_ms"], 2)}
        print(f"vmap: {out[vkey]}", flush=True)

        n_s, shots = cfg["sampling"]
        model20 = QCBM(LiuWang(n_s, 4))
        p20 = model20.init(jax.random.key(0))
        samp = timed(lambda p, k: model20.sample(p, k, shots), (p20, jax.random.key(1)), 5, min_time)
        cnt = timed(lambda p, k: model20.sample_counts(p, k, shots), (p20, jax.random.key(1)), 5, min_time)
        out[f"sampling_n{n_s}"] = {"shots": shots, "sample_bitstrings": samp, "sample_counts": cnt,
                                   "bitstring_shots_per_s": round(shots / (samp["step_ms"] / 1e3)),
                                   "histogram_shots_per_s": round(shots / (cnt["step_ms"] / 1e3))}
        print(f"sampling: {out[f'sampling_n{n_s}']}", flush=True)
    out["environment"] = env
    out["loadavg_at_end"] = list(os.getloadavg())
    out["other_processes_cpu_s"] = other.stop()
    text = json.dumps(out, indent=2)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
