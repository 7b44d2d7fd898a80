"""Probe of the uniform saddle (issue 16 part 3): how often Adam learns data with only
high-order correlations from a given MPS start.

Each spec is ``[data expression, chi, init kind, init parameter]``; 8 seeds are trained at once
(vmap; Adam lr 0.01, 2,000 full-batch steps, as ``jqgen train mps``), and the gap
``NLL - ln(#rows)`` of every seed is printed. Init kinds: ``current`` (the start before issue
16: 0.5 product + 0.5 identity + N(0, (p / sqrt(chi))^2) on every entry), ``gauss`` (a random
Gaussian MPS), ``eye`` (identity + noise), ``mix`` (c * the old start's mean + Gaussian),
``dsum`` / ``model`` (the uniform superposition (+) a random block of weight p: the new
``MPSBornMachine.init``), ``hyb`` (the old start on half of the bonds, a random block on the rest).

    python benchmarks/uniform_saddle_probe.py '[["parity(8)", 32, "model", 0.5], ["parity(8)", 32, "current", 0.5]]'
"""
import sys, time, itertools, math, numpy as np, jax, jax.numpy as jnp, optax
sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
import jqgen
from jqgen.mps import MPS
from jqgen.mps._core import product_mps, masked
import synergy_experiment as se
se.log = lambda m: None

def allb(n): return np.array(list(itertools.product([0,1],repeat=n)),np.uint8)
def parity(n, odd=0): x=allb(n); return x[x.sum(1)%2==odd]
def mod3(n, r=0): x=allb(n); return x[x.sum(1)%3==r]

def init_current(n, chi, noise):
    def f(key):
        base = product_mps(jnp.ones((n,2)), chi).tensors
        eye = jnp.eye(chi)[None,:,None,:]*jnp.ones((n,1,2,1))
        return MPS(masked(0.5*base+0.5*eye+noise/jnp.sqrt(chi)*jax.random.normal(key, base.shape)))
    return f
def init_gauss(n, chi, noise):
    def f(key):
        return MPS(masked(jax.random.normal(key,(n,chi,2,chi))/jnp.sqrt(2*chi)))
    return f
def init_eye(n, chi, noise):  # identity only + noise (no product bias)
    def f(key):
        eye = jnp.eye(chi)[None,:,None,:]*jnp.ones((n,1,2,1))
        return MPS(masked(eye+noise/jnp.sqrt(chi)*jax.random.normal(key,(n,chi,2,chi))))
    return f
def init_mix(n, chi, c):
    def f(key):
        base = product_mps(jnp.ones((n,2)), chi).tensors
        eye = jnp.eye(chi)[None,:,None,:]*jnp.ones((n,1,2,1))
        return MPS(masked(c*(0.5*base+0.5*eye)+jax.random.normal(key, base.shape)/jnp.sqrt(2*chi)))
    return f
def init_dsum(n, chi, eps):
    def f(key):
        w = eps ** (1.0 / n)
        g = jax.random.normal(key, (n, chi, 2, chi)) * w / jnp.sqrt(2 * max(chi - 1, 1))
        rest = jnp.arange(chi) > 0
        blk = rest[:, None] & rest[None, :]
        mid = jnp.where(blk[None, :, None, :], g, 0.0)
        mid = mid.at[:, 0, :, 0].set(1 / jnp.sqrt(2.0))
        first = mid[0].at[0, :, 1:].set(g[0, 0, :, 1:])
        last = mid[-1].at[1:, :, 0].set(g[-1, 1:, :, 0])
        t = mid.at[0].set(first).at[-1].set(last)
        return MPS(masked(t))
    return f
def init_model(n, chi, eps):
    return jqgen.MPSBornMachine(n, chi, init_noise=eps).init
def init_hyb(n, chi, eps, frac=0.5):
    cur = init_current(n, chi, 0.5); ds = init_dsum(n, chi, eps)
    m = chi - max(1, int(round((chi - 1) * frac)))  # bonds 0..m-1: current style; m..chi-1: random block
    def f(key):
        k1, k2 = jax.random.split(key)
        a = cur(k1).tensors; b = ds(k2).tensors * jnp.sqrt(2.0)
        i = jnp.arange(chi); lo = i < m; hi = ~lo
        A = jnp.where((lo[:, None] & lo[None, :])[None, :, None, :], a, 0.0)
        B = jnp.where((hi[:, None] & hi[None, :])[None, :, None, :], b, 0.0)
        t = A + B
        t = t.at[0, 0, :, m:].set(b[0, 0, :, m:]).at[-1, m:, :, 0].set(b[-1, m:, :, 0])
        return MPS(masked(t))
    return f
INITS = {"hyb": init_hyb, "model": init_model, "dsum": init_dsum, "mix": init_mix, "current": init_current, "gauss": init_gauss, "eye": init_eye}

def run(data, chi, kind, noise, seeds=8, steps=2000, lr=0.01):
    n = data.shape[1]
    model = jqgen.MPSBornMachine(n, chi)
    init = jax.vmap(INITS[kind](n, chi, noise))(jax.random.split(jax.random.key(0), seeds))
    t=time.perf_counter()
    p, hist = se.batched_fit(model, init, data, lr, steps)
    h = math.log(len(data))
    fin = hist[:, -1] - h
    return fin, time.perf_counter()-t

if __name__ == "__main__":
    import json
    specs = json.loads(sys.argv[1])
    for ds, chi, kind, noise in specs:
        data = eval(ds)
        fin, w = run(data, chi, kind, noise)
        print(f"{ds:14s} chi={chi:2d} {kind:8s} noise={noise}: gap {np.round(fin,3).tolist()} ok {np.mean(fin<0.1):.2f} ({w:.1f}s)", flush=True)
