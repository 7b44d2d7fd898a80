"""The GEO loop (Alcazar, Ghazi Vakili, Kalayci, Perdomo-Ortiz, Nat. Commun. 15, 2761 (2024)).

0. A seed set of evaluated candidates ``{x_i, c(x_i)}``: random valid strings (stand-alone
   mode) or another solver's evaluations (booster mode).
1. A softmax surrogate ``P(x_i) ~ exp(-c~_i / T)`` over the evaluated set, with the costs
   standardized first (``c~ = (c - mean) / std``) and ``T`` a float or a schedule of the round.
2. The generator (any :class:`jqgen.GenerativeModel`; warm-started from the previous round)
   is trained on it: the weighted NLL by :func:`jqgen.fit` (``trainer="gradient"``, on the
   ``train_size`` heaviest candidates: a static shape, so one compilation serves every round),
   or two-site sweeps on rows drawn from ``P`` (``trainer="sweep"``, MPS generators).
3. It is sampled; only valid, not yet evaluated, distinct candidates are kept
   (:func:`post_select`; a symmetric generator only proposes valid ones). If a round's
   draws leave fewer than ``batch_size``, random valid strings fill up (counted in the stats).
4. They are evaluated and added to the set; repeat until ``budget`` evaluations are spent.

Nothing is lost: with ``journal_path`` every evaluation is journaled (:mod:`._journal`) and
the generator is checkpointed after each round's training (``<journal>.generator.npz``)
before that round's proposals are written, so a run killed anywhere resumes without
evaluating any candidate twice and ends where the uninterrupted run ends.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import time
from typing import Any, Callable, NamedTuple

import jax
import numpy as np
import optax

from .._checks import check_bits_host, check_fits, check_int
from .._compiled import compiled
from ..checkpoint import load_checkpoint, save_checkpoint
from ..training import fit, sweep_train
from ._journal import GeoJournal
from ._problem import Problem

__all__ = ["GeoResult", "GeoSettings", "geo", "post_select", "random_valid", "softmax_weights"]


def softmax_weights(costs: Any, temperature: float) -> np.ndarray:
    """The surrogate ``P_i ~ exp(-c~_i / T)`` with ``c~`` the standardized costs (std 1 when
    all are equal); non-finite costs get weight 0.

    Examples:
        >>> softmax_weights([0.0, 1.0, 2.0], 1.0).round(4).tolist()
        [0.7245, 0.2129, 0.0626]
    """
    c = np.asarray(costs, np.float64)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    ok = np.isfinite(c)
    if not ok.any():
        raise ValueError("no finite cost to build the surrogate from")
    std = c[ok].std()
    z = (c - c[ok].mean()) / (std if std > 0 else 1.0)
    logits = np.where(ok, -z / temperature, -np.inf)
    w = np.exp(logits - logits[ok].max())
    return w / w.sum()


def _keys(bits: np.ndarray) -> list[bytes]:
    """One hashable key per row: its packed bits as bytes (trailing zero bytes dropped by the
    fixed-width ``S`` view, which keeps keys of equal-length rows distinct)."""
    packed = np.ascontiguousarray(np.packbits(np.asarray(bits, np.uint8), axis=1))
    return packed.view(f"S{packed.shape[1]}").ravel().tolist() if packed.shape[1] else [b""] * len(packed)


def post_select(candidates: np.ndarray, valid: np.ndarray, seen: set[bytes], limit: int) -> np.ndarray:
    """The first ``limit`` candidates that are valid, not in ``seen`` and not repeated, in order.

    Examples:
        >>> import numpy as np
        >>> x = np.array([[1, 0], [0, 1], [1, 0], [1, 1]], np.uint8)
        >>> post_select(x, np.array([True, True, True, False]), set(), 5).tolist()
        [[1, 0], [0, 1]]
    """
    candidates = check_bits_host(candidates, "candidates")
    valid = np.asarray(valid)
    if candidates.ndim != 2 or valid.shape != (candidates.shape[0],) or valid.dtype != np.bool_:
        raise ValueError(f"candidates must be [N, n] bits and valid a bool [N] mask, got shapes "
                         f"{candidates.shape} and {valid.shape} ({valid.dtype})")
    limit = check_int(limit, "limit", 0)
    out, taken = [], set()
    if limit:
        for i, (ok, key) in enumerate(zip(valid.tolist(), _keys(candidates))):
            if ok and key not in seen and key not in taken:
                taken.add(key)
                out.append(i)
                if len(out) == limit:
                    break
    return candidates[np.asarray(out, np.intp)].astype(np.uint8).reshape(-1, candidates.shape[1])


def random_valid(rng: np.random.Generator, num: int, n: int, k: int | None) -> np.ndarray:
    """``num`` uniform random strings of ``n`` bits with exactly ``k`` ones (any weight for ``None``).

    Raises:
        ValueError: ``num < 0``, ``n < 1``, ``k`` outside ``[0, n]``, or more strings than
            fit in memory.
    """
    num, n = check_int(num, "num", 0), check_int(n, "n", 1)
    if k is not None:
        k = check_int(k, "k", 0, n)
    check_fits(num * n * 17, f"random_valid of {num} strings of {n} bits", largest="draw them in batches")
    if k is None:
        return rng.integers(0, 2, (num, n), dtype=np.uint8)
    order = np.argsort(rng.random((num, n)), axis=1)
    out = np.zeros((num, n), np.uint8)
    np.put_along_axis(out, order[:, :k], 1, axis=1)
    return out


@dataclasses.dataclass(frozen=True)
class GeoSettings:
    """Settings of a GEO run (validated; recorded in the journal's header).

    Attributes:
        batch_size: evaluations per round.
        seed_size: random valid candidates evaluated first (stand-alone mode).
        temperature: ``T`` of the softmax surrogate, or a schedule ``T(round)``.
        trainer: ``"gradient"`` (weighted NLL, :func:`jqgen.fit`) or ``"sweep"`` (MPS only).
        train_steps: optimizer steps (gradient) or loops (sweep) per round.
        train_size: candidates (the heaviest) the generator is trained on per round.
        lr: Adam's learning rate (gradient) or the sweep's.
        max_bond: largest bond of sweep training (``None``: the generator's ``chi_max``).
        draws: sampling attempts per round, each of ``samples`` strings.
        samples: strings drawn per attempt (``None``: ``4 * batch_size``).
    """

    batch_size: int = 100
    seed_size: int = 100
    temperature: float | Callable[[int], float] = 1.0
    trainer: str = "gradient"
    train_steps: int = 100
    train_size: int = 512
    lr: float = 0.02
    max_bond: int | None = None
    draws: int = 4
    samples: int | None = None

    def __post_init__(self) -> None:
        for name in ("batch_size", "seed_size", "train_steps", "train_size", "draws"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if self.trainer not in ("gradient", "sweep"):
            raise ValueError(f"trainer must be 'gradient' or 'sweep', got {self.trainer!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not callable(self.temperature) and not self.temperature > 0:
            raise ValueError(f"temperature must be > 0 or a schedule, got {self.temperature!r}")

    def temperature_at(self, round_: int) -> float:
        return float(self.temperature(round_) if callable(self.temperature) else self.temperature)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if callable(self.temperature):
            out["temperature"] = [self.temperature_at(r) for r in range(1, 6)] + ["schedule"]
        return out


class GeoResult(NamedTuple):
    """What :func:`geo` returns.

    Attributes:
        best_bits: ``uint8 [n]`` the best candidate evaluated (seeds included).
        best_cost: its cost.
        bits, costs: every evaluation in order (``[E, n]``, ``[E]``; booster seeds first).
        rounds: per round: ``round``, ``evaluations`` (so far, this run's), ``best_cost``,
            ``valid_rate`` and ``novel_rate`` of the draws, ``filled`` (random top-ups),
            ``train_loss``, ``train_s``, ``sample_s``, ``eval_s`` and ``round_s`` (the whole round,
            journal writes included).
        model, params: the generator after the last round.
        evaluations: cost evaluations this run made (booster seeds not counted).
    """

    best_bits: np.ndarray
    best_cost: float
    bits: np.ndarray
    costs: np.ndarray
    rounds: list[dict[str, Any]]
    model: Any
    params: Any
    evaluations: int


def _key_record(key: jax.Array) -> list[int]:
    data = jax.random.key_data(key) if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    return [int(v) for v in np.asarray(data).ravel()]


class _Run:
    """The host-side state of one GEO run: the evaluated set, the journal, the generator."""

    def __init__(self, problem: Problem, model: Any, params: Any, settings: GeoSettings, key: jax.Array,
                 budget: int, journal: GeoJournal, gen_path: str | None, bar: Any) -> None:
        self.problem, self.model, self.params, self.s, self.key = problem, model, params, settings, key
        self.budget, self.journal, self.gen_path, self.bar = budget, journal, gen_path, bar
        bits, costs, _ = journal.evaluated()
        self.seen = set(_keys(bits))
        booster = sum(len(c) for _, c, src in journal.seeds if src == "booster")
        self.evaluations = len(costs) - booster
        self.best = (bits[int(np.argmin(costs))], float(np.min(costs))) if len(costs) else (None, math.inf)
        self.rounds: list[dict[str, Any]] = [dict(st, round=r) for r, (_, st) in sorted(journal.rounds.items())]

    def evaluate(self, round_: int, cand: np.ndarray) -> None:
        if not len(cand):
            return
        costs = np.asarray(self.problem.cost(cand), np.float64)
        if round_ == 0:
            self.journal.write_seed(cand, costs, "random")
        else:
            self.journal.write_eval(round_, cand, costs)
        self.seen.update(_keys(cand))
        self.evaluations += len(cand)
        i = int(np.argmin(costs))
        if costs[i] < self.best[1]:
            self.best = (cand[i], float(costs[i]))
        if self.bar is not None:
            self.bar.update(len(cand))

    def train(self, round_: int) -> tuple[float, float]:
        """Trains the generator on the surrogate of the evaluated set; (loss, seconds)."""
        t0 = time.perf_counter()
        bits, costs, _ = self.journal.evaluated()
        w = softmax_weights(costs, self.s.temperature_at(round_))
        top = np.argsort(-w, kind="stable")[: self.s.train_size]
        rkey = jax.random.fold_in(self.key, round_)
        if self.s.trainer == "sweep":
            rng = np.random.default_rng(_key_record(rkey))
            rows = bits[rng.choice(len(w), self.s.train_size, p=w)]
            target = getattr(self.model, "target", None)
            res = sweep_train(rows, max_bond=self.s.max_bond or self.model.chi_max, loops=self.s.train_steps,
                              key=rkey, lr=self.s.lr, num_batches=1, init=self.params, target=target,
                              weights=getattr(self.model, "weights", None) if target is not None else None,
                              progress=False)
            self.model, self.params = res.model, res.mps
            return float(res.history["train_nll"][-1]), time.perf_counter() - t0
        pad = self.s.train_size - len(top)
        rows = np.concatenate([bits[top], np.repeat(bits[top[:1]], pad, axis=0)])
        weights = np.concatenate([w[top], np.zeros(pad)])
        res = fit(self.model, self.params, rows, optax.adam(self.s.lr), key=rkey, steps=self.s.train_steps,
                  weights=weights, progress=False, chunk_size=self.s.train_steps)
        self.params = res.params
        return float(res.history[-1]), time.perf_counter() - t0

    def propose(self, round_: int, limit: int) -> tuple[np.ndarray, dict[str, Any]]:
        """Up to ``limit`` new valid candidates: samples first, random valid strings after."""
        t0 = time.perf_counter()
        n, num = self.problem.num_bits, self.s.samples or 4 * self.s.batch_size
        sample = compiled(self.model, "sample", (2,))
        picked: list[np.ndarray] = []
        drawn = valid = 0
        seen = set(self.seen)
        for attempt in range(self.s.draws):
            x = np.asarray(sample(self.params, jax.random.fold_in(jax.random.fold_in(self.key, round_), attempt), num),
                           np.uint8)
            ok = np.asarray(self.problem.valid(x), bool)
            drawn, valid = drawn + len(x), valid + int(ok.sum())
            sel = post_select(x, ok, seen, limit - sum(len(p) for p in picked))
            picked.append(sel)
            seen.update(_keys(sel))
            if sum(len(p) for p in picked) >= limit:
                break
        novel = sum(len(p) for p in picked)
        rng = np.random.default_rng(_key_record(jax.random.fold_in(self.key, 2**30 + round_)))
        for _ in range(20):  # top up with random valid strings (e.g. a generator collapsed on seen ones)
            short = limit - sum(len(p) for p in picked)
            if short <= 0:
                break
            sel = post_select(random_valid(rng, 4 * short, n, self.problem.k), np.ones(4 * short, bool), seen, short)
            picked.append(sel)
            seen.update(_keys(sel))
        out = np.concatenate(picked) if picked else np.zeros((0, n), np.uint8)
        stats = {"drawn": drawn, "valid_rate": valid / max(drawn, 1), "novel_rate": novel / max(drawn, 1),
                 "filled": int(len(out) - novel), "sample_s": time.perf_counter() - t0}
        return out, stats


def _check(problem: Any, model: Any, budget: Any, seed_bits: Any, seed_costs: Any) -> None:
    for name in ("num_bits", "cost", "valid", "describe"):
        if not hasattr(problem, name):
            raise ValueError(f"problem must implement jqgen.geo.Problem (num_bits, k, cost, valid, describe); "
                             f"{type(problem).__name__} has no {name!r}")
    if getattr(model, "num_bits", None) != problem.num_bits:
        raise ValueError(f"the generator has {getattr(model, 'num_bits', None)} bits, the problem {problem.num_bits}")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be a positive int (cost evaluations), got {budget!r}")
    if (seed_bits is None) != (seed_costs is None):
        raise ValueError("booster mode needs both seed_bits and seed_costs (another solver's evaluations)")
    if hasattr(model, "in_support") and getattr(problem, "k", None) is not None:
        probe = random_valid(np.random.default_rng(0), 1, problem.num_bits, problem.k)
        if not bool(np.asarray(model.in_support(probe))[0]):
            raise ValueError(f"the generator cannot produce the problem's valid strings (k = {problem.k}): "
                             f"{type(model).__name__} generates only its own constraint")


def _header(problem: Problem, model: Any, settings: GeoSettings, key: jax.Array, seed_bits: Any) -> dict[str, Any]:
    booster = None if seed_bits is None else {
        "num": int(len(seed_bits)), "sha256": hashlib.sha256(np.asarray(seed_bits, np.uint8).tobytes()).hexdigest()}
    return {"problem": problem.describe(), "generator": model.config(), "settings": settings.to_json(),
            "key": _key_record(key), "booster": booster}


def _resume_state(run: _Run, header: dict[str, Any]) -> int:
    """Checks the journal's header and loads the generator; returns the last round whose
    proposals are recorded (0 for none) after evaluating what it left unevaluated."""
    j = run.journal
    if j.header is not None:
        old = json_safe(j.header)
        diff = [k for k in sorted(set(old) | set(header)) if old.get(k) != json_safe(header).get(k)]
        if diff:
            raise ValueError(f"{j.path} was written by a GEO run with other settings ({', '.join(diff)} differ); "
                             "resume with the same settings or use another journal path")
    else:
        j.write_header(header)
    last = max(j.rounds, default=0)
    if run.gen_path is not None and os.path.exists(run.gen_path):
        ck = load_checkpoint(run.gen_path)
        run.model, run.params, run.trained_round = ck.model, ck.params, int(ck.metadata["round"])
    if last:
        done = set(_keys(np.concatenate([b for r, b, _ in j.evals if r == last] or [np.zeros((0, run.problem.num_bits),
                                                                                             np.uint8)])))
        left = np.asarray([p for p, key in zip(j.rounds[last][0], _keys(j.rounds[last][0])) if key not in done],
                          np.uint8).reshape(-1, run.problem.num_bits)
        run.evaluate(last, left)
    return last


def json_safe(x: Any) -> Any:
    """``x`` as JSON would give it back (tuples as lists, and so on)."""
    import json

    return json.loads(json.dumps(x, sort_keys=True, default=str))


def geo(problem: Problem, model: Any, budget: int, *, key: jax.Array, settings: GeoSettings | None = None,
        params: Any = None, seed_bits: Any = None, seed_costs: Any = None,
        journal_path: str | os.PathLike[str] | None = None, progress: bool = True,
        callback: Callable[[dict[str, Any]], None] | None = None) -> GeoResult:
    """Generator-enhanced optimization of ``problem`` with the generator ``model``.

    Args:
        problem: a :class:`Problem` (cost and validity of bitstrings).
        model: any :class:`jqgen.GenerativeModel` over ``problem.num_bits`` bits (a symmetric
            MPS or a weight-conserving QCBM of the problem's cardinality proposes only valid
            strings).
        budget: cost evaluations this run may make (stand-alone seeds included; booster seeds,
            evaluated by another solver, are not). A resumed run may be given a larger one.
        key: PRNG key (initial parameters, training, sampling); the run is deterministic given it.
        settings: :class:`GeoSettings`.
        params: initial generator parameters (default ``model.init``).
        seed_bits: booster mode: another solver's evaluated candidates.
        seed_costs: booster mode: their costs.
        journal_path: the run's journal (and ``<journal_path>.generator.npz``); an existing one
            is resumed (same settings required).
        progress: a progress bar (round, evaluations, best cost, valid-sample rate).
        callback: ``callback(round_stats)`` after every round.

    Returns:
        :class:`GeoResult`.

    Raises:
        ValueError: bad arguments, a generator that cannot produce valid strings, or a
            journal written with other settings.

    Examples:
        >>> import jax, numpy as np, jqgen
        >>> from jqgen.geo import BinaryPortfolio, GeoSettings, geo
        >>> rng = np.random.default_rng(0); a = rng.normal(size=(8, 8))
        >>> problem = BinaryPortfolio(rng.normal(0.01, 0.01, 8), a @ a.T / 800, k=3)
        >>> model = jqgen.mps.SymmetricMPSBornMachine(8, 3, 2)
        >>> res = geo(problem, model, 40, key=jax.random.key(0), progress=False,
        ...           settings=GeoSettings(batch_size=10, seed_size=10, train_steps=20, train_size=32))
        >>> res.evaluations, int(res.best_bits.sum())
        (40, 3)
    """
    settings = settings or GeoSettings()
    _check(problem, model, budget, seed_bits, seed_costs)
    journal = GeoJournal(journal_path, problem.num_bits)
    gen_path = None if journal_path is None else os.fspath(journal_path) + ".generator.npz"
    params = model.init(jax.random.fold_in(key, 0)) if params is None else params
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=budget, desc="geo", unit="eval")
    run = _Run(problem, model, params, settings, key, budget, journal, gen_path, bar)
    run.trained_round = 0
    try:
        last = _resume_state(run, _header(problem, model, settings, key, seed_bits))
        if bar is not None:
            bar.update(min(run.evaluations, budget))
        _seed(run, seed_bits, seed_costs)
        _rounds(run, last, callback)
    finally:
        if bar is not None:
            bar.close()
    bits, costs, _ = journal.evaluated()
    return GeoResult(np.asarray(run.best[0]), run.best[1], bits, costs, run.rounds, run.model, run.params,
                     run.evaluations)


def _seed(run: _Run, seed_bits: Any, seed_costs: Any) -> None:
    j, n = run.journal, run.problem.num_bits
    if j.seeds:
        return
    if seed_bits is not None:
        bits = np.asarray(seed_bits, np.uint8)
        costs = np.asarray(seed_costs, np.float64)
        if bits.ndim != 2 or bits.shape[1] != n or costs.shape != (len(bits),):
            raise ValueError(f"seed_bits must be [B, {n}] with seed_costs [B], got {bits.shape} and {costs.shape}")
        j.write_seed(bits, costs, "booster")
        run.seen.update(_keys(bits))
        i = int(np.argmin(costs))
        run.best = (bits[i], float(costs[i]))
        return
    rng = np.random.default_rng(_key_record(jax.random.fold_in(run.key, 2**31 - 1)))
    num = min(run.s.seed_size, run.budget)
    run.evaluate(0, post_select(random_valid(rng, 4 * num, n, run.problem.k), np.ones(4 * num, bool), set(), num))


def _rounds(run: _Run, last: int, callback: Any) -> None:
    r = last
    while run.evaluations < run.budget:
        r += 1
        start = time.perf_counter()
        if run.trained_round == r:  # killed after this round's checkpoint: its training is done
            loss, train_s = math.nan, 0.0
        else:
            loss, train_s = run.train(r)
            if run.gen_path is not None:
                save_checkpoint(run.gen_path, run.model, run.params, metadata={"round": r})
            run.trained_round = r
        proposals, stats = run.propose(r, min(run.s.batch_size, run.budget - run.evaluations))
        if not len(proposals):  # every valid string has been evaluated
            break
        stats.update(train_loss=loss, train_s=train_s)
        run.journal.write_round(r, proposals, stats)
        t0 = time.perf_counter()
        run.evaluate(r, proposals)
        stats.update(round=r, eval_s=time.perf_counter() - t0, round_s=time.perf_counter() - start,
                     evaluations=run.evaluations, best_cost=run.best[1])
        run.rounds.append(stats)
        if run.bar is not None:
            run.bar.set_postfix(round=r, best=f"{run.best[1]:.6g}", valid=f"{stats['valid_rate']:.0%}")
        if callback is not None:
            callback(stats)
    run.journal.write_done()
