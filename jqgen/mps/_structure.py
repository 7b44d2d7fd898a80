"""The MPS pytree and its static bond structure: dimensions, masks, argument checks.

An open-boundary MPS on ``n`` binary sites is stored as one array ``tensors`` of shape
``[n, chi_max, 2, chi_max]`` (left bond, physical, right bond)::

      bond 0     bond 1           bond n-1     bond n
    (e_0) --[A_0]--[A_1]-- ... --[A_{n-1}]-- (e_0)
              |      |              |
             s_0    s_1          s_{n-1}

Every bond is padded to the static ``chi_max``; the boundary bonds 0 and n are contracted
with the unit vector ``e_0``. Bond ``b`` (between sites ``b - 1`` and ``b``) has the static
maximal dimension ``d_b = min(chi_max, 2**b, 2**(n - b))``: entries of a tensor outside
``[:d_left, :, :d_right]`` are ignored (masked to zero) by every function. Because shapes
depend only on ``(n, chi_max)``, every algorithm is a ``lax.scan`` over sites that compiles
once per ``(n, chi_max, batch)``, whatever the actual (smaller) ranks are.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_finite, check_fits

__all__ = ["MPS", "bond_dims", "bond_masks", "check_mps", "masked"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MPS:
    """Matrix product state with bonds padded to a static ``chi_max``.

    Attributes:
        tensors: ``[n, chi_max, 2, chi_max]`` site tensors (left bond, physical, right bond).

    Build one with :func:`random_mps`, :func:`product_mps`, :func:`from_dense` or
    :func:`from_tensors` (which validates). A batch of MPS (for ``vmap``) is an ``MPS`` whose
    ``tensors`` carry leading batch axes.
    """

    tensors: jax.Array

    @property
    def num_sites(self) -> int:
        return self.tensors.shape[-4]

    @property
    def chi_max(self) -> int:
        return self.tensors.shape[-1]

    @property
    def dtype(self) -> Any:
        return self.tensors.dtype


def bond_dims(n: int, chi_max: int) -> tuple[int, ...]:
    """Static maximal bond dimensions ``d_0 .. d_n`` (``d_b = min(chi_max, 2**b, 2**(n-b))``).

    Examples:
        >>> import jqgen
        >>> jqgen.mps.bond_dims(5, 3)
        (1, 2, 3, 3, 2, 1)
    """
    _check_sizes(n, chi_max)
    check_fits(40 * (int(n) + 1), f"bond_dims of n = {n} sites", largest="use fewer sites")
    return _bond_dims(int(n), int(chi_max))


@functools.lru_cache(maxsize=64)
def _bond_dims(n: int, chi_max: int) -> tuple[int, ...]:
    # 2**m is only formed for m < chi_max.bit_length() (<= 63): O(n) small-int work, where
    # 2**min(b, n-b) in Python big integers costs O(n^2) (4 s at n = 10^5)
    m = np.minimum(np.arange(n + 1), n - np.arange(n + 1))
    cap = chi_max.bit_length()
    dims = np.where(m >= cap, chi_max, np.minimum(chi_max, np.left_shift(1, np.minimum(m, cap), dtype=np.int64)))
    return tuple(dims.tolist())


def _check_sizes(n: Any, chi_max: Any) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 2:
        raise ValueError(f"n (number of sites) must be an integer >= 2, got {n!r}")
    if not isinstance(chi_max, (int, np.integer)) or isinstance(chi_max, bool) or chi_max < 1:
        raise ValueError(f"chi_max must be an integer >= 1, got {chi_max!r}")


def bond_masks(n: int, chi_max: int, dtype: Any) -> np.ndarray:
    """``[n + 1, chi_max]`` 0/1 masks of the active part of each bond (numpy constant)."""
    return _bond_masks(int(n), int(chi_max), np.dtype(dtype)).copy()


@functools.lru_cache(maxsize=64)
def _bond_masks(n: int, chi_max: int, dtype: np.dtype) -> np.ndarray:
    dims = bond_dims(n, chi_max)
    m = (np.arange(chi_max)[None, :] < np.asarray(dims)[:, None]).astype(dtype)
    m.flags.writeable = False
    return m


def masked(tensors: jax.Array) -> jax.Array:
    """Zeroes the entries of ``[n, chi, 2, chi]`` tensors outside the static bond dims."""
    n, chi = tensors.shape[0], tensors.shape[-1]
    m = _bond_masks(int(n), int(chi), np.dtype(np.float32))
    mask = m[:-1, :, None, None] * m[1:, None, None, :]
    return tensors * jnp.asarray(mask, dtype=tensors.dtype)


def check_mps(mps: Any, name: str = "mps") -> None:
    """Static checks of an MPS argument (type, rank, shape); values checked when concrete."""
    if not isinstance(mps, MPS):
        raise ValueError(f"{name} must be a jqgen.mps.MPS, got {type(mps).__name__}")
    t = mps.tensors
    if getattr(t, "ndim", 0) != 4 or t.shape[2] != 2 or t.shape[1] != t.shape[3]:
        raise ValueError(
            f"{name}.tensors must have shape [n, chi_max, 2, chi_max] (use jax.vmap for a batch "
            f"of MPS), got {getattr(t, 'shape', None)}"
        )
    _check_sizes(t.shape[0], t.shape[1])
    if not jnp.issubdtype(t.dtype, jnp.inexact):
        raise ValueError(f"{name}.tensors must be a float or complex array, got dtype {t.dtype}")
    check_finite(t, f"{name}.tensors")
