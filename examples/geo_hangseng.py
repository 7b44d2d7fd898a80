"""GEO on the Hang Seng portfolio (OR-Library port1, 31 assets): choose k assets, minimize risk.

A symmetric MPS that only proposes strings with k ones is trained, round after round, on
the best portfolios evaluated so far (generator-enhanced optimization), and compared with
swap-move simulated annealing and random search at the same number of cost evaluations.
Needs the OR-Library files of ``../shared/data`` (``--data-dir``).

    python examples/geo_hangseng.py [--small] [--data-dir ../shared/data]
"""

import argparse
import os
import sys

import jax

import jqgen
from jqgen.geo import GeoSettings, geo, load_instance, run_baseline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="a quick run (CI)")
    ap.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "data"),
                    help="folder with orlib_port1_hangseng31.txt (default: ../shared/data next to the repository)")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.data_dir, "orlib_port1_hangseng31.txt")):
        sys.exit(f"no OR-Library data in {args.data_dir} (pass --data-dir)")
    k, budget = (4, 300) if args.small else (10, 3000)
    settings = GeoSettings(batch_size=50, seed_size=50, train_steps=20, train_size=64) if args.small else \
        GeoSettings(batch_size=200, seed_size=200, train_steps=50, train_size=256)

    problem = load_instance("hangseng31", args.data_dir).binary(k=k, q=1.0)   # risk - return, exactly k assets
    model = jqgen.mps.SymmetricMPSBornMachine(problem.num_bits, k, chi_max=4)
    res = geo(problem, model, budget, key=jax.random.key(0), settings=settings, progress=False)
    print(f"GEO (symmetric MPS)  best cost {res.best_cost:.6f}  assets {res.best_bits.nonzero()[0].tolist()}"
          f"  ({res.evaluations} evaluations)")
    for name in ("sa-swap", "random"):
        b = run_baseline(name, problem, budget, seed=0)
        print(f"{name:20s} best cost {b.best_cost:.6f}  ({b.evaluations} evaluations)")


if __name__ == "__main__":
    main()
