"""Data loading, the evaluation classifier, the image scores and the sample-grid plots of
jqgen.adversarial (model-independent: no GAN is trained here)."""

import json
from pathlib import Path

import jax
import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from jqgen.adversarial._classifier import classify, train_classifier
from jqgen.adversarial._data import ImageData, check_images, load_digits8, load_images, load_mnist28
from jqgen.adversarial._scores import (class_coverage, class_histogram, evaluate_images, frechet_distance,
                                       inception_score)
from jqgen.plots import plot_sample_grid, plot_sample_grids
from jqgen.testing import compile_log


def _shared_data() -> Path:
    for p in (Path(__file__).resolve().parents[2] / ".." / "shared" / "data", Path("/work/shared/data")):
        if (p / "mnist28_binary_1k.npz").is_file():
            return p
    pytest.skip("the shared MNIST files (../shared/data) are not present")


@pytest.fixture(scope="module")
def digits():
    return load_digits8()


@pytest.fixture(scope="module")
def trained(digits):
    with jax.numpy_dtype_promotion("strict"):  # as the tests run (conftest): the compiled training is reused
        return train_classifier(digits, jax.random.key(0))


# ---- data -----------------------------------------------------------------------------------

def test_digits8_split_is_fixed_disjoint_and_scaled(digits):
    assert digits.train_images.shape == (1437, 8, 8) and digits.test_images.shape == (360, 8, 8)
    assert digits.train_images.dtype == np.float32 and digits.train_labels.dtype == np.int32
    assert 0.0 <= digits.train_images.min() and digits.train_images.max() == 1.0
    again = load_digits8()
    np.testing.assert_array_equal(again.test_images, digits.test_images)
    train_rows = {r.tobytes() for r in digits.train_images.reshape(len(digits.train_images), -1)}
    # the split is of indices (sklearn's digits hold a few duplicate images): nearly all test rows are unseen
    unseen = sum(r.tobytes() not in train_rows for r in digits.test_images.reshape(360, -1))
    assert unseen >= 350
    assert set(np.unique(digits.test_labels)) == set(range(10))
    assert load_images("digits").name == "digits8"


def test_load_mnist28_from_folder_and_file():
    folder = _shared_data()
    data = load_mnist28(folder)
    assert data.train_images.shape == (1000, 28, 28) and data.test_images.shape == (1000, 28, 28)
    assert data.train_images.dtype == np.float32 and set(np.unique(data.train_images)) == {0.0, 1.0}
    assert np.bincount(data.train_labels).tolist() == [100] * 10
    same = load_mnist28(folder / "mnist28_binary_1k.npz")
    np.testing.assert_array_equal(same.test_images, data.test_images)
    np.testing.assert_array_equal(load_images(str(folder)).test_labels, data.test_labels)


def test_load_images_mnist28_looks_in_shared_data_beside_the_working_directory(tmp_path, monkeypatch):
    folder = _shared_data().resolve()
    monkeypatch.chdir(folder.parent)  # .../shared: its ../shared/data is the folder
    assert load_images("mnist28").train_images.shape == (1000, 28, 28)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="give the folder"):
        load_images("mnist28")


def test_load_mnist28_names_the_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_mnist28(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="mnist28_binary_1k.npz"):
        load_mnist28(tmp_path)
    np.savez(tmp_path / "mnist28_binary_1k.npz", data=np.zeros((2, 784), np.uint8))
    np.savez(tmp_path / "mnist28_binary_1k_labels.npz", labels=np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="data_test"):
        load_mnist28(tmp_path)
    with pytest.raises(FileNotFoundError, match="neither"):
        load_images("no-such-set")


@pytest.mark.parametrize("bad, match", [
    (np.full((2, 4, 4), 1.5), "max 1.5"),
    (np.full((2, 4, 4), -0.25), "min -0.25"),
    (np.array([[[np.nan, 0.0]]]), "non-finite"),
    (np.zeros((4, 4)), "shape"),
    (np.zeros((1, 4, 4, 1)), "shape"),
    (np.zeros((2, 4, 4), np.uint8), "float"),
])
def test_check_images_rejects(bad, match):
    with pytest.raises(ValueError, match=match):
        check_images(bad)


# ---- scores ---------------------------------------------------------------------------------

def _scipy_frechet(a, b):
    """Independent reference: the usual FID formula with scipy.linalg.sqrtm of S_a S_b."""
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = scipy.linalg.sqrtm(s_a @ s_b).real
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s_a + s_b - 2 * covmean))


def test_frechet_distance_is_zero_on_identical_sets():
    a = np.random.default_rng(1).normal(size=(300, 16))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), dim=st.integers(1, 12), shift=st.floats(0.0, 3.0))
def test_frechet_distance_agrees_with_scipy_sqrtm(seed, dim, shift):
    rng = np.random.default_rng(seed)
    mix_a, mix_b = rng.normal(size=(dim, dim)), rng.normal(size=(dim, dim))
    a = rng.normal(size=(200, dim)) @ mix_a
    b = rng.normal(size=(150, dim)) @ mix_b + shift
    ref = _scipy_frechet(a, b)
    assert frechet_distance(a, b) == pytest.approx(ref, rel=1e-6, abs=1e-6 * (1 + abs(ref)))
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-8, abs=1e-8)


def test_frechet_distance_degenerate_and_bad_inputs():
    assert np.isnan(frechet_distance(np.zeros((1, 3)), np.zeros((5, 3))))
    with pytest.raises(ValueError, match="features per row"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="non-finite"):
        frechet_distance(np.full((5, 3), np.inf), np.zeros((5, 3)))


@pytest.mark.parametrize("num_classes", [2, 10])
def test_inception_score_extremes(num_classes):
    confident = np.eye(num_classes)[np.arange(50 * num_classes) % num_classes]
    assert inception_score(confident) == pytest.approx(num_classes, rel=1e-12)
    one_class = np.zeros((40, num_classes))
    one_class[:, 0] = 1
    assert inception_score(one_class) == 1.0
    assert inception_score(np.full((7, num_classes), 1 / num_classes)) == pytest.approx(1.0)
    assert np.isnan(inception_score(np.zeros((0, num_classes))))


def test_inception_score_matches_direct_formula():
    p = np.random.default_rng(2).dirichlet(np.full(10, 0.3), size=200)
    m = p.mean(0)
    expected = np.exp(np.mean(np.sum(p * (np.log(p) - np.log(m)), axis=1)))
    assert inception_score(p) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="sum to 1"):
        inception_score(p * 2)


def test_class_coverage():
    assert class_coverage(np.full(500, 7)) == 0.1
    assert class_coverage(np.eye(10)[np.arange(500) % 10]) == 1.0
    noisy = np.r_[np.full(990, 3), np.arange(10)]  # 1 stray per class: below 2%, not coverage
    assert class_coverage(noisy) == 0.1
    assert class_coverage(noisy, min_fraction=0.001) == 1.0
    assert np.isnan(class_coverage(np.zeros(0, int)))
    assert class_histogram(np.full(4, 2), num_classes=3) == [0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="0..9"):
        class_coverage(np.array([10]))


# ---- classifier -----------------------------------------------------------------------------

def test_classifier_digits8_accuracy_and_determinism(digits, trained):
    assert trained.test_accuracy >= 0.9
    with compile_log() as compiled:  # same configuration and shapes: nothing recompiles
        again = train_classifier(digits, jax.random.key(0))
    assert compiled == []
    assert again.test_accuracy == trained.test_accuracy
    for x, y in zip(jax.tree.leaves(trained.params), jax.tree.leaves(again.params)):
        np.testing.assert_array_equal(x, y)
    other = train_classifier(digits, jax.random.key(1))
    assert not np.array_equal(jax.tree.leaves(other.params)[0], jax.tree.leaves(trained.params)[0])
    probs, feats = classify(trained, digits.test_images[:37])  # a padded chunk agrees with a full one
    full_probs, _ = classify(trained, digits.test_images)
    np.testing.assert_allclose(probs, full_probs[:37], rtol=1e-5, atol=1e-6)
    assert probs.shape == (37, 10) and feats.shape == (37, 64)


def test_train_classifier_rejects_bad_data(digits):
    with pytest.raises(ValueError, match="test_labels"):
        train_classifier(digits._replace(test_labels=digits.test_labels[:5]), jax.random.key(0))
    with pytest.raises(ValueError, match="0..9"):
        train_classifier(digits._replace(train_labels=digits.train_labels + 1), jax.random.key(0))
    with pytest.raises(ValueError, match="steps"):
        train_classifier(digits, jax.random.key(0), steps=0)


def test_classifier_rejects_wrong_image_size(trained):
    with pytest.raises(ValueError, match="classifier takes"):
        classify(trained, np.zeros((2, 28, 28), np.float32))


def test_evaluate_images_real_vs_collapsed(digits, trained):
    real = evaluate_images(trained, digits.test_images, digits.train_images)
    json.dumps(real)
    assert set(real) == {"inception_score", "frechet_distance", "class_coverage", "class_histogram"}
    assert real["class_coverage"] == 1.0 and real["inception_score"] > 7
    zeros = digits.train_images[digits.train_labels == 0][:100]
    collapsed = evaluate_images(trained, zeros, digits.train_images)
    assert collapsed["class_coverage"] == pytest.approx(0.1)
    assert collapsed["inception_score"] < 1.5
    assert collapsed["frechet_distance"] > 3 * real["frechet_distance"]
    noise = np.random.default_rng(0).random((100, 8, 8)).astype(np.float32)
    assert evaluate_images(trained, noise, digits.train_images)["frechet_distance"] > real["frechet_distance"]
    with pytest.raises(ValueError, match="generated"):
        evaluate_images(trained, digits.test_images * 2, digits.train_images)


# ---- plots ----------------------------------------------------------------------------------

def test_plot_sample_grids_write_pngs(tmp_path, digits):
    p = plot_sample_grid(digits.test_images[:30], tmp_path / "grid.png", title="digits", columns=10)
    assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    mnist_like = (np.random.default_rng(0).random((12, 28, 28)) > 0.5).astype(np.float32)
    p = plot_sample_grids({"QCBM": digits.test_images[:20], "classical": mnist_like}, tmp_path / "grids.png",
                          columns=5)
    assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="non-empty"):
        plot_sample_grids({}, tmp_path / "none.png")
    with pytest.raises(ValueError, match="classical"):
        plot_sample_grids({"classical": mnist_like * 3}, tmp_path / "bad.png")


def test_image_data_is_a_named_tuple(digits):
    assert isinstance(digits, ImageData) and digits.image_shape == (8, 8)
