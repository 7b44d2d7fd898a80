"""Portfolio instances: the OR-Library files (Beasley; Chang, Meade, Beasley, Sharaiha,
Computers & OR 27, 1271 (2000)), their unconstrained efficient frontiers, and a seeded
factor-model generator for larger instances.

OR-Library ``portN.txt`` layout: the first line is the number of assets ``N``; then ``N``
lines ``mean_return std_dev``; then one line ``i j correlation`` (1-based, ``i <= j``) for
every pair including the diagonal. ``portefN.txt``: lines ``mean_return variance`` of the
unconstrained efficient frontier. The readers reject malformed files with a
:class:`ValueError` naming the file, the line and the value.

Examples:
    >>> from jqgen.geo import synthetic_instance
    >>> inst = synthetic_instance(n=20, seed=1)
    >>> inst.n, inst.cov.shape, bool(abs(inst.corr[3, 3] - 1.0) < 1e-12)
    (20, (20, 20), True)
    >>> inst.binary(k=5, q=1.0).describe()["k"]
    5
"""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib
from typing import Any

import numpy as np

from .._checks import check_fits
from .._memory import available_memory

from ._chang import ChangPortfolio
from ._problem import BinaryPortfolio

__all__ = ["INSTANCE_NAMES", "PortfolioInstance", "load_frontier", "load_instance", "read_frontier",
           "read_orlib", "synthetic_instance"]

#: OR-Library instance names -> the file stem in the shared data directory.
INSTANCE_NAMES = {"hangseng31": "1_hangseng31", "dax85": "2_dax85", "ftse89": "3_ftse89", "sp98": "4_sp98",
                  "nikkei225": "5_nikkei225"}
_ALIASES = {f"port{i}": name for i, name in enumerate(INSTANCE_NAMES, start=1)}


@dataclasses.dataclass(frozen=True, eq=False)
class PortfolioInstance:
    """Mean returns, standard deviations and correlations of ``n`` assets.

    Attributes:
        name: what summaries call the instance.
        mu: ``[n]`` mean returns.
        sd: ``[n]`` standard deviations of the returns (> 0).
        corr: ``[n, n]`` symmetric correlation matrix, unit diagonal, entries in [-1, 1].
        cov: ``[n, n]`` covariance ``corr * sd sd^T`` (derived; positive definite).
    """

    name: str
    mu: np.ndarray
    sd: np.ndarray
    corr: np.ndarray
    cov: np.ndarray = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        mu, sd, corr = (np.array(a, np.float64) for a in (self.mu, self.sd, self.corr))
        n = mu.shape[0] if mu.ndim == 1 else -1
        if mu.ndim != 1 or n < 1 or sd.shape != (n,) or corr.shape != (n, n):
            raise ValueError(f"mu and sd must be [n] and corr [n, n], got {mu.shape}, {sd.shape}, {corr.shape}")
        for label, a in (("mu", mu), ("sd", sd), ("corr", corr)):
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{label} must be finite; found {a[~np.isfinite(a)][0]!r}")
        if np.any(sd <= 0):
            i = int(np.argmax(sd <= 0))
            raise ValueError(f"sd must be > 0; sd[{i}] = {sd[i]!r}")
        if not np.allclose(corr, corr.T, rtol=0, atol=1e-12) or np.any(np.abs(corr) > 1 + 1e-12) \
                or np.any(np.abs(np.diag(corr) - 1) > 1e-6):
            raise ValueError("corr must be symmetric with unit diagonal and entries in [-1, 1]")
        cov = corr * np.outer(sd, sd)
        smallest = float(np.linalg.eigvalsh(cov)[0])
        if not smallest > 0:
            raise ValueError(f"the covariance of {self.name!r} is not positive definite: smallest eigenvalue {smallest:.3e}")
        for label, a in (("mu", mu), ("sd", sd), ("corr", corr), ("cov", cov)):
            a.setflags(write=False)
            object.__setattr__(self, label, a)

    @property
    def n(self) -> int:
        """Number of assets."""
        return int(self.mu.shape[0])

    def binary(self, k: int, q: float = 1.0) -> BinaryPortfolio:
        """TN-GEO's equal-weight form over these assets (:class:`BinaryPortfolio`)."""
        return BinaryPortfolio(mu=self.mu, cov=self.cov, k=k, q=q, name=self.name)

    def chang(self, K: int, lam: float, w_min: float = 0.01, w_max: float = 1.0) -> ChangPortfolio:
        """Chang et al.'s cardinality-constrained form over these assets (:class:`ChangPortfolio`)."""
        return ChangPortfolio(self, K=K, lam=lam, w_min=w_min, w_max=w_max)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "n": self.n}


def _lines(path: str | os.PathLike) -> tuple[str, list[tuple[int, list[str]]]]:
    p = pathlib.Path(path)
    if not p.is_file():
        raise ValueError(f"no such file: {str(p)!r}")
    text = p.read_text()
    rows = [(i, s.split()) for i, s in enumerate(text.splitlines(), start=1) if s.strip()]
    return str(p), rows


def _numbers(fname: str, rows: list[tuple[int, list[str]]], width: int, what: str) -> np.ndarray:
    """``[len(rows), width]`` float64, after checking every row has ``width`` numeric fields."""
    for lineno, fields in rows:
        if len(fields) != width:
            raise ValueError(f"{fname}, line {lineno}: expected {width} fields ({what}), "
                             f"got {len(fields)}: {' '.join(fields)!r}")
    try:
        out = np.array([f for _, fields in rows for f in fields], dtype=np.float64).reshape(len(rows), width)
    except ValueError:
        for lineno, fields in rows:
            for f in fields:
                try:
                    float(f)
                except ValueError:
                    raise ValueError(f"{fname}, line {lineno}: not a number: {f!r}") from None
        raise
    bad = ~np.isfinite(out)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"{fname}, line {rows[r][0]}: not a finite number: {rows[r][1][c]!r}")
    return out


def _read_correlations(fname: str, rows: list[tuple[int, list[str]]], n: int) -> np.ndarray:
    vals = _numbers(fname, rows, 3, "i j correlation")
    lines = np.array([r[0] for r in rows])
    ij = vals[:, :2]
    bad = (ij != np.round(ij)) | (ij < 1) | (ij > n)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"{fname}, line {lines[r]}: asset index must be an integer in [1, {n}], got {rows[r][1][c]!r}")
    i, j, c = ij[:, 0].astype(np.int64) - 1, ij[:, 1].astype(np.int64) - 1, vals[:, 2]
    out = np.abs(c) > 1
    if out.any():
        r = int(np.argmax(out))
        raise ValueError(f"{fname}, line {lines[r]}: correlation outside [-1, 1]: {rows[r][1][2]!r}")
    diag = (i == j) & (np.abs(c - 1) > 1e-6)
    if diag.any():
        r = int(np.argmax(diag))
        raise ValueError(f"{fname}, line {lines[r]}: diagonal correlation ({i[r] + 1}, {j[r] + 1}) must be 1, "
                         f"got {rows[r][1][2]!r}")
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key = lo * n + hi
    order = np.argsort(key, kind="stable")
    dup = np.nonzero(key[order][1:] == key[order][:-1])[0]
    if dup.size:
        first, second = order[dup[0]], order[dup[0] + 1]
        raise ValueError(f"{fname}, line {lines[second]}: duplicated correlation pair ({lo[second] + 1}, "
                         f"{hi[second] + 1}) (first given on line {lines[first]}): {' '.join(rows[second][1])!r}")
    expected = n * (n + 1) // 2
    if key.size != expected:
        seen = np.zeros((n, n), bool)
        seen[lo, hi] = True
        a, b = np.argwhere(np.triu(~seen))[0]
        raise ValueError(f"{fname}: {key.size} correlation lines (lines {lines[0]}-{lines[-1]}), expected "
                         f"{expected} for N = {n}; pair ({a + 1}, {b + 1}) is missing")
    corr = np.empty((n, n))
    corr[lo, hi] = c
    corr[hi, lo] = c
    return corr


def read_orlib(path: str | os.PathLike, name: str | None = None) -> PortfolioInstance:
    """Reads an OR-Library portfolio file (``portN.txt`` layout, see the module docstring).

    Args:
        path: the file.
        name: the instance's name (default: the file's stem).

    Returns:
        The :class:`PortfolioInstance`.

    Raises:
        ValueError: a missing file, or a malformed one (naming the line and the value): a
            first line that is not a positive integer ``N``, fewer or more than ``N`` asset
            lines, non-numeric fields, a negative or zero standard deviation, a correlation
            outside [-1, 1], a diagonal correlation other than 1, a missing or duplicated
            pair, or a covariance that is not positive definite (its smallest eigenvalue).

    Examples:
        >>> import pathlib, tempfile
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "tiny.txt"
        >>> _ = f.write_text("2\\n 0.01 0.05\\n 0.02 0.04\\n 1 1 1.0\\n 1 2 0.3\\n 2 2 1.0\\n")
        >>> read_orlib(f).cov.round(6).tolist()
        [[0.0025, 0.0006], [0.0006, 0.0016]]
    """
    fname, rows = _lines(path)
    if not rows:
        raise ValueError(f"{fname}: the file is empty")
    lineno, first = rows[0]
    if len(first) != 1 or not first[0].isdigit() or int(first[0]) < 1:
        raise ValueError(f"{fname}, line {lineno}: expected the number of assets N (a positive integer), "
                         f"got {' '.join(first)!r}")
    n = int(first[0])
    body = rows[1:]
    n_assets = next((k for k, (_, f) in enumerate(body) if len(f) != 2), len(body))
    if n_assets < n:
        if n_assets == len(body):
            raise ValueError(f"{fname}: N = {n} but the file ends after {n_assets} asset lines 'mean std_dev'")
        lineno, fields = body[n_assets]
        raise ValueError(f"{fname}, line {lineno}: N = {n} but only {n_assets} asset lines 'mean std_dev' "
                         f"precede this line of {len(fields)} fields: {' '.join(fields)!r}")
    if n_assets > n:
        lineno, fields = body[n]
        raise ValueError(f"{fname}, line {lineno}: more than N = {n} asset lines; expected a correlation "
                         f"line 'i j correlation', got {' '.join(fields)!r}")
    assets = _numbers(fname, body[:n], 2, "mean std_dev")
    neg = assets[:, 1] <= 0
    if neg.any():
        r = int(np.argmax(neg))
        raise ValueError(f"{fname}, line {body[r][0]}: standard deviation must be > 0, got {body[r][1][1]!r}")
    if len(body) == n:
        raise ValueError(f"{fname}: no correlation lines after the {n} asset lines")
    corr = _read_correlations(fname, body[n:], n)
    cov = corr * np.outer(assets[:, 1], assets[:, 1])
    smallest = float(np.linalg.eigvalsh(cov)[0])
    if not smallest > 0:
        raise ValueError(f"{fname}: the covariance is not positive definite: smallest eigenvalue {smallest:.6e}")
    return PortfolioInstance(name=name or pathlib.Path(fname).stem, mu=assets[:, 0], sd=assets[:, 1], corr=corr)


def read_frontier(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Reads an unconstrained efficient frontier (``portefN.txt``: lines ``mean_return variance``).

    Returns:
        ``(returns [m], variances [m])`` in file order.

    Raises:
        ValueError: a missing file, fewer than two points, a line without exactly two
            numeric fields or with a negative variance (naming the line and the value).

    Examples:
        >>> import pathlib, tempfile
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "ef.txt"
        >>> _ = f.write_text("0.01 0.004\\n0.005 0.001\\n")
        >>> read_frontier(f)[1].tolist()
        [0.004, 0.001]
    """
    fname, rows = _lines(path)
    if len(rows) < 2:
        raise ValueError(f"{fname}: a frontier needs at least 2 points 'mean_return variance', got {len(rows)}")
    vals = _numbers(fname, rows, 2, "mean_return variance")
    neg = vals[:, 1] < 0
    if neg.any():
        r = int(np.argmax(neg))
        raise ValueError(f"{fname}, line {rows[r][0]}: variance must be >= 0, got {rows[r][1][1]!r}")
    return vals[:, 0].copy(), vals[:, 1].copy()


def _resolve(name_or_path: str | os.PathLike, data_dir: str | os.PathLike | None, prefix: str) -> pathlib.Path:
    p = pathlib.Path(name_or_path)
    if p.is_file():
        return p
    key = str(name_or_path).lower()
    key = _ALIASES.get(key.replace("portef", "port"), key)
    if key not in INSTANCE_NAMES:
        raise ValueError(f"{str(name_or_path)!r} is neither a file nor an instance name; names: "
                         f"{sorted(INSTANCE_NAMES) + sorted(_ALIASES)}")
    fname = f"orlib_{prefix}{INSTANCE_NAMES[key]}.txt"
    if data_dir is not None:
        dirs = [pathlib.Path(data_dir)]
    else:
        env = os.environ.get("JQGEN_DATA_DIR")
        dirs = ([pathlib.Path(env)] if env else []) + [pathlib.Path("shared/data"), pathlib.Path("../shared/data")]
    for d in dirs:
        if (d / fname).is_file():
            return d / fname
    looked = ", ".join(str((d / fname).resolve()) for d in dirs)
    raise ValueError(f"instance {key!r}: {fname} not found (looked in: {looked}); pass data_dir=, set "
                     f"$JQGEN_DATA_DIR, or give the file's path")


def load_instance(name_or_path: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> PortfolioInstance:
    """An OR-Library instance by name (``hangseng31``, ``dax85``, ``ftse89``, ``sp98``,
    ``nikkei225``, or ``port1``..``port5``) or by the path of a file in that layout.

    Names resolve to ``orlib_portN_<name>.txt`` in ``data_dir`` (default: ``$JQGEN_DATA_DIR``,
    else ``./shared/data``, else ``../shared/data``, relative to the working directory).

    Raises:
        ValueError: an unknown name, a file not found (naming where it looked), or a
            malformed file (see :func:`read_orlib`).
    """
    p = _resolve(name_or_path, data_dir, "port")
    key = _ALIASES.get(str(name_or_path).lower(), str(name_or_path).lower())
    return read_orlib(p, name=key if key in INSTANCE_NAMES else None)


def load_frontier(name_or_path: str | os.PathLike,
                  data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The unconstrained efficient frontier ``(returns, variances)`` of an instance, by name
    (as :func:`load_instance`; also ``portef1``..``portef5``) or by path (see :func:`read_frontier`)."""
    return read_frontier(_resolve(name_or_path, data_dir, "portef"))


def synthetic_instance(n: int = 500, seed: int = 0, factors: int = 3, *, market_sd: float = 0.02,
                       factor_sd: float = 0.01, idio_sd: tuple[float, float] = (0.015, 0.05),
                       name: str | None = None) -> PortfolioInstance:
    """A seeded factor-model instance with OR-Library-like weekly magnitudes.

    Returns are ``r = B f + e``: factor 0 is a market factor (loadings ~ U(0.5, 1.5), weekly
    sd ``market_sd``), the other ``factors - 1`` are style factors (loadings ~ N(0, 1), sd
    ``factor_sd``), and ``e`` is idiosyncratic noise with sd ~ U(``idio_sd``). The covariance
    is ``B diag(f_sd^2) B^T + diag(e_sd^2)`` (positive definite), and the mean returns follow
    the factor premia (market 0.003 a week, styles N(0, 0.001)) plus an alpha ~ N(0, 0.001),
    clipped to [0.0005, 0.012]: sd about 0.02-0.06, means about 0.001-0.01, like the weekly
    OR-Library data. ``n = 500, k = 50`` is the "50 of the S&P 500" scale.

    Args:
        n: number of assets (>= 2).
        seed: the seed (the same seed gives the same instance).
        factors: number of factors (>= 1).
        market_sd: weekly sd of the market factor (> 0).
        factor_sd: weekly sd of the style factors (> 0).
        idio_sd: range ``(low, high)`` of the idiosyncratic sd (0 < low <= high).
        name: the instance's name (default ``synthetic<n>_s<seed>``).

    Raises:
        ValueError: an argument outside the ranges above.
    """
    if not (isinstance(n, (int, np.integer)) and n >= 2):
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    if not (isinstance(factors, (int, np.integer)) and factors >= 1):
        raise ValueError(f"factors must be an int >= 1, got {factors!r}")
    if not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    for label, v in (("market_sd", market_sd), ("factor_sd", factor_sd)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{label} must be a finite number > 0, got {v!r}")
    lo, hi = (float(v) for v in idio_sd)
    if not (0 < lo <= hi < np.inf):
        raise ValueError(f"idio_sd must be (low, high) with 0 < low <= high, got {idio_sd!r}")
    check_fits(4 * n * n * 8, f"synthetic_instance with n = {n} assets (four [n, n] float64 matrices)",
               largest=f"at most n = {math.isqrt(available_memory() // 32)} assets fit")
    rng = np.random.default_rng(seed)
    loadings = np.concatenate([rng.uniform(0.5, 1.5, (n, 1)), rng.normal(0.0, 1.0, (n, factors - 1))], axis=1)
    f_sd = np.array([market_sd] + [factor_sd] * (factors - 1))
    e_sd = rng.uniform(lo, hi, n)
    cov = (loadings * f_sd**2) @ loadings.T + np.diag(e_sd**2)
    premia = np.concatenate([[0.003], rng.normal(0.0, 0.001, factors - 1)])
    mu = np.clip(loadings @ premia + rng.normal(0.0, 0.001, n), 0.0005, 0.012)
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    np.fill_diagonal(corr, 1.0)
    corr = (corr + corr.T) / 2
    return PortfolioInstance(name=name or f"synthetic{n}_s{seed}", mu=mu, sd=sd, corr=corr)
