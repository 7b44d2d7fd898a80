"""An evaluation report of a trained generative model: every metric that applies.

:func:`evaluate` draws ``num_samples`` samples from any model of the protocol
(:class:`jqgen.GenerativeModel`) and computes

* sample-based generalization metrics (:mod:`jqgen.metrics`) when the data set knows its
  solution space, and quality metrics when it has a cost;
* the fraction of samples that copy the training set and the number of distinct samples;
* likelihoods: train NLL, and held-out NLL when the data set has a test set (rows of zero
  probability are counted and left out of a second, finite mean);
* distances to the training distribution (and to the exact target, when the data set has
  one): clipped ``KL(data || model)``, total variation and squared MMD from the model's exact
  ``probs`` when ``n <= max_dense_bits``, and the sample MMD otherwise;
* with exact ``probs`` and a solution space, the probability mass on ``S`` and on the unseen
  part of ``S`` (the exact counterparts of fidelity and rate).

The report is a JSON-ready dict that records the sample count and the seed;
:func:`format_report` renders it as a table. A second call with an equal model, data set
and sample count compiles nothing (the jitted sampler and log-probability are shared by
equal models, :mod:`jqgen._compiled`).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._compiled import compiled
from ..data import Dataset
from ..distributions import counts_to_probs, histogram, kl_divergence, mmd, mmd_samples, total_variation
from ..metrics import generalization_metrics, pack_bits
from ..protocol import GenerativeModel
from ._likelihood import batched_log_prob

__all__ = ["evaluate", "format_report"]

_MMD_SAMPLES = 2000


def _key(key: Any) -> tuple[jax.Array, dict[str, Any]]:
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return jax.random.key(int(key)), {"seed": int(key)}
    try:
        data = np.asarray(jax.random.key_data(key)).ravel().tolist()
    except (TypeError, ValueError):
        raise ValueError(f"key must be an int seed or a JAX PRNG key, got {key!r}") from None
    return key, {"seed": None, "key_data": data}


def _nll(model: GenerativeModel, params: Any, data: np.ndarray) -> dict[str, Any]:
    lp = batched_log_prob(model, params, data)
    finite = np.isfinite(lp)
    out = {"nll": float(-lp.mean()) if finite.all() else math.inf, "num_zero_prob": int((~finite).sum())}
    if not finite.all() and finite.any():
        out["nll_of_the_others"] = float(-lp[finite].mean())
    return out


def _dense_distances(p: np.ndarray, target: np.ndarray, clip: float) -> dict[str, float]:
    pj, tj = jnp.asarray(p), jnp.asarray(target)
    return {"kl": float(kl_divergence(tj, pj, clip)), "tv": float(total_variation(tj, pj)), "mmd": float(mmd(pj, tj))}


def evaluate(model: GenerativeModel, params: Any, key: Any, dataset: Dataset, num_samples: int = 10000, *,
             max_dense_bits: int = 20, clip: float = 1e-8) -> dict[str, Any]:
    """Samples the model and reports every metric that applies to ``dataset``.

    Args:
        model: any model of the protocol (``sample``, ``log_prob``, ``probs``, ``config``).
        params: its parameters.
        key: an int seed or a JAX PRNG key for the samples.
        dataset: a :class:`jqgen.data.Dataset` (its ``space``, ``cost``, ``test`` and
            ``target`` decide which metrics apply).
        num_samples: ``Q``, the number of samples.
        max_dense_bits: exact distances from ``model.probs`` up to this many bits.
        clip: the probability floor of the clipped KL divergence.

    Returns:
        A JSON-ready dict: ``num_samples``, ``seed`` (or ``key_data``), ``dataset``, ``model``,
        and the groups ``generalization`` (when the data set has a space), ``samples``,
        ``likelihood`` and ``distances``.

    Raises:
        ValueError: ``num_samples < 1``, a data set of another width, or a bad key.

    Examples:
        >>> import jax, jqgen
        >>> from jqgen.data import load_dataset
        >>> ds = load_dataset("cardinality-6-3-0.5")
        >>> m = jqgen.MPSBornMachine(6, 4)
        >>> r = jqgen.evaluate(m, m.init(jax.random.key(0)), 1, ds, num_samples=500)
        >>> r["num_samples"], r["seed"], 0 <= r["generalization"]["rate"] <= 1
        (500, 1, True)
    """
    if not isinstance(num_samples, (int, np.integer)) or isinstance(num_samples, bool) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    if dataset.num_bits != model.num_bits:
        raise ValueError(f"data set {dataset.name!r} has {dataset.num_bits} bits per sample, the model {model.num_bits}")
    k, seed_info = _key(key)
    # jitted once per equal model and sample count (likewise log_prob in batched_log_prob)
    samples = np.asarray(compiled(model, "sample", (2,))(params, k, int(num_samples)), np.uint8)
    train = dataset.data
    report: dict[str, Any] = {"num_samples": int(num_samples), **seed_info, "dataset": dataset.name,
                              "num_bits": model.num_bits, "model": model.config()}
    if dataset.space is not None:
        report["generalization"] = generalization_metrics(samples, train, dataset.space, cost=dataset.cost)
    keys, tkeys = pack_bits(samples), np.unique(pack_bits(train))
    report["samples"] = {"fraction_in_train": float(np.isin(keys, tkeys).mean()),
                         "num_distinct": int(np.unique(keys).size)}
    lik: dict[str, Any] = {"train": _nll(model, params, train)}
    if dataset.test is not None:
        lik["test"] = _nll(model, params, dataset.test)
    report["likelihood"] = lik
    dist: dict[str, Any] = {}
    if model.num_bits <= max_dense_bits:
        p = np.asarray(model.probs(params), np.float64)
        p = p / p.sum()
        dist["train"] = _dense_distances(p, counts_to_probs(histogram(train, model.num_bits), model.num_bits), clip)
        if dataset.target is not None:
            dist["target"] = _dense_distances(p, np.asarray(dataset.target, np.float64), clip)
        if dataset.space is not None:
            idx = pack_bits(dataset.space.enumerate()).astype(np.int64)
            seen = np.isin(idx, tkeys.astype(np.int64))
            dist["mass_on_space"] = float(p[idx].sum())
            dist["mass_on_unseen_space"] = float(p[idx[~seen]].sum())
        dist["method"] = "exact probabilities"
    else:
        rng = np.random.default_rng(0)
        sub = train[rng.choice(train.shape[0], min(_MMD_SAMPLES, train.shape[0]), replace=False)]
        dist["train"] = {"mmd": float(mmd_samples(samples[:_MMD_SAMPLES], sub))}
        dist["method"] = f"sample MMD ({min(_MMD_SAMPLES, num_samples)} model vs {sub.shape[0]} data samples)"
    report["distances"] = dist
    return report


_ROWS = (
    ("generalization", "exploration", "exploration E"), ("generalization", "fidelity", "fidelity F"),
    ("generalization", "rate", "rate R"), ("generalization", "normalized_rate", "normalized rate R~"),
    ("generalization", "coverage", "coverage C"), ("generalization", "normalized_coverage", "normalized coverage C~"),
    ("generalization", "min_value", "minimum value MV"), ("generalization", "utility", "utility U (best 5%)"),
    ("generalization", "quality_coverage", "quality coverage C_q"),
    ("generalization", "train_min_cost", "  best cost in training"),
    ("generalization", "precision", "precision (qBAS)"), ("generalization", "recall", "recall (qBAS)"),
    ("generalization", "f1", "F1 (qBAS)"),
    ("samples", "fraction_in_train", "samples in training set"), ("samples", "num_distinct", "distinct samples"),
)


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, (int, np.integer)):
        return str(v)
    return f"{v:.6g}"


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of :func:`evaluate`'s report.

    Raises:
        ValueError: ``report`` is not a dict with :func:`evaluate`'s entries.
    """
    if not isinstance(report, dict):
        raise ValueError(f"report must be the dict jqgen.evaluate returns, got {type(report).__name__}")
    missing = [k for k in ("dataset", "num_samples", "num_bits") if k not in report]
    if missing:
        raise ValueError(f"report lacks the entries {missing} of a jqgen.evaluate report")
    seed = report.get("seed")
    lines = [f"{report['dataset']}: {report['num_samples']} samples"
             + (f", seed {seed}" if seed is not None else "") + f", {report['num_bits']} bits"]
    if "generalization" in report:
        g = report["generalization"]
        lines.append(f"  |S| = {g['space_size']}, eps = {g['eps']:.4g}, unseen valid = {g['num_unseen']}")
    for group, key, label in _ROWS:
        if key in report.get(group, {}):
            lines.append(f"  {label:<28} {_fmt(report[group][key])}")
    for part, v in report["likelihood"].items():
        extra = f" ({v['num_zero_prob']} of zero probability)" if v["num_zero_prob"] else ""
        lines.append(f"  {part + ' NLL':<28} {_fmt(v['nll'])}{extra}")
    d = report["distances"]
    for ref in ("train", "target"):
        for name, v in d.get(ref, {}).items():
            label = {"kl": f"KL({ref} || model)", "tv": f"TV({ref}, model)", "mmd": f"MMD^2({ref}, model)"}[name]
            lines.append(f"  {label:<28} {_fmt(v)}")
    for name in ("mass_on_space", "mass_on_unseen_space"):
        if name in d:
            lines.append(f"  {name.replace('_', ' '):<28} {_fmt(d[name])}")
    return "\n".join(lines)
