import jax, jax.numpy as jnp, optax, jqgen
from jqgen.data import bars_and_stripes

# An MPS Born machine on 16 sites with bonds padded to chi_max = 8 (static shapes).
mps = jqgen.mps.random_mps(jax.random.key(0), n=16, chi_max=8)
bits = bars_and_stripes(4, 4)                       # uint8 [30, 16]

# Pure functions: jit-compile once per (n, chi_max, batch) ...
log_prob = jax.jit(jqgen.mps.log_prob)
print("log p:", log_prob(mps, bits)[:3])
sample = jax.jit(jqgen.mps.sample, static_argnums=2)    # num is static
x = sample(mps, jax.random.key(1), 1000)            # perfect samples, uint8 [1000, 16]

# ... vmap over a batch of 8 independent MPS (e.g. seeds of a sweep) ...
keys = jax.random.split(jax.random.key(2), 8)
batch = jax.vmap(lambda k: jqgen.mps.random_mps(k, 16, 8))(keys)
nll = jax.vmap(lambda m: -jnp.mean(jqgen.mps.log_prob(m, bits)))(batch)
print("NLL of 8 random MPS:", nll)

# ... and grad through log_prob for your own loss.
loss = lambda m: -jnp.mean(jqgen.mps.log_prob(m, bits))
g = jax.jit(jax.grad(loss))(mps)                    # an MPS-shaped gradient pytree

# Or train with any Optax optimizer through the model protocol.
model = jqgen.MPSBornMachine(num_bits=16, chi_max=32)
res = jqgen.fit(model, model.init(jax.random.key(3)), bits, optax.adam(0.01),
                key=jax.random.key(4), steps=1500, progress=False)
print("train NLL %.4f (ideal ln 30 = %.4f)" % (jqgen.mean_nll(model, res.params, bits), jnp.log(30.0)))
print("entropies:", jqgen.mps.entanglement_entropies(res.params))
