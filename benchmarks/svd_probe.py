"""Times the factorizations a sweep bond update can use (SVD algorithms, Gram eigh, matmul) on the default device.

Milliseconds per call (median, float32, ``block_until_ready``) for square matrices of the
sizes a two-site bond update factorizes (2 D_max at D_max = 8, 55, 73, 100). Results:
results/svd_probe_h100.json.

    python benchmarks/svd_probe.py [--out PATH]   # prints the JSON
    python benchmarks/svd_probe.py --quick        # smoke test: sizes 16 and 32, 5 calls each
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
from jax import lax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _env import write_text  # noqa: E402

FULL = {"sizes": (16, 110, 146, 200), "repeats": 30}
QUICK = {"sizes": (16, 32), "repeats": 5}


def tm(f, a, r: int = 30) -> float:
    f = jax.jit(f)
    jax.block_until_ready(f(a))
    ts = []
    for _ in range(r):
        t0 = time.perf_counter()
        jax.block_until_ready(f(a))
        ts.append(time.perf_counter() - t0)
    return round(float(np.median(ts)) * 1e3, 3)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke test: sizes 16 and 32, 5 calls each")
    p.add_argument("--out", default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    r = cfg["repeats"]
    out: dict = {}
    for m in cfg["sizes"]:
        a = jax.random.normal(jax.random.key(0), (m, m), jnp.float32)
        row = {"default": tm(lambda x: jnp.linalg.svd(x, full_matrices=False), a, r)}
        for name in ("QR", "JACOBI"):
            alg = getattr(lax.linalg.SvdAlgorithm, name, None)
            if alg is not None:
                try:
                    row[name] = tm(lambda x, alg=alg: lax.linalg.svd(x, full_matrices=False, algorithm=alg), a, r)
                except Exception as e:  # an algorithm this backend does not have
                    row[name] = str(e)[:60]
        row["eigh_gram"] = tm(lambda x: jnp.linalg.eigh(x @ x.T), a, r)
        row["matmul"] = tm(lambda x: x @ x, a, r)
        out[m] = row
        print(m, row, file=sys.stderr, flush=True)
    text = json.dumps(out)
    print(text)
    write_text(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
