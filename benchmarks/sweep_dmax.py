"""Seconds per two-site sweep loop at large bond dimension (issue 20's GPU figures: MNIST-1k at
D_max = 100, 300, 1000; Han et al.'s D_max = 1300 took 2,000-20,000 s per sweep on five GPUs).

Each D_max starts from a random MPS already at that bond dimension (``init_bond = D_max``,
cutoff 0: the bonds stay there, so every loop is a loop at D_max, bounded by the rank the
1,000 images allow near the middle), with Han et al.'s capacity settings (full batch, one
descent step, lr 5e-3, normalized gradients). Two loops per D_max: the first includes
compilation, the second is the steady figure. The next D_max is skipped when the
extrapolation of the last steady loop ((D'/D)^p, p measured between the last two D_max,
else 3) would exceed ``--budget`` seconds.

    python benchmarks/sweep_dmax.py --json benchmarks/results/sweep_dmax_<device>.json   # on a GPU
    python benchmarks/sweep_dmax.py --quick    # CPU smoke test: 100 images, D_max = 4, 8
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _env  # noqa: E402

import jqgen  # noqa: E402

DEFAULT_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist28_binary_1k.npz")


def one(data: np.ndarray, d_max: int, dtype: str) -> dict:
    t0 = time.perf_counter()
    res = jqgen.sweep_train(data, max_bond=d_max, loops=2, key=jax.random.key(0), lr=5e-3, descent_steps=1,
                            num_batches=1, cutoff=0.0, init_bond=d_max, normalized_grad=True,
                            dtype=getattr(jnp, dtype), progress=False)
    seconds = [float(s) for s in res.history["seconds"]]
    return {"d_max": d_max, "loop_seconds": seconds, "steady_loop_s": seconds[-1],
            "first_loop_s": seconds[0], "train_nll": [float(x) for x in res.history["train_nll"]],
            "max_bond_reached": int(np.max(res.bond_dims)), "wall_s": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="?", default=DEFAULT_DATA)
    ap.add_argument("--d-max", type=int, nargs="*", default=[100, 300, 1000])
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--budget", type=float, default=400.0, help="seconds a skipped D_max would need at most")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    with np.load(args.data) as z:
        data = np.asarray(z["data"], np.uint8).reshape(len(z["data"]), -1)
    dims = args.d_max
    if args.quick:
        data, dims = data[:100], [4, 8]
    out = {"benchmark": "sweep_dmax", "environment": _env.environment(), "images": int(data.shape[0]),
           "sites": int(data.shape[1]), "dtype": args.dtype, "runs": [], "skipped": []}
    last = None
    for d in dims:
        runs = out["runs"]
        # the growth exponent measured between the last two D_max (else 3: a dense SVD's cost)
        power = (np.log(runs[-1]["steady_loop_s"] / runs[-2]["steady_loop_s"]) /
                 np.log(runs[-1]["d_max"] / runs[-2]["d_max"])) if len(runs) >= 2 else 3.0
        if last is not None and last["steady_loop_s"] * (d / last["d_max"]) ** power > args.budget:
            guess = last["steady_loop_s"] * (d / last["d_max"]) ** power
            out["skipped"].append({"d_max": d, "why": f"extrapolated {guess:.0f} s (exponent {power:.2f}) > --budget "
                                   f"{args.budget:.0f} s"})
            continue
        last = one(data, d, args.dtype)
        out["runs"].append(last)
        print(json.dumps(last), flush=True)
    text = json.dumps(out, indent=1)
    print(text)
    _env.write_text(args.json, text)


if __name__ == "__main__":
    main()
