"""Figures of the reproduction pages (docs/reproduce/*.md), drawn from committed results.

Reads the JSON files the benchmark scripts wrote into ``benchmarks/results/`` and writes
PNGs into ``docs/`` (matplotlib, Agg backend; nothing is trained or measured here):

* ``docs/han_capacity.png``: train and test NLL per sweep loop of the MNIST-1k capacity runs
  (``reproduce_han.py``; ``han_capacity_cpu.json``, ``han_capacity_d100_cpu.json``), the
  authors' final train NLLs dashed;
* ``docs/liu_wang.png``: MMD loss curves and the probability of valid patterns per setting
  against the paper's (``reproduce_liu_wang.py``; ``liu_wang_cpu.json``);
* ``docs/geo_budget.png``: best cost against evaluations on Hang Seng (k = 4, the section's
  ``generators`` case) for every generator and baseline, and the median gap to the optimum of GEO and annealing on every
  instance (``geo_bench.py``; ``geo_cpu.json``, section ``budget``).

    python benchmarks/plot_reproductions.py                 # all figures
    python benchmarks/plot_reproductions.py --only han geo  # some of them
"""

from __future__ import annotations

import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
DOCS = os.path.join(os.path.dirname(HERE), "docs")


def _load(name: str) -> dict:
    with open(os.path.join(RESULTS, name)) as f:
        return json.load(f)


def plot_han(out: str) -> None:
    """Train/test NLL per loop for every D_max of the capacity runs."""
    runs = _load("han_capacity_cpu.json")["mnist"] + _load("han_capacity_d100_cpu.json")["mnist"]
    runs = sorted(runs, key=lambda r: r["chi_max"])
    fig, ax = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, r in enumerate(runs):
        c = colors[i % len(colors)]
        h = r["history"]
        ax[0].plot(range(1, len(h["train_nll"]) + 1), h["train_nll"], color=c, label=f"D_max = {r['chi_max']}")
        ax[0].axhline(r["paper_train_nll"], color=c, ls="--", lw=0.8)
        ax[1].plot(range(1, len(h["test_nll"]) + 1), h["test_nll"], color=c, label=f"D_max = {r['chi_max']}")
    ax[0].set_title("train NLL (dashed: Han et al.'s final)")
    ax[1].set_title("test NLL")
    for a in ax:
        a.set_xlabel("sweep loop")
        a.grid(alpha=0.3)
    ax[0].set_ylabel("NLL (nats)")
    ax[1].legend(loc="upper right", fontsize=8)
    fig.suptitle("MNIST-1k, two-site sweeps (benchmarks/results/han_capacity*_cpu.json)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_liu_wang(out: str) -> None:
    """MMD curves (mean over seeds) and valid-pattern probabilities against the paper."""
    d = _load("liu_wang_cpu.json")
    paper = {"exact": d["paper"]["exact_adam"], "2000 shots": d["paper"]["shots_2000"],
             "20000 shots": d["paper"]["shots_20000"]}
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for r in d["runs"]:
        h = r["loss_history_mean_every_50"]
        ax[0].plot([50 * (i + 1) for i in range(len(h))], h, label=r["setting"])
    ax[0].set_yscale("log")
    ax[0].set_xlabel("Adam step")
    ax[0].set_ylabel("MMD loss (mean over seeds)")
    ax[0].legend(fontsize=8)
    ax[0].grid(alpha=0.3)
    names = [r["setting"] for r in d["runs"]]
    x = range(len(names))
    means = [r["valid_rate_mean"] for r in d["runs"]]
    lo = [r["valid_rate_mean"] - r["valid_rate_min"] for r in d["runs"]]
    hi = [r["valid_rate_max"] - r["valid_rate_mean"] for r in d["runs"]]
    ax[1].bar([i - 0.2 for i in x], means, 0.4, yerr=[lo, hi], capsize=3, label="jqgen (mean, min..max of seeds)")
    ax[1].bar([i + 0.2 for i in x], [paper.get(n, float("nan")) for n in names], 0.4, label="Liu & Wang")
    ax[1].set_xticks(list(x), names)
    ax[1].set_ylim(0.5, 1.05)
    ax[1].set_ylabel("probability of valid patterns")
    ax[1].legend(fontsize=8, loc="lower right")
    fig.suptitle("Bars and stripes 3x3, 9 qubits, depth 10 (benchmarks/results/liu_wang_cpu.json)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_geo(out: str) -> None:
    """Budget curves of the case with every generator, and gaps of GEO and annealing per case."""
    budget = _load("geo_cpu.json")["sections"]["budget"]
    cases = budget["cases"]
    full = budget["generators"]  # every generator (symmetric MPS, MPS, QCBM) and the baselines
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1, 1.4]})
    for name, v in full.items():
        if isinstance(v, dict) and "curve" in v:
            cv = v["curve"]
            line, = ax[0].plot(cv["evaluations"], cv["median"], label=name)
            ax[0].fill_between(cv["evaluations"], cv["q25"], cv["q75"], color=line.get_color(), alpha=0.15)
    if full["exact"].get("available"):
        ax[0].axhline(full["exact"]["best_cost"], color="k", ls=":", lw=1, label="exact optimum")
    p = full["problem"]
    ax[0].set_title(f"{p['name']}, k = {p['k']}, q = {p['q']:g} (median, quartiles of seeds)", fontsize=9)
    ax[0].set_xlabel("cost evaluations")
    ax[0].set_ylabel("best cost found")
    ax[0].legend(fontsize=7)
    ax[0].grid(alpha=0.3)
    labels, geo, sa = [], [], []
    for c in cases:
        if "geo-symmetric-mps" in c and "sa-swap" in c:
            labels.append(f"{c['problem']['name']}\nq={c['problem']['q']:g}")
            geo.append(max(c["geo-symmetric-mps"]["gap_pct_median"], 0.0))
            sa.append(max(c["sa-swap"]["gap_pct_median"], 0.0))
    x = range(len(labels))
    ax[1].bar([i - 0.2 for i in x], geo, 0.4, label="GEO, symmetric MPS")
    ax[1].bar([i + 0.2 for i in x], sa, 0.4, label="swap annealing")
    ax[1].set_yscale("symlog", linthresh=0.1)
    ax[1].set_xticks(list(x), labels, fontsize=6, rotation=90)
    ax[1].set_ylabel("median gap to the best known cost (%)")
    ax[1].legend(fontsize=8)
    ax[1].set_title("every instance, equal budget (median over seeds)", fontsize=9)
    fig.suptitle("GEO on the OR-Library portfolios (benchmarks/results/geo_cpu.json, section budget)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


FIGURES = {"han": ("han_capacity.png", plot_han), "liu_wang": ("liu_wang.png", plot_liu_wang),
           "geo": ("geo_budget.png", plot_geo)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=sorted(FIGURES), default=sorted(FIGURES))
    ap.add_argument("--out-dir", default=DOCS, help="where the PNGs go (default docs/)")
    args = ap.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    for name in args.only:
        fname, fn = FIGURES[name]
        path = os.path.join(args.out_dir, fname)
        fn(path)
        print("wrote", path)


if __name__ == "__main__":
    main()
