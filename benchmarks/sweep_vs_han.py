"""jqgen's two-site sweeps against Han et al.'s own numpy code, in one run, to equal NLL.

The authors' ``MPS_c`` (``MPScumulant.py`` of github.com/congzlwag/UnsupGenModbyMPS) is
not part of jqgen: pass a checkout of that repository with ``--reference-dir``. Both
codes train on the same MNIST-1k images with the same settings (10 descent steps per
bond on 20 minibatches, lr 1e-3, relative cutoff ``--cutoff``, ``D_max`` = ``--dims``,
minimal bond 2, initial bond 2 with uniform [0, 1) entries), one after the other on the
same machine; the reference runs as its users run it (numpy's default BLAS threads).

For every ``D_max`` the script reports each code's per-loop wall time, train NLL and
bond profile, and **time to equal NLL**: for the NLL the reference reached after each of
its loops, jqgen's cumulative wall time until its own NLL is at least as low, with and
without jax's compilation (a fresh process compiles once per bond bucket and sweep
direction; a sweep of runs in one process, or jax's persistent compilation cache,
compiles once), and the ratio of the reference's cumulative time to it.

A second jqgen figure, ``jqgen_warm``, is a run with jax's persistent compilation cache
already filled by an identical run (what the ``jqgen`` command does by default from its
second run on): it still traces and lowers its programs, but loads them instead of
compiling. It runs in a subprocess per ``D_max`` (the cache is process-wide), after a
run that fills a fresh cache directory.

Usage::

    python benchmarks/sweep_vs_han.py --reference-dir PATH/UnsupGenModbyMPS [DATA.npz]
        [--dims 8 55 73] [--cutoff 1e-7] [--no-warm] [--json] [--out PATH]
    python benchmarks/sweep_vs_han.py --quick [--reference-dir PATH]   # smoke test, writes nothing

``--quick``: 200 images, ``D_max`` 8, 2 reference loops (+2 for jqgen), the warm-cache run
included. Without ``--reference-dir`` it runs the jqgen part only and says so in one line
(the reference is not part of jqgen).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _env import OtherCPU, environment, write_text  # noqa: E402
from sweep_bench import DEFAULT_DATA, log, run_sweep  # noqa: E402

SETTINGS = {"lr": 1e-3, "descent_steps": 10, "num_batches": 20, "min_bond": 2, "init_bond": 2}
LOOPS = {8: 5, 30: 5, 55: 6, 73: 6, 100: 6}
EXTRA_LOOPS = 2  # jqgen may take up to this many more loops to reach the reference's last NLL


def load_reference(ref_dir: str) -> Any:
    """The authors' ``MPS_c`` class from ``ref_dir/MPScumulant.py``."""
    path = os.path.join(ref_dir, "MPScumulant.py")
    if not os.path.isfile(path):
        raise SystemExit(f"--reference-dir: {path} not found (a checkout of congzlwag/UnsupGenModbyMPS is needed)")
    spec = importlib.util.spec_from_file_location("MPScumulant", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.MPS_c


def run_reference(mps_c: Any, data: np.ndarray, chi_max: int, cutoff: float, loops: int) -> dict:
    """The reference's loops as in its ``MNIST_main.py``: left-canonical start, cached
    cumulants, then ``train(1, False)`` per loop (its loss is the train NLL at the end)."""
    other = OtherCPU().start()
    t0 = time.perf_counter()
    m = mps_c(data.shape[1])
    m.verbose = 0
    m.left_cano()
    m.designate_data(data.astype(np.int8))
    m.init_cumulants()
    m.nbatch, m.descent_steps = SETTINGS["num_batches"], SETTINGS["descent_steps"]
    m.descenting_step_length, m.cutoff, m.maxibond, m.minibond = SETTINGS["lr"], cutoff, chi_max, SETTINGS["min_bond"]
    setup_s = time.perf_counter() - t0
    rows = []
    for loop in range(loops):
        t = time.perf_counter()
        m.train(1, False)
        dt = time.perf_counter() - t
        bd = np.asarray(m.bond_dimension[:-1])
        rows.append({"loop": loop + 1, "seconds": round(dt, 3), "cum_s": round(time.perf_counter() - t0, 3),
                     "train_nll": float(m.Loss[-1]), "max_bond": int(bd.max()), "mean_bond": round(float(bd.mean()), 2)})
        log(f"  reference D={chi_max} loop {loop + 1}  {dt:7.2f} s  NLL {rows[-1]['train_nll']:9.3f}  "
            f"max bond {rows[-1]['max_bond']}  mean {rows[-1]['mean_bond']}")
    return {"setup_s": round(setup_s, 3), "loops": rows, "other_processes_cpu_s": other.stop()}


#: The issue's per-loop times of the reference on this CPU, by the loop's max bond: 2.8 s
#: while bonds <= 8, 11.6 s at max bond 55, 32.8 s at max bond 73.
ISSUE_LOOP_S = {8: 2.8, 55: 11.6, 73: 32.8}


def issue_figure_time(ref_loops: list[dict]) -> float | None:
    """The reference's cumulative time over ``ref_loops`` if each loop took the issue's
    figure for its max bond; a max bond without a figure counts as the figure of the
    largest bond below it (a lower bound). ``None`` past 73."""
    if any(r["max_bond"] > max(ISSUE_LOOP_S) for r in ref_loops):
        return None
    return round(sum(ISSUE_LOOP_S[max([b for b in ISSUE_LOOP_S if b <= r["max_bond"]] or [8])]
                     for r in ref_loops), 2)


def summarize_issue_figures(run: dict) -> dict:
    """Time-to-equal-NLL ratios with the reference's time taken from the issue's figures."""
    t = issue_figure_time(run["reference"]["loops"])
    s = run["summary"]
    out = {"reference_s_from_issue_figures": t}
    for key, name in (("jqgen_s", "ratio"), ("jqgen_s_excl_compile", "ratio_excl_compile"),
                      ("jqgen_s_warm_cache", "ratio_warm_cache")):
        out[name] = None if t is None or not s.get(key) else round(t / s[key], 2)
    return out


def equal_nll(ref: dict, ours: dict) -> list[dict]:
    """For each reference loop: jqgen's first loop at an NLL at least as low, and the ratios."""
    out = []
    jl = ours["loops"]
    for r in ref["loops"]:
        hit = next((x for x in jl if x["train_nll"] <= r["train_nll"]), None)
        row: dict[str, Any] = {"reference_loop": r["loop"], "reference_nll": round(r["train_nll"], 3),
                               "reference_cum_s": r["cum_s"]}
        if hit is None:
            row.update({"jqgen_loop": None, "jqgen_cum_s": None, "ratio": None})
        else:
            excl = hit["cum_wall_s"] - hit["cum_compile_s"]  # all compilation so far, the initial state's included
            row.update({"jqgen_loop": hit["loop"], "jqgen_nll": round(hit["train_nll"], 3),
                        "jqgen_cum_s": round(hit["cum_wall_s"], 3), "jqgen_cum_s_excl_compile": round(excl, 3),
                        "ratio": round(r["cum_s"] / hit["cum_wall_s"], 2),
                        "ratio_excl_compile": round(r["cum_s"] / excl, 2)})
        out.append(row)
    return out


def warm_run(data_path: str, d: int, cutoff: float, loops: int, num_data: int | None = None) -> dict:
    """jqgen at ``D_max = d`` in a subprocess whose persistent compilation cache an identical
    run filled first; the second run's record."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        cmd = [sys.executable, os.path.abspath(__file__), data_path, "--warm-worker", str(d), cache,
               "--cutoff", repr(cutoff), "--loops", str(loops)]
        if num_data is not None:
            cmd += ["--num-data", str(num_data)]
        r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def _warm_worker(data_path: str, d: int, cache: str, cutoff: float, loops: int, num_data: int | None = None) -> int:
    import jax

    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    data = np.load(data_path)["data"][:num_data]
    settings = dict(SETTINGS, cutoff=cutoff, init="uniform")
    run_sweep(data, d, settings, loops=loops, budget_s=None, label=f"jqgen (filling the cache) D={d}")
    out = run_sweep(data, d, settings, loops=loops, budget_s=None, label=f"jqgen warm D={d}")
    print(json.dumps(out))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", nargs="?", default=DEFAULT_DATA, help="MNIST-1k .npz with 'data' (default: %(default)s)")
    p.add_argument("--reference-dir", help="checkout of congzlwag/UnsupGenModbyMPS (required)")
    p.add_argument("--no-warm", action="store_true", help="skip the runs with a filled compilation cache")
    p.add_argument("--warm-worker", nargs=2, metavar=("D_MAX", "CACHE"), help=argparse.SUPPRESS)
    p.add_argument("--loops", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--dims", type=int, nargs="+", default=[8, 55, 73], help="D_max values (default: %(default)s)")
    p.add_argument("--cutoff", type=float, default=1e-7, help="relative singular-value cutoff (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the JSON result on stdout (else a table)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    p.add_argument("--quick", action="store_true", help="smoke test: 200 images, D_max 8, 2 reference loops; "
                   "without --reference-dir the jqgen part only; writes nothing unless --out is given")
    p.add_argument("--num-data", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.warm_worker:
        return _warm_worker(args.data, int(args.warm_worker[0]), args.warm_worker[1], args.cutoff, args.loops,
                            args.num_data)
    if args.quick:
        args.num_data = args.num_data or 200
        if args.dims == [8, 55, 73]:
            args.dims = [8]
    if not args.reference_dir and not args.quick:
        p.error("--reference-dir is required (or --quick for the jqgen part alone)")
    if args.reference_dir:
        mps_c = load_reference(args.reference_dir)
    else:
        mps_c = None
        print("sweep_vs_han --quick: skipped the reference runs (Han et al.'s MPS_c is not part of jqgen and no "
              "--reference-dir was given); running the jqgen part only", file=sys.stderr, flush=True)
    data = np.load(args.data)["data"][: args.num_data]
    env = environment()
    log(f"sweep_vs_han: {data.shape[0]} images x {data.shape[1]} bits, jqgen on {env['platform']} "
        f"({env['device']}), CPU {env['cpu_model']} x{env['cpu_affinity']}")
    runs = []
    for d in args.dims:
        loops = 2 if args.quick else LOOPS.get(d, 6)
        log(f"D_max={d}, cutoff {args.cutoff:g}, {loops} reference loops")
        ref = None if mps_c is None else run_reference(mps_c, data, d, args.cutoff, loops)
        settings = dict(SETTINGS, cutoff=args.cutoff, init="uniform")
        ours = run_sweep(data, d, settings, loops=loops + EXTRA_LOOPS, budget_s=None, label=f"jqgen D={d}")
        warm = None if args.no_warm else warm_run(args.data, d, args.cutoff, loops + EXTRA_LOOPS, args.num_data)
        if ref is None:
            runs.append({"chi_max": d, "cutoff": args.cutoff, "reference": None, "jqgen": ours, "jqgen_warm": warm})
            log(f"  -> jqgen: {ours['loops_run']} loops, NLL {ours['final_train_nll']:.3f}, steady loop "
                f"{ours['steady_loop_s']} s, compile {ours['compile_s']} s"
                + ("" if warm is None else f"; warm cache: compile {warm['compile_s']} s"))
            continue
        eq = equal_nll(ref, ours)
        eq_warm = None if warm is None else equal_nll(ref, warm)
        last = eq[-1]
        r_last = ref["loops"][-1]
        same = next((x for x in ours["loops"] if x["loop"] == r_last["loop"]), None)
        runs.append({
            "chi_max": d, "cutoff": args.cutoff, "reference": ref, "jqgen": ours, "equal_nll": eq,
            "jqgen_warm": warm, "equal_nll_warm": eq_warm,
            "summary": {
                "reference_nll": round(r_last["train_nll"], 3), "reference_s": r_last["cum_s"],
                "jqgen_loop_at_equal_nll": last.get("jqgen_loop"), "jqgen_s": last.get("jqgen_cum_s"),
                "jqgen_s_excl_compile": last.get("jqgen_cum_s_excl_compile"),
                "ratio": last.get("ratio"), "ratio_excl_compile": last.get("ratio_excl_compile"),
                "jqgen_s_warm_cache": None if eq_warm is None else eq_warm[-1].get("jqgen_cum_s"),
                "ratio_warm_cache": None if eq_warm is None else eq_warm[-1].get("ratio"),
                "last_loop_s": {"reference": r_last["seconds"],
                                "jqgen": None if same is None else round(same["seconds"] - same["compile_s"], 3)},
                "last_loop_ratio": None if same is None else round(r_last["seconds"] / max(
                    same["seconds"] - same["compile_s"], 1e-9), 2),
                "bonds_at_last_loop": {"reference_mean": r_last["mean_bond"], "jqgen_max": same and same["max_bond"]},
            },
        })
        runs[-1]["summary"]["with_issue_reference_figures"] = summarize_issue_figures(runs[-1])
        log(f"  -> equal NLL {r_last['train_nll']:.2f}: reference {r_last['cum_s']:.1f} s, jqgen "
            f"{last.get('jqgen_cum_s')} s ({last.get('jqgen_cum_s_excl_compile')} s without compilation): "
            f"x{last.get('ratio')} (x{last.get('ratio_excl_compile')})")
    result = {
        "benchmark": "sweep_vs_han", "environment": env, "quick": args.quick,
        "skipped": None if mps_c is not None else "reference runs: no --reference-dir",
        "data": {"path": os.path.relpath(args.data), "num_data": int(data.shape[0]), "num_bits": int(data.shape[1])},
        "reference": "Han et al. numpy MPS_c (MPScumulant.py, github.com/congzlwag/UnsupGenModbyMPS), float64, "
                     "numpy's default BLAS threads",
        "settings": dict(SETTINGS, cutoff=args.cutoff, jqgen_dtype="float32", jqgen_svd="auto", jqgen_init="uniform"),
        "runs": runs,
    }
    text = json.dumps(result, indent=2, default=lambda x: None if isinstance(x, float) and not math.isfinite(x) else x)
    write_text(args.out, text)
    if args.json:
        print(text)
    else:
        if mps_c is None:
            print("sweep_vs_han: reference skipped (no --reference-dir); jqgen only:")
            for r in runs:
                j = r["jqgen"]
                print(f"  D_max={r['chi_max']:<4d} {j['loops_run']} loops, NLL {j['final_train_nll']:.3f}, steady loop "
                      f"{j['steady_loop_s']} s, compile {j['compile_s']} s")
            return 0
        print("time to the reference's final NLL (cumulative wall seconds)")
        for r in runs:
            s = r["summary"]
            print(f"  D_max={r['chi_max']:<4d} NLL {s['reference_nll']:8.2f}: reference {s['reference_s']:7.1f} s, "
                  f"jqgen {s['jqgen_s']} s ({s['jqgen_s_excl_compile']} s w/o compile), x{s['ratio']} "
                  f"(x{s['ratio_excl_compile']}); warm cache {s['jqgen_s_warm_cache']} s, x{s['ratio_warm_cache']}; "
                  f"last loop x{s['last_loop_ratio']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
