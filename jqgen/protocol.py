"""The generative-model protocol shared by every model family (see docs/protocol.md)."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

import jax

__all__ = ["GenerativeModel"]

Params = TypeVar("Params")


@runtime_checkable
class GenerativeModel(Protocol[Params]):
    """A static, hashable description of a model over ``num_bits`` binary variables.

    Parameters live outside the model, as a pytree, so every method is a pure function of
    them and composes with ``jit``, ``vmap`` and ``grad``.

    Methods:
        init(key) -> params
        log_prob(params, bits[..., n]) -> [...]: exact log-probability (float)
        sample(params, key, num) -> uint8 [num, n]: independent samples
        probs(params) -> [2**n]: dense distribution, big-endian order (small n only)
    """

    num_bits: int

    def init(self, key: jax.Array) -> Params: ...

    def log_prob(self, params: Params, bits: Any) -> jax.Array: ...

    def sample(self, params: Params, key: jax.Array, num: int) -> jax.Array: ...

    def probs(self, params: Params) -> jax.Array: ...

    def config(self) -> dict[str, Any]: ...
