"""Before/after timing of the headline benchmark figures for two commits, in one session.

Issue 13 (the architecture round) asks that the committed headline figures be no slower
after the change, measured "same run, before/after commit, as a ratio". This script runs,
for the code before (default ``8de6a4f``) and the code after (default ``HEAD`` when the
script starts), each checked out with ``git worktree add`` outside the repository (so a
commit others make during the run does not mix in; ``--after-dir`` may name the
repository itself instead), **that commit's own benchmark
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

Before the runs it also compiles the timed ``mps`` and ``qcbm`` kernels on both sides and
compares the optimized XLA programs (``compiled_programs``): identical programs mean that a
timing difference of those figures is run-to-run variation.

Per figure and metric: the values of every repetition, the medians, the ratio
after/before of the medians (< 1 is faster for times), the paired ratios of each
repetition, the run-to-run noise and a verdict (:data:`NOISE_DEFINITION`), once over all
runs (``figures``) and once over the quiet runs only (``figures_quiet_runs_only``; a run
is quiet if no pytest ran at its start and other processes used at most 2% of the CPU
capacity during it). Before every run the script waits while a ``pytest`` process runs
(``pgrep -f pytest``, polled every 30 s, up to ``--wait-quiet`` seconds in all; optionally
also until the machine is idle, ``--wait-idle``) and records the CPU time other processes
used during the run.

    python benchmarks/compare_commits.py --reps 5 --out benchmarks/results/architecture_before_after_cpu.json
    python benchmarks/compare_commits.py --reps 3 --figures sweep mps
    python benchmarks/compare_commits.py --smoke --wait-quiet 0   # 1 repetition, small sizes: checks the driver
    python benchmarks/compare_commits.py --resummarize OLD.json --no-programs --out NEW.json   # summaries only
    python benchmarks/compare_commits.py --merge EARLIER.json ...  # add the runs of an earlier session (same code)
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


#: ``programs`` worker, run with ``python -c`` in the commit's folder: the optimized XLA
#: programs (``jit(f).lower(...).compile().as_text()``) of the timed ``mps`` and ``qcbm``
#: kernels, as the benchmark scripts build them, written to ``out/NAME.txt`` with debug
#: information and instruction numbering removed (equal text = the same program).
PROGRAM_WORKER = r"""
import json, os, re, sys
import jax, jax.numpy as jnp, numpy as np
import jqgen
from jqgen.qcbm import QCBM, LiuWang
try:
    from jqgen.distributions import kl_divergence
except ImportError:  # before issue 13
    from jqgen.qcbm import kl_divergence
m = jqgen.mps if hasattr(jqgen.mps, "sample") else jqgen  # MPS functions moved to jqgen.mps
out = sys.argv[1]

def normalized(text):
    keep, skip = [], False
    for ln in text.split("\n"):
        if ln in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
            skip = True
            continue
        if skip and (not ln.strip() or re.match(r"^\s*\d", ln)):
            continue
        skip = False
        ln = re.sub(r", metadata=\{[^}]*\}", "", ln)
        ln = re.sub(r", stack_frame_id=\d+", "", ln)
        ln = re.sub(r"^HloModule \S+", "HloModule", ln)
        keep.append(re.sub(r"(%[A-Za-z_\-]+)[.\d]+", r"\1", ln))
    return "\n".join(keep)

def dump(name, f, *args, static=()):
    text = jax.jit(f, static_argnums=static).lower(*args).compile().as_text()
    with open(os.path.join(out, name + ".txt"), "w") as fh:
        fh.write(normalized(text))

def target(n):
    return jnp.asarray(np.random.default_rng(0).dirichlet(np.ones(2**n)), jnp.float32)

for n in (12, 16, 20):
    q, t = QCBM(LiuWang(n, 4)), target(n)
    dump(f"qcbm_kl_grad_n{n}", jax.value_and_grad(lambda p, q=q, t=t: kl_divergence(t, q.probs(p))),
         q.init(jax.random.key(0)))
q10, t10 = QCBM(LiuWang(10, 4)), target(10)
vg = jax.value_and_grad(lambda p: kl_divergence(t10, q10.probs(p)))
dump("qcbm_kl_grad_n10", vg, q10.init(jax.random.key(0)))
dump("qcbm_vmap64_n10", jax.vmap(vg), jax.vmap(q10.init)(jax.random.split(jax.random.key(1), 64)))
q20 = QCBM(LiuWang(20, 4))
p20 = q20.init(jax.random.key(0))
dump("qcbm_sample_n20", lambda p, k: q20.sample(p, k, 1_000_000), p20, jax.random.key(1))
dump("qcbm_sample_counts_n20", lambda p, k: q20.sample_counts(p, k, 1_000_000), p20, jax.random.key(1))
dump("mps_sample_n100_chi32", m.sample, m.random_mps(jax.random.key(0), 100, 32), jax.random.key(1), 10_000,
     static=(2,))
l_mps = m.random_mps(jax.random.key(10), 784, 64)
dump("mps_log_prob_n784_chi64", m.log_prob, l_mps, jnp.zeros((1000, 784), jnp.uint8))
dump("mps_log_prob_n784_chi64_batch1", m.log_prob, l_mps, jnp.zeros((1, 784), jnp.uint8))
dump("mps_log_amplitude_sq_n784_chi64_batch1", m.log_amplitude_sq, l_mps, jnp.zeros((1, 784), jnp.uint8))
print(jqgen.__file__)
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


def other_load(seconds: float = 3.0) -> float | None:
    """Cores' worth of CPU that other processes use now (busy CPU over ``seconds``, minus ours)."""
    b0, c0 = busy_cpu_s(), own_cpu_s()
    time.sleep(seconds)
    b1, c1 = busy_cpu_s(), own_cpu_s()
    return None if b0 is None or b1 is None else max(0.0, (b1 - b0) - (c1 - c0)) / seconds


class Idle:
    """Waits until other processes use at most ``max_load`` cores (polled every ``poll_s``),
    ``budget_s`` seconds in all: pytest is not the only thing that shares the machine."""

    def __init__(self, budget_s: float, max_load: float = 0.1, poll_s: float = 15.0) -> None:
        self.budget_s, self.max_load, self.poll_s, self.waited_s = budget_s, max_load, poll_s, 0.0
        self.log: list[dict] = []

    def wait(self, when: str) -> float | None:
        """The other load measured just before the run (after waiting, if needed)."""
        t0 = time.time()
        load = other_load()
        first = load
        while (self.budget_s > 0 and load is not None and load > self.max_load
               and self.waited_s + (time.time() - t0) < self.budget_s):
            log(f"  waiting: other processes use {load:.2f} cores; {self.waited_s + time.time() - t0:.0f} s waited "
                f"of {self.budget_s:.0f}")
            time.sleep(self.poll_s)
            load = other_load()
        waited = time.time() - t0
        self.waited_s += waited
        if waited > 4:
            self.log.append({"when": when, "load_first": first, "load_at_start": load, "waited_s": round(waited, 1)})
        return load


# ---------------------------------------------------------------------------- worktree

def git(*args: str, cwd: str = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def tree_hash(root: str, subs: tuple[str, ...] = ("jqgen", "benchmarks")) -> str:
    """sha256 of every ``jqgen/**/*.py`` and ``benchmarks/*.py`` (the scripts the runs use,
    not this driver) under ``root``: detects edits during a run, and tells runs of the same
    code apart from others when results are merged."""
    h = hashlib.sha256()
    for sub in subs:
        for dirpath, dirnames, files in sorted(os.walk(os.path.join(root, sub))):
            dirnames.sort()
            for name in sorted(files):
                if (name.endswith(".py") and name != "compare_commits.py"
                        and (sub == "jqgen" or os.path.basename(dirpath) == "benchmarks")):
                    path = os.path.join(dirpath, name)
                    h.update(os.path.relpath(path, root).encode())
                    with open(path, "rb") as f:
                        h.update(f.read())
    return h.hexdigest()[:16]


def code_unchanged(commit: str, root: str) -> bool:
    """True if ``jqgen/`` and the benchmark scripts in ``root`` (this driver, README and
    results aside) are those of ``commit`` (working tree included)."""
    r = subprocess.run(["git", "diff", "--quiet", commit, "--", "jqgen", "benchmarks",
                        ":(exclude)benchmarks/compare_commits.py", ":(exclude)benchmarks/README.md",
                        ":(exclude)benchmarks/results"], cwd=root, capture_output=True)
    return r.returncode == 0


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


#: How the noise and the verdict are computed (stored in the result).
NOISE_DEFINITION = (
    "noise_rel: run-to-run noise of one measurement, 1.4826 x the median absolute deviation over the "
    "repetitions / the median, the larger of the two sides; range_rel: (max - min) / median, the larger side; "
    "verdict: 'slower'/'faster' when |ratio - 1| exceeds ratio_threshold = max(2 standard errors of the ratio of "
    "the medians (1.2533 sigma / sqrt(n) per side), 2%), else 'within noise'")

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


def compare_programs(sides: dict[str, str], timeout_s: float = 600.0) -> dict:
    """Runs :data:`PROGRAM_WORKER` for both sides; which compiled programs are identical."""
    texts: dict[str, dict[str, str]] = {}
    files: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="cmp-programs-") as tmp:
        for side, root in sides.items():
            d = os.path.join(tmp, side)
            os.makedirs(d)
            env = dict(os.environ, PYTHONPATH=root, PYTHONDONTWRITEBYTECODE="1")
            p = subprocess.run([sys.executable, "-c", PROGRAM_WORKER, d], cwd=root, env=env, capture_output=True,
                               text=True, timeout=timeout_s)
            if p.returncode != 0:
                return {"error": f"{side}: {(p.stderr or p.stdout)[-2000:]}"}
            files[side] = p.stdout.strip()
            texts[side] = {}
            for name in sorted(os.listdir(d)):
                with open(os.path.join(d, name)) as f:
                    texts[side][name[:-4]] = f.read()
    out: dict[str, Any] = {"what": "optimized XLA programs (jit(...).lower(...).compile().as_text(), debug "
                                   "information and instruction numbers removed) of the timed mps and qcbm kernels "
                                   "as the benchmark scripts build them", "jqgen_files": files, "programs": {}}
    for name in texts["before"]:
        b, a = texts["before"][name], texts["after"].get(name)
        out["programs"][name] = {"identical": a == b, "lines": b.count("\n") + 1,
                                 "sha256_before": hashlib.sha256(b.encode()).hexdigest()[:16],
                                 "sha256_after": None if a is None else hashlib.sha256(a.encode()).hexdigest()[:16]}
    out["all_identical"] = all(v["identical"] for v in out["programs"].values())
    return out


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


def is_quiet(r: dict, cores: int) -> bool:
    """A run is quiet if no pytest ran when it started and other processes used at most
    2% of the machine's CPU capacity during it (at least 0.5 CPU s allowed)."""
    other = r.get("other_processes_cpu_s")
    return (not r.get("pytest_running_at_start") and other is not None
            and other <= max(0.5, 0.02 * r["wall_s"] * cores))


def summarize(runs: list[dict], figures: list[str]) -> dict:
    out: dict[str, Any] = {}
    for fig in figures:
        rows: dict[str, Any] = {}
        vals = {s: [r["values"] for r in runs if r["figure"] == fig and r["side"] == s and "values" in r]
                for s in ("before", "after")}
        # the before and after runs of the same repetition (and session), for paired ratios
        by_rep = {s: {(r.get("session"), r.get("rep")): r["values"] for r in runs
                      if r["figure"] == fig and r["side"] == s and "values" in r} for s in ("before", "after")}
        paired = [k for k in by_rep["before"] if k in by_rep["after"]]
        names = list(vals["after"][0]) if vals["after"] else list(vals["before"][0]) if vals["before"] else []
        for name in names:
            b = [v.get(name) for v in vals["before"]]
            a = [v.get(name) for v in vals["after"]]
            b, a = [x for x in b if x is not None], [x for x in a if x is not None]
            row: dict[str, Any] = {"before": b, "after": a}
            if b and a:
                mb, ma = statistics.median(b), statistics.median(a)
                row.update(before_median=mb, after_median=ma)
                if not name.endswith(NOT_TIMED) and mb and ma:
                    ratio = ma / mb
                    pairs = [(by_rep["before"][k].get(name), by_rep["after"][k].get(name)) for k in paired]
                    row.update(ratio_after_over_before=round(ratio, 4),
                               pair_ratios=[round(y / x, 3) for x, y in pairs if x and y is not None],
                               pair_ratios_note="after / before within the same repetition")
                    if min(len(b), len(a)) < 2:
                        row.update(noise_rel=None, verdict="one repetition: no noise estimate")
                    else:
                        # run-to-run noise of one measurement: robust sigma (1.4826 MAD) / median, the
                        # larger side; the standard error of a median is ~1.25 sigma / sqrt(n)
                        sig = {k: 1.4826 * statistics.median(abs(v - m) for v in x) / m
                               for k, x, m in (("before", b, mb), ("after", a, ma))}
                        se = 1.2533 * (sig["before"] ** 2 / len(b) + sig["after"] ** 2 / len(a)) ** 0.5
                        threshold = max(2 * se, 0.02)  # 2 standard errors of the ratio, at least 2%
                        slower = ratio < 1 if name in HIGHER_IS_BETTER else ratio > 1
                        row.update(noise_rel=round(max(sig.values()), 4),
                                   range_rel=round(max((max(x) - min(x)) / m for x, m in ((b, mb), (a, ma))), 4),
                                   ratio_threshold=round(threshold, 4),
                                   verdict="within noise" if abs(ratio - 1) <= threshold else
                                   ("slower" if slower else "faster"))
                    if name in HIGHER_IS_BETTER:
                        row["note"] = "a ratio of speed-ups: > 1 is better"
            rows[name] = row
        out[fig] = rows
    return out


def analyse(result: dict, figures: list[str], cores: int) -> dict:
    """Adds the quiet flags, the summaries (all runs; quiet runs only) and the headline to ``result``."""
    runs = result["runs"]
    for r in runs:
        r["quiet"] = is_quiet(r, cores)
    quiet_runs = [r for r in runs if r["quiet"]]
    other = [r["other_processes_cpu_s"] for r in runs if r.get("other_processes_cpu_s") is not None]
    result["quiet"].update({
        "runs_started_while_pytest_ran": sum(1 for r in runs if r.get("pytest_running_at_start")),
        "quiet_runs": f"{len(quiet_runs)} of {len(runs)} (no pytest at the start, other processes <= 2% of the "
                      "CPU capacity during the run, at least 0.5 CPU s allowed)",
        "quiet_runs_per_figure_and_side": {f"{fig} {s}": sum(1 for r in quiet_runs if r["figure"] == fig
                                                             and r["side"] == s)
                                           for fig in figures for s in ("before", "after")},
        "other_processes_cpu_s_per_run": {"median": statistics.median(other) if other else None,
                                          "max": max(other) if other else None},
    })
    summary, summary_quiet = summarize(runs, figures), summarize(quiet_runs, figures)
    result["noise_definition"] = NOISE_DEFINITION
    keys = ("before", "after", "before_median", "after_median", "ratio_after_over_before", "noise_rel",
            "ratio_threshold", "verdict")
    result.update({
        "figures": summary,
        "figures_quiet_runs_only": summary_quiet,
        "headline": {fig: {k: {x: summary[fig].get(k, {}).get(x) for x in keys[2:]} for k in HEADLINE[fig]}
                     for fig in figures},
        "headline_quiet_runs_only": {fig: {k: {x: summary_quiet[fig].get(k, {}).get(x) for x in keys}
                                           for k in HEADLINE[fig]} for fig in figures},
    })
    return result


def print_tables(result: dict, figures: list[str]) -> None:
    for title, key in (("all runs", "figures"), ("quiet runs only", "figures_quiet_runs_only")):
        log(f"\n{title}\nfigure   metric                              before      after       ratio  noise  "
            "thresh n  verdict")
        for fig in figures:
            for k, row in result[key][fig].items():
                if "ratio_after_over_before" in row:
                    log(f"{fig:8s} {k:34s} {row['before_median']:<11.4g} {row['after_median']:<11.4g} "
                        f"{row['ratio_after_over_before']:<6.3f} "
                        f"{row['noise_rel'] if row['noise_rel'] is not None else '-':<6} "
                        f"{row.get('ratio_threshold') or '-':<6} "
                        f"{min(len(row['before']), len(row['after'])):<2d} {row['verdict']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", default="8de6a4f", help="commit of the code before (default: %(default)s)")
    p.add_argument("--before-dir", default="/tmp/jqgen-before", help="worktree of it, outside the repository "
                   "(created if missing, removed at the end unless --keep-worktree)")
    p.add_argument("--after", default="HEAD", help="commit of the code after (default: %(default)s, resolved at the "
                   "start), checked out like --before, so that commits made during the run do not mix in")
    p.add_argument("--after-dir", default="/tmp/jqgen-after", help="worktree of --after (created if missing); or "
                   "an existing checkout to use as it is, e.g. the repository itself (default: %(default)s)")
    p.add_argument("--reps", type=int, default=3, help="repetitions of every (figure, side) (default: %(default)s)")
    p.add_argument("--figures", nargs="+", choices=FIGURES, default=list(FIGURES))
    p.add_argument("--data", default=DATA, help="MNIST-1k .npz (default: ../shared/data/mnist28_binary_1k.npz)")
    p.add_argument("--wait-quiet", type=float, default=2700.0, help="seconds to wait in all while pytest runs")
    p.add_argument("--wait-idle", type=float, default=0.0, help="seconds to wait in all, before runs, until other "
                   "processes use at most 0.1 cores (default: %(default)s, no waiting)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per benchmark run")
    p.add_argument("--smoke", action="store_true", help="1 repetition at small sizes: a check of the driver, "
                   "not a measurement (writes nothing unless --out)")
    p.add_argument("--keep-worktree", action="store_true")
    p.add_argument("--out", default=None, help="write the JSON here (it is printed anyway)")
    p.add_argument("--merge", nargs="+", default=[], metavar="JSON",
                   help="earlier results of this script to include (same library and script sources on both sides)")
    p.add_argument("--note", action="append", default=[], help="a note to store in the result's 'notes' (repeatable)")
    p.add_argument("--no-programs", action="store_true", help="skip the check that the mps and qcbm figures' compiled "
                   "programs are identical before and after")
    p.add_argument("--resummarize", default=None, metavar="JSON",
                   help="no runs: recompute the quiet flags and summaries of an earlier result (e.g. one written by "
                        "an earlier version of this script) and write it to --out")
    args = p.parse_args(argv)
    if args.resummarize:
        with open(args.resummarize) as f:
            result = json.load(f)
        figures = sorted({r["figure"] for r in result["runs"]}, key=FIGURES.index)
        cores = (result.get("environment") or {}).get("cpu_affinity") or os.cpu_count() or 1
        result = analyse(result, figures, cores)
        result["resummarized"] = f"summaries recomputed from the runs of {args.resummarize} by compare_commits.py"
        result["notes"] = list(result.get("notes") or []) + args.note
        if not args.no_programs:
            sides = {"before": os.path.abspath(args.before_dir), "after": os.path.abspath(args.after_dir)}
            for s in sides.values():
                if not os.path.isdir(os.path.join(s, "jqgen")):
                    raise SystemExit(f"--resummarize with the program check: {s} is not a checkout (or --no-programs)")
            log("comparing the compiled programs ...")
            result["compiled_programs"] = dict(compare_programs(sides), commits={
                s: git("rev-parse", "HEAD", cwd=d) for s, d in sides.items()})
        text = json.dumps(result, indent=1)
        if args.out:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            with open(args.out, "w") as f:
                f.write(text + "\n")
        print_tables(result, figures)
        return 0
    if args.smoke and args.reps == 3:
        args.reps = 1
    data = os.path.abspath(args.data)

    sys.path.insert(0, HERE)
    import _env  # noqa: E402  (jax + jqgen of this checkout, for the machine record)

    created: list[str] = []
    for folder, commit in ((args.before_dir, args.before), (args.after_dir, args.after)):
        if not os.path.isdir(os.path.join(folder, "jqgen")):
            commit = git("rev-parse", commit)
            log(f"git worktree add --detach {folder} {commit[:10]}")
            git("worktree", "add", "--detach", folder, commit)
            created.append(folder)
    sides = {"before": os.path.abspath(args.before_dir), "after": os.path.abspath(args.after_dir)}
    commits = {s: git("rev-parse", "HEAD", cwd=d) for s, d in sides.items()}
    if not commits["before"].startswith(git("rev-parse", args.before)[:12]):
        raise SystemExit(f"{args.before_dir} is at {commits['before'][:10]}, not {args.before}")
    hashes_start = {s: tree_hash(d) for s, d in sides.items()}
    uncommitted = git("status", "--porcelain", "--", "jqgen", "benchmarks", cwd=sides["after"]).splitlines()
    jqgen_hash = {s: tree_hash(d, ("jqgen",)) for s, d in sides.items()}
    merged: list[dict] = []
    for path in args.merge:
        with open(path) as f:
            prev = json.load(f)
        same = all(code_unchanged(prev[s]["commit"], sides[s]) for s in sides)
        if not same or prev.get("smoke") != args.smoke or prev["before"]["commit"] != commits["before"]:
            raise SystemExit(f"--merge {path}: measured with other sources (jqgen/ or the benchmark scripts differ "
                             "from its commits) or another --smoke setting")
        merged += [dict(r, session=path) for r in prev["runs"]]
    quiet = Quiet(args.wait_quiet)
    idle = Idle(args.wait_idle)
    quiet_at_start = quiet.wait("start")
    env = _env.environment()
    programs = None
    if not args.no_programs and not args.smoke:
        log("comparing the compiled programs ...")
        programs = dict(compare_programs(sides), commits=commits)
        log(f"  identical: {programs.get('all_identical')}")
    t_all = time.perf_counter()
    runs: list[dict] = list(merged)
    try:
        for rep in range(args.reps):
            for fig in args.figures:
                for side in ("before", "after"):
                    q = quiet.wait(f"rep {rep + 1} {fig} {side}")
                    load = idle.wait(f"rep {rep + 1} {fig} {side}")
                    log(f"rep {rep + 1}/{args.reps} {fig:8s} {side:6s} ({commits[side][:8]}) ...")
                    rec = run_one(fig, side, sides[side], args.smoke, data, args.timeout)
                    rec.update(rep=rep + 1, pytest_running_at_start=not q, other_load_at_start=load,
                               session="this run")
                    runs.append(rec)
                    head = {k: rec.get("values", {}).get(k) for k in HEADLINE[fig]}
                    log(f"    {rec['wall_s']:.1f} s, other processes {rec['other_processes_cpu_s']} CPU s, "
                        + (f"ERROR rc={rec['rc']}: {rec['error'][-400:]}" if "error" in rec else json.dumps(head)))
    finally:
        hashes_end = {s: tree_hash(d) for s, d in sides.items()}
        for folder in created if not args.keep_worktree else []:
            log(f"git worktree remove --force {folder}")
            git("worktree", "remove", "--force", folder)
    cores = env.get("cpu_affinity") or os.cpu_count() or 1
    result = {
        "benchmark": "architecture_before_after",
        "what": "issue 13's headline figures for the code before and after the architecture round, same session, "
                "each commit's own benchmark scripts against its own library, fresh subprocess per run, "
                "interleaved (per repetition and figure: before, then after); medians over repetitions; "
                "ratio = after / before (times: < 1 is faster)",
        "smoke": args.smoke,
        "before": {"commit": commits["before"], "dir": sides["before"], "pythonpath": sides["before"]},
        "after": {"commit": commits["after"], "dir": sides["after"], "pythonpath": sides["after"],
                  "uncommitted_changes": uncommitted},
        "sources_unchanged_during_run": hashes_start == hashes_end,
        "source_hashes": hashes_start, "jqgen_hashes": jqgen_hash, "merged_from": args.merge,
        "environment": env,
        "machine": f"{env['platform']} ({env['device']}), {env['cpu_model']}, {env['cpu_affinity']} cores",
        "quiet": {
            "pytest_running_at_start_after_waiting": not quiet_at_start,
            "waited_for_pytest_s": round(quiet.waited_s, 1), "wait_log": quiet.log,
            "waited_for_idle_s": round(idle.waited_s, 1), "idle_wait_log": idle.log,
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
        "compiled_programs": programs,
        "notes": args.note,
        "runs": runs,
        "total_wall_s": round(time.perf_counter() - t_all, 1),
    }
    result = analyse(result, args.figures, cores)
    text = json.dumps(result, indent=1)
    print(text)
    _env.write_text(args.out, text)
    print_tables(result, args.figures)
    return 0 if all("error" not in r for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
