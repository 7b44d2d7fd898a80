"""Two-site sweep training with a checkpoint, stopped and resumed to the bit-identical result.

``jqgen.sweep_train`` writes its checkpoint after every loop; a call with an existing
checkpoint resumes from it (``loops`` may be raised to train on). Here a run is stopped
after half its loops (as a kill would stop it), resumed, and compared with a run that was
never stopped.

    python examples/sweep_resume.py [--small] [--out-dir DIR]
"""

import argparse
import os
import tempfile

import jax
import numpy as np

import jqgen
from jqgen.data import bars_and_stripes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="a quick run (CI)")
    ap.add_argument("--out-dir", default=None, help="where the checkpoints go (default: a temporary folder)")
    args = ap.parse_args()
    out = args.out_dir or tempfile.mkdtemp(prefix="jqgen-sweep-")
    os.makedirs(out, exist_ok=True)
    data = bars_and_stripes(3, 3) if args.small else bars_and_stripes(4, 4)
    loops = 2 if args.small else 6
    settings = dict(max_bond=8, key=jax.random.key(0), lr=0.1, descent_steps=5, num_batches=1,
                    cutoff=5e-5, progress=False)

    path = os.path.join(out, "resumed.npz")
    first = jqgen.sweep_train(data, loops=loops // 2, checkpoint_path=path, **settings)   # "killed" here
    print(f"stopped after {len(first.history['train_nll'])} loops, NLL {first.history['train_nll'][-1]:.4f}")
    resumed = jqgen.sweep_train(data, loops=loops, checkpoint_path=path, **settings)       # same call, more loops
    print(f"resumed to {len(resumed.history['train_nll'])} loops, NLL {resumed.history['train_nll'][-1]:.4f}"
          f" (ideal ln {len(data)} = {np.log(len(data)):.4f})")

    straight = jqgen.sweep_train(data, loops=loops, checkpoint_path=os.path.join(out, "straight.npz"), **settings)
    same = np.array_equal(np.asarray(resumed.mps.tensors), np.asarray(straight.mps.tensors))
    print("resumed == never stopped, bit for bit:", same)

    ck = jqgen.load_checkpoint(path)                       # an ordinary jqgen checkpoint
    print("checkpoint model:", ck.model)


if __name__ == "__main__":
    main()
