"""An experiment file: what to train, with which trainer, over which grid; validated.

An experiment is a TOML file (or the same as a dict)::

    name = "qcbm-lr-seeds"          # optional; the default output folder runs/<name>
    shard_size = 32                 # optional: at most this many runs per compiled batch

    [data]
    name = "bars-stripes-3x3"       # a jqgen.data name, or a .npy/.npz path (relative to the file)
    # key = "train"                 # the array of an .npz

    [model]
    family = "qcbm"                 # qcbm | mps
    ansatz = "line"                 # qcbm: ansatz, layers, dtype, engine
    layers = 4                      # mps: chi_max, dtype

    [trainer]
    name = "gradient"               # gradient: optimizer, lr, loss, batch_size, shots, steps
    loss = "kl"                     # cmaes: population, sigma0, loss, shots, steps
                                    # sweep (mps): lr, descent_steps, num_batches, cutoff,
                                    #   min_improvement, steps (loops; D_max = chi_max)
    lr = 0.05
    steps = 300

    [grid]                          # every combination of these values is one run
    seed = [0, 1, 2, 3]
    lr = [0.01, 0.05]

    [[runs]]                        # optional: a list of settings, each combined with the grid
    ansatz = "line"
    layers = 4
    [[runs]]
    ansatz = "cnot-line"
    layers = 8

    [metrics]
    report = ["kl", "nll", "tv"]    # final metrics of every run (see METRICS)

A grid key, or a key of a ``[[runs]]`` entry, is ``seed`` or any key of ``[model]`` or
``[trainer]`` (a key is in the grid or in the entries, not both). Unknown sections, keys
and values raise ``ValueError`` naming what is allowed, before anything is built.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
from typing import Any, Mapping

__all__ = ["Experiment", "METRICS", "RunSettings", "load_experiment", "parse_experiment"]

#: Final metrics a run can report: ``kl`` (KL(data || model), clipped at 1e-8), ``tv``
#: (total variation), ``mmd`` (Liu-Wang kernels) against the data's histogram (dense: n <= 20);
#: ``nll`` (mean negative log-likelihood of the training data, exact for every model);
#: ``support`` (model probability on the training patterns).
METRICS = ("kl", "tv", "mmd", "nll", "support")

_FAMILIES = {
    "qcbm": {"ansatz": "line", "layers": 4, "dtype": "float32", "engine": "fused"},
    "mps": {"chi_max": 8, "dtype": "float32"},
}
_TRAINERS = {
    "gradient": {"optimizer": "adam", "lr": 0.05, "loss": None, "batch_size": None, "shots": None, "steps": 200},
    "cmaes": {"population": None, "sigma0": 0.3, "loss": "mmd", "shots": None, "steps": 200},
    # two-site sweeps (MPS only; chi_max is D_max, steps count loops), with the settings of
    # ``jqgen train mps --method sweep`` (Han et al.'s, normalized gradients, lr decay on a rise)
    "sweep": {"lr": 5e-3, "descent_steps": 1, "num_batches": 1, "cutoff": 0.0, "min_improvement": 0.002,
              "steps": 20},
}
_CHOICES = {"dtype": ("float32", "float64", "complex64", "complex128"), "engine": ("fused", "tensorcircuit"),
            "optimizer": ("adam", "sgd"), "loss": ("nll", "kl", "mmd", None)}
_POSITIVE_INTS = ("layers", "chi_max", "batch_size", "shots", "steps", "population", "descent_steps", "num_batches")
_NONNEGATIVE_FLOATS = ("cutoff", "min_improvement")
_POSITIVE_FLOATS = ("lr", "sigma0")
_TOP = ("name", "shard_size", "data", "model", "trainer", "grid", "runs", "metrics")


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """One run of an experiment: its index and every setting (model, trainer, seed)."""

    index: int
    family: str
    trainer: str
    model: tuple[tuple[str, Any], ...]
    training: tuple[tuple[str, Any], ...]
    seed: int

    def model_options(self) -> dict[str, Any]:
        return dict(self.model)

    def trainer_options(self) -> dict[str, Any]:
        return dict(self.training)

    def flat(self) -> dict[str, Any]:
        """Every setting in one dict (``seed``, the model's and the trainer's keys)."""
        return {"seed": self.seed, **dict(self.model), **dict(self.training)}


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A validated experiment (see the module docstring).

    Attributes:
        name: the experiment's name.
        data: ``{"name": ..., "key": ...}`` (a path already resolved against the file's folder).
        family, trainer: the model family and the trainer's name.
        model, training: the base settings (defaults filled in).
        grid: the grid's keys and their values, in file order.
        listed: the ``[[runs]]`` entries, each a tuple of ``(key, value)`` settings (every
            entry is combined with every point of the grid; none: the grid alone).
        metrics: the final metrics to report.
        shard_size: at most this many runs per compiled batch (``None``: a whole group).
    """

    name: str
    data: Mapping[str, Any]
    family: str
    trainer: str
    model: Mapping[str, Any]
    training: Mapping[str, Any]
    grid: Mapping[str, tuple[Any, ...]]
    metrics: tuple[str, ...]
    shard_size: int | None = None
    listed: tuple[tuple[tuple[str, Any], ...], ...] = ()

    @property
    def varying(self) -> list[str]:
        """The settings that differ between runs: the ``[[runs]]`` entries' keys, then the grid's."""
        keys = list(dict.fromkeys(k for entry in self.listed for k, _ in entry))
        return keys + [k for k in self.grid if k not in keys]

    def runs(self) -> list[RunSettings]:
        """Every run: each ``[[runs]]`` entry (in file order) with each combination of the
        grid (in file order, last key fastest)."""
        keys = list(self.grid)
        out = []
        combos = [(dict(entry), values) for entry in (self.listed or ((),))
                  for values in itertools.product(*(self.grid[k] for k in keys))]
        for i, (entry, values) in enumerate(combos):
            chosen = {**entry, **dict(zip(keys, values))}
            model = {k: chosen.get(k, v) for k, v in self.model.items()}
            training = {k: chosen.get(k, v) for k, v in self.training.items()}
            out.append(RunSettings(i, self.family, self.trainer, tuple(sorted(model.items())),
                                   tuple(sorted(training.items())), int(chosen.get("seed", 0))))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shard_size": self.shard_size, "data": dict(self.data),
                "model": {"family": self.family, **dict(self.model)},
                "trainer": {"name": self.trainer, **dict(self.training)},
                "grid": {k: list(v) for k, v in self.grid.items()}, "runs": [dict(e) for e in self.listed],
                "metrics": {"report": list(self.metrics)}}

    def digest(self) -> str:
        """SHA-256 of the settings (what a resumed experiment must match)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


def load_experiment(path: str | os.PathLike[str]) -> Experiment:
    """Reads and validates an experiment TOML file (a data path in it is relative to the file).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not TOML, or settings :func:`parse_experiment` refuses.
    """
    import tomllib

    path = os.fspath(path)
    with open(path, "rb") as f:
        try:
            raw = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path} is not a TOML file: {e}") from None
    name = os.path.splitext(os.path.basename(path))[0]
    return parse_experiment(raw, base_dir=os.path.dirname(os.path.abspath(path)), default_name=name)


def _fail(where: str, value: Any, allowed: str) -> None:
    raise ValueError(f"experiment {where} = {value!r} is not allowed; expected {allowed}")


def _table(raw: Mapping[str, Any], name: str, required: bool = True) -> dict[str, Any]:
    value = raw.get(name, None)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        _fail(f"[{name}]", value, "a table")
    return dict(value)


def _check_value(key: str, value: Any, where: str) -> Any:
    if key in _CHOICES and value not in _CHOICES[key]:
        _fail(where, value, f"one of {[c for c in _CHOICES[key] if c is not None]}")
    if key in _POSITIVE_INTS and value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                                        or value < 1):
        _fail(where, value, "a positive integer")
    if key in _POSITIVE_FLOATS and (isinstance(value, bool) or not isinstance(value, (int, float))
                                    or not 0 < value < float("inf")):
        _fail(where, value, "a positive finite number")
    if key in _NONNEGATIVE_FLOATS and (isinstance(value, bool) or not isinstance(value, (int, float))
                                       or not 0 <= value < float("inf")):
        _fail(where, value, "a non-negative finite number")
    if key == "seed" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        _fail(where, value, "a non-negative integer")
    if key == "ansatz":
        from ..qcbm import ANSATZ_NAMES

        if value not in ANSATZ_NAMES:
            _fail(where, value, f"one of {list(ANSATZ_NAMES)}")
    return float(value) if key in _POSITIVE_FLOATS + _NONNEGATIVE_FLOATS else value


def _settings(table: Mapping[str, Any], defaults: Mapping[str, Any], section: str, kind: str) -> dict[str, Any]:
    unknown = sorted(set(table) - set(defaults))
    if unknown:
        _fail(f"[{section}] key {unknown[0]!r}", table[unknown[0]], f"a key of {kind}: {sorted(defaults)}")
    return {k: _check_value(k, table.get(k, v), f"[{section}].{k}") for k, v in defaults.items()}


def parse_experiment(raw: Mapping[str, Any], *, base_dir: str = ".", default_name: str = "experiment") -> Experiment:
    """Validates an experiment given as a dict (the parsed TOML; see the module docstring).

    Examples:
        >>> e = parse_experiment({"data": {"name": "bars-stripes-2x2"},
        ...                       "model": {"family": "mps", "chi_max": 2},
        ...                       "trainer": {"name": "gradient", "steps": 10},
        ...                       "grid": {"seed": [0, 1], "lr": [0.01, 0.1]}})
        >>> [(r.seed, r.trainer_options()["lr"]) for r in e.runs()]
        [(0, 0.01), (0, 0.1), (1, 0.01), (1, 0.1)]
    """
    if not isinstance(raw, Mapping):
        _fail("file", raw, "a TOML table")
    unknown = sorted(set(raw) - set(_TOP))
    if unknown:
        _fail(f"key {unknown[0]!r}", raw[unknown[0]], f"a top-level key of {list(_TOP)}")
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name or any(c in name for c in "/\\"):
        _fail("name", name, "a non-empty string without slashes")
    shard_size = raw.get("shard_size")
    if shard_size is not None:
        _check_value("steps", shard_size, "shard_size")
    data = _table(raw, "data")
    if set(data) - {"name", "key"} or not isinstance(data.get("name"), str):
        _fail("[data]", data, "a table with a 'name' (a data-set name or a .npy/.npz path) and an optional 'key'")
    spec = data["name"]
    if not os.path.isabs(spec) and os.path.exists(os.path.join(base_dir, spec)):
        spec = os.path.join(base_dir, spec)
    model_t, trainer_t = _table(raw, "model"), _table(raw, "trainer")
    family, trainer = model_t.pop("family", None), trainer_t.pop("name", None)
    if family not in _FAMILIES:
        _fail("[model].family", family, f"one of {list(_FAMILIES)}")
    if trainer not in _TRAINERS:
        _fail("[trainer].name", trainer, f"one of {list(_TRAINERS)}")
    model = _settings(model_t, _FAMILIES[family], "model", f"model family {family!r}")
    training = _settings(trainer_t, _TRAINERS[trainer], "trainer", f"trainer {trainer!r}")
    if trainer == "sweep" and family != "mps":
        _fail("[trainer].name", trainer, f"'gradient' or 'cmaes' for a {family} model (sweeps train MPS)")
    if training.get("loss", "") is None:
        training["loss"] = "nll" if family == "mps" else "mmd"
    if family == "mps" and training.get("shots") is not None:
        _fail("[trainer].shots", training["shots"], "unset for MPS models (exact likelihoods)")
    grid_t = _table(raw, "grid", required=False)
    grid: dict[str, tuple[Any, ...]] = {}
    for key, values in grid_t.items():
        if key != "seed" and key not in model and key not in training:
            _fail(f"[grid] key {key!r}", values, f"'seed' or a key of [model]/[trainer]: {sorted({*model, *training})}")
        if not isinstance(values, list) or not values:
            _fail(f"[grid].{key}", values, "a non-empty list of values")
        grid[key] = tuple(_check_value(key, v, f"[grid].{key}") for v in values)
    listed_t = raw.get("runs", [])
    if not isinstance(listed_t, list) or not all(isinstance(e, Mapping) and e for e in listed_t):
        _fail("runs", listed_t, "a list of non-empty tables ([[runs]] entries of settings)")
    listed = []
    for j, entry in enumerate(listed_t):
        for key, value in entry.items():
            if key in grid or (key != "seed" and key not in model and key not in training):
                _fail(f"[[runs]] entry {j} key {key!r}", value,
                      f"'seed' or a key of [model]/[trainer] not in [grid]: {sorted({*model, *training} - set(grid))}")
        listed.append(tuple((k, _check_value(k, v, f"[[runs]][{j}].{k}")) for k, v in entry.items()))
    metrics_t = _table(raw, "metrics", required=False)
    if set(metrics_t) - {"report"}:
        _fail("[metrics]", metrics_t, "a table with 'report', a list of metric names")
    report = metrics_t.get("report", ["nll"])
    if not isinstance(report, list) or any(m not in METRICS for m in report):
        _fail("[metrics].report", report, f"a list of {list(METRICS)}")
    return Experiment(name, {"name": spec, "key": data.get("key")}, family, trainer, model, training, grid,
                      tuple(report), shard_size, tuple(listed))
