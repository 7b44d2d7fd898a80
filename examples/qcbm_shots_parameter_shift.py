"""A QCBM trained as on hardware: loss and parameter-shift gradient estimated from shots.

First the parameter-shift gradient from exact probabilities is checked against finite differences,
then the circuit is trained on bars and stripes with only shot estimates (what a device
gives), and its probability of valid patterns is reported.

    python examples/qcbm_shots_parameter_shift.py [--small]
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jqgen
from jqgen.data import bars_and_stripes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="a quick run (CI)")
    args = ap.parse_args()
    rows, cols, layers, shots, steps = (2, 2, 1, 500, 20) if args.small else (3, 3, 6, 2000, 300)
    data = bars_and_stripes(rows, cols)
    n = rows * cols
    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(num_qubits=n, layers=layers, topology="line"))
    params = model.init(jax.random.key(0))

    # exact probabilities: the parameter-shift gradient against a central finite difference
    shift = jqgen.qcbm.make_loss(model, "mmd", gradient="parameter-shift")
    value, g_ps = shift(params, data, jax.random.key(1))
    name = sorted(params)[0]
    h = 1e-2
    bump = lambda s: {**params, name: params[name].at[(0,) * params[name].ndim].add(s * h)}
    fd = (float(shift(bump(1), data, jax.random.key(1))[0]) - float(shift(bump(-1), data, jax.random.key(1))[0])) / (2 * h)
    print(f"d loss / d {name}[0]: parameter shift {float(g_ps[name].ravel()[0]):+.5f}, finite difference {fd:+.5f}")

    # training from shots only: every loss and gradient is an estimate from `shots` shots per circuit
    loss = jqgen.qcbm.make_loss(model, "mmd", shots=shots)
    res = jqgen.fit(model, params, data, optax.adam(0.1), key=jax.random.key(2), steps=steps,
                    loss=loss, progress=False)
    p = np.asarray(model.probs(res.params))
    valid = jqgen.bits_to_index(data)
    print(f"{steps} steps at {shots} shots: probability of valid patterns {p[np.asarray(valid)].sum():.3f} "
          f"(uniform: {len(data) / 2 ** n:.3f})")


if __name__ == "__main__":
    main()
