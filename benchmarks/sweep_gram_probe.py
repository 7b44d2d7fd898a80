"""GPU probe: sweep_train with svd="gram" at D_max = 100 on MNIST-1k, 5 loops of each of the
capacity and class-A settings; per-loop wall time (compile included in the loop that
compiles). Results: results/sweep_gram_h100.json.

    python benchmarks/sweep_gram_probe.py OUT.json   # run from the repository root; reads .gpu_data/ or ../shared/data
"""
import os
import sys, time, json, numpy as np, jax, jqgen
path = ".gpu_data/mnist28_binary_1k.npz" if os.path.exists(".gpu_data") else "../shared/data/mnist28_binary_1k.npz"
data = np.load(path)["data"].reshape(1000, -1).astype(np.uint8)
out = {"device": str(jax.devices()[0]), "jax": jax.__version__, "runs": []}
for name, kw, loops in (("capacity", dict(lr=5e-3, descent_steps=1, num_batches=1, cutoff=0.0, normalized_grad=True, lr_decay_on_rise=0.2), 5),
                        ("class_A", dict(lr=1e-3, descent_steps=10, num_batches=20, cutoff=1e-7), 5)):
    rows = []
    t0 = time.perf_counter()
    def cb(loop, mps, state, h):
        rows.append({"loop": loop, "max_bond": h["max_bond"][-1], "seconds": round(h["seconds"][-1], 3), "train_nll": round(h["train_nll"][-1], 3)})
        print(name, rows[-1], flush=True)
    jqgen.sweep_train(data, max_bond=100, loops=loops, key=jax.random.key(0), progress=False, callback=cb, svd="gram", **kw)
    out["runs"].append({"settings": name, "svd": "gram", "loops": rows, "wall_s": round(time.perf_counter() - t0, 2)})
print(json.dumps(out))
json.dump(out, open(sys.argv[1], "w"), indent=1)
