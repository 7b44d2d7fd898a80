"""GPU probe: sweep_train with svd="gram" at D_max = 100 on MNIST-1k, 5 loops of each of the
capacity and class-A settings; per-loop wall time (compile included in the loop that
compiles). Results: results/sweep_gram_h100.json.

    python benchmarks/sweep_gram_probe.py OUT.json   # reads .gpu_data/ or ../shared/data
    python benchmarks/sweep_gram_probe.py --quick    # smoke test on any device: D_max 16, 2 loops, 200 images

The full probe is meant for a GPU; without one it says so and exits 0 (pass ``--force`` to
run it on the CPU anyway). ``--quick`` runs the same code path (``svd="gram"``, both
settings) at a small size on whatever device there is and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import numpy as np

import jqgen

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SETTINGS = (("capacity", dict(lr=5e-3, descent_steps=1, num_batches=1, cutoff=0.0, normalized_grad=True,
                              lr_decay_on_rise=0.2)),
            ("class_A", dict(lr=1e-3, descent_steps=10, num_batches=20, cutoff=1e-7)))
FULL = {"max_bond": 100, "loops": 5, "num_data": 1000}
QUICK = {"max_bond": 16, "loops": 2, "num_data": 200}


def data_path() -> str:
    for p in (os.path.join(ROOT, ".gpu_data", "mnist28_binary_1k.npz"), ".gpu_data/mnist28_binary_1k.npz",
              os.path.join(ROOT, "..", "shared", "data", "mnist28_binary_1k.npz"),
              "../shared/data/mnist28_binary_1k.npz"):
        if os.path.exists(p):
            return p
    raise SystemExit("sweep_gram_probe: mnist28_binary_1k.npz not found in .gpu_data/ or ../shared/data/")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", nargs="?", default=None, help="JSON file to write (required for the full probe)")
    p.add_argument("--quick", action="store_true", help="smoke test on any device: D_max 16, 2 loops, 200 images")
    p.add_argument("--force", action="store_true", help="run the full probe without a GPU")
    args = p.parse_args(argv)
    backend = jax.default_backend()
    if not args.quick and backend != "gpu" and not args.force:
        print(f"sweep_gram_probe: skipped: the full probe (D_max 100, 2 x 5 loops) needs a GPU and the JAX backend "
              f"is {backend!r} (use --quick for a small run here, or --force)")
        return 0
    if not args.quick and not args.out:
        p.error("OUT.json is required for the full probe")
    cfg = QUICK if args.quick else FULL
    data = np.load(data_path())["data"].reshape(1000, -1).astype(np.uint8)[: cfg["num_data"]]
    out = {"device": str(jax.devices()[0]), "jax": jax.__version__, "quick": args.quick, "runs": []}
    for name, kw in SETTINGS:
        rows = []
        t0 = time.perf_counter()

        def cb(loop, mps, state, h, rows=rows, name=name):
            rows.append({"loop": loop, "max_bond": int(h["max_bond"][-1]), "seconds": round(float(h["seconds"][-1]), 3),
                         "train_nll": round(float(h["train_nll"][-1]), 3)})
            print(name, rows[-1], file=sys.stderr, flush=True)

        jqgen.sweep_train(data, max_bond=cfg["max_bond"], loops=cfg["loops"], key=jax.random.key(0), progress=False,
                          callback=cb, svd="gram", **kw)
        out["runs"].append({"settings": name, "svd": "gram", "loops": rows,
                            "wall_s": round(time.perf_counter() - t0, 2)})
    text = json.dumps(out)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
