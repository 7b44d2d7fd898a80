"""The cases of issue 18, one test each where the fuzz registry does not already assert
the message (tests/fuzz/_cases.py holds the rest: every call there must be refused)."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jqgen
import jqgen.cli


def test_bond_dims_is_linear_in_n():
    t = time.perf_counter()
    dims = jqgen.mps.bond_dims(10**5, 3)
    # a guard against the quadratic cost, not a timing test: ~0.1 s quiet; was 4 s (Python big
    # integers 2**min(b, n - b))
    assert time.perf_counter() - t < 2.0
    assert dims[:4] == (1, 2, 3, 3) and dims[-2:] == (2, 1)
    for n in (2, 3, 7, 64, 65, 130):
        for chi in (1, 2, 5, 2**40):
            assert jqgen.mps.bond_dims(n, chi) == tuple(min(chi, 2 ** min(b, n - b)) for b in range(n + 1))


def test_counts_key_message_names_the_character():
    with pytest.raises(ValueError, match="'0201'.*character '2' at position 1"):
        jqgen.distributions.counts_to_probs({"0201": 3}, 4)


def test_zero_init_of_sweep_train_says_zero_state():
    data = jqgen.data.bars_and_stripes(2, 2)
    with pytest.raises(ValueError, match="zero state"):
        jqgen.sweep_train(data, key=jax.random.key(0), loops=1, max_bond=2, num_batches=2,
                          init=jqgen.mps.MPS(jnp.zeros((4, 2, 2, 2))))


def test_memory_errors_name_what_fits():
    with pytest.raises(ValueError, match="largest chi_max that fits at n = 2000 is"):
        jqgen.mps.random_mps(jax.random.key(0), 2000, 4096)
    with pytest.raises(ValueError, match="samples fit at once"):
        jqgen.mps.sample(jqgen.mps.random_mps(jax.random.key(0), 4, 2), jax.random.key(1), 10**10)


def test_canonicalize_checks_numpy_and_jax_integers():
    mps = jqgen.mps.random_mps(jax.random.key(0), 4, 2)
    for bad in (np.int64(-1), np.int32(4), jnp.asarray(7)):
        with pytest.raises(ValueError, match=r"in \[0, 4\)"):
            jqgen.mps.canonicalize(mps, bad)
    assert abs(float(jqgen.mps.norm(jqgen.mps.canonicalize(mps, np.int64(2)))) - 1) < 1e-5


def test_cli_truncated_data_exits_3_with_one_line(tmp_path, capsys):
    good = tmp_path / "d.npz"
    np.savez(good, data=jqgen.data.bars_and_stripes(2, 2))
    raw = good.read_bytes()
    trunc = tmp_path / "t.npz"
    trunc.write_bytes(raw[: len(raw) // 2])
    assert jqgen.cli.main(["train", "mps", "--data", str(trunc), "--no-progress", "--out", str(tmp_path / "r")]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a readable .npz" in err and "Traceback" not in err


@pytest.mark.slow  # ~2 s: a right-canonical sweep over 10^6 sites
def test_million_site_random_mps_returns():
    mps = jqgen.mps.random_mps(jax.random.key(0), 10**6, 1)  # an 8 MB state; never returned before
    assert mps.tensors.shape == (10**6, 1, 2, 1)


def test_metrics_refuse_sample_sets_beyond_memory_before_copying():
    space = jqgen.spaces.Cardinality(20, 10)
    huge = np.broadcast_to(np.zeros(20, np.uint8), (10**13, 20))  # a zero-stride view: no memory
    train = np.zeros((1, 20), np.uint8)
    with pytest.raises(ValueError, match=r"metrics of 10000000000001 rows of 20 bits.*rows fit"):
        jqgen.metrics.generalization_metrics(huge, train, space)
    with pytest.raises(ValueError, match=r"rows fit: evaluate a subsample"):
        jqgen.metrics.precision_recall(huge, space)


def test_symmetric_mps_memory_error_names_the_largest_chi_that_fits():
    with pytest.raises(ValueError, match=r"largest chi_max that fits is (\d+)") as err:
        jqgen.mps.SymmetricMPSBornMachine(100, 10, chi_max=64, max_bytes=10**6)
    largest = int(err.value.args[0].rsplit(" ", 1)[1])
    assert largest >= 1
    jqgen.mps.SymmetricMPSBornMachine(100, 10, chi_max=largest, max_bytes=10**6).check_memory()
    with pytest.raises(ValueError):
        jqgen.mps.SymmetricMPSBornMachine(100, 10, chi_max=largest + 1, max_bytes=10**6).check_memory()
