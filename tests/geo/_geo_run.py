"""A GEO run in a subprocess for the kill-and-resume test: ``python _geo_run.py JOURNAL OUT.npz``."""

import sys

import jax
import numpy as np

import jqgen
from jqgen.geo import BinaryPortfolio, GeoSettings, geo


def problem() -> BinaryPortfolio:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(12, 12))
    return BinaryPortfolio(rng.normal(0.01, 0.01, 12), a @ a.T / 1200 + np.eye(12) * 1e-3, k=4, q=1.0)


SETTINGS = GeoSettings(batch_size=20, seed_size=30, train_steps=30, train_size=64, temperature=0.5, draws=8)


def run(journal, budget=150, seed=0, callback=None):
    model = jqgen.mps.SymmetricMPSBornMachine(12, 4, 2)
    return geo(problem(), model, budget, key=jax.random.key(seed), settings=SETTINGS, journal_path=journal,
               progress=False, callback=callback)


if __name__ == "__main__":
    res = run(sys.argv[1])
    np.savez(sys.argv[2], bits=res.bits, costs=res.costs, best=res.best_cost)
