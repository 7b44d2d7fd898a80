"""Synergistic pretraining experiment (issue 6): MPS-pretrained circuits against random and
near-identity starts, and gradient variances at initialization against qubit count.

Rudolph et al., Nat. Commun. 14, 8367 (2023): train an MPS, map it into staircase layers of
SU(4) gates (Ran's method, ``jqgen.synergy.circuit_from_mps``), append near-identity layers,
train the circuit as a QCBM. On bars-and-stripes 4x3 (12 qubits, 22 patterns) and
cardinality n = 12, k = 6 (all 924 strings of weight 6, eps = 1: the target is uniform on
S), every arm trains the same circuit, ``QCBM(SU4Brickwork(12, 6, "staircase"))``, with the
same budget (Adam, exact KL(data || model), full batch):

* ``random``: angles uniform in [-pi, pi) (``init_scale=None``);
* ``identity``: angles ~ N(0, 0.01^2) (``init_scale=0.01``, near the identity circuit);
* ``mps_chi{2,4,8}``: an MPS Born machine of bond dimension chi is trained first (Adam on
  the NLL, its own step budget, reported as classical cost), mapped into D = log2(chi)
  layers by Ran's method, extended by 6 - D near-identity layers (std 0.01);
* ``mps_chi{2,4,8}_refined``: the same MPS and extra-layer angles, but the D mapped layers
  are first refined to maximize the fidelity to the MPS (``refine_steps``).

Barren-plateau evidence: for cardinality data (n, k = n/2, eps = 1), n = 4..14, and the same
6-layer staircase, the gradient g = d KL / d theta at initialization for many initial
parameter sets; the reported variance is ``mean_j Var_s[g_j^(s)]`` (variance over samples s
of every component j, ddof = 1, averaged over all components), beside the second moment
``mean_j mean_s (g_j^(s))^2``.

    python benchmarks/synergy_experiment.py                 # ~4-5 min on 2 cores (244 s measured)
    python benchmarks/synergy_experiment.py --quick         # smoke test, 30-60 s, writes nothing by default
    python benchmarks/synergy_experiment.py --scale --steps16 300 --steps20 100   # n = 16 and 20 (issue 16), ~60 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _env  # noqa: E402

import jqgen  # noqa: E402
from jqgen.distributions import empirical_distribution, kl_divergence  # noqa: E402
from jqgen.qcbm import QCBM, SU4Brickwork, make_loss  # noqa: E402
from jqgen.synergy import circuit_from_mps  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f} s] {msg}", file=sys.stderr, flush=True)


def entropy(data: np.ndarray) -> float:
    _, c = np.unique(np.asarray(data), axis=0, return_counts=True)
    p = c / c.sum()
    return float(-(p * np.log(p)).sum())


def exact_kl(model: QCBM, params, target, smoothing: str = "clip") -> float:
    return float(kl_divergence(target, model.probs(params), smoothing=smoothing))


def batched_fit(model, params, data, lr: float, steps: int, loss=None, desc: str = "",
                batch_size: int | None = None) -> tuple[Any, np.ndarray]:
    """``jqgen.fit`` for a batch of initial parameter sets at once: the pure step of
    ``jqgen.training.gradient`` (Adam, full batch) under ``vmap``, scanned in chunks; one
    compilation per call instead of one per run. Returns the final params (batched) and the
    loss history ``[B, steps]`` (``steps = 0``: the initial params and an empty history).
    ``batch_size``: minibatches of that many rows (default: full batch)."""
    data = jnp.asarray(data)
    if steps == 0:
        return params, np.zeros((jax.tree_util.tree_leaves(params)[0].shape[0], 0))
    batch = int(data.shape[0]) if batch_size is None else min(int(batch_size), int(data.shape[0]))
    strategy = jqgen.training.gradient(model, optax.adam(lr), batch_size=batch, loss=loss)
    key = jax.random.key(0)  # full batch: the key only feeds the (unused) minibatch draw
    opt_state = jax.vmap(lambda p: strategy.init(p, key))(params)
    state = (params, opt_state)
    chunk = max(c for c in range(1, min(steps, 100) + 1) if steps % c == 0)

    @jax.jit
    def run(state, data, start):
        def body(st, j):
            p, s, loss_value = jax.vmap(lambda p, s: strategy.step(p, s, data, start + j, key))(*st)
            return (p, s), loss_value

        return jax.lax.scan(body, state, jnp.arange(chunk, dtype=jnp.int32))

    hist = []
    t = time.perf_counter()
    for c in range(steps // chunk):
        state, losses = run(state, data, jnp.int32(c * chunk))
        hist.append(np.asarray(losses, np.float64).T)
        if c == 0 or (c + 1) % max(1, (steps // chunk) // 4) == 0:
            log(f"  {desc}: step {(c + 1) * chunk}/{steps}, mean loss {hist[-1][:, -1].mean():.4f} "
                f"({time.perf_counter() - t:.1f} s)")
    bad = ~np.isfinite(np.concatenate(hist, axis=1)).all(axis=1)
    if bad.any():
        raise FloatingPointError(f"{desc}: non-finite loss in runs {np.flatnonzero(bad).tolist()}")
    return state[0], np.concatenate(hist, axis=1)


def take(tree, i: int):
    return jax.tree_util.tree_map(lambda x: x[i], tree)


def stack(trees):
    return jax.tree_util.tree_map(lambda *x: jnp.stack(x), *trees)


def train_mps(data, n: int, chi: int, seeds, steps: int, lr: float, h: float, desc: str = "",
              batch_size: int | None = None):
    """MPS Born machines (one per seed: init key ``1000 + seed``), NLL by Adam, in one batch.
    Returns the list of trained MPSs, KL curves ``[S, steps]`` (NLL - H), final KLs and wall time."""
    mps_model = jqgen.MPSBornMachine(n, chi)
    t = time.perf_counter()
    init = jax.vmap(mps_model.init)(jnp.stack([jax.random.key(1000 + s) for s in seeds]))
    params, hist = batched_fit(mps_model, init, data, lr, steps, desc=desc, batch_size=batch_size)
    wall = time.perf_counter() - t
    out = [take(params, i) for i in range(len(seeds))]
    kls = [jqgen.mean_nll(mps_model, p, data) - h for p in out]
    return out, hist - h, kls, wall


def subsample(curve: np.ndarray, every: int) -> list[float]:
    idx = sorted(set(range(0, len(curve), every)) | {len(curve) - 1})
    return [round(float(curve[i]), 6) for i in idx]


def stats(x) -> dict:
    x = np.asarray(x, np.float64)
    return {"mean": float(x.mean()), "std": float(x.std(ddof=1)) if x.size > 1 else 0.0,
            "min": float(x.min()), "max": float(x.max()), "values": [float(v) for v in x]}


# --- circuit-training comparison ---------------------------------------------------------


def circuit_loss(model: QCBM, target, smoothing: str):
    """The ``loss=`` of :func:`batched_fit`: exact KL(target || model) with ``smoothing``
    (``"clip"``: ``jqgen.qcbm.make_loss(model, "kl")``'s clipped KL; ``"smooth"``: the
    mixture with the uniform distribution, no zero gradient below the clip)."""
    if smoothing == "clip":
        return make_loss(model, "kl")

    def value_and_grad(params, batch, key):
        return jax.value_and_grad(lambda th: kl_divergence(target, model.probs(th), smoothing="smooth"))(params)

    return value_and_grad


def run_dataset(name: str, data: np.ndarray, cfg: dict) -> dict:
    n = data.shape[1]
    layers = cfg["total_layers"]
    seeds = list(range(cfg["seeds"]))
    h = entropy(data)
    target = empirical_distribution(data, n)
    model = QCBM(SU4Brickwork(n, layers, "staircase"))  # init_scale only matters for init
    starts: list[tuple[str, int, Any]] = []  # (arm, seed, params)
    info: dict[tuple[str, int], dict] = {}
    classical: dict[str, dict] = {}

    for seed in seeds:
        for arm, scale in (("random", None), ("identity", cfg["init_scale"])):
            m = QCBM(SU4Brickwork(n, layers, "staircase"), init_scale=scale)
            starts.append((arm, seed, m.init(jax.random.key(seed))))
    for chi in cfg["chis"]:
        d = int(round(math.log2(chi)))
        mpss, mps_hist, mps_kls, mps_wall = train_mps(data, n, chi, seeds, cfg["mps_steps"], cfg["mps_lr"], h,
                                                      desc=f"{name} MPS chi={chi}", batch_size=cfg.get("mps_batch"))
        classical[f"chi{chi}"] = {"mps_steps": cfg["mps_steps"], "mps_lr": cfg["mps_lr"], "seeds": len(seeds),
                                  "wall_s_all_seeds_batched": round(mps_wall, 2), "final_kl": stats(mps_kls),
                                  "mean_curve": subsample(mps_hist.mean(0), cfg["every"])}
        log(f"{name} MPS chi={chi}: KL(data || MPS) = {np.mean(mps_kls):.4f} (mean of {len(seeds)})")
        variants = [("", 0)] + ([("_refined", cfg["refine_steps"])] if cfg["refine_steps"] else [])
        for seed, mps, mps_kl in zip(seeds, mpss, mps_kls):
            unrefined = None
            for suffix, refine in variants:
                t = time.perf_counter()
                _, mapped, fid = circuit_from_mps(mps, d, layers - d, key=jax.random.key(3000 + seed),
                                                  init_scale=cfg["init_scale"], refine_steps=refine,
                                                  refine_lr=cfg["refine_lr"],
                                                  decomposition=None if refine else cfg.get("decomposition"),
                                                  sweeps=cfg.get("sweeps", 8))
                map_wall = time.perf_counter() - t
                arm = f"mps_chi{chi}{suffix}"
                refine_used = None
                if refine:
                    # workaround: circuit_from_mps returns the last refinement iterate even when its
                    # fidelity is below Ran's (Adam at a fixed lr wanders off an already exact
                    # mapping); keep Ran's angles in that case
                    refine_used = bool(fid[-1] >= fid[d - 1])
                    if not refine_used and unrefined is not None:
                        mapped = unrefined
                else:
                    unrefined = mapped
                kl_d = exact_kl(QCBM(SU4Brickwork(n, d, "staircase")), {"gates": mapped["gates"][:d]}, target,
                                cfg.get("smoothing", "clip"))
                starts.append((arm, seed, mapped))
                info[(arm, seed)] = {"D": d, "extra_layers": layers - d, "refine_steps": refine,
                                     "mps_kl_final": round(mps_kl, 6), "fidelities": [round(f, 6) for f in fid],
                                     "map_wall_s": round(map_wall, 2), "kl_mapped_D_layers_only": round(kl_d, 6),
                                     "refined_angles_used": refine_used}
                log(f"{name} {arm:>17} seed {seed}: MPS KL {mps_kl:.4f}, fidelity {fid[-1]:.4f} "
                    f"(per layer: {', '.join(f'{f:.3f}' for f in fid[:d])}), KL of the D layers {kl_d:.4f} "
                    f"({map_wall:.1f} s)")

    t = time.perf_counter()
    smoothing = cfg.get("smoothing", "clip")
    final_params, hist = batched_fit(model, stack([p for _, _, p in starts]), data, cfg["circuit_lr"],
                                     cfg["circuit_steps"], loss=circuit_loss(model, target, smoothing),
                                     desc=f"{name} circuits ({len(starts)} runs batched)")
    circuit_wall = time.perf_counter() - t
    kl_fn = jax.jit(lambda p: kl_divergence(target, model.probs(p), smoothing=smoothing))
    finals = np.asarray([float(kl_fn(take(final_params, i))) for i in range(len(starts))], np.float64)
    curves = np.concatenate([hist, finals[:, None]], axis=1)  # [B, steps + 1]

    out = {"n": n, "num_patterns": int(len(np.unique(data, axis=0))), "entropy": h, "loss_smoothing": smoothing,
           "circuit_steps": cfg["circuit_steps"],
           "circuit_wall_s_all_runs_batched": round(circuit_wall, 2), "num_circuit_runs": len(starts),
           "classical_stage": classical, "arms": {},
           "curve_steps": subsample(np.arange(cfg["circuit_steps"] + 1, dtype=float), cfg["every"])}
    for arm in dict.fromkeys(a for a, _, _ in starts):
        idx = [i for i, (a, _, _) in enumerate(starts) if a == arm]
        c = curves[idx]
        row = {"final_kl": stats(c[:, -1]), "start_kl": stats(c[:, 0]),
               "mean_curve": subsample(c.mean(0), cfg["every"]), "curves": [subsample(x, cfg["every"]) for x in c]}
        if arm.startswith("mps"):
            ex = [info[(arm, starts[i][1])] for i in idx]
            d = ex[0]["D"]
            row.update({"per_seed": ex, "mps_kl_final": stats([e["mps_kl_final"] for e in ex]),
                        "fidelity_ran": stats([e["fidelities"][d - 1] for e in ex]),
                        "fidelity_final": stats([max(e["fidelities"][d - 1:]) for e in ex]),
                        "kl_mapped_D_layers_only": stats([e["kl_mapped_D_layers_only"] for e in ex])})
        out["arms"][arm] = row
        log(f"{name} {arm:>17}: KL {row['start_kl']['mean']:.4f} -> {row['final_kl']['mean']:.4f} "
            f"± {row['final_kl']['std']:.4f}")
    return out


# --- gradient variance at initialization -------------------------------------------------


def grad_variance(cfg: dict) -> dict:
    gv = cfg["gradvar"]
    layers = cfg["total_layers"]
    chi = gv["chi"]
    d = int(round(math.log2(chi)))
    out = {"ns": gv["ns"], "layers": layers, "chi": chi, "D": d, "arms": {}}
    res: dict[str, dict[str, list]] = {}
    for n in gv["ns"]:
        data = jqgen.cardinality_dataset(n, n // 2, 1.0, seed=0).data
        target = empirical_distribution(data, n)
        h = entropy(data)
        model = QCBM(SU4Brickwork(n, layers, "staircase"))
        smoothing = cfg.get("smoothing", "clip")
        grad = jax.jit(jax.grad(lambda p: kl_divergence(target, model.probs(p), smoothing=smoothing)))
        batches = {}
        samples = gv["samples"] if isinstance(gv["samples"], int) else gv["samples"][str(n)]
        for arm, scale in (("random", None), ("identity", cfg["init_scale"])):
            m = QCBM(SU4Brickwork(n, layers, "staircase"), init_scale=scale)
            batches[arm] = jax.vmap(m.init)(jax.random.split(jax.random.key(n), samples))
        # a distribution over pretrained starts: MPS init seed s, and the extra layers' angles (key 4000 + s)
        seeds = list(range(gv["mps_samples"] if isinstance(gv["mps_samples"], int) else gv["mps_samples"][str(n)]))
        mpss, _, mps_kls, _ = train_mps(data, n, min(chi, 2 ** (n // 2)), seeds, gv["mps_steps"], cfg["mps_lr"], h,
                                        desc=f"gradvar n={n} MPS", batch_size=cfg.get("mps_batch"))
        mapped, fids = [], []
        for s, pm in zip(seeds, mpss):
            _, p, fid = circuit_from_mps(pm, d, layers - d, key=jax.random.key(4000 + s), init_scale=cfg["init_scale"],
                                         decomposition=cfg.get("decomposition"), sweeps=cfg.get("sweeps", 8))
            mapped.append(p["gates"])
            fids.append(fid[-1])
        batches[f"mps_chi{chi}"] = {"gates": jnp.stack(mapped)}
        for arm, b in batches.items():
            t = time.perf_counter()
            g = np.stack([np.asarray(grad(take(b, i))["gates"], np.float64)
                          for i in range(jax.tree_util.tree_leaves(b)[0].shape[0])])  # [S, layers, n - 1, 15]
            log(f"gradvar n={n:2d} {arm}: {g.shape[0]} gradients in {time.perf_counter() - t:.1f} s")
            var = g.var(axis=0, ddof=1)
            row = {"var": float(var.mean()), "second_moment": float((g**2).mean()),
                   "var_first_D_layers": float(var[:d].mean()), "var_last_layers": float(var[d:].mean()),
                   "mean_abs": float(np.abs(g).mean()), "samples": int(g.shape[0]),
                   "num_components": int(g[0].size)}
            if arm.startswith("mps"):
                row["fidelity_mean"] = float(np.mean(fids))
                row["mps_kl_mean"] = float(np.mean(mps_kls))
            res.setdefault(arm, {}).setdefault("rows", []).append(row)
            log(f"gradvar n={n:2d} {arm:>10}: Var {row['var']:.3e}  E[g^2] {row['second_moment']:.3e}")
    for arm, r in res.items():
        out["arms"][arm] = {k: [row[k] for row in r["rows"]] for k in r["rows"][0]}
    # exponential fit of the variance, ln Var = a + slope * n (zeros left out), over all n and over n >= 8
    ns = np.asarray(gv["ns"])
    for arm, r in out["arms"].items():
        v = np.asarray(r["var"])
        for key, sel in (("log_var_slope_per_qubit", v > 0), ("log_var_slope_per_qubit_n_ge_8", (v > 0) & (ns >= 8))):
            if sel.sum() >= 2:
                r[key] = float(np.polyfit(ns[sel], np.log(v[sel]), 1)[0])
    return out


# --- findings, tables, plots -------------------------------------------------------------


def findings(results: dict, cfg: dict) -> dict:
    out = {}
    for ds, r in results["datasets"].items():
        fin = {arm: a["final_kl"]["mean"] for arm, a in r["arms"].items()}
        base = min(fin["random"], fin["identity"])
        f = {"final_kl_mean": fin, "final_kl_std": {arm: a["final_kl"]["std"] for arm, a in r["arms"].items()}}
        for suffix in ("", "_refined"):
            arms = [f"mps_chi{c}{suffix}" for c in cfg["chis"]]
            if not all(a in fin for a in arms):
                continue
            tag = "mps" + suffix
            f[f"{tag}_all_below_random_and_identity"] = bool(all(fin[a] < base for a in arms))
            f[f"{tag}_best_below_random_and_identity"] = bool(min(fin[a] for a in arms) < base)
            f[f"{tag}_each_below_random_and_identity"] = {a: bool(fin[a] < base) for a in arms}
            f[f"{tag}_more_chi_helps"] = bool(all(fin[x] >= fin[y] for x, y in zip(arms, arms[1:])))
            f[f"{tag}_order"] = ", ".join(f"{a}={fin[a]:.4f}" for a in arms)
        f["claim_holds"] = bool(f.get("mps_all_below_random_and_identity") and f.get("mps_more_chi_helps"))
        if "mps_refined_all_below_random_and_identity" in f:
            f["claim_holds_refined"] = bool(f["mps_refined_all_below_random_and_identity"]
                                            and f["mps_refined_more_chi_helps"])
        out[ds] = f
    gv = results.get("gradvar")
    if gv:
        a, c = gv["arms"]["random"], gv["arms"][f"mps_chi{gv['chi']}"]
        out["gradvar"] = {
            "random_var_by_n": dict(zip(map(str, gv["ns"]), a["var"])),
            f"mps_chi{gv['chi']}_var_by_n": dict(zip(map(str, gv["ns"]), c["var"])),
            "random_log_var_slope": a.get("log_var_slope_per_qubit"),
            f"mps_chi{gv['chi']}_log_var_slope": c.get("log_var_slope_per_qubit"),
            "random_log_var_slope_n_ge_8": a.get("log_var_slope_per_qubit_n_ge_8"),
            f"mps_chi{gv['chi']}_log_var_slope_n_ge_8": c.get("log_var_slope_per_qubit_n_ge_8"),
            "n_where_mps_var_above_random": [n for n, x, y in zip(gv["ns"], c["var"], a["var"]) if x > y],
            "mps_var_above_random_at_every_n": bool(all(x > y for x, y in zip(c["var"], a["var"]))),
            "mps_second_moment_above_random_at_every_n": bool(all(x > y for x, y in zip(c["second_moment"],
                                                                                          a["second_moment"]))),
        }
    return out


def markdown(results: dict, cfg: dict) -> str:
    lines = []
    for ds, r in results["datasets"].items():
        lines += [f"### {ds} (n = {r['n']}, {r['num_patterns']} patterns, H = {r['entropy']:.4f} nats)", "",
                  "| arm | MPS KL (classical stage) | fidelity (Ran D layers / final) | KL at step 0 | final KL mean ± std | min - max |",
                  "|---|---|---|---|---|---|"]
        for arm, a in r["arms"].items():
            fk, sk = a["final_kl"], a["start_kl"]
            if arm.startswith("mps"):
                mk = f"{a['mps_kl_final']['mean']:.4f}"
                fid = f"{a['fidelity_ran']['mean']:.3f} / {a['fidelity_final']['mean']:.3f}"
            else:
                mk, fid = "-", "-"
            lines.append(f"| {arm} | {mk} | {fid} | {sk['mean']:.4f} | {fk['mean']:.4f} ± {fk['std']:.4f} | "
                         f"{fk['min']:.4f} - {fk['max']:.4f} |")
        lines.append("")
    gv = results.get("gradvar")
    if gv:
        arms = list(gv["arms"])
        lines += [f"### Gradient variance at initialization (cardinality n, k = n/2; {gv['layers']} staircase layers)", "",
                  "| n | " + " | ".join(f"{a} Var (E[g^2])" for a in arms) + " |",
                  "|---|" + "---|" * len(arms)]
        for i, n in enumerate(gv["ns"]):
            cells = [f"{gv['arms'][a]['var'][i]:.3e} ({gv['arms'][a]['second_moment'][i]:.3e})" for a in arms]
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
        for key, label in (("log_var_slope_per_qubit", "all n"), ("log_var_slope_per_qubit_n_ge_8", "n >= 8")):
            lines.append(f"| slope of ln Var per qubit ({label}, zeros left out) | " + " | ".join(
                f"{gv['arms'][a].get(key, float('nan')):.3f}" for a in arms) + " |")
        lines.append("")
    return "\n".join(lines)


def plot_curves(r: dict, title: str, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    steps = np.asarray(r["curve_steps"])
    colors = {"random": "tab:gray", "identity": "k", "mps_chi2": "tab:blue", "mps_chi4": "tab:orange",
              "mps_chi8": "tab:green", "mps_chi16": "tab:red"}
    for arm, a in r["arms"].items():
        base = arm.replace("_refined", "")
        style = "--" if arm.endswith("_refined") else "-"
        curves = np.asarray(a["curves"])
        ax.plot(steps, curves.mean(0), style, color=colors.get(base, None), lw=1.6,
                label=f"{arm} ({a['final_kl']['mean']:.3f})")
        ax.fill_between(steps, curves.min(0), curves.max(0), color=colors.get(base, None), alpha=0.08, lw=0)
    ax.set_yscale("log")
    ax.set_xlabel("circuit-training step (Adam)")
    ax.set_ylabel("KL(data || model) [nats]")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2, title="arm (final mean KL); band: min-max over seeds", title_fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=120)


def plot_gradvar(gv: dict, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4.3))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ns = np.asarray(gv["ns"])
    for arm, a in gv["arms"].items():
        v = np.asarray(a["var"])
        m2 = np.asarray(a["second_moment"])
        color = {"random": "tab:gray", "identity": "k"}.get(arm, "tab:orange")
        zero = "" if (v > 0).all() else f" (0 at n = {', '.join(map(str, ns[v <= 0]))})"
        ax.plot(ns[v > 0], v[v > 0], "o-", color=color, label=f"{arm}: Var over samples{zero}")
        ax.plot(ns[m2 > 0], m2[m2 > 0], "x:", color=color, label=f"{arm}: E[g^2]")
    ax.set_yscale("log")
    ax.set_xlabel("qubits n (cardinality data, k = n/2, eps = 1)")
    ax.set_ylabel("gradient component of KL, averaged over components")
    ax.set_title(f"gradients at initialization, {gv['layers']} SU(4) staircase layers "
                 f"(MPS: chi={gv['chi']}, D={gv['D']})", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--quick", action="store_true", help="small smoke test (< 1 min); does not write the committed files "
                    "unless --json/--plots are given")
    ap.add_argument("--json", default=None, help="output JSON (default benchmarks/results/synergy_cpu.json; "
                    "with --quick: none)")
    ap.add_argument("--plots", default=None, help="folder of the PNGs (default docs/; with --quick: none)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per arm (default 5; quick 1)")
    ap.add_argument("--steps", type=int, default=None, help="circuit-training Adam steps (default 800; quick 40)")
    ap.add_argument("--no-refine", action="store_true", help="skip the refined-mapping arms")
    ap.add_argument("--no-gradvar", action="store_true", help="skip the gradient-variance study")
    ap.add_argument("--scale", action="store_true", help="the experiment at n = 16 and 20 (issue 16 part 2): "
                    "see scale_main; writes benchmarks/results/synergy_scale_cpu.json")
    ap.add_argument("--steps16", type=int, default=60, help="--scale: circuit steps at n = 16 (default 60)")
    ap.add_argument("--steps20", type=int, default=0, help="--scale: circuit steps at n = 20 (default 0: the "
                    "mapped starts and their KL only)")
    ap.add_argument("--steps12", type=int, default=200, help="--scale: steps of the n = 12 clip/smooth comparison")
    args = ap.parse_args()
    if args.scale:
        scale_main(args)
        return

    if args.quick:
        cfg = {"seeds": 1, "circuit_steps": 40, "mps_steps": 100, "chis": [4], "refine_steps": 20, "every": 5,
               "gradvar": {"ns": [4, 6], "samples": 4, "mps_samples": 4, "mps_steps": 50, "chi": 4}}
    else:
        cfg = {"seeds": 5, "circuit_steps": 800, "mps_steps": 1000, "chis": [2, 4, 8], "refine_steps": 300,
               "every": 10, "gradvar": {"ns": [4, 6, 8, 10, 12, 14], "samples": 20, "mps_samples": 20,
                                        "mps_steps": 300, "chi": 4}}
    cfg.update({"total_layers": 6, "circuit_lr": 0.02, "mps_lr": 0.02, "init_scale": 0.01, "loss": "kl",
                "dtype": "float32", "refine_lr": 0.01})
    if args.seeds is not None:
        cfg["seeds"] = args.seeds
    if args.steps is not None:
        cfg["circuit_steps"] = args.steps
    if args.no_refine:
        cfg["refine_steps"] = 0
    json_path = args.json or (None if args.quick else os.path.join(ROOT, "benchmarks/results/synergy_cpu.json"))
    plot_dir = args.plots or (None if args.quick else os.path.join(ROOT, "docs"))

    env = _env.environment()
    other = _env.OtherCPU().start()
    t0 = time.perf_counter()
    sets = {"bas4x3": jqgen.load_dataset("bas-4x3").data,
            "cardinality12": jqgen.cardinality_dataset(12, 6, 1.0, seed=0).data}
    results: dict = {"benchmark": "synergy_experiment", "settings": {
        **cfg, "circuit": "QCBM(SU4Brickwork(12, total_layers, 'staircase')), exact probabilities, float32",
        "circuit_optimizer": "optax.adam(circuit_lr), full batch, loss = clipped KL(data || model) (eps 1e-8), "
                             "jqgen.qcbm.make_loss(model, 'kl')",
        "arms": "random: init_scale=None (uniform [-pi, pi)); identity: init_scale=0.01; mps_chi{c}: MPSBornMachine(12, c) "
                "trained with Adam(mps_lr) for mps_steps on the NLL, mapped by circuit_from_mps into D = log2(c) "
                "layers, extended by total_layers - D layers ~ N(0, init_scale^2); _refined: circuit_from_mps("
                "refine_steps=refine_steps, refine_lr=0.01) on the same MPS and extra-layer key",
        "datasets": {"bas4x3": "jqgen.load_dataset('bas-4x3'): 22 patterns",
                     "cardinality12": "jqgen.cardinality_dataset(12, 6, 1.0, seed=0): all 924 strings of weight 6 "
                                      "(eps = 1, target uniform on S)"},
        "gradvar_definition": "g = d KL(data || model) / d theta at initialization (cardinality n, k = n // 2, eps = 1, "
                              "total_layers staircase SU(4) layers); var = mean over components j of Var_s[g_j] "
                              "(ddof 1) over initial parameter sets s; second_moment = mean_j mean_s g_j^2. random / "
                              "identity: 'samples' draws; mps_chi{chi}: 'mps_samples' MPSs (init seed s, Adam "
                              "mps_steps at mps_lr, chi capped at 2^(n/2)) mapped into D = log2(chi) layers plus "
                              "near-identity layers with key s",
        "curves": "KL per step: entry i is the KL before Adam update i, the last entry after the last update; "
                  "subsampled every 'every' steps (plus the last)"}, "datasets": {}}
    for name, data in sets.items():
        log(f"dataset {name}: {data.shape}")
        results["datasets"][name] = run_dataset(name, np.asarray(data), cfg)
    if not args.no_gradvar:
        results["gradvar"] = grad_variance(cfg)
    results["findings"] = findings(results, cfg)
    results["wall_s"] = round(time.perf_counter() - t0, 1)
    results["other_processes_cpu_s"] = other.stop()
    results["environment"] = env

    table = markdown(results, cfg)
    print(table)
    print("findings:", json.dumps(results["findings"], indent=1))
    print(f"wall time {results['wall_s']} s; other processes used {results['other_processes_cpu_s']} CPU s")
    if json_path:
        _env.write_text(json_path, json.dumps(results, indent=1))
        log(f"wrote {json_path}")
    if plot_dir:
        for name, title in (("bas4x3", "bars and stripes 4x3"), ("cardinality12", "cardinality n=12, k=6, eps=1")):
            path = os.path.join(plot_dir, f"synergy_kl_{name}.png")
            plot_curves(results["datasets"][name],
                        f"{title}: {cfg['total_layers']} SU(4) staircase layers, Adam lr {cfg['circuit_lr']}, "
                        f"{cfg['seeds']} seeds (mean)", path)
            log(f"wrote {path}")
        if "gradvar" in results:
            path = os.path.join(plot_dir, "synergy_gradvar.png")
            plot_gradvar(results["gradvar"], path)
            log(f"wrote {path}")


SCALE_DOC = """--scale: the experiment where random circuits should plateau (issue 16 part 2).

Every arm trains QCBM(SU4Brickwork(n, 6, "staircase")) with Adam (lr 0.02, full batch) on the
smooth KL (the default here; clip vs smooth is compared at n = 12 on bars-and-stripes 4x3):
random (angles uniform), identity (N(0, 0.01^2)), mps_chi{2,4,8,16}: MPSBornMachine(n, chi)
trained by Adam (minibatches of 1024) for mps_steps, mapped into D = log2(chi) layers by the
sweep decomposition (circuit_from_mps(decomposition="sweep", sweeps=8)), then 6 - D near-
identity layers. 5 seeds, all arms of a data set batched under vmap. Data: cardinality n = 16,
k = 8 and bars-and-stripes 4x4 (n = 16); cardinality n = 20, k = 10 and bars-and-stripes
5x4 (n = 20, fewer or no steps: one batched step of 30 runs costs minutes on the shared
2-core CPU). Gradient variance at initialization, n = 8..20, random / identity / mps_chi4.
"""


def scale_main(args) -> None:
    base = {"total_layers": 6, "circuit_lr": 0.02, "mps_lr": 0.02, "init_scale": 0.01, "dtype": "float32",
            "refine_lr": 0.01, "refine_steps": 0, "seeds": args.seeds or 5, "chis": [2, 4, 8, 16],
            "decomposition": "sweep", "sweeps": 8, "mps_steps": 400, "mps_batch": 1024, "every": 5,
            "smoothing": "smooth"}
    if args.quick:
        base.update({"seeds": 2, "chis": [2, 4], "mps_steps": 50})
    plan = [("cardinality16", lambda: jqgen.cardinality_dataset(16, 8, 1.0, seed=0).data, args.steps16),
            ("bas4x4", lambda: jqgen.load_dataset("bas-4x4").data, args.steps16),
            ("cardinality20", lambda: jqgen.cardinality_dataset(20, 10, 1.0, seed=0).data, args.steps20),
            ("bas5x4", lambda: jqgen.load_dataset("bas-5x4").data, args.steps20)]
    if args.quick:
        plan = [("cardinality8", lambda: jqgen.cardinality_dataset(8, 4, 1.0, seed=0).data, 10)]
    json_path = args.json or (None if args.quick else os.path.join(ROOT, "benchmarks/results/synergy_scale_cpu.json"))
    plot_dir = args.plots or (None if args.quick else os.path.join(ROOT, "docs"))
    env = _env.environment()
    other = _env.OtherCPU().start()
    t0 = time.perf_counter()
    results: dict = {"benchmark": "synergy_experiment --scale", "description": SCALE_DOC, "settings": base,
                     "datasets": {}, "clip_vs_smooth": {}, "load_average_start": list(os.getloadavg())}

    def save():
        results["wall_s"] = round(time.perf_counter() - t0, 1)
        results["load_average_end"] = list(os.getloadavg())
        results["environment"] = env
        if json_path:
            _env.write_text(json_path, json.dumps(results, indent=1))

    for name, build, steps in plan:
        data = np.asarray(build())
        log(f"dataset {name}: {data.shape}, {steps} circuit steps, load {os.getloadavg()}")
        results["datasets"][name] = run_dataset(name, data, {**base, "circuit_steps": steps})
        save()
    if not args.quick:
        data = np.asarray(jqgen.load_dataset("bas-4x3").data)
        for smoothing in ("smooth", "clip"):
            log(f"bas4x3 with the {smoothing} KL, {args.steps12} steps")
            results["clip_vs_smooth"][smoothing] = run_dataset(
                f"bas4x3-{smoothing}", data, {**base, "chis": [2, 4, 8], "circuit_steps": args.steps12,
                                              "smoothing": smoothing, "every": 10})
            save()
    if not args.no_gradvar:
        ns = [4, 6] if args.quick else [8, 10, 12, 14, 16, 18, 20]
        small = {str(n): (8 if n >= 18 else 16) for n in ns}
        results["gradvar"] = grad_variance({**base, "gradvar": {"ns": ns, "samples": small, "mps_samples": small,
                                                               "mps_steps": 200, "chi": 4}})
        save()
    results["findings"] = findings(results, base)
    results["other_processes_cpu_s"] = other.stop()
    save()
    print(markdown(results, base))
    print("findings:", json.dumps(results["findings"], indent=1))
    if json_path:
        log(f"wrote {json_path}")
    if plot_dir:
        for name, r in results["datasets"].items():
            if r["circuit_steps"] > 0:
                path = os.path.join(plot_dir, f"synergy_scale_kl_{name}.png")
                plot_curves(r, f"{name} (n = {r['n']}): 6 SU(4) staircase layers, Adam lr 0.02, smooth KL, "
                               f"{base['seeds']} seeds (mean)", path)
                log(f"wrote {path}")
        if "gradvar" in results:
            path = os.path.join(plot_dir, "synergy_scale_gradvar.png")
            plot_gradvar(results["gradvar"], path)
            log(f"wrote {path}")


if __name__ == "__main__":
    main()
