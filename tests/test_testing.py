"""jqgen.testing: the checkers catch broken models (each test here can fail), the G-test's
stated power holds in simulation, the strategies draw valid objects, and the package stays
out of ``import jqgen``."""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib
import subprocess
import sys
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jqgen
from jqgen.testing import (ALPHA, CHECKS, check_checkpoint_round_trip, check_compiles_once, check_config_round_trip,
                           check_deterministic, check_generative_model, check_input_validation, check_normalized,
                           check_sampling, check_shapes_and_dtypes, check_transforms, detectable_tv, g_test,
                           g_test_power, g_test_pvalue)
from jqgen.testing import strategies as jst

ROOT = pathlib.Path(__file__).resolve().parent.parent


@jax.custom_vjp
def _doubled_grad(x: jax.Array) -> jax.Array:
    return x


_doubled_grad.defvjp(lambda x: (x, None), lambda _, g: (2 * g,))


@dataclasses.dataclass(frozen=True)
class Wrapped:
    """A user's model: an MPS Born machine behind the protocol, with one deliberate ``flaw``."""

    flaw: str = "none"
    num_bits: int = 3

    @property
    def inner(self) -> jqgen.MPSBornMachine:
        return jqgen.MPSBornMachine(self.num_bits, 2, init_noise=0.5)

    def init(self, key: jax.Array) -> Any:
        return self.inner.init(key)

    def log_prob(self, params: Any, bits: Any) -> jax.Array:
        if self.flaw == "recompiles":  # a fresh jit per call: compiles every time
            return jax.jit(lambda p, b: self.inner.log_prob(p, b))(params, bits)
        lp = self.inner.log_prob(params, bits)
        if self.flaw == "offset":
            return lp + 0.1
        return _doubled_grad(lp) if self.flaw == "bad-grad" else lp

    def sample(self, params: Any, key: jax.Array, num: int) -> jax.Array:
        if self.flaw == "no-validation" and not (isinstance(num, int) and not isinstance(num, bool) and num > 0):
            return jnp.zeros((0, self.num_bits), jnp.uint8)
        x = self.inner.sample(params, jax.random.key(0) if self.flaw == "ignores-key" else key, num)
        if self.flaw == "biased":  # one sample in ten replaced by 000
            zero = jax.random.bernoulli(jax.random.fold_in(key, 99), 0.1, (num, 1))
            x = jnp.where(zero, jnp.zeros_like(x), x)
        return x.astype(jnp.int32) if self.flaw == "int32" else x

    def probs(self, params: Any) -> jax.Array:
        return self.inner.probs(params)

    def config(self) -> dict[str, Any]:
        return {"family": "wrapped", "flaw": self.flaw, "num_bits": self.num_bits}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Wrapped":
        cfg = {k: v for k, v in config.items() if k != "family"}
        return cls(num_bits=cfg["num_bits"]) if cfg["flaw"] == "bad-config" else cls(**cfg)


PARAMS = jqgen.MPSBornMachine(3, 2, init_noise=0.5).init(jax.random.key(0))


def test_a_correct_user_model_passes_every_check_but_the_unregistered_checkpoint():
    ran = check_generative_model(Wrapped(), PARAMS, key=jax.random.key(3))
    assert ran == tuple(c for c in CHECKS if c != "checkpoint round trip")
    with pytest.raises(AssertionError, match="checkpoint round trip failed .* 'wrapped' is not registered"):
        check_checkpoint_round_trip(Wrapped(), PARAMS)
    check_checkpoint_round_trip(Wrapped().inner, PARAMS)


@pytest.mark.parametrize("flaw, check, message", [
    ("offset", check_normalized, r"normalization failed for Wrapped\(flaw='offset'.*over 8 strings is 1\.10"),
    ("int32", check_shapes_and_dtypes, r"shapes and dtypes failed .* gave int32\[8, 3\]"),
    ("no-validation", check_input_validation, r"input validation failed .* sample\(params, key, 0\) returned"),
    ("ignores-key", check_deterministic, r"determinism failed .* two different keys gave the same samples"),
    ("biased", check_sampling, r"sampling failed .* key data \[0, 7\]: G = .* p-value .* most off: \[0, 0, 0\]"),
    ("bad-grad", check_transforms, r"jit/vmap/grad failed .* finite differences"),
    ("recompiles", check_compiles_once, r"compile once failed .* compiled \["),
])
def test_each_checker_catches_its_broken_model(flaw, check, message):
    with pytest.raises(AssertionError, match=message):
        check(Wrapped(flaw), PARAMS)
    if check is not check_normalized:
        check(Wrapped(), PARAMS)  # and passes the unbroken one


def test_config_round_trip_catches_a_lossy_from_config():
    with pytest.raises(AssertionError, match="config round trip failed .* gave Wrapped\\(flaw='none'"):
        check_config_round_trip(Wrapped("bad-config"))


def test_check_generative_model_names_the_first_failing_property_and_validates_skip():
    with pytest.raises(AssertionError, match="^normalization failed for Wrapped"):
        check_generative_model(Wrapped("offset"), PARAMS)
    with pytest.raises(AssertionError, match="^sampling failed"):
        check_generative_model(Wrapped("biased"), PARAMS, skip=["jit/vmap/grad"])
    with pytest.raises(ValueError, match="skip must name checks"):
        check_generative_model(Wrapped(), PARAMS, skip=["grad"])
    with pytest.raises(AssertionError, match="shapes and dtypes failed .* init gives"):
        check_generative_model(Wrapped(), jqgen.mps.MPS(PARAMS.tensors[:2]))


def test_constrained_models_sample_inside_their_support():
    model = jqgen.ConservingQCBM(jqgen.qcbm.Givens(3, 2, 2))
    params = model.init(jax.random.key(0))
    check_normalized(model, params)
    check_sampling(model, params, num_samples=2000)
    with pytest.raises(AssertionError, match="sampling failed .* not in the support given"):
        check_sampling(model, params, num_samples=2000, support=[[0, 1, 1], [1, 1, 0]])
    check_normalized(model, params, support=jqgen.spaces.Cardinality(3, 2).enumerate())
    with pytest.raises(ValueError, match="support must be"):
        check_normalized(model, params, support=[[0, 1]])


def test_g_test_power_bound_holds_in_simulation():
    """check_sampling's stated power: 400 runs of 20,000 draws from q at total-variation
    distance 0.02 from uniform p on 8 strings, in the least detectable shape (|q - p| ~ p)."""
    rng = np.random.default_rng(0)
    p, delta, trials = np.full(8, 1 / 8), 0.02, 400
    q = p * np.where(np.arange(8) < 4, 1 + 2 * delta, 1 - 2 * delta)
    assert math.isclose(0.5 * np.abs(q - p).sum(), delta)
    rate = np.mean([g_test(rng.multinomial(20_000, q), p).pvalue < ALPHA for _ in range(trials)])
    bound = g_test_power(delta, 20_000, 8)
    assert bound == pytest.approx(0.90, abs=0.005) and rate == pytest.approx(0.89, abs=0.005)
    assert rate >= bound - 3 * math.sqrt(bound * (1 - bound) / trials)
    null = np.mean([g_test(rng.multinomial(20_000, p), p).pvalue < 0.05 for _ in range(1000)])
    assert abs(null - 0.05) < 3 * math.sqrt(0.05 * 0.95 / 1000)  # calibrated under the null
    assert [round(detectable_tv(20_000, b), 3) for b in (8, 16, 64, 256, 1024)] == [0.021, 0.024, 0.03, 0.04, 0.054]


def test_g_test_pools_small_bins_and_rejects_impossible_samples():
    assert g_test([10, 0, 0], [1.0, 0.0, 0.0]) == (0.0, 0, 1.0)  # one bin: nothing to test
    assert g_test([3, 1, 46], [0.05, 0.05, 0.9]).df == 1  # the two small bins pooled
    with pytest.raises(AssertionError, match="probability zero"):
        g_test_pvalue(np.array([[1, 1]]), [0.5, 0.5, 0.0, 0.0])
    with pytest.raises(ValueError, match="p must have 2\\*\\*n = 4"):
        g_test_pvalue(np.array([[1, 1]]), [0.5, 0.5])
    with pytest.raises(ValueError, match="tv must be"):
        g_test_power(0.0, 100, 8)


# ------------------------------------------------------------------ strategies


def _structure(tree: Any) -> list[tuple[tuple[int, ...], str]]:
    return [(tuple(x.shape), jnp.dtype(x.dtype).name) for x in jax.tree_util.tree_leaves(tree)]


@settings(max_examples=4, deadline=None)
@given(jst.mps_models(num_bits=3, chi=2, init_noise=(0.2, 1.0)))
def test_mps_models_draw_valid_models_and_parameters(model_params):
    model, params = model_params
    assert isinstance(model, jqgen.MPSBornMachine) and (model.num_bits, model.chi_max) == (3, 2)
    assert model.init_noise in (0.2, 0.6, 1.0)
    assert _structure(params) == _structure(jax.eval_shape(model.init, jax.random.key(0)))
    check_normalized(model, params)


@settings(max_examples=2, deadline=None)
@given(jst.symmetric_mps_models(num_bits=3, chi=2, k=(1, 2), init_noise=0.5, dtypes="float32"))
def test_symmetric_mps_models_draw_constrained_models(model_params):
    model, params = model_params
    assert isinstance(model, jqgen.mps.SymmetricMPSBornMachine) and 1 <= model.target <= 2
    assert _structure(params) == _structure(jax.eval_shape(model.init, jax.random.key(0)))


@settings(max_examples=8, deadline=None)
@given(st.one_of(jst.qcbms(ansatz=jst.ansatze(num_qubits=(2, 4), layers=(1, 3))),
                 jst.conserving_qcbms(ansatz=jst.givens_ansatze(num_qubits=(2, 4))), jst.qcbms(angles="init")))
def test_circuit_strategies_draw_parameters_shaped_by_the_models_own_init(model_params):
    model, params = model_params
    assert isinstance(model, (jqgen.QCBM, jqgen.ConservingQCBM)) and 2 <= model.num_bits <= 4
    assert _structure(params) == _structure(jax.eval_shape(model.init, jax.random.key(0)))
    assert all(float(jnp.max(jnp.abs(a))) <= math.pi for a in jax.tree_util.tree_leaves(params))
    if isinstance(model, jqgen.ConservingQCBM):
        assert 1 <= model.weight <= model.num_bits - 1


@settings(max_examples=20, deadline=None)
@given(jst.binary_datasets(num_bits=(2, 6), num_samples=(1, 10)), jst.cardinality_data(num_bits=(3, 6), k=(1, 2)),
       jst.bars_and_stripes_data(rows=(1, 3), cols=2), jst.independent_bits(marginals=[0.0, 1.0, 0.5]),
       jst.planted_patterns(num_bits=5, num_patterns=2, flip=0.0))
def test_data_strategies_draw_the_structure_asked_for(data, card, bas, ind, planted):
    assert data.dtype == np.uint8 and 2 <= data.shape[1] <= 6 and 1 <= len(data) <= 10 and set(data.flat) <= {0, 1}
    assert len(set(card.sum(axis=1).tolist())) == 1 and 1 <= card.sum(axis=1)[0] <= 2
    assert jqgen.BarsAndStripesSpace(bas.shape[1] // 2, 2).contains(bas).all()
    assert (ind[:, 0] == 0).all() and (ind[:, 1] == 1).all()
    assert len({tuple(r) for r in planted.tolist()}) <= 2


@settings(max_examples=20, deadline=None)
@given(jst.solution_spaces(num_bits=(1, 6)))
def test_solution_spaces_contain_what_they_enumerate(space):
    members = space.enumerate()
    assert 1 <= space.num_bits <= 6 and len(members) == space.size and space.contains(members).all()


@pytest.mark.parametrize("make, message", [
    (lambda: jst.mps_models(num_bits=(3, 2)), "num_bits must be"),
    (lambda: jst.mps_models(chi=0), "chi must be"),
    (lambda: jst.mps_models(dtypes="int32"), "dtypes must be"),
    (lambda: jst.qcbms(engines="gpu"), "engines must be"),
    (lambda: jst.planted_patterns(flip=(0.0, 0.7)), "flip must"),
    (lambda: jst.qcbm_params(object()), "model must have an init"),
])
def test_strategies_validate_their_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ------------------------------------------------------------------ packaging


_IMPORTS = """
import sys
import jqgen, jqgen.cli
bad = [m for m in sys.modules if m.split(".")[0] == "hypothesis" or m.startswith("jqgen.testing")]
assert not bad, bad
sys.modules["hypothesis"] = None  # as if it were not installed
try:
    import jqgen.testing
except ImportError as e:
    print(e)
"""


def test_import_jqgen_imports_neither_jqgen_testing_nor_hypothesis_and_the_error_says_how_to_install_it():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", _IMPORTS], capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr
    assert 'jqgen.testing needs hypothesis' in out.stdout and 'pip install "jqgen[testing]"' in out.stdout


def test_the_docs_page_shows_the_example_test_verbatim():
    example = (ROOT / "tests" / "test_testing_example.py").read_text()
    body = example[example.index("\nimport jax") + 1:]
    assert body.strip() in (ROOT / "docs" / "testing.md").read_text()
    assert len(body.strip().splitlines()) <= 20
