"""Which weight-k strings a Givens circuit can reach: ``full_support_layers`` against a
breadth-first search of the subspace, and the CLI defaults give every valid string a
nonzero probability."""

import numpy as np
import pytest

import jax
from jqgen.cli._main import build_parser
from jqgen.cli.geo import _generator
from jqgen.cli.train_qcbm import _model
from jqgen.cli._args import load_data
from jqgen.qcbm import ConservingQCBM, Givens, full_support_layers
from jqgen.qcbm import _subspace as S


def _reached(a: Givens) -> np.ndarray:
    """Strings of the subspace some choice of gates (each on or off) takes the start state to."""
    partners = S.partners(a.num_qubits, a.weight, a.edges)
    r = np.zeros(partners.shape[1], bool)
    r[a.start_index()] = True
    for _ in range(a.layers):
        for p in partners:
            r |= r[p]
    return r


@pytest.mark.parametrize("n, k, topology, filled", [
    (8, 3, "brick", None), (10, 4, "brick", None), (12, 6, "brick", None), (9, 2, "brick", (0, 1)),
    (10, 3, "staircase", None), (9, 5, "staircase", (0, 2, 3, 4, 5)), (7, 3, "all", None), (6, 0, "brick", None)])
def test_full_support_layers_is_the_fewest_that_reach_every_string(n, k, topology, filled):
    need = full_support_layers(n, k, topology, filled)
    assert _reached(Givens(n, k, need, topology=topology, filled=filled)).all()
    assert Givens(n, k, need, topology=topology, filled=filled).full_support
    if need > 1:
        short = Givens(n, k, need - 1, topology=topology, filled=filled)
        assert not _reached(short).all() and not short.full_support


def test_too_few_layers_give_valid_strings_probability_exactly_zero():
    model = ConservingQCBM(Givens(8, 3, 2), dtype=np.float32)
    p = np.asarray(model.subspace_probs(model.init(jax.random.key(0))))
    assert np.sum(p == 0) == 2 and bool(np.all(model.in_support(S.basis_bits(8, 3))))


def _all_valid_strings_have_positive_probability(model):
    p = np.asarray(model.subspace_probs(model.init(jax.random.key(1))), np.float64)
    assert p.shape == (56,) and np.all(p > 0) and abs(p.sum() - 1) < 1e-5


def test_geo_cli_default_conserving_qcbm_reaches_every_valid_string():
    args = build_parser().parse_args(["geo", "--generator", "qcbm-conserving", "--k", "3"])
    model = _generator(args, 8)
    assert model.ansatz.layers == full_support_layers(8, 3) == 3 and model.ansatz.full_support
    _all_valid_strings_have_positive_probability(model)


def test_train_qcbm_cardinality_default_reaches_every_valid_string(capsys):
    args = build_parser().parse_args(["train", "qcbm", "--cardinality", "3", "--data", "cardinality-8-3-0.4"])
    model = _model(args, load_data(args.data))
    assert args.layers == 10 and model.ansatz.full_support
    _all_valid_strings_have_positive_probability(model)
    args = build_parser().parse_args(["train", "qcbm", "--cardinality", "3", "--data", "cardinality-8-3-0.4",
                                      "--layers", "2"])
    assert not _model(args, load_data(args.data)).ansatz.full_support
    assert "3 reach them all" in capsys.readouterr().out
