"""An MPS Born machine on your own images: binarize, flatten row-major, train, sample.

The images here are generated with NumPy (noisy 6x6 crosses and squares) so the script
needs nothing beyond jqgen; replace ``make_images`` by your own ``[N, rows, cols]`` array.

    python examples/mps_own_images.py [--small]
"""

import argparse

import jax
import numpy as np
import optax

import jqgen


def make_images(num: int, size: int, seed: int = 0) -> np.ndarray:
    """Grey-level ``[num, size, size]`` images in [0, 1]: a cross or a square, plus noise."""
    rng = np.random.default_rng(seed)
    img = np.zeros((num, size, size))
    mid = size // 2
    for i in range(num):
        if i % 2:
            img[i, mid, :] = img[i, :, mid] = 1.0                        # a cross
        else:
            img[i, [0, -1], :] = img[i, :, [0, -1]] = 1.0                # a square outline
    return np.clip(img + 0.3 * rng.normal(size=img.shape), 0.0, 1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="a quick run (CI)")
    args = ap.parse_args()
    size, num, steps = (4, 64, 100) if args.small else (6, 400, 1000)

    images = make_images(num, size)
    bits = (images > 0.5).astype(np.uint8).reshape(num, -1)           # binarize, row-major
    ds = jqgen.Dataset("crosses-and-squares", bits[: num * 3 // 4], image_shape=(size, size),
                       test=bits[num * 3 // 4:])

    model = jqgen.MPSBornMachine(num_bits=size * size, chi_max=8)
    res = jqgen.fit(model, model.init(jax.random.key(0)), ds.data, optax.adam(0.02),
                    key=jax.random.key(1), steps=steps, batch_size=32, progress=False)
    print(f"train NLL {float(jqgen.mean_nll(model, res.params, ds.data)):.3f}  "
          f"test NLL {float(jqgen.mean_nll(model, res.params, ds.test)):.3f}  (uniform: {size * size * np.log(2):.3f})")

    samples = np.asarray(model.sample(res.params, jax.random.key(2), 4)).reshape(-1, size, size)
    for s in samples:                                                 # text rendering of 4 samples
        print("\n".join("".join("#" if v else "." for v in row) for row in s), end="\n\n")


if __name__ == "__main__":
    main()
