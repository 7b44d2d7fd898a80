"""Evaluating generalization: new, valid and better-than-training samples of a trained model.

A model learns a fraction of the strings of weight k (n bits) re-weighted by a cost;
``jqgen.evaluate`` samples it and reports every metric that applies (exploration, fidelity,
rate, coverage and their normalized forms; the quality metrics of the cost; KL/TV/NLL),
here for an MPS Born machine and for a QCBM side by side.

    python examples/evaluate_generalization.py [--small]
"""

import argparse

import jax
import optax

import jqgen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="a quick run (CI)")
    args = ap.parse_args()
    n, steps, num = (6, 100, 2000) if args.small else (12, 1000, 10000)
    ds = jqgen.load_dataset(f"cardinality-cost-{n}-{n // 2}-0.3")    # eps = 0.3 of the valid strings, with a cost
    models = {"mps": jqgen.MPSBornMachine(num_bits=n, chi_max=4)}
    if not args.small:
        models["qcbm"] = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(n, 4, "line"))
    for name, model in models.items():
        loss = jqgen.qcbm.make_loss(model, "kl") if name == "qcbm" else None
        res = jqgen.fit(model, model.init(jax.random.key(0)), ds.data, optax.adam(0.05 if loss else 0.02),
                        key=jax.random.key(1), steps=steps, loss=loss, progress=False)
        report = jqgen.evaluate(model, res.params, 0, ds, num_samples=num)
        print(f"--- {name}")
        print(jqgen.format_report(report))


if __name__ == "__main__":
    main()
