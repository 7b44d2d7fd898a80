"""QC-AAN: a generative model over bits (a QCBM, an MPS, classical baselines) as the learned
prior of an adversarial network for images (Rudolph et al., PRX 12, 031010 (2022)), built on
flax (nnx) and Optax and trained by :func:`jqgen.training.run`.
"""

try:
    import flax  # noqa: F401
except ImportError as e:  # pragma: no cover - the adversarial extra is not installed
    raise ImportError('jqgen.adversarial needs flax (and scikit-learn for the bundled digits): '
                      'pip install "jqgen[adversarial]"') from e

from ._model import BINARIZE, AssociativeAdversarialNetwork
from ._networks import NetworkSizes
from ._classifier import Classifier, ClassifierConfig, TrainedClassifier, classify, train_classifier
from ._data import ImageData, check_images, load_digits8, load_images, load_mnist28
from ._scores import class_coverage, class_histogram, evaluate_images, frechet_distance, inception_score
from ._classical_priors import BernoulliPrior, GaussianPrior, MPSPrior, UniformPrior
from ._device_prior import sample_on_device
from ._priors import PRIOR_NAMES, Prior, make_prior, prior_from_config
from ._qcbm_prior import QCBMPrior
from ._readout import BASES as READOUT_BASES
from ._train import AdversarialState, adversarial, train_adversarial

__all__ = [
    "AdversarialState",
    "AssociativeAdversarialNetwork",
    "BINARIZE",
    "BernoulliPrior",
    "Classifier",
    "ClassifierConfig",
    "GaussianPrior",
    "ImageData",
    "MPSPrior",
    "NetworkSizes",
    "PRIOR_NAMES",
    "Prior",
    "QCBMPrior",
    "READOUT_BASES",
    "TrainedClassifier",
    "UniformPrior",
    "adversarial",
    "check_images",
    "class_coverage",
    "class_histogram",
    "classify",
    "evaluate_images",
    "frechet_distance",
    "inception_score",
    "load_digits8",
    "load_images",
    "load_mnist28",
    "make_prior",
    "prior_from_config",
    "sample_on_device",
    "train_adversarial",
    "train_classifier",
]
