"""QC-AAN: a generative model over bits (a QCBM, an MPS, classical baselines) as the learned
prior of an adversarial network for images (Rudolph et al., PRX 12, 031010 (2022)), built on
flax (nnx) and Optax and trained by :func:`jqgen.training.run`.
"""

from ._model import BINARIZE, AssociativeAdversarialNetwork
from ._networks import NetworkSizes
from ._priors import make_prior, prior_from_config
from ._train import AdversarialState, adversarial, train_adversarial

__all__ = [
    "AdversarialState",
    "AssociativeAdversarialNetwork",
    "BINARIZE",
    "NetworkSizes",
    "adversarial",
    "make_prior",
    "prior_from_config",
    "train_adversarial",
]
