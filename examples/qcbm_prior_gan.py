"""A QCBM as the prior of a GAN (QC-AAN): 8 qubits read out in the z and x bases give the
generator a 16-bit latent vector; the QCBM learns the discriminator's binarized hidden layer.

    python examples/qcbm_prior_gan.py           # 3,000 steps on scikit-learn's 8x8 digits
    python examples/qcbm_prior_gan.py --small   # a quick run
"""

import argparse

import jax

from jqgen.adversarial import (
    AssociativeAdversarialNetwork, evaluate_images, load_images, make_prior, train_adversarial, train_classifier,
)
from jqgen.plots import plot_sample_grid

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="4 qubits, 100 steps, a classifier of 150 steps")
small = parser.parse_args().small
qubits, steps, judge_steps = (4, 100, 150) if small else (8, 3000, 400)

data = load_images("digits")  # 1,797 images, bundled with scikit-learn
judge = train_classifier(data, jax.random.key(0), steps=judge_steps)  # scores the samples; independent of the GAN
prior = make_prior("qcbm", 2 * qubits, num_qubits=qubits, bases=2)
net = AssociativeAdversarialNetwork(prior, image_shape=(8, 8))
result = train_adversarial(net, net.init(jax.random.key(1)), data.train_images, key=jax.random.key(2),
                           steps=steps, prior_every=5, progress=False)
images = net.generate(result.params, jax.random.key(3), 1000)
scores = evaluate_images(judge, images, data.test_images)
print(f"classifier accuracy {judge.test_accuracy:.3f}; generated digits: Inception-style score "
      f"{scores['inception_score']:.2f}, Frechet distance {scores['frechet_distance']:.2f}, "
      f"class coverage {scores['class_coverage']:.0%}")
print("wrote", plot_sample_grid(images[:50], "qcbm_prior_samples.png", title="QCBM prior (z, x readout)"))
