"""QC-AAN: a generative model over bits (a QCBM, an MPS, classical baselines) as the learned
prior of an adversarial network for images (Rudolph et al., PRX 12, 031010 (2022)), built on
flax (nnx) and Optax and trained by :func:`jqgen.training.run`.
"""
