"""Handwritten-digit images for the adversarial network and its evaluation.

Two data sets, both without downloads:

* ``"digits"``: scikit-learn's bundled 8x8 digits (UCI optical recognition of handwritten
  digits, 1,797 images, grey levels 0..16), scaled to [0, 1]. Needs the ``adversarial``
  extra (``pip install jqgen[adversarial]``).
* ``"mnist28"``: the 1,000 + 1,000 binarized 28x28 MNIST images of Han et al., PRX 8, 031012
  (2018), read from ``mnist28_binary_1k.npz`` and ``mnist28_binary_1k_labels.npz`` (the
  project's ``../shared/data``, or a folder the user gives).

Images are float32 ``[N, H, W]`` with values in [0, 1]; labels are int32 digits 0..9.

Examples:
    >>> import numpy as np
    >>> from jqgen.adversarial._data import check_images
    >>> check_images(np.zeros((2, 8, 8), np.float32)).shape
    (2, 8, 8)
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = ["ImageData", "check_images", "load_digits8", "load_images", "load_mnist28"]

MNIST_FILE = "mnist28_binary_1k.npz"
MNIST_LABELS_FILE = "mnist28_binary_1k_labels.npz"
#: Share of the 1,797 8x8 digits held out as the test set (360 images).
DIGITS_TEST_FRACTION = 0.2
#: Seed of the fixed permutation that splits the 8x8 digits (``np.random.default_rng(0)``).
DIGITS_SPLIT_SEED = 0


class ImageData(NamedTuple):
    """A labelled image data set with a held-out test split.

    Attributes:
        train_images: float32 ``[N, H, W]`` in [0, 1].
        train_labels: int32 ``[N]`` digits.
        test_images: float32 ``[M, H, W]`` in [0, 1].
        test_labels: int32 ``[M]``.
        name: ``"digits8"`` or ``"mnist28"``.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    name: str

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(H, W)`` of the images."""
        return tuple(int(d) for d in self.train_images.shape[1:])  # type: ignore[return-value]


def check_images(images: Any, name: str = "images") -> np.ndarray:
    """Validates a stack of images ``[N, H, W]`` with finite float values in [0, 1].

    Args:
        images: array-like of float values.
        name: the argument's name, for messages.

    Returns:
        ``images`` as a float32 NumPy array.

    Raises:
        ValueError: not a float array, not rank 3, empty, or values outside [0, 1] or
            non-finite (the message gives the offending minimum and maximum).

    Examples:
        >>> import numpy as np
        >>> check_images(np.full((1, 2, 2), 1.5))
        Traceback (most recent call last):
        ...
        ValueError: images must have values in [0, 1]; got min 1.5, max 1.5
    """
    arr = np.asarray(images)
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{name} must be a float array with values in [0, 1], got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.size == 0:
        raise ValueError(f"{name} must have shape [N, H, W] with N, H, W >= 1, got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not finite.all():
        raise ValueError(f"{name} has {int((~finite).sum())} non-finite values (NaN or inf); "
                         f"values must be finite, in [0, 1]")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{name} must have values in [0, 1]; got min {lo:.6g}, max {hi:.6g}")
    return arr.astype(np.float32, copy=False)


def load_digits8() -> ImageData:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download), scaled to [0, 1].

    The split is deterministic: a fixed permutation (``np.random.default_rng(0)``) holds out
    20% (360 images) as the test set; the other 1,437 are the training set.

    Returns:
        :class:`ImageData` with float32 images ``[N, 8, 8]`` (grey level / 16) and int32 labels.

    Raises:
        ImportError: scikit-learn is not installed (``pip install jqgen[adversarial]``).

    Examples:
        >>> data = load_digits8()
        >>> data.train_images.shape, data.test_images.shape, data.name
        ((1437, 8, 8), (360, 8, 8), 'digits8')
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # pragma: no cover - the test environment has scikit-learn
        raise ImportError("load_digits8 needs scikit-learn's bundled digits: pip install jqgen[adversarial]") from err
    bunch = load_digits()
    images = (np.asarray(bunch.images, np.float64) / 16.0).astype(np.float32)
    labels = np.asarray(bunch.target, np.int32)
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(images.shape[0])
    num_test = math.ceil(DIGITS_TEST_FRACTION * images.shape[0])
    test, train = order[:num_test], order[num_test:]
    return ImageData(images[train], labels[train], images[test], labels[test], "digits8")


def _mnist_files(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    p = Path(path)
    if p.is_dir():
        data, labels = p / MNIST_FILE, p / MNIST_LABELS_FILE
    elif p.suffix == ".npz":
        data, labels = p, p.parent / MNIST_LABELS_FILE
    else:
        raise FileNotFoundError(f"load_mnist28: path {str(path)!r} is neither a folder holding {MNIST_FILE} "
                                f"nor an existing .npz file")
    for f in (data, labels):
        if not f.is_file():
            raise FileNotFoundError(f"load_mnist28: {str(f)!r} not found (path {str(path)!r} must be a folder "
                                    f"holding {MNIST_FILE} and {MNIST_LABELS_FILE}, or the data .npz itself "
                                    f"with the labels file beside it)")
    return data, labels


def _mnist_split(images: np.ndarray, labels: np.ndarray, source: Path, keys: str) -> tuple[np.ndarray, np.ndarray]:
    if images.ndim != 2 or images.shape[1] != 28 * 28:
        raise ValueError(f"load_mnist28: {keys} in {str(source)!r} must have shape [N, 784], got {images.shape}")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"load_mnist28: {images.shape[0]} images but labels of shape {labels.shape} ({keys})")
    if not np.all((images == 0) | (images == 1)):
        raise ValueError(f"load_mnist28: {keys} in {str(source)!r} must be binary (0/1)")
    return images.reshape(-1, 28, 28).astype(np.float32), labels.astype(np.int32)


def _open_npz(file: Path) -> Any:
    """``np.load(file)`` of an ``.npz`` archive; ``ValueError`` naming the file when it is not one
    (cut short, overwritten, another format)."""
    if not zipfile.is_zipfile(file):  # np.load would leave the file open on a cut archive
        raise ValueError(f"load_mnist28: {str(file)!r} is not a readable .npz archive (not a complete zip file)")
    try:
        z = np.load(file)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as err:
        raise ValueError(f"load_mnist28: {str(file)!r} is not a readable .npz archive ({err})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(f"load_mnist28: {str(file)!r} is a single array, not an .npz archive with named keys")
    return z


def load_mnist28(path: str | os.PathLike[str]) -> ImageData:
    """The binarized 28x28 MNIST subset of Han et al. (2018): 1,000 training and 1,000 test images.

    Args:
        path: a folder holding ``mnist28_binary_1k.npz`` (keys ``data``, ``data_test``,
            ``idx``, ``idx_test``) and ``mnist28_binary_1k_labels.npz`` (keys ``labels``,
            ``labels_test``), or the path of the data ``.npz`` itself (labels file beside it).

    Returns:
        :class:`ImageData` with float32 images ``[N, 28, 28]`` in {0, 1} and int32 labels,
        the file's own training and test sets.

    Raises:
        FileNotFoundError: a file is missing (the message names the path).
        ValueError: a file that is not a readable ``.npz`` archive, lacks a key or has the wrong shape.

    Examples:
        >>> load_mnist28("/nonexistent")
        Traceback (most recent call last):
        ...
        FileNotFoundError: load_mnist28: path '/nonexistent' is neither a folder holding mnist28_binary_1k.npz nor an existing .npz file
    """
    data_file, labels_file = _mnist_files(path)
    with _open_npz(data_file) as d, _open_npz(labels_file) as lab:
        missing = [f"{k} in {f.name}" for f, z, ks in ((data_file, d, ("data", "data_test")),
                                                      (labels_file, lab, ("labels", "labels_test")))
                   for k in ks if k not in z.files]
        if missing:
            raise ValueError(f"load_mnist28: missing keys {missing} (path {str(path)!r})")
        train = _mnist_split(np.asarray(d["data"]), np.asarray(lab["labels"]), data_file, "data/labels")
        test = _mnist_split(np.asarray(d["data_test"]), np.asarray(lab["labels_test"]), data_file,
                            "data_test/labels_test")
    return ImageData(train[0], train[1], test[0], test[1], "mnist28")


def load_images(name_or_path: str | os.PathLike[str] = "digits") -> ImageData:
    """A data set by name or path.

    Args:
        name_or_path: ``"digits"`` (scikit-learn's 8x8 digits, :func:`load_digits8`),
            ``"mnist28"`` (the MNIST files in ``../shared/data`` relative to the working
            directory) or a path for :func:`load_mnist28`.

    Returns:
        :class:`ImageData`.

    Raises:
        FileNotFoundError: ``"mnist28"`` without ``../shared/data``, or a path that does not exist.
        ValueError: ``name_or_path`` neither a str nor a path, or files :func:`load_mnist28` refuses.

    Examples:
        >>> load_images("digits").image_shape
        (8, 8)
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ValueError(f"name_or_path must be 'digits', 'mnist28' or a path (str or os.PathLike), got "
                         f"{name_or_path!r} ({type(name_or_path).__name__})")
    if isinstance(name_or_path, str) and name_or_path in ("digits", "digits8"):
        return load_digits8()
    if isinstance(name_or_path, str) and name_or_path == "mnist28":
        default = Path.cwd().parent / "shared" / "data"
        if not (default / MNIST_FILE).is_file():
            raise FileNotFoundError(f"load_images('mnist28'): {MNIST_FILE} not found in {str(default)!r}; "
                                    f"give the folder holding {MNIST_FILE} and {MNIST_LABELS_FILE} as the path")
        return load_mnist28(default)
    if isinstance(name_or_path, (str, os.PathLike)) and Path(name_or_path).exists():
        return load_mnist28(name_or_path)
    raise FileNotFoundError(f"load_images: {str(name_or_path)!r} is neither 'digits', 'mnist28' nor an existing "
                            f"path to the MNIST files")
