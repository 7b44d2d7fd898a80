"""A sweep over seeds in one compiled program: vmap the initialization and the training step.

``jqgen.training.gradient(model, optimizer, batch_size=...)`` is a strategy whose ``step``
is a pure function, so a batch of initial parameter sets trains in one ``jit``-ed
``lax.scan`` with ``vmap`` inside it: one compilation whatever the number of seeds. On
several accelerators, shard the seed axis (docs: "Running on many devices").

    python examples/seed_sweep_vmap.py [--small]
"""

import argparse
import time

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
    (rows, cols), seeds, steps = ((3, 3), 4, 100) if args.small else ((4, 4), 32, 1000)
    data = bars_and_stripes(rows, cols)
    model = jqgen.MPSBornMachine(num_bits=rows * cols, chi_max=8)
    strategy = jqgen.training.gradient(model, optax.adam(0.02), batch_size=len(data))

    keys = jax.random.split(jax.random.key(0), seeds)
    params = jax.vmap(model.init)(keys)                                   # [seeds, ...] pytree
    states = jax.vmap(lambda p: strategy.init(p, None))(params)
    step = jax.vmap(strategy.step, in_axes=(0, 0, None, None, 0))         # one step of every seed

    @jax.jit
    def train(params, states):
        def body(carry, i):
            p, s, loss = step(*carry, data, i, keys)
            return (p, s), loss
        (params, states), losses = jax.lax.scan(body, (params, states), jnp.arange(steps))
        return params, losses

    t = time.perf_counter()
    params, losses = train(params, states)
    losses = np.asarray(losses)
    print(f"{seeds} seeds x {steps} steps in one program: {time.perf_counter() - t:.1f} s (compilation included)")
    nll = np.asarray(jax.jit(jax.vmap(lambda p: -jnp.mean(model.log_prob(p, data))))(params))
    print(f"final NLL per seed: mean {nll.mean():.4f}, min {nll.min():.4f}, max {nll.max():.4f}"
          f" (ideal ln {len(data)} = {np.log(len(data)):.4f})")
    print("loss curve shape (steps, seeds):", losses.shape)


if __name__ == "__main__":
    main()
