"""Reproduces Han et al.'s (PRX 8, 031012, 2018) MPS training results with ``jqgen.sweep_train``.

* MNIST-1k "capacity" runs: 1000 binarized 28x28 images, the authors' settings (full batch,
  1 descent step per bond, lr 5e-3, normalized gradients "norm0.25", cutoff 0, lr x0.2 when
  a loop's NLL rises, stop when a loop improves the NLL by less than 0.002, at most 200
  loops) at ``D_max`` = 10, 20, 50 (30 and 100 on request). Reported: final train NLL,
  test NLL (the file's ``data_test``), loops, wall time, and the relative difference to
  the authors' final train NLLs (target: within 2%).
* Bars and stripes 4x4 (30 patterns): cutoff 5e-5, lr 0.1, 10 descent steps, full batch,
  2 loops; the train NLL should reach ln 30 = 3.4012 (target <= 3.41).

``--dtype auto`` (default) runs float32 first and repeats in float64 every ``D_max`` whose
float32 result is not within 2% (the authors' runs were float64). Results are written to
the JSON file after every run, so a run killed by a time limit keeps what it finished.

Usage::

    python benchmarks/reproduce_han.py [--json] [--include-100] [--dims 10 20 50]
        [--dtype auto|float32|float64|both] [--out benchmarks/results/han_capacity_cpu.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from typing import Any

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _env import OtherCPU, environment  # noqa: E402
from sweep_bench import log  # noqa: E402

import jqgen  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data")
#: The authors' final train NLLs of the MNIST-1k capacity runs, and their loop counts.
PAPER = {10: (95.186, 117), 20: (77.098, 148), 30: (67.001, 110), 50: (55.058, 87), 100: (39.864, 100)}
CAPACITY = {"lr": 5e-3, "descent_steps": 1, "num_batches": 1, "cutoff": 0.0, "normalized_grad": True,
            "lr_decay_on_rise": 0.2, "min_improvement": 0.002}
BAS = {"lr": 0.1, "descent_steps": 10, "num_batches": 1, "cutoff": 5e-5, "normalized_grad": False,
       "lr_decay_on_rise": None, "min_improvement": None}
BAS_CHI_MAX = 32  # >= 30 patterns: never binds, the cutoff sets the bond dimensions
TOLERANCE = 0.02


def _x64(enable: bool) -> Any:
    if not enable:
        return contextlib.nullcontext()
    ctx = getattr(jax, "enable_x64", None)
    if ctx is None:  # jax < 0.7
        from jax.experimental import enable_x64 as ctx
    return ctx(True)


def run(data: np.ndarray, test: np.ndarray | None, chi_max: int, settings: dict, *, loops: int, dtype: str,
        seed: int, label: str, log_every: int) -> dict:
    """One sweep_train run; the history and timing."""
    jax.clear_caches()  # each run compiles what it needs, as in a fresh process
    other = OtherCPU().start()
    t0 = time.perf_counter()

    def cb(loop: int, mps, state, h: dict) -> None:
        if loop == 1 or loop % log_every == 0:
            log(f"  {label} loop {loop:3d}  NLL {h['train_nll'][-1]:9.4f}  test {h['test_nll'][-1]:9.4f}  "
                f"max bond {int(h['max_bond'][-1]):3d}  lr {h['lr'][-1]:.2e}  {h['seconds'][-1]:6.2f} s/loop  "
                f"total {time.perf_counter() - t0:7.1f} s")

    with _x64(dtype == "float64"):
        res = jqgen.sweep_train(data, max_bond=chi_max, loops=loops, key=jax.random.key(seed), test_data=test,
                                dtype=getattr(jax.numpy, dtype), progress=False, callback=cb, **settings)
        wall_s = time.perf_counter() - t0
        train_exact = jqgen.mean_nll(res.model, res.mps, data)  # full contraction, cross-checks the sweep's value
        test_lp = None if test is None else np.asarray(jax.jit(jqgen.mps.log_prob)(res.mps, test), np.float64)
    h = res.history
    zero_p = None if test_lp is None else int(np.sum(~np.isfinite(test_lp)))
    stopped = "loops" if len(h["loop"]) >= loops else "min_improvement"
    log(f"  {label} done: {len(h['loop'])} loops, NLL {h['train_nll'][-1]:.4f}, {wall_s:.1f} s ({stopped})")
    secs = h["seconds"]
    return {
        "chi_max": chi_max, "dtype": dtype, "seed": seed, "settings": settings, "loops": len(h["loop"]),
        "stopped_by": stopped, "train_nll": h["train_nll"][-1], "train_nll_full_contraction": train_exact,
        "test_nll": None if test is None else _finite(h["test_nll"][-1]),
        # test images the model gives probability 0 (log p = -inf: pixels never on in the training set)
        "test_images_zero_prob": zero_p,
        "test_nll_of_the_others": None if test_lp is None or zero_p == len(test_lp)
        else float(-test_lp[np.isfinite(test_lp)].mean()),
        "best_train_nll": min(h["train_nll"]),
        "max_bond": int(h["max_bond"][-1]), "final_lr": h["lr"][-1], "wall_s": round(wall_s, 2),
        "first_loop_s": round(secs[0], 3), "median_loop_s": round(float(np.median(secs[1:] or secs)), 3),
        "other_processes_cpu_s": other.stop(),
        "history": {"train_nll": [round(v, 4) for v in h["train_nll"]],
                    "test_nll": None if test is None else [_finite(round(v, 4)) for v in h["test_nll"]],
                    "max_bond": h["max_bond"], "lr": h["lr"], "seconds": [round(v, 3) for v in secs]},
    }


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None  # inf (a test image of probability 0) -> JSON null


def compare(r: dict) -> dict:
    paper_nll, paper_loops = PAPER[r["chi_max"]]
    rel = (r["train_nll"] - paper_nll) / paper_nll
    r.update({"paper_train_nll": paper_nll, "paper_loops": paper_loops, "rel_diff": round(rel, 5),
              "within_2pct": abs(rel) <= TOLERANCE})
    return r


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.path.join(SHARED, "mnist28_binary_1k.npz"), help="MNIST-1k .npz")
    p.add_argument("--bas", default=os.path.join(SHARED, "bars_stripes_4x4.npy"), help="bars and stripes 4x4 .npy")
    p.add_argument("--dims", type=int, nargs="+", default=[10, 20, 50], choices=sorted(PAPER), help="D_max values")
    p.add_argument("--include-100", action="store_true", help="also D_max = 100 (slow on a CPU)")
    p.add_argument("--dtype", choices=("auto", "float32", "float64", "both"), default="auto",
                   help="auto: float32, then float64 where float32 misses 2%% (default: %(default)s)")
    p.add_argument("--max-loops", type=int, default=200, help="loop limit (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-bas", action="store_true", help="skip bars and stripes")
    p.add_argument("--quick", action="store_true", help="smoke test: D_max 10 only, 5 loops; writes no file "
                   "unless --out is given")
    p.add_argument("--log-every", type=int, default=10, help="progress line every N loops (stderr)")
    p.add_argument("--json", action="store_true", help="print the JSON result on stdout")
    p.add_argument("--out", default=None,
                   help="JSON file, rewritten after every run (default: results/han_capacity_cpu.json; with "
                        "--quick: none); '' for none")
    args = p.parse_args(argv)
    if args.out is None:
        args.out = "" if args.quick else os.path.join(HERE, "results", "han_capacity_cpu.json")
    dims = [10] if args.quick else sorted(set(args.dims) | ({100} if args.include_100 else set()))
    max_loops = 5 if args.quick else args.max_loops
    z = np.load(args.data)
    data, test = z["data"], (z["data_test"] if "data_test" in z else None)
    env = environment()
    result: dict[str, Any] = {
        "benchmark": "reproduce_han", "environment": env,
        "machine": f"{env['platform']} ({env['device']}), {env['cpu_model']}, {env['cpu_affinity']} cores",
        "paper": "Han, Wang, Fan, Wang, Zhang, PRX 8, 031012 (2018); final train NLLs of the authors' capacity runs",
        "data": {"mnist": os.path.relpath(args.data), "num_train": int(data.shape[0]),
                 "num_test": None if test is None else int(test.shape[0]), "bas": os.path.relpath(args.bas)},
        "capacity_settings": dict(CAPACITY, max_loops=max_loops), "tolerance": TOLERANCE, "quick": args.quick,
        "mnist": [], "bas_4x4": None,
    }

    def save() -> None:
        text = json.dumps(result, indent=2, allow_nan=False)
        if args.out:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            tmp = args.out + ".tmp"
            with open(tmp, "w") as f:
                f.write(text + "\n")
            os.replace(tmp, args.out)

    t_all = time.perf_counter()
    if not args.no_bas:
        bas = np.load(args.bas)
        bas = bas.reshape(bas.shape[0], -1)  # the file holds [30, 4, 4] images
        ideal = math.log(np.unique(bas, axis=0).shape[0])
        log(f"bars and stripes 4x4: {bas.shape[0]} patterns, ln {bas.shape[0]} = {ideal:.6f}")
        r = run(bas, None, BAS_CHI_MAX, BAS, loops=2, dtype="float32", seed=args.seed, label="BAS", log_every=1)
        r.update({"ideal_nll": ideal, "target": 3.41, "reached": r["train_nll"] <= 3.41,
                  "gap": r["train_nll"] - ideal})
        result["bas_4x4"] = r
        save()

    first = ["float64"] if args.dtype == "float64" else ["float32"]
    for d in dims:
        for dtype in first:
            log(f"MNIST capacity D_max={d} {dtype} (paper {PAPER[d][0]} after {PAPER[d][1]} loops)")
            r = compare(run(data, test, d, CAPACITY, loops=max_loops, dtype=dtype, seed=args.seed,
                            label=f"D={d} {dtype}", log_every=args.log_every))
            log(f"  -> {r['train_nll']:.3f} vs {r['paper_train_nll']} ({100 * r['rel_diff']:+.2f}%)")
            result["mnist"].append(r)
            save()
            if args.dtype == "both" or (args.dtype == "auto" and not r["within_2pct"]):
                log(f"MNIST capacity D_max={d} float64")
                r64 = compare(run(data, test, d, CAPACITY, loops=max_loops, dtype="float64", seed=args.seed,
                                  label=f"D={d} float64", log_every=args.log_every))
                log(f"  -> {r64['train_nll']:.3f} vs {r64['paper_train_nll']} ({100 * r64['rel_diff']:+.2f}%)")
                result["mnist"].append(r64)
                save()
    result["total_wall_s"] = round(time.perf_counter() - t_all, 1)
    result["summary"] = [
        {k: r[k] for k in ("chi_max", "dtype", "loops", "train_nll", "test_nll", "test_images_zero_prob",
                           "paper_train_nll", "paper_loops",
                           "rel_diff", "within_2pct", "wall_s", "median_loop_s")} for r in result["mnist"]]
    save()
    if args.json:
        print(json.dumps(result, indent=2, allow_nan=False))
    else:
        print(f"machine: {result['machine']}")
        if result["bas_4x4"]:
            b = result["bas_4x4"]
            print(f"BAS 4x4: train NLL {b['train_nll']:.6f} (ln 30 = {b['ideal_nll']:.6f}, target <= 3.41: "
                  f"{'ok' if b['reached'] else 'MISSED'})")
        print(" D_max dtype    loops  train NLL   paper     rel diff  test NLL   wall s   s/loop")
        for s in result["summary"]:
            print(f" {s['chi_max']:5d} {s['dtype']:8s} {s['loops']:5d}  {s['train_nll']:9.3f}  {s['paper_train_nll']:7.3f}"
                  f"  {100 * s['rel_diff']:+7.2f}%  {s['test_nll'] or float('inf'):8.3f}  {s['wall_s']:7.1f}  "
                  f"{s['median_loop_s']:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
