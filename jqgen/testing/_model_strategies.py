"""Hypothesis strategies of models with their parameters, small by default.

Every model strategy draws ``(model, params)`` pairs: sizes from the given inclusive
ranges, a dtype, and parameters from a drawn seed (or, for circuits, the angles
themselves). Draws run the model's ``init`` eagerly, so each new size compiles once.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..mps import MPSBornMachine, SymmetricMPSBornMachine, random_mps
from ..qcbm import QCBM, ConservingQCBM, Givens, HardwareEfficient, LiuWang, SU4Brickwork

__all__ = ["ansatze", "conserving_qcbms", "givens_ansatze", "mps_models", "qcbm_params", "qcbms",
           "symmetric_mps_models"]

_SEEDS = st.integers(0, 2**31 - 1)

#: ``model.init(key)`` as one compiled program per distinct model, for the symmetric MPS
#: (whose eager init compiles one kernel per operation; equal models drawn again hit the
#: cache). The other families' ``init`` already runs kernels keyed on shapes only.
_init = jax.jit(lambda model, key: model.init(key), static_argnums=0)
_random_mps = jax.jit(random_mps, static_argnums=(1, 2), static_argnames="dtype")


def int_range(name: str, value: Any, lo: int, hi: int | None = None) -> tuple[int, int]:
    """Validates an inclusive ``(low, high)`` range of ints (or one int) within ``[lo, hi]``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    try:
        a, b = (int(v) for v in pair)
        ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)
    except (TypeError, ValueError):
        ok = False
    if not ok or a > b or a < lo or (hi is not None and b > hi):
        top = "" if hi is None else f" <= {hi}"
        raise ValueError(f"{name} must be an int or an inclusive (low, high) pair of ints >= {lo}{top}, got {value!r}")
    return a, b


def float_range(name: str, value: Any, lo: float) -> tuple[float, float]:
    """Validates an inclusive ``(low, high)`` range of finite floats ``>= lo`` (or one float)."""
    pair = (value, value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    try:
        a, b = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a float or an inclusive (low, high) pair, got {value!r}") from None
    if not (math.isfinite(a) and math.isfinite(b) and lo <= a <= b):
        raise ValueError(f"{name} must be finite with {lo} <= low <= high, got {value!r}")
    return a, b


def choices(name: str, value: Any, allowed: Sequence[Any] | None = None) -> tuple[Any, ...]:
    """A non-empty tuple of choices (one value or a sequence), each from ``allowed``."""
    out = (value,) if isinstance(value, str) or not hasattr(value, "__iter__") else tuple(value)
    bad = [v for v in out if allowed is not None and v not in allowed]
    if not out or bad:
        raise ValueError(f"{name} must be one or more of {list(allowed) if allowed else 'values'}, got {value!r}")
    return out


def _dtypes(value: Any, complex_ok: bool = True) -> tuple[str, ...]:
    allowed = ("float32", "float64", "complex64", "complex128") if complex_ok else ("float32", "float64")
    return choices("dtypes", tuple(jnp.dtype(d).name for d in choices("dtypes", value)), allowed)


def mps_models(*, num_bits: Any = (2, 4), chi: Any = (1, 3), dtypes: Any = ("float32", "complex64"),
               init_noise: Any = (0.2, 1.0), params: Any = ("init", "random")) -> st.SearchStrategy:
    """``(jqgen.MPSBornMachine, MPS)`` pairs.

    Args:
        num_bits: inclusive range (or one value) of ``n``, ``>= 2``.
        chi: range of ``chi_max``, ``>= 1``.
        dtypes: dtype names to draw from (complex ones give complex MPS; 64-bit ones need
            ``jax_enable_x64``).
        init_noise: range of the model's ``init_noise``, drawn from three levels (low, middle,
            high: kernels compile once per distinct model, so few levels keep draws fast).
        params: where the parameters come from: ``"init"`` (``model.init`` of a drawn key)
            and/or ``"random"`` (:func:`jqgen.mps.random_mps`: Gaussian, right-canonical).

    Returns:
        A strategy of ``(model, params)``.

    Raises:
        ValueError: a malformed range or choice.

    Examples:
        >>> from hypothesis import given, settings
        >>> from jqgen.testing import strategies as jst
        >>> @settings(max_examples=2, deadline=None)
        ... @given(jst.mps_models(num_bits=3, chi=2, dtypes="complex64"))
        ... def test_layout(model_params):
        ...     model, params = model_params
        ...     assert params.tensors.shape == (3, 2, 2, 2) and params.tensors.dtype.name == "complex64"
        >>> test_layout()
    """
    n_range, chi_range = int_range("num_bits", num_bits, 2), int_range("chi", chi, 1)
    noise, kinds = float_range("init_noise", init_noise, 0.0), choices("params", params, ("init", "random"))
    names = _dtypes(dtypes)

    @st.composite
    def draw_model(draw: Any) -> tuple[MPSBornMachine, Any]:
        n, c = draw(st.integers(*n_range)), draw(st.integers(*chi_range))
        dtype = draw(st.sampled_from(names))
        model = MPSBornMachine(n, c, init_noise=draw(_levels(noise)), dtype=dtype)
        key = jax.random.key(draw(_SEEDS))
        if draw(st.sampled_from(kinds)) == "init":
            return model, model.init(key)
        return model, _random_mps(key, n, c, dtype=dtype)

    return draw_model()


def _levels(bounds: tuple[float, float]) -> st.SearchStrategy:
    """Three levels across ``[low, high]`` (one when they are equal), shrinking to ``low``."""
    return st.sampled_from(sorted({round(float(v), 6) for v in np.linspace(bounds[0], bounds[1], 3)}))


def _subset_sums(weights: Sequence[int]) -> list[int]:
    sums = {0}
    for a in weights:
        sums |= {s + a for s in sums}
    return sorted(sums)


def symmetric_mps_models(*, num_bits: Any = (2, 4), chi: Any = (1, 3), k: Any = (1, None),
                         weighted: bool = False, dtypes: Any = ("float32", "complex64"),
                         init_noise: Any = (0.2, 1.0)) -> st.SearchStrategy:
    """``(jqgen.mps.SymmetricMPSBornMachine, BlockMPS)`` pairs; parameters from ``init``.

    Args:
        num_bits: range of ``n``, ``>= 2``.
        chi: range of ``chi_max``, ``>= 1``.
        k: range of the cardinality ``k`` (``None`` as the high end: ``n - 1``); clipped to
            ``[0, n]`` for each drawn ``n``. Ignored when ``weighted``.
        weighted: draw site weights ``a_i`` in ``0..3`` and a reachable target ``b`` (the
            constraint ``sum_i a_i x_i = b``) instead of a cardinality.
        dtypes: dtype names to draw from.
        init_noise: range of the model's ``init_noise``, drawn from three levels (as
            :func:`mps_models`).

    Returns:
        A strategy of ``(model, params)``.

    Raises:
        ValueError: a malformed range or choice.

    Examples:
        >>> from hypothesis import given, settings
        >>> from jqgen.testing import strategies as jst
        >>> @settings(max_examples=2, deadline=None)
        ... @given(jst.symmetric_mps_models(num_bits=3, chi=2, k=2, weighted=True))
        ... def test_support(model_params):
        ...     model, params = model_params
        ...     assert params.blocks.shape[:2] == (3, 2) and 0 <= model.target <= 9
        >>> test_support()
    """
    n_range, chi_range = int_range("num_bits", num_bits, 2), int_range("chi", chi, 1)
    k_pair = (k, k) if isinstance(k, (int, np.integer)) else tuple(k)
    k_lo, k_hi = int_range("k", (k_pair[0], k_pair[0] if k_pair[1] is None else k_pair[1]), 0)
    k_open = len(k_pair) == 2 and k_pair[1] is None
    noise, names = float_range("init_noise", init_noise, 0.0), _dtypes(dtypes)

    @st.composite
    def draw_model(draw: Any) -> tuple[SymmetricMPSBornMachine, Any]:
        n, c = draw(st.integers(*n_range)), draw(st.integers(*chi_range))
        kw: dict[str, Any] = {"init_noise": draw(_levels(noise)), "dtype": draw(st.sampled_from(names))}
        if weighted:
            weights = tuple(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
            target = draw(st.sampled_from(_subset_sums(weights)))
            model = SymmetricMPSBornMachine(n, target, c, weights=weights, **kw)
        else:
            hi = min(n - 1 if k_open else k_hi, n)
            lo = min(k_lo, hi)
            model = SymmetricMPSBornMachine(n, draw(st.integers(lo, max(lo, hi))), c, **kw)
        return model, _init(model, jax.random.key(draw(_SEEDS)))

    return draw_model()


def ansatze(*, num_qubits: Any = (2, 4), layers: Any = (1, 2),
            kinds: Any = ("hardware-efficient", "liu-wang", "su4")) -> st.SearchStrategy:
    """Circuit ansätze for :class:`jqgen.QCBM`: :class:`jqgen.qcbm.HardwareEfficient` (a
    drawn topology), :class:`jqgen.qcbm.LiuWang` (CNOTs on the line or on a random tree),
    :class:`jqgen.qcbm.SU4Brickwork` (a drawn order).

    Args:
        num_qubits: range of ``n``, ``>= 2``.
        layers: range of the entangling blocks, ``>= 1``.
        kinds: the families to draw from.

    Returns:
        A strategy of ansatz objects.

    Raises:
        ValueError: a malformed range or choice.

    Examples:
        >>> from hypothesis import find
        >>> from jqgen.testing import strategies as jst
        >>> find(jst.ansatze(num_qubits=3, kinds="su4"), lambda a: a.layers == 2)
        SU4Brickwork(num_qubits=3, layers=2, order='brick')
    """
    q_range, l_range = int_range("num_qubits", num_qubits, 2), int_range("layers", layers, 1)
    families = choices("kinds", kinds, ("hardware-efficient", "liu-wang", "su4"))

    @st.composite
    def draw_ansatz(draw: Any) -> Any:
        n, layer = draw(st.integers(*q_range)), draw(st.integers(*l_range))
        kind = draw(st.sampled_from(families))
        if kind == "hardware-efficient":
            return HardwareEfficient(n, layer, topology=draw(st.sampled_from(("line", "all", "star"))))
        if kind == "liu-wang":
            tree = draw(st.booleans())
            cnots = tuple((draw(st.integers(0, i - 1)), i) for i in range(1, n)) if tree else None
            return LiuWang(n, layer, cnots=cnots)
        return SU4Brickwork(n, layer, order=draw(st.sampled_from(("brick", "staircase"))))

    return draw_ansatz()


def givens_ansatze(*, num_qubits: Any = (2, 4), weight: Any = (1, None), layers: Any = (1, 2),
                   topologies: Any = ("brick", "staircase", "all"), gates: Any = ("givens", "xy"),
                   phases: Any = ("none", "rz", "rzz")) -> st.SearchStrategy:
    """Weight-conserving :class:`jqgen.qcbm.Givens` circuits (for :class:`jqgen.qcbm.ConservingQCBM`).

    Args:
        num_qubits: range of ``n``, ``>= 2``.
        weight: range of the Hamming weight ``k`` (``None`` as the high end: ``n - 1``),
            clipped to ``[0, n]``.
        layers: range of the mixing layers.
        topologies: edge layouts to draw from.
        gates: mixing gates to draw from.
        phases: phase layers to draw from.

    Returns:
        A strategy of :class:`jqgen.qcbm.Givens`.

    Raises:
        ValueError: a malformed range or choice.

    Examples:
        >>> from hypothesis import given, settings
        >>> from jqgen.testing import strategies as jst
        >>> @settings(max_examples=2, deadline=None)
        ... @given(jst.givens_ansatze(num_qubits=4, weight=2))
        ... def test_weight(ansatz):
        ...     assert ansatz.weight == 2 and ansatz.num_qubits == 4
        >>> test_weight()
    """
    q_range, l_range = int_range("num_qubits", num_qubits, 2), int_range("layers", layers, 1)
    w_pair = (weight, weight) if isinstance(weight, (int, np.integer)) else tuple(weight)
    w_lo = int_range("weight", (w_pair[0], w_pair[0]), 0)[0]
    w_hi = None if w_pair[1] is None else int_range("weight", (w_lo, w_pair[1]), 0)[1]
    tops = choices("topologies", topologies, ("brick", "staircase", "all"))
    gate_names, phase_names = choices("gates", gates, ("givens", "xy")), choices("phases", phases, ("none", "rz", "rzz"))

    @st.composite
    def draw_ansatz(draw: Any) -> Givens:
        n = draw(st.integers(*q_range))
        hi = min(n - 1 if w_hi is None else w_hi, n)
        lo = min(w_lo, hi)
        return Givens(n, draw(st.integers(lo, max(lo, hi))), draw(st.integers(*l_range)),
                      topology=draw(st.sampled_from(tops)), gate=draw(st.sampled_from(gate_names)),
                      phases=draw(st.sampled_from(phase_names)))

    return draw_ansatz()


def _leaf_strategy(shape: tuple[int, ...], dtype: Any, low: float, high: float) -> st.SearchStrategy:
    width = 32 if jnp.dtype(dtype).itemsize == 4 else 64
    if width == 32:  # hypothesis wants bounds exactly representable at the width: round inwards
        lo32, hi32 = np.float32(low), np.float32(high)
        low = float(lo32 if lo32 >= low else np.nextafter(lo32, np.float32(np.inf)))
        high = float(hi32 if hi32 <= high else np.nextafter(hi32, np.float32(-np.inf)))
    elements = st.floats(low, high, width=width, allow_nan=False, allow_infinity=False)
    return hnp.arrays(np.dtype(jnp.dtype(dtype).name), shape, elements=elements).map(jnp.asarray)


def qcbm_params(model: Any, *, low: float = -math.pi, high: float = math.pi, dtype: Any = "float32") -> st.SearchStrategy:
    """Parameter pytrees for a circuit model (any :class:`jqgen.QCBM` or
    :class:`jqgen.qcbm.ConservingQCBM` ansatz) or an ansatz itself: every leaf of the
    structure its ``init`` returns (``jax.eval_shape``: nothing is hard-coded per ansatz),
    with angles drawn in ``[low, high]``.

    Args:
        model: an object with ``init(key)`` (a model), or an ansatz with
            ``init(key, dtype)`` and ``param_shapes()``.
        low: smallest angle.
        high: largest angle.
        dtype: the angles' dtype for an ansatz (a model's ``init`` decides its own).

    Returns:
        A strategy of parameter pytrees, shaped and typed as ``init``'s output.

    Raises:
        ValueError: ``low > high`` or not finite, or ``model`` without ``init``.

    Examples:
        >>> import jqgen
        >>> from hypothesis import given, settings
        >>> from jqgen.testing import strategies as jst
        >>> @settings(max_examples=2, deadline=None)
        ... @given(jst.qcbm_params(jqgen.qcbm.LiuWang(3, 1)))
        ... def test_shapes(params):
        ...     assert {k: v.shape for k, v in params.items()} == {"first": (3, 2), "rot": (1, 3, 3)}
        >>> test_shapes()
    """
    low, high = float_range("(low, high)", (low, high), -math.inf)
    if not callable(getattr(model, "init", None)):
        raise ValueError(f"model must have an init method (a model or an ansatz), got {model!r}")
    if callable(getattr(model, "param_shapes", None)) and not hasattr(model, "num_bits"):
        real = jnp.dtype(_dtypes(dtype, complex_ok=False)[0])
        shapes = jax.eval_shape(lambda k: model.init(k, real), jax.random.key(0))
    else:
        shapes = jax.eval_shape(model.init, jax.random.key(0))
    leaves, treedef = jax.tree_util.tree_flatten(shapes)
    return st.tuples(*(_leaf_strategy(x.shape, x.dtype, low, high) for x in leaves)).map(
        lambda arrays: jax.tree_util.tree_unflatten(treedef, list(arrays)))


def qcbms(*, ansatz: Any = None, engines: Any = ("fused",), dtypes: Any = ("float32",),
          angles: str = "drawn") -> st.SearchStrategy:
    """``(jqgen.QCBM, params)`` pairs for circuits drawn from ``ansatz``.

    Args:
        ansatz: a strategy of ansätze (default :func:`ansatze` ``()``) or one ansatz object.
        engines: ``"fused"`` and/or ``"tensorcircuit"``.
        dtypes: ``"float32"`` and/or ``"float64"`` (the angles).
        angles: ``"drawn"`` (every angle drawn by :func:`qcbm_params`, shrinking towards
            zero) or ``"init"`` (``model.init`` of a drawn key).

    Returns:
        A strategy of ``(model, params)``.

    Raises:
        ValueError: a malformed choice.

    Examples:
        >>> import jqgen
        >>> from hypothesis import given, settings
        >>> from jqgen.testing import strategies as jst
        >>> @settings(max_examples=2, deadline=None)
        ... @given(jst.qcbms(ansatz=jqgen.qcbm.HardwareEfficient(3, 1)))
        ... def test_normalized(model_params):
        ...     model, params = model_params
        ...     assert abs(float(model.probs(params).sum()) - 1) < 1e-5
        >>> test_normalized()
    """
    return _circuit_models(QCBM, ansatze() if ansatz is None else ansatz,
                           {"engine": choices("engines", engines, ("fused", "tensorcircuit")),
                            "dtype": _dtypes(dtypes, complex_ok=False)}, angles)


def conserving_qcbms(*, ansatz: Any = None, engines: Any = ("fused",), dtypes: Any = ("float32",),
                     angles: str = "drawn") -> st.SearchStrategy:
    """``(jqgen.qcbm.ConservingQCBM, params)`` pairs for Givens circuits drawn from ``ansatz``.

    Args:
        ansatz: a strategy of :class:`jqgen.qcbm.Givens` (default :func:`givens_ansatze` ``()``)
            or one Givens object.
        engines: ``"fused"`` and/or ``"tensorcircuit"``.
        dtypes: ``"float32"`` and/or ``"float64"``.
        angles: ``"drawn"`` or ``"init"`` (as :func:`qcbms`).

    Returns:
        A strategy of ``(model, params)``.

    Raises:
        ValueError: a malformed choice.

    Examples:
        >>> import jqgen
        >>> from hypothesis import given, settings
        >>> from jqgen.testing import strategies as jst
        >>> @settings(max_examples=2, deadline=None)
        ... @given(jst.conserving_qcbms(ansatz=jqgen.qcbm.Givens(3, 2, 1)))
        ... def test_weight(model_params):
        ...     model, params = model_params
        ...     assert model.weight == 2 and sorted(params) == ["mix"]
        >>> test_weight()
    """
    return _circuit_models(ConservingQCBM, givens_ansatze() if ansatz is None else ansatz,
                           {"engine": choices("engines", engines, ("fused", "tensorcircuit")),
                            "dtype": _dtypes(dtypes, complex_ok=False)}, angles)


def _circuit_models(cls: type, ansatz: Any, options: dict[str, tuple[Any, ...]], angles: str) -> st.SearchStrategy:
    if angles not in ("drawn", "init"):
        raise ValueError(f"angles must be 'drawn' or 'init', got {angles!r}")
    source = ansatz if isinstance(ansatz, st.SearchStrategy) else st.just(ansatz)

    @st.composite
    def draw_model(draw: Any) -> tuple[Any, Any]:
        model = cls(draw(source), **{k: draw(st.sampled_from(v)) for k, v in options.items()})
        if angles == "init":
            return model, model.init(jax.random.key(draw(_SEEDS)))
        return model, draw(qcbm_params(model))

    return draw_model()
