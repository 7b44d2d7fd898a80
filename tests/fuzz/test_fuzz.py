"""The fuzz suite: every public callable of jqgen refuses bad input clearly (issue 18).

* :func:`test_every_public_name_has_a_fuzz_entry` enumerates ``__all__`` of ``jqgen`` and
  of every public subpackage and module: a public callable with no entry in
  :mod:`tests.fuzz._cases` (or a reasoned exemption) fails the suite.
* :func:`test_bad_input_is_refused` runs every registered bad call under a wall-time
  limit: it must raise ``ValueError`` or ``TypeError`` with a message (or, for degenerate
  but legal input, return the checked answer), never return NaN or garbage, raise an
  unrelated exception or hang.
* Hypothesis strategies (``test_*_property``) draw bad probability vectors, bit arrays,
  sizes and count tables for the functions that take them.
* :func:`test_huge_sizes_are_refused_without_allocating` (5 s, a subprocess measuring peak RSS)
  measures that huge sizes are refused with peak RSS growth below 256 MiB; the same
  refusals run in-process in the default tier (``test_bad_input_is_refused``).
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jqgen

from ._cases import EXEMPT, Ctx, Legal, cases

PUBLIC_MODULES = ["jqgen", "jqgen.bits", "jqgen.data", "jqgen.checkpoint", "jqgen.metrics", "jqgen.spaces",
                  "jqgen.synthetic", "jqgen.protocol", "jqgen.distributions", "jqgen.mps", "jqgen.qcbm",
                  "jqgen.training", "jqgen.evaluation", "jqgen.synergy", "jqgen.hardware", "jqgen.geo",
                  "jqgen.plots", "jqgen.cli", "jqgen.adversarial", "jqgen.experiments"]
TIME_LIMIT_S = 20  # per call, generous for a first compile on a loaded 2-core machine
CASES = cases()
CTX = Ctx()
FUZZ = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def canonical(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', getattr(obj, '_name', repr(obj)))}"


def public_callables() -> dict[str, str]:
    """``canonical name -> first public name`` of every callable in a public ``__all__``."""
    out: dict[str, str] = {}
    for modname in PUBLIC_MODULES:
        mod = importlib.import_module(modname)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.ismodule(obj):
                assert obj.__name__ in PUBLIC_MODULES, f"{modname}.{name}: a public module the fuzz suite does not scan"
                continue
            if callable(obj) and not isinstance(obj, (dict, tuple)):
                out.setdefault(canonical(obj), f"{modname}.{name}")
    return out


def test_every_public_name_has_a_fuzz_entry():
    public = public_callables()
    missing = sorted(f"{v} ({k})" for k, v in public.items() if k not in CASES and k not in EXEMPT)
    assert not missing, f"public callables without a fuzz entry in tests/fuzz/_cases.py: {missing}"
    stale = sorted(set(CASES) - set(public)) + sorted(set(EXEMPT) - set(public))
    assert not stale, f"fuzz entries for names that are not public (any more): {stale}"
    assert all(CASES[k] for k in CASES), "every fuzz entry needs at least one case"


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def run_limited(fn, *args):
    """``fn(*args)`` with a wall-time limit (SIGALRM; tests run in the main thread)."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def assert_refused(call, *args) -> str:
    try:
        out = run_limited(call, *args)
    except _Hang:
        pytest.fail(f"no answer within {TIME_LIMIT_S} s (a hang)")
    except (ValueError, TypeError) as e:
        msg = str(e)
        assert msg.strip(), f"{type(e).__name__} without a message"
        return msg
    except Exception as e:  # noqa: BLE001 - the point: an unrelated exception
        pytest.fail(f"unrelated exception {type(e).__module__}.{type(e).__name__}: {str(e)[:300]}")
    pytest.fail(f"bad input was accepted; returned {str(out)[:200]}")


CASE_IDS = [(name, i) for name in sorted(CASES) for i in range(len(CASES[name]))]


@pytest.mark.parametrize("name, i", CASE_IDS, ids=[f"{n.split('.')[-1]}-{i}" for n, i in CASE_IDS])
def test_bad_input_is_refused(name, i):
    case = CASES[name][i]
    if isinstance(case, Legal):
        try:
            out = run_limited(case.call, CTX)
        except _Hang:
            pytest.fail(f"no answer within {TIME_LIMIT_S} s (a hang)")
        assert case.check(out), f"legal degenerate input gave a wrong answer: {str(out)[:200]}"
        return
    assert_refused(case, CTX)


# ---------------------------------------------------------------------- hypothesis strategies
def _bad_float():
    return st.sampled_from([math.nan, math.inf, -math.inf, -1.0, -1e-3])


@st.composite
def bad_prob_vectors(draw):
    """A length-4 probability vector with at least one NaN, inf or negative entry, or of a
    bad shape or dtype."""
    kind = draw(st.sampled_from(["value", "shape", "dtype", "empty"]))
    if kind == "value":
        p = np.full(4, 0.25, np.float32)
        p[draw(st.integers(0, 3))] = draw(_bad_float())
        return p
    if kind == "shape":
        return np.full(draw(st.sampled_from([(2, 2), (4, 1), ()])), 0.25, np.float32)
    if kind == "dtype":
        return np.array(["a", "b", "c", "d"]) if draw(st.booleans()) else np.full(4, 0.25 + 0.1j, np.complex64)
    return np.zeros(0, np.float32)


@st.composite
def bad_bits(draw, n=4):
    """``[N, n]`` samples with a value other than 0/1 (or a NaN), or a bad dtype."""
    num = draw(st.integers(1, 5))
    b = np.zeros((num, n), np.float64)
    val = draw(st.sampled_from([2.0, -1.0, 0.5, math.nan, 255.0, 1e9]))
    b[draw(st.integers(0, num - 1)), draw(st.integers(0, n - 1))] = val
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64])) if float(val).is_integer() else np.float64
    return b.astype(dtype)


bad_sizes = st.one_of(st.integers(max_value=0), st.integers(min_value=10**11, max_value=10**15),
                      st.sampled_from([2.5, math.nan, "4", None, True]))

P_FUNCS = {
    "total_variation": lambda p: jqgen.distributions.total_variation(p, np.full(4, 0.25, np.float32)),
    "kl_divergence": lambda p: jqgen.distributions.kl_divergence(p, np.full(4, 0.25, np.float32)),
    "kl_divergence(p)": lambda p: jqgen.distributions.kl_divergence(np.full(4, 0.25, np.float32), p),
    "cross_entropy": lambda p: jqgen.distributions.cross_entropy(p, np.full(4, 0.25, np.float32)),
    "entropy": lambda p: jqgen.distributions.entropy(p),
    "mmd": lambda p: jqgen.distributions.mmd(p, np.full(4, 0.25, np.float32)),
    "sample_counts": lambda p: jqgen.distributions.sample_counts(p, CTX.key, 100),
}


@pytest.mark.parametrize("fname", sorted(P_FUNCS))
@FUZZ
@given(p=bad_prob_vectors())
def test_probability_vectors_property(fname, p):
    assert_refused(P_FUNCS[fname], p)


BITS_FUNCS = {
    "bits_to_index": jqgen.bits_to_index,
    "pack_bits": jqgen.pack_bits,
    "histogram": lambda b: jqgen.distributions.histogram(b, 4),
    "empirical_distribution": lambda b: jqgen.distributions.empirical_distribution(b, 4),
    "mmd_samples": lambda b: jqgen.distributions.mmd_samples(b, CTX.bits4),
    "mps.log_prob": lambda b: jqgen.mps.log_prob(CTX.mps, b),
    "MPSBornMachine.log_prob": lambda b: CTX.mps_model.log_prob(CTX.mps, b),
    "qcbm.log_prob": lambda b: CTX.qcbm4.log_prob(CTX.qparams4, b),
    "generalization_metrics": lambda b: jqgen.generalization_metrics(b, CTX.bits4, jqgen.Cardinality(4, 2)),
    "precision_recall": lambda b: jqgen.precision_recall(b, jqgen.Cardinality(4, 2)),
    "Cardinality.contains": lambda b: jqgen.Cardinality(4, 2).contains(b),
    "mutual_information": jqgen.qcbm.mutual_information,
    "Dataset": lambda b: jqgen.Dataset("x", b),
    "subspace_index": lambda b: jqgen.qcbm.subspace_index(b, 2),
}


@pytest.mark.parametrize("fname", sorted(BITS_FUNCS))
@FUZZ
@given(b=bad_bits())
def test_bit_arrays_property(fname, b):
    assert_refused(BITS_FUNCS[fname], b)


SIZE_FUNCS = {
    "all_bitstrings": jqgen.all_bitstrings,
    "bond_dims(n)": lambda v: jqgen.mps.bond_dims(v, 2),
    "bond_dims(chi)": lambda v: jqgen.mps.bond_dims(4, v),
    "random_mps(chi)": lambda v: jqgen.mps.random_mps(CTX.key, 4, v),
    "random_mps(n)": lambda v: jqgen.mps.random_mps(CTX.key, v, 2),
    "MPSBornMachine(chi)": lambda v: jqgen.MPSBornMachine(8, v),
    "sample(num)": lambda v: jqgen.mps.sample(CTX.mps, CTX.key, v),
    "Cardinality(n)": lambda v: jqgen.Cardinality(v, 0),
    "HardwareEfficient(n)": lambda v: jqgen.QCBM(jqgen.qcbm.HardwareEfficient(v, 1)),
    "index_to_bits(n)": lambda v: jqgen.index_to_bits(np.array([0]), v),
    "cardinality_dataset(n)": lambda v: jqgen.cardinality_dataset(v, 1, 0.5),
    "sample_counts(shots)": lambda v: jqgen.distributions.sample_counts(np.full(4, 0.25, np.float32), CTX.key, v),
    "model.sample(num)": lambda v: CTX.qcbm.sample(CTX.qparams, CTX.key, v),
}


@pytest.mark.parametrize("fname", sorted(SIZE_FUNCS))
@FUZZ
@given(v=bad_sizes)
def test_sizes_property(fname, v):
    if fname in HUGE_IS_LEGAL and isinstance(v, int) and not isinstance(v, bool) and v > 0:
        return  # a description, not an allocation (Cardinality(10**9, 0) has one member)
    assert_refused(SIZE_FUNCS[fname], v)


HUGE_IS_LEGAL = {"Cardinality(n)", "bond_dims(chi)"}


@st.composite
def bad_counts(draw):
    """A count table with a negative, NaN or non-integer count, a non-binary key or a key
    of the wrong width."""
    table = {"0101": 3, "0000": 1}
    kind = draw(st.sampled_from(["count", "key", "width"]))
    if kind == "count":
        table["1111"] = draw(st.sampled_from([-1, -0.5, math.nan, math.inf]))
    elif kind == "key":
        table[draw(st.sampled_from(["0201", "01x1", "    ", "-101"]))] = 2
    else:
        table[draw(st.sampled_from(["01", "01010", ""]))] = 2
    return table


@FUZZ
@given(counts=bad_counts())
def test_count_tables_property(counts):
    assert_refused(jqgen.distributions.counts_to_probs, counts, 4)


@st.composite
def edited_files(draw):
    """A checkpoint or data file cut short, or with bytes overwritten."""
    kind = draw(st.sampled_from(["checkpoint", "data"]))
    src = CTX.checkpoint if kind == "checkpoint" else _data_file()
    with open(src, "rb") as f:
        raw = bytearray(f.read())
    if draw(st.booleans()):
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    else:
        start = draw(st.integers(0, len(raw) - 8))
        raw[start:start + 8] = bytes(draw(st.lists(st.integers(0, 255), min_size=8, max_size=8)))
    return kind, bytes(raw)


def _data_file() -> str:
    path = os.path.join(CTX.tmp, "data.npz")
    if not os.path.exists(path):
        np.savez(path, data=CTX.bits4)
    return path


@FUZZ
@given(case=edited_files())
def test_truncated_and_edited_files_property(case):
    """Loading a cut or edited file either raises ValueError/TypeError or, when the edit
    missed everything that matters (zip padding, a comment), loads valid content."""
    kind, raw = case
    path = os.path.join(CTX.tmp, f"edited-{kind}.npz")
    with open(path, "wb") as f:
        f.write(raw)
    load = jqgen.load_checkpoint if kind == "checkpoint" else jqgen.load_dataset
    try:
        out = run_limited(load, path)
    except _Hang:
        pytest.fail("hang")
    except (ValueError, TypeError) as e:
        assert str(e).strip()
        return
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"unrelated exception {type(e).__name__}: {e}")
    if kind == "checkpoint":
        assert np.all(np.isfinite(np.asarray(out.params.tensors)))
    else:
        assert set(np.unique(out.data)) <= {0, 1}


# ---------------------------------------------------------------------- huge sizes, measured
HUGE_SCRIPT = textwrap.dedent("""
    import json, os, resource, sys, tempfile
    import numpy as np, jax, jax.numpy as jnp, jqgen
    from jqgen import mps as M, qcbm as Q
    key = jax.random.key(0)
    small = M.random_mps(key, 4, 2)
    jqgen.mps.sample(small, key, 3)  # warm the common kernels before the baseline
    tmp = tempfile.mkdtemp()
    ck = os.path.join(tmp, "ck.npz")
    jqgen.save_checkpoint(ck, jqgen.MPSBornMachine(4, 2), small)
    from jqgen.checkpoint import _read, _write
    head, arrays = _read(ck)
    head = dict(head, config=dict(head["config"], chi_max=10**6))  # a header that asks for 14.6 TiB of masks
    edited = os.path.join(tmp, "edited.npz")
    _write(edited, head, arrays)
    calls = {
        "sample 10**10": lambda: M.sample(small, key, 10**10),
        "random_mps(2000, 4096)": lambda: M.random_mps(key, 2000, 4096),
        "random_mps(10**9, 2)": lambda: M.random_mps(key, 10**9, 2),
        "MPSBornMachine(100, 10**6)": lambda: jqgen.MPSBornMachine(100, 10**6),
        "SymmetricMPS(2000, 1000, 4096)": lambda: M.SymmetricMPSBornMachine(2000, 1000, 4096),
        "QCBM 40 qubits": lambda: jqgen.QCBM(Q.HardwareEfficient(40, 1)),
        "checkpoint chi_max 10**6": lambda: jqgen.load_checkpoint(edited),
        "all_bitstrings(40)": lambda: jqgen.all_bitstrings(40),
        "mmd_samples 10**6 x 10**6": lambda: jqgen.distributions.mmd_samples(
            np.broadcast_to(np.zeros((1, 4), np.uint8), (10**6, 4)), np.broadcast_to(np.zeros((1, 4), np.uint8), (10**6, 4))),
        "Cardinality(64, 32).enumerate": lambda: jqgen.Cardinality(64, 32).enumerate(),
    }
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {}
    for name, f in calls.items():
        try:
            f()
            out[name] = "accepted"
        except (ValueError, TypeError) as e:
            out[name] = "refused: " + str(e)[:300]
        except BaseException as e:
            out[name] = f"other: {type(e).__name__}: {str(e)[:200]}"
    grow = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    print(json.dumps({"results": out, "rss_growth_kib": grow}))
""")


# ~5 s, most of it the subprocess importing jax: in the default tier, as issue 18 asks (peak RSS measured)
def test_huge_sizes_are_refused_without_allocating():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, "-c", HUGE_SCRIPT], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads(r.stdout.strip().splitlines()[-1])
    bad = {k: v for k, v in rep["results"].items() if not v.startswith("refused")}
    assert not bad, bad
    assert rep["rss_growth_kib"] < 256 * 1024, rep
    for k, v in rep["results"].items():  # each message says what would fit or what to use instead
        assert "available" in v or "at most" in v or "in [" in v, (k, v)
