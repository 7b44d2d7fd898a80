"""Times the factorizations a sweep bond update can use (SVD algorithms, Gram eigh, matmul) on the default device."""
import time, json, jax, jax.numpy as jnp, numpy as np
from jax import lax
out = {}
def tm(f, a, r=30):
    f = jax.jit(f); jax.block_until_ready(f(a)); ts = []
    for _ in range(r):
        t0 = time.perf_counter(); jax.block_until_ready(f(a)); ts.append(time.perf_counter() - t0)
    return round(float(np.median(ts)) * 1e3, 3)
for m in (16, 110, 146, 200):
    a = jax.random.normal(jax.random.key(0), (m, m), jnp.float32)
    row = {"default": tm(lambda x: jnp.linalg.svd(x, full_matrices=False), a)}
    for name in ("QR", "JACOBI"):
        alg = getattr(lax.linalg.SvdAlgorithm, name, None)
        if alg is not None:
            try:
                row[name] = tm(lambda x, alg=alg: lax.linalg.svd(x, full_matrices=False, algorithm=alg), a)
            except Exception as e:
                row[name] = str(e)[:60]
    row["eigh_gram"] = tm(lambda x: jnp.linalg.eigh(x @ x.T), a)
    row["matmul"] = tm(lambda x: x @ x, a)
    out[m] = row
    print(m, row, flush=True)
print(json.dumps(out))
