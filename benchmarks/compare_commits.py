"""Before/after timing of the headline benchmark figures for two commits, in one session.

Issue 13 (the architecture round) asks that the committed headline figures be no slower
after the change, measured "same run, before/after commit, as a ratio". This script runs,
for the code before (default ``8de6a4f``, checked out with ``git worktree add`` outside
the repository) and the code after (this checkout), **that commit's own benchmark
scripts** against **that commit's own library** (``PYTHONPATH`` = the commit's folder,
working directory = that folder), each run in a fresh subprocess, interleaved: for every
repetition and every figure, before then after. The figures:

* ``mps``: ``mps_bench.py --json`` with its full sizes (``jqgen`` sampling at n=100,
  chi=32, 10,000 samples per call; log p(x) at n=784, chi=64; and quimb's sampling and
  contraction on the same states, the headline's denominator);
* ``sweep``: ``sweep_bench.run_sweep`` of that commit with its class-A settings and its
  ``FULL`` loop counts at ``D_max`` = 8 and 55 on MNIST-1k (the ``speed_vs_reference``
  part of ``sweep_bench.py``; the time-to-NLL part is not run): the steady per-loop time
  (loops at the final bond that did not compile) and the compile time of the run;
* ``qcbm``: ``qcbm_bench.py --jqgen-only``: compile time and time per step of
  ``jit(value_and_grad(KL))`` at n = 12 (and the step at n = 16, 20, vmap, sampling);
* ``metrics``: ``metrics_bench.py``: ``generalization_metrics`` on 10^6 samples of 64
  bits against 10^5 training strings, with cost (and the smaller cases).

Per figure and metric: the values of every repetition, the medians, the ratio
after/before of the medians (< 1 is faster for times), and the run-to-run noise (the
larger of the two sides' (max - min) / median). Before every run the script waits while
a ``pytest`` process runs (``pgrep -f pytest``, polled every 30 s, up to ``--wait-quiet``
seconds in all) and records the CPU time other processes used during the run.

    python benchmarks/compare_commits.py --out benchmarks/results/architecture_before_after_cpu.json
    python benchmarks/compare_commits.py --reps 5 --figures sweep mps
    python benchmarks/compare_commits.py --smoke     # 1 repetition, small sizes: checks the driver (~2 min)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIGURES = ("mps", "sweep", "qcbm", "metrics")
DATA = os.path.join(ROOT, "..", "shared", "data", "mnist28_binary_1k.npz")

#: ``sweep`` worker, run with ``python -c`` in the commit's folder: that commit's
#: ``benchmarks/sweep_bench.py`` (its ``run_sweep``, ``CLASS_A`` and ``FULL`` loop counts).
SWEEP_WORKER = r"""
import json, os, sys
sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks"))
import numpy as np
import sweep_bench as sb
import jqgen
cfg = json.loads(sys.argv[1])
data = np.load(cfg["data"])["data"][: cfg["num_data"]]
out = {"jqgen_file": jqgen.__file__, "class_A": sb.CLASS_A, "runs": []}
for d in cfg["dims"]:
    loops = cfg["loops"].get(str(d)) or sb.FULL["speed_loops"][d]
    out["runs"].append(sb.run_sweep(data, d, sb.CLASS_A, loops=loops, budget_s=None, label=f"A D={d}"))
with open(cfg["out"], "w") as f:
    json.dump(out, f)
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- machine

def busy_cpu_s() -> float | None:
    """CPU seconds the whole machine used so far (``/proc/stat``: all but idle and iowait)."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds of this process and its finished children."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def pytest_processes() -> list[str]:
    r = subprocess.run(["pgrep", "-af", "pytest"], capture_output=True, text=True)
    return [ln for ln in r.stdout.splitlines() if ln.strip() and str(os.getpid()) != ln.split()[0]]


class Quiet:
    """Waits while pytest runs (polled every ``poll_s``), ``budget_s`` seconds in all."""

    def __init__(self, budget_s: float, poll_s: float = 30.0) -> None:
        self.budget_s, self.poll_s, self.waited_s = budget_s, poll_s, 0.0
        self.log: list[dict] = []

    def wait(self, when: str) -> bool:
        """True if no pytest runs now (after waiting, if needed and within the budget)."""
        t0 = time.time()
        procs = pytest_processes()
        first = list(procs)
        while procs and self.waited_s + (time.time() - t0) < self.budget_s:
            log(f"  waiting: pytest is running ({procs[0][:80]}); {self.waited_s + time.time() - t0:.0f} s waited "
                f"of {self.budget_s:.0f}")
            time.sleep(self.poll_s)
            procs = pytest_processes()
        waited = time.time() - t0
        self.waited_s += waited
        if first or waited > 1:
            self.log.append({"when": when, "pytest_seen": first[:3], "waited_s": round(waited, 1),
                             "quiet_after": not procs})
        return not procs


# ---------------------------------------------------------------------------- worktree

def git(*args: str, cwd: str = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def tree_hash(root: str) -> str:
    """sha256 of every ``jqgen/**/*.py`` and ``benchmarks/*.py`` under ``root`` (detects edits mid-run)."""
    h = hashlib.sha256()
    for sub in ("jqgen", "benchmarks"):
        for dirpath, dirnames, files in sorted(os.walk(os.path.join(root, sub))):
            dirnames.sort()
            for name in sorted(files):
                if name.endswith(".py") and (sub == "jqgen" or dirpath.endswith("benchmarks")):
                    path = os.path.join(dirpath, name)
                    h.update(os.path.relpath(path, root).encode())
                    with open(path, "rb") as f:
                        h.update(f.read())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------- figures

def _get(d: Any, *path: Any) -> Any:
    for p in path:
        if d is None:
            return None
        d = d.get(str(p)) if isinstance(d, dict) else None
    return d


def extract_mps(r: dict) -> dict:
    q = r.get("quimb") or {}
    return {
        "sample_run_s": _get(r, "jqgen_sample", "run_s_median"),
        "sample_compile_s": _get(r, "jqgen_sample", "compile_s"),
        "log_prob_run_s": _get(r, "jqgen_log_prob", "run_s_median"),
        "log_prob_compile_s": _get(r, "jqgen_log_prob", "compile_s"),
        "log_prob_batch1_run_s": _get(r, "jqgen_log_prob_batch1", "run_s_median"),
        "log_amplitude_sq_batch1_run_s": _get(r, "jqgen_log_amplitude_sq_batch1", "run_s_median"),
        "quimb_sample_run_s": _get(q, "sample", "run_s_median"),
        "quimb_amplitude_s_per_eval": (1.0 / q["amplitude"]["evals_per_s"]) if _get(q, "amplitude", "evals_per_s")
        else None,
        "sampling_speedup_vs_quimb": _get(r, "ratios_jqgen_over_quimb", "sampling"),
        "log_prob_speedup_vs_quimb": _get(r, "ratios_jqgen_over_quimb", "log_prob_vs_amplitude"),
    }


def extract_sweep(r: dict) -> dict:
    out: dict[str, Any] = {}
    for run in r["runs"]:
        d = run["chi_max"]
        loops = run["loops"]
        final = run["final_max_bond"]
        steady = [x for x in loops if x["max_bond"] == final and x["compile_s"] < 0.02 * x["seconds"]]
        # wall time between the callbacks of consecutive steady loops: includes what the
        # trainer does outside the loop's own clock (history, bookkeeping)
        between = [b["cum_wall_s"] - a["cum_wall_s"] for a, b in zip(loops, loops[1:]) if b in steady]
        out[f"d{d}_steady_loop_s"] = run["steady_loop_s"]
        out[f"d{d}_steady_between_callbacks_s"] = round(statistics.median(between), 4) if between else None
        out[f"d{d}_compile_s"] = run["compile_s"]
        out[f"d{d}_wall_s"] = run["wall_s"]
        out[f"d{d}_steady_loops"] = run["steady_loops_used"]
        out[f"d{d}_final_train_nll"] = run["final_train_nll"]
    return out


def extract_qcbm(r: dict) -> dict:
    out = {"n12_compile_s": _get(r, "n12", "jqgen", "compile_s"), "n12_step_ms": _get(r, "n12", "jqgen", "step_ms")}
    for n in (16, 20):
        out[f"n{n}_compile_s"] = _get(r, "larger", n, "jqgen", "compile_s")
        out[f"n{n}_step_ms"] = _get(r, "larger", n, "jqgen", "step_ms")
    out["vmap64_n10_step_ms"] = _get(r, "vmap64_n10", "64_models", "step_ms")
    out["vmap1_n10_step_ms"] = _get(r, "vmap64_n10", "one_model", "step_ms")
    out["sample_n20_1e6_ms"] = _get(r, "sampling_n20", "sample_bitstrings", "step_ms")
    out["sample_counts_n20_1e6_ms"] = _get(r, "sampling_n20", "sample_counts", "step_ms")
    return out


def extract_metrics(r: dict) -> dict:
    c = r["cases"]
    return {"n64_1e6_s": _get(c, "n64_1e6", "median_s"), "n12_1e4_s": _get(c, "n12_1e4", "median_s"),
            "n784_1e5_s": _get(c, "n784_1e5", "median_s"), "n64_1e5_s": _get(c, "naive_n64_1e5", "jqgen", "median_s")}


#: metrics where a larger value is better (the others are times: smaller is better)
HIGHER_IS_BETTER = {"sampling_speedup_vs_quimb", "log_prob_speedup_vs_quimb"}
#: values that are not timings (reported, no verdict)
NOT_TIMED = ("_final_train_nll", "_steady_loops")
HEADLINE = {"mps": ("sample_run_s", "sample_compile_s", "quimb_sample_run_s", "sampling_speedup_vs_quimb",
                    "log_prob_run_s"),
            "sweep": ("d8_steady_loop_s", "d55_steady_loop_s", "d8_compile_s", "d55_compile_s"),
            "qcbm": ("n12_compile_s", "n12_step_ms", "n16_step_ms", "n20_step_ms"),
            "metrics": ("n64_1e6_s",)}


def figure_command(fig: str, tmp: str, smoke: bool, data: str) -> tuple[list[str], str, Callable[[dict], dict]]:
    """(argv run in the commit's folder, the JSON file it writes, the extractor)."""
    out = os.path.join(tmp, f"{fig}.json")
    py = sys.executable
    if fig == "mps":
        return [py, "benchmarks/mps_bench.py", "--json", "--out", out] + (["--quick"] if smoke else []), out, extract_mps
    if fig == "sweep":
        cfg = {"data": data, "dims": [8] if smoke else [8, 55], "loops": {"8": 2} if smoke else {},
               "num_data": 200 if smoke else None, "out": out}
        return [py, "-c", SWEEP_WORKER, json.dumps(cfg)], out, extract_sweep
    if fig == "qcbm":
        return [py, "benchmarks/qcbm_bench.py", "--jqgen-only", "--json", out] + (["--repeats", "2"] if smoke else []), \
            out, extract_qcbm
    if fig == "metrics":
        return [py, "benchmarks/metrics_bench.py", "--json", out] + (["--repeats", "1"] if smoke else []), out, \
            extract_metrics
    raise ValueError(fig)


def run_one(fig: str, side: str, root: str, smoke: bool, data: str, timeout_s: float) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"cmp-{fig}-{side}-") as tmp:
        argv, out, extract = figure_command(fig, tmp, smoke, data)
        env = dict(os.environ, PYTHONPATH=root, PYTHONDONTWRITEBYTECODE="1")
        env.pop("JAX_COMPILATION_CACHE_DIR", None)  # no persistent compilation cache: every run compiles
        b0, c0, t0 = busy_cpu_s(), own_cpu_s(), time.perf_counter()
        p = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=timeout_s)
        wall = time.perf_counter() - t0
        b1, c1 = busy_cpu_s(), own_cpu_s()
        rec: dict[str, Any] = {"figure": fig, "side": side, "rc": p.returncode, "wall_s": round(wall, 2),
                               "cpu_s": round(c1 - c0, 2),
                               "other_processes_cpu_s": None if b0 is None else round(max(0.0, (b1 - b0) - (c1 - c0)), 2)}
        if p.returncode != 0 or not os.path.exists(out):
            rec["error"] = (p.stderr or p.stdout)[-3000:]
            return rec
        with open(out) as f:
            raw = json.load(f)
    rec["values"] = extract(raw)
    env_rec = raw.get("environment") or {}
    rec["script_environment"] = {k: env_rec.get(k) for k in ("git", "jax", "platform", "device", "cpu_model",
                                                               "cpu_affinity", "other_processes_cpu_s")}
    if fig == "sweep":
        rec["jqgen_file"] = raw.get("jqgen_file")
        rec["class_A"] = raw.get("class_A")
        rec["runs_other_processes_cpu_s"] = [r.get("other_processes_cpu_s") for r in raw["runs"]]
    if fig == "mps":
        rec["quimb_version"] = _get(raw, "quimb", "version")
    return rec


def summarize(runs: list[dict], figures: list[str]) -> dict:
    out: dict[str, Any] = {}
    for fig in figures:
        rows: dict[str, Any] = {}
        vals = {s: [r["values"] for r in runs if r["figure"] == fig and r["side"] == s and "values" in r]
                for s in ("before", "after")}
        names = list(vals["after"][0]) if vals["after"] else list(vals["before"][0]) if vals["before"] else []
        for name in names:
            b = [v.get(name) for v in vals["before"]]
            a = [v.get(name) for v in vals["after"]]
            b, a = [x for x in b if x is not None], [x for x in a if x is not None]
            row: dict[str, Any] = {"before": b, "after": a}
            if b and a:
                mb, ma = statistics.median(b), statistics.median(a)
                row.update(before_median=mb, after_median=ma)
                if not name.endswith(NOT_TIMED) and mb:
                    ratio = ma / mb
                    spread = [(max(x) - min(x)) / statistics.median(x) for x in (b, a) if len(x) > 1 and statistics.median(x)]
                    noise = max(spread) if spread else None
                    pairs = [y / x for x, y in zip(b, a) if x]
                    row.update(ratio_after_over_before=round(ratio, 4), noise_rel=None if noise is None else round(noise, 4),
                               pair_ratios=[round(x, 3) for x in pairs])
                    slower = ratio < 1 if name in HIGHER_IS_BETTER else ratio > 1
                    if noise is None:
                        row["verdict"] = "one repetition: no noise estimate"
                    elif abs(ratio - 1) <= noise:
                        row["verdict"] = "within noise"
                    else:
                        row["verdict"] = "slower" if slower else "faster"
                    if name in HIGHER_IS_BETTER:
                        row["note"] = "a ratio of speed-ups: > 1 is better"
            rows[name] = row
        out[fig] = rows
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", default="8de6a4f", help="commit of the code before (default: %(default)s)")
    p.add_argument("--before-dir", default="/tmp/jqgen-before", help="worktree of it, outside the repository "
                   "(created if missing, removed at the end unless --keep-worktree)")
    p.add_argument("--after-dir", default=ROOT, help="the code after (default: this checkout)")
    p.add_argument("--reps", type=int, default=3, help="repetitions of every (figure, side) (default: %(default)s)")
    p.add_argument("--figures", nargs="+", choices=FIGURES, default=list(FIGURES))
    p.add_argument("--data", default=DATA, help="MNIST-1k .npz (default: ../shared/data/mnist28_binary_1k.npz)")
    p.add_argument("--wait-quiet", type=float, default=2700.0, help="seconds to wait in all while pytest runs")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per benchmark run")
    p.add_argument("--smoke", action="store_true", help="1 repetition at small sizes: a check of the driver, "
                   "not a measurement (writes nothing unless --out)")
    p.add_argument("--keep-worktree", action="store_true")
    p.add_argument("--out", default=None, help="write the JSON here (it is printed anyway)")
    args = p.parse_args(argv)
    if args.smoke and args.reps == 3:
        args.reps = 1
    data = os.path.abspath(args.data)

    sys.path.insert(0, HERE)
    import _env  # noqa: E402  (jax + jqgen of this checkout, for the machine record)

    created = False
    if not os.path.isdir(os.path.join(args.before_dir, "jqgen")):
        log(f"git worktree add {args.before_dir} {args.before}")
        git("worktree", "add", "--detach", args.before_dir, args.before)
        created = True
    sides = {"before": os.path.abspath(args.before_dir), "after": os.path.abspath(args.after_dir)}
    commits = {s: git("rev-parse", "HEAD", cwd=d) for s, d in sides.items()}
    if not commits["before"].startswith(git("rev-parse", args.before)[:12]):
        raise SystemExit(f"{args.before_dir} is at {commits['before'][:10]}, not {args.before}")
    hashes_start = {s: tree_hash(d) for s, d in sides.items()}
    quiet = Quiet(args.wait_quiet)
    quiet_at_start = quiet.wait("start")
    env = _env.environment()
    t_all = time.perf_counter()
    runs: list[dict] = []
    try:
        for rep in range(args.reps):
            for fig in args.figures:
                for side in ("before", "after"):
                    q = quiet.wait(f"rep {rep + 1} {fig} {side}")
                    log(f"rep {rep + 1}/{args.reps} {fig:8s} {side:6s} ({commits[side][:8]}) ...")
                    rec = run_one(fig, side, sides[side], args.smoke, data, args.timeout)
                    rec.update(rep=rep + 1, pytest_running_at_start=not q)
                    runs.append(rec)
                    head = {k: rec.get("values", {}).get(k) for k in HEADLINE[fig]}
                    log(f"    {rec['wall_s']:.1f} s, other processes {rec['other_processes_cpu_s']} CPU s, "
                        + (f"ERROR rc={rec['rc']}: {rec['error'][-400:]}" if "error" in rec else json.dumps(head)))
    finally:
        hashes_end = {s: tree_hash(d) for s, d in sides.items()}
        if created and not args.keep_worktree:
            log(f"git worktree remove --force {args.before_dir}")
            git("worktree", "remove", "--force", args.before_dir)
    other = [r["other_processes_cpu_s"] for r in runs if r.get("other_processes_cpu_s") is not None]
    summary = summarize(runs, args.figures)
    result = {
        "benchmark": "architecture_before_after",
        "what": "issue 13's headline figures for the code before and after the architecture round, same session, "
                "each commit's own benchmark scripts against its own library, fresh subprocess per run, "
                "interleaved (per repetition and figure: before, then after); medians over repetitions; "
                "ratio = after / before (times: < 1 is faster)",
        "smoke": args.smoke,
        "before": {"commit": commits["before"], "dir": sides["before"], "pythonpath": sides["before"]},
        "after": {"commit": commits["after"], "dir": sides["after"], "pythonpath": sides["after"],
                  "uncommitted_jqgen_changes": env.get("git", {}).get("modified_jqgen_files") if env.get("git") else None},
        "sources_unchanged_during_run": hashes_start == hashes_end,
        "environment": env,
        "machine": f"{env['platform']} ({env['device']}), {env['cpu_model']}, {env['cpu_affinity']} cores",
        "quiet": {
            "pytest_running_at_start_after_waiting": not quiet_at_start,
            "waited_for_pytest_s": round(quiet.waited_s, 1), "wait_log": quiet.log,
            "runs_started_while_pytest_ran": sum(1 for r in runs if r.get("pytest_running_at_start")),
            "other_processes_cpu_s_per_run": {"median": statistics.median(other) if other else None,
                                              "max": max(other) if other else None},
        },
        "settings": {
            "repetitions": args.reps,
            "mps": "benchmarks/mps_bench.py --json (FULL sizes: sample n=100 chi=32 batch 10,000, 7 calls; log_prob "
                   "n=784 chi=64 batch 1,000; quimb 3 x 50 samples, 10 amplitudes)" + (" --quick" if args.smoke else ""),
            "sweep": "each commit's sweep_bench.run_sweep(data, D, CLASS_A, loops=FULL['speed_loops'][D]) for D = 8 "
                     "(5 loops), 55 (6 loops), 1000 MNIST images, float32, cutoff 1e-7; steady = loops at the final "
                     "max bond without compilation" + (" (smoke: D 8, 2 loops, 200 images)" if args.smoke else ""),
            "qcbm": "benchmarks/qcbm_bench.py --jqgen-only (LiuWang(n, 4), jit(value_and_grad(KL)), 50 repeats "
                    "and >= 1 s per figure)" + (" --repeats 2" if args.smoke else ""),
            "metrics": "benchmarks/metrics_bench.py (median of 5 runs per case)" + (" --repeats 1" if args.smoke else ""),
            "data": os.path.relpath(data, ROOT),
        },
        "figures": summary,
        "headline": {fig: {k: {x: summary[fig].get(k, {}).get(x) for x in
                               ("before_median", "after_median", "ratio_after_over_before", "noise_rel", "verdict")}
                           for k in HEADLINE[fig]} for fig in args.figures},
        "runs": runs,
        "total_wall_s": round(time.perf_counter() - t_all, 1),
    }
    text = json.dumps(result, indent=1)
    print(text)
    _env.write_text(args.out, text)
    log("\nfigure   metric                              before      after       ratio  noise  verdict")
    for fig in args.figures:
        for k, row in summary[fig].items():
            if "ratio_after_over_before" in row:
                log(f"{fig:8s} {k:34s} {row['before_median']:<11.4g} {row['after_median']:<11.4g} "
                    f"{row['ratio_after_over_before']:<6.3f} {row['noise_rel'] if row['noise_rel'] is not None else '-':<6} "
                    f"{row['verdict']}")
    return 0 if all("error" not in r for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
