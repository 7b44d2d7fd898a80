"""Data sets: bars-and-stripes generator and binary file loading."""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jqgen.data import bars_and_stripes, load_binary, load_dataset


@given(st.integers(1, 5), st.integers(1, 5))
def test_bars_and_stripes_counts_and_validity(rows, cols):
    x = bars_and_stripes(rows, cols)
    assert x.dtype == np.uint8 and x.shape == (2**rows + 2**cols - 2, rows * cols)
    assert len(np.unique(x, axis=0)) == len(x)
    img = x.reshape(-1, rows, cols)
    stripes = (img == img[:, :, :1]).all(axis=(1, 2))
    bars = (img == img[:, :1, :]).all(axis=(1, 2))
    assert np.all(stripes | bars)


def test_bars_and_stripes_matches_reference_file(shared_data):
    ref = np.load(os.path.join(shared_data, "bars_stripes_4x4.npy")).reshape(30, -1).astype(np.uint8)
    assert {bytes(r) for r in ref} == {bytes(r) for r in bars_and_stripes(4, 4)}


def test_load_binary_validates(tmp_path):
    good = np.random.default_rng(0).integers(0, 2, (5, 3, 3))
    np.save(tmp_path / "a.npy", good)
    assert load_binary(tmp_path / "a.npy", width=9).shape == (5, 9)
    with pytest.raises(ValueError, match="9 bits per sample, expected 8"):
        load_binary(tmp_path / "a.npy", width=8)
    bad = good.copy()
    bad[2, 1, 1] = 3
    np.savez(tmp_path / "b.npz", data=bad, other=good)
    with pytest.raises(ValueError, match="sample 2, bit 4 is 3"):
        load_binary(tmp_path / "b.npz")
    assert load_binary(tmp_path / "b.npz", key="other").shape == (5, 9)
    with pytest.raises(ValueError, match="no array 'nope'"):
        load_binary(tmp_path / "b.npz", key="nope")
    with pytest.raises(FileNotFoundError):
        load_binary(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match=".npy or .npz"):
        load_binary(__file__)


def test_load_dataset_names_and_mnist(shared_data):
    bas = load_dataset("bars-stripes-4x4")
    assert bas.data.shape == (30, 16) and bas.image_shape == (4, 4)
    assert bas.ideal_nll == pytest.approx(np.log(30))
    mnist = load_dataset(os.path.join(shared_data, "mnist28_binary_1k.npz"))
    assert mnist.data.shape == (1000, 784) and mnist.test.shape == (1000, 784)
    assert mnist.image_shape == (28, 28) and mnist.ideal_nll == pytest.approx(np.log(1000))
