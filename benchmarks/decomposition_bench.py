"""MPS -> circuit decompositions (issue 16, part 1): fidelity vs layers and vs seconds.

For MPS Born machines trained on three data sets, staircase circuits of D = 1..8 layers of
two-qubit gates are fitted to ``|psi_MPS>`` by

* ``ran``: Ran's analytic layers (``jqgen.synergy.mps_to_layers``);
* ``ran+adam``: Ran's layers in KAK angles refined by Adam on the dense state, exactly the
  algorithm of ``jqgen.synergy._pipeline._refine`` (``circuit_from_mps(decomposition=
  "ran+adam")``: lr 0.01, best iterate kept), run here in compiled chunks of ``chunk``
  steps so the fidelity is recorded along the way; compile time apart; its last value is
  checked against a ``_refine`` call with the same step count;
* ``ran+sweep``: Ran's D layers, then gate-by-gate sweeps (``sweep_layers``), ``passes``
  passes (``mnist_passes`` on MNIST), no early stop;
* ``sweep``: layers grown one at a time (``sweep_decomposition``, the library defaults:
  8 passes per depth, tol 1e-6); one run to D = 8 gives every depth.

Data: bars-and-stripes 4x3 and cardinality n = 12, k = 6 (all 924 strings), MPS chi = 8
(Adam lr 0.02, 1000 full-batch NLL steps, init key 1000); MNIST-1k, the central 8x8 patch
(n = 64; rows/cols 10..17), MPS chi = 8 (300 steps). Fidelity ``|<psi|U|0>|^2``: from dense
states at n = 12; at n = 64 in MPS form only (``layers_fidelity``, bonds capped at
``eval_chi``, and at half that to show how far it has converged), beside each method's
own estimate. NumPy runs with one BLAS thread (the library default), JAX (Adam) as it is.

    python benchmarks/decomposition_bench.py            # ~6-9 min on 2 cores; results/decomposition_cpu.json
    python benchmarks/decomposition_bench.py --quick    # smoke test (~1-2 min), writes nothing
    python benchmarks/decomposition_bench.py --table benchmarks/results/decomposition_cpu.json   # tables only
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _env  # noqa: E402

import jqgen  # noqa: E402
from jqgen.qcbm import QCBM, SU4Brickwork  # noqa: E402
from jqgen.synergy import (kak_angles, layers_fidelity, layers_state, mps_site_list, mps_to_layers,  # noqa: E402
                           sweep_decomposition, sweep_layers)
from jqgen.synergy._pipeline import _refine  # noqa: E402  (the refinement under test)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST = os.path.join(ROOT, "..", "shared", "data", "mnist28_binary_1k.npz")
FULL = {"depths": list(range(1, 9)), "adam_steps": 1000, "chunk": 25, "adam_lr": 0.01, "passes": 40,
        "mps_steps": 1000, "mnist_steps": 300, "mnist_patch": [10, 18, 10, 18], "chi": 8, "eval_chi": 256,
        "mnist_sweep_chi": 64, "mnist_passes": 8}
QUICK = {"depths": [1, 2, 3], "adam_steps": 100, "chunk": 25, "adam_lr": 0.01, "passes": 8, "mps_steps": 200,
         "mnist_steps": 50, "mnist_patch": [12, 16, 10, 18], "chi": 4, "eval_chi": 64, "mnist_sweep_chi": 32,
         "mnist_passes": 4}
T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f} s] {msg}", file=sys.stderr, flush=True)


def r6(x) -> float:
    return round(float(x), 6)


def train(data: np.ndarray, chi: int, steps: int) -> tuple[jqgen.mps.MPS, dict]:
    n = data.shape[1]
    model = jqgen.MPSBornMachine(n, chi)
    t = time.perf_counter()
    res = jqgen.fit(model, model.init(jax.random.key(1000)), data, optax.adam(0.02), key=jax.random.key(0),
                    steps=steps, progress=False)
    _, c = np.unique(data, axis=0, return_counts=True)
    p = c / c.sum()
    nll = float(jqgen.mean_nll(model, res.params, data))
    return res.params, {"n": n, "chi": chi, "steps": steps, "nll": r6(nll), "kl": r6(nll + (p * np.log(p)).sum()),
                        "train_s": round(time.perf_counter() - t, 2)}


def fidelity_fn(mps, sites, n: int, eval_chi: int):
    """Exact (dense) fidelity of 4x4 gates for n <= 16, else MPS form at eval_chi (and eval_chi / 2)."""
    if n <= 16:
        psi = np.asarray(jqgen.mps.to_dense(mps), np.complex128)
        psi = psi / np.linalg.norm(psi)
        return lambda g: {"fidelity": r6(abs(np.vdot(psi, layers_state(g))) ** 2)}
    return lambda g: {"fidelity": r6(layers_fidelity(sites, g, chi_max=eval_chi)),
                      "fidelity_half_chi": r6(layers_fidelity(sites, g, chi_max=eval_chi // 2))}


def adam_curve(mps, gates: np.ndarray, cfg: dict) -> dict:
    """``_refine``'s algorithm in compiled chunks: best fidelity vs steps and seconds."""
    n, d = gates.shape[1] + 1, gates.shape[0]
    ansatz = SU4Brickwork(n, d, "staircase")
    angles = jnp.asarray(np.stack([[kak_angles(g) for g in layer] for layer in gates]), jnp.float32)
    psi = jnp.asarray(jqgen.mps.to_dense(mps)).astype(jnp.complex64)
    psi = psi / jnp.linalg.norm(psi).astype(psi.dtype)
    opt = optax.adam(cfg["adam_lr"])

    def infidelity(g):
        return 1 - jnp.abs(jnp.vdot(psi, ansatz.state({"gates": g}))) ** 2

    def chunk(carry):
        def step(c, _):
            g, s, best, best_loss = c
            loss, grad = jax.value_and_grad(infidelity)(g)
            better = loss < best_loss
            best, best_loss = jnp.where(better, g, best), jnp.where(better, loss, best_loss)
            upd, s = opt.update(grad, s, g)
            return (optax.apply_updates(g, upd), s, best, best_loss), None

        return jax.lax.scan(step, carry, None, length=cfg["chunk"])[0]

    with jax.numpy_dtype_promotion("standard"):
        t = time.perf_counter()
        carry = (angles, opt.init(angles), angles, infidelity(angles))
        run = jax.jit(chunk).lower(carry).compile()
        last = jax.jit(infidelity).lower(angles).compile()
        compile_s = time.perf_counter() - t
        steps, fids, secs, elapsed = [0], [r6(1 - carry[3])], [0.0], 0.0
        for k in range(cfg["adam_steps"] // cfg["chunk"]):
            t = time.perf_counter()
            carry = jax.block_until_ready(run(carry))
            final = float(jnp.minimum(last(carry[0]), carry[3]))  # _refine's ending: min(last, best)
            elapsed += time.perf_counter() - t
            steps.append((k + 1) * cfg["chunk"])
            fids.append(r6(1 - final))
            secs.append(round(elapsed, 3))
    return {"compile_s": round(compile_s, 2), "steps": steps, "fidelity": fids, "run_s": secs}


def run_dataset(name: str, mps, info: dict, cfg: dict, adam: bool, sweep_chi: int | None, passes: int) -> dict:
    sites = mps_site_list(mps)
    n = len(sites)
    fid = fidelity_fn(mps, sites, n, cfg["eval_chi"])
    out = {"mps": info, "depths": cfg["depths"], "ran": {}, "ran+adam": {}, "ran+sweep": {}}
    with threadpool_limits(1, user_api="blas"):
        for d in cfg["depths"]:
            t = time.perf_counter()
            gates, est = mps_to_layers(mps, d)
            out["ran"][d] = {"seconds": round(time.perf_counter() - t, 3), "own_estimate": r6(est[-1]), **fid(gates)}
            log(f"{name} D={d} ran: {out['ran'][d]}")
            r = sweep_layers(sites, gates, sweeps=passes, tol=None, chi_max=sweep_chi)
            out["ran+sweep"][d] = {"seconds_ran": out["ran"][d]["seconds"], "history": [r6(h) for h in r.history],
                                   "seconds": [round(s, 3) for s in r.seconds], "truncation": r.truncation,
                                   **fid(r.gates)}
            log(f"{name} D={d} ran+sweep: {r.history[-1]:.4f} ({r.seconds[-1]:.1f} s), checked {fid(r.gates)}")
        t = time.perf_counter()
        g = sweep_decomposition(sites, max(cfg["depths"]), chi_max=sweep_chi)
        out["sweep"] = {"fidelities": [r6(f) for f in g.fidelities], "seconds": [round(s, 3) for s in g.seconds],
                        "truncation": g.truncation, "final_checked": fid(g.gates)}
    log(f"{name} sweep: {out['sweep']}")
    if n <= 16:  # the KAK angles the QCBM trains give the same state
        angles = np.stack([[kak_angles(x) for x in layer] for layer in g.gates])
        model = QCBM(SU4Brickwork(n, len(angles), "staircase"))
        psi = np.asarray(jqgen.mps.to_dense(mps), np.complex128)
        st = np.asarray(model.state({"gates": jnp.asarray(angles, jnp.float32)}), np.complex128)
        out["sweep"]["qcbm_float32_fidelity"] = r6(abs(np.vdot(psi / np.linalg.norm(psi), st)) ** 2)
    if adam:
        for d in cfg["depths"]:
            gates, _ = mps_to_layers(mps, d)
            out["ran+adam"][d] = adam_curve(mps, gates, cfg)
            a = out["ran+adam"][d]
            log(f"{name} D={d} ran+adam: {a['fidelity'][-1]:.4f} after {a['steps'][-1]} steps "
                f"({a['run_s'][-1]:.1f} s + compile {a['compile_s']:.1f} s)")
        d = max(cfg["depths"])
        gates, _ = mps_to_layers(mps, d)
        angles = jnp.asarray(np.stack([[kak_angles(x) for x in layer] for layer in gates]), jnp.float32)
        t = time.perf_counter()
        _, f_ref = _refine(mps, SU4Brickwork(n, d, "staircase"), angles, cfg["adam_steps"], cfg["adam_lr"])
        out["ran+adam"]["refine_check"] = {"D": d, "steps": cfg["adam_steps"], "fidelity": r6(f_ref),
                                           "wall_s_with_compile": round(time.perf_counter() - t, 2)}
    return out


def first_time(fids, secs, target):
    for f, s in zip(fids, secs):
        if f >= target - 1e-9:
            return s
    return None


def targets(ds: dict) -> dict:
    """The issue's targets on one data set (bars-and-stripes is the one they are stated for)."""
    depths, big = ds["depths"], max(ds["depths"])
    ran8 = ds["ran"][big]["fidelity"]
    grown = ds["sweep"]["fidelities"]
    out = {"ran_at_max_depth": ran8, "sweep_at_max_depth": grown[-1],
           "sweep_at_max_depth_ge_0.99": grown[-1] >= 0.99,
           "fewest_sweep_layers_reaching_ran_at_max_depth": next((d for d, f in zip(depths, grown) if f >= ran8), None),
           "fewest_ran+sweep_layers_reaching_ran_at_max_depth": next(
               (d for d in depths if ds["ran+sweep"][d]["fidelity"] >= ran8), None)}
    out["at_most_4_sweep_layers_reach_ran_at_max_depth"] = (out["fewest_sweep_layers_reaching_ran_at_max_depth"]
                                                            or 99) <= 4
    speed = {}
    for d in depths:
        a = ds["ran+adam"].get(d)
        if not a:
            continue
        row = {}
        for label, idx in (("adam_final", -1), ("adam_300_steps", a["steps"].index(300) if 300 in a["steps"] else -1)):
            if idx == -1 and label != "adam_final":
                continue
            f = a["fidelity"][idx]
            t_adam = first_time(a["fidelity"], a["run_s"], f)
            t_sweep = ds["sweep"]["seconds"][d - 1] if grown[d - 1] >= f - 1e-9 else None
            rs = ds["ran+sweep"][d]
            t_rs = first_time(rs["history"], rs["seconds"], f)
            t_rs = None if t_rs is None else round(t_rs + rs["seconds_ran"], 3)
            row[label] = {"fidelity": f, "adam_run_s": t_adam, "adam_with_compile_s": round(t_adam + a["compile_s"], 3),
                          "sweep_s": t_sweep, "ran+sweep_s": t_rs,
                          "speedup_sweep_run_only": None if not t_sweep else round(t_adam / t_sweep, 2),
                          "speedup_sweep_with_compile": None if not t_sweep
                          else round((t_adam + a["compile_s"]) / t_sweep, 2),
                          "speedup_ran+sweep_run_only": None if not t_rs else round(t_adam / t_rs, 2)}
        speed[d] = row
    out["time_to_adam_fidelity"] = speed
    return out


def markdown(res: dict) -> str:
    lines = []
    for name, ds in res["datasets"].items():
        m = ds["mps"]
        lines += [f"**{name}** (n = {m['n']}, MPS chi = {m['chi']}, NLL {m['nll']:.3f}"
                  + (f", KL {m['kl']:.4f}" if m["n"] <= 16 else "") + ")", "",
                  "| D | ran | ran+adam (steps: fidelity) | ran+sweep (passes) | sweep (grown) |",
                  "|---|---|---|---|---|"]
        for d in ds["depths"]:
            r = ds["ran"][str(d)] if str(d) in ds["ran"] else ds["ran"][d]
            key = str(d) if str(d) in ds["ran+sweep"] else d
            rs = ds["ran+sweep"][key]
            a = ds["ran+adam"].get(key)
            adam = "-" if not a else ", ".join(f"{s}: {f:.4f}" for s, f in zip(a["steps"], a["fidelity"])
                                             if s in (100, 300, a["steps"][-1])) + \
                f" ({a['run_s'][-1]:.1f} s + {a['compile_s']:.1f} s compile)"
            grown = f"{ds['sweep']['fidelities'][d - 1]:.4f} ({ds['sweep']['seconds'][d - 1]:.1f} s)"
            lines.append(f"| {d} | {r['fidelity']:.4f} ({r['seconds']:.2f} s) | {adam} | {rs['fidelity']:.4f} "
                         f"({len(rs['history']) - 1}: {rs['seconds'][-1]:.1f} s) | {grown} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--quick", action="store_true", help="smoke test; writes nothing unless --json is given")
    ap.add_argument("--json", default=None, help="output (default results/decomposition_cpu.json; --quick: none)")
    ap.add_argument("--mnist", default=MNIST, help="MNIST-1k .npz (default ../shared/data/mnist28_binary_1k.npz)")
    ap.add_argument("--table", default=None, help="print the tables of an existing results JSON and exit")
    args = ap.parse_args()
    if args.table:
        with open(args.table) as f:
            print(markdown(json.load(f)))
        return
    cfg = QUICK if args.quick else FULL
    json_path = args.json or (None if args.quick else os.path.join(ROOT, "benchmarks/results/decomposition_cpu.json"))
    env = _env.environment()
    other = _env.OtherCPU().start()
    t0 = time.perf_counter()
    res = {"benchmark": "decomposition_bench", "settings": cfg, "datasets": {}}
    sets = {"bas4x3": jqgen.load_dataset("bas-4x3").data,
            "cardinality12": jqgen.cardinality_dataset(12, 6, 1.0, seed=0).data}
    for name, data in sets.items():
        mps, info = train(np.asarray(data), cfg["chi"], cfg["mps_steps"])
        log(f"{name}: MPS {info}")
        res["datasets"][name] = run_dataset(name, mps, info, cfg, adam=True, sweep_chi=None,
                                        passes=cfg["passes"])
    r0, r1, c0, c1 = cfg["mnist_patch"]
    with np.load(args.mnist) as z:
        patch = z["data"].reshape(-1, 28, 28)[:, r0:r1, c0:c1].reshape(z["data"].shape[0], -1)
    mps, info = train(patch, cfg["chi"], cfg["mnist_steps"])
    info["patch_rows_cols"] = cfg["mnist_patch"]
    log(f"mnist patch: MPS {info}")
    res["datasets"][f"mnist_patch{patch.shape[1]}"] = run_dataset("mnist", mps, info, cfg, adam=False,
                                                                   sweep_chi=cfg["mnist_sweep_chi"],
                                                                   passes=cfg["mnist_passes"])
    res["targets"] = {name: targets(ds) for name, ds in res["datasets"].items()}
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    res["other_processes_cpu_s"] = other.stop()
    res["environment"] = env
    res = json.loads(json.dumps(res))  # int keys -> str, as the file has them
    print(markdown(res))
    print("targets:", json.dumps(res["targets"]["bas4x3"], indent=1))
    print(f"wall {res['wall_s']} s, other processes {res['other_processes_cpu_s']} CPU s")
    if json_path:
        _env.write_text(json_path, json.dumps(res, indent=1))
        log(f"wrote {json_path}")


if __name__ == "__main__":
    main()
