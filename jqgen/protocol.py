"""The generative-model protocol shared by every model family (see docs/protocol.md).

Every family (:class:`jqgen.MPSBornMachine`, :class:`jqgen.QCBM`) implements it, and
``tests/test_protocol_conformance.py`` checks the whole contract for each family in its
``FAMILIES`` list: a new family joins by implementing the methods below and being added to
that list (and to :data:`jqgen.checkpoint.MODEL_FAMILIES`).
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

import jax

__all__ = ["GenerativeModel"]

Params = TypeVar("Params")


@runtime_checkable
class GenerativeModel(Protocol[Params]):
    """A static, hashable description of a model over ``num_bits`` binary variables.

    The model is an immutable value (a frozen dataclass): sizes, ansatz, dtype, no arrays.
    Parameters live outside it, as a pytree, so every method is a pure function of them.

    Methods:
        init(key) -> params: initial parameters, a deterministic function of ``key``.
        log_prob(params, bits[..., n]) -> [...]: exact, normalized ``log p(x)`` in the
            parameters' real dtype; ``-inf`` where ``p(x) = 0``; differentiable in params.
        sample(params, key, num) -> uint8 [num, n]: ``num`` independent samples from
            exactly ``p``; ``num`` is a positive Python or numpy integer (static under
            ``jit``), anything else (``0``, ``-1``, ``2.5``, ``True``) raises ValueError.
        probs(params) -> [2**n]: the dense distribution in big-endian order (small n only;
            ValueError when n is too large to enumerate).
        config() -> dict: JSON-serializable, with a ``"family"`` entry.
        from_config(config) -> model (classmethod): rebuilds the model from ``config()``.
        num_bits: ``n``, the number of binary variables.

    Invariants (checked for every family by tests/test_protocol_conformance.py):
        * ``cls.from_config(m.config()) == m`` and their hashes are equal; equal models
          are interchangeable (same params, samples and probabilities).
        * ``probs(params)`` sums to 1, ``exp(log_prob(params, all bitstrings))`` sums to 1
          and ``log_prob`` agrees with ``log(probs)``.
        * Same key, same params and samples; another key, other samples.
        * ``init``, ``log_prob``, ``sample`` and ``probs`` work under ``jax.jit``,
          ``jax.vmap`` (over params) and ``jax.grad`` and agree with eager calls.
        * Bad input raises ``ValueError`` naming the argument, its value and what is
          allowed: shapes always, values (non-binary bits, NaN params) when concrete.
        * Compile once: a second eager call with an equal model and equal static sizes
          compiles nothing (jitted functions are keyed on the model's value, not its
          identity, see :mod:`jqgen._compiled`).
    """

    num_bits: int

    def init(self, key: jax.Array) -> Params: ...

    def log_prob(self, params: Params, bits: Any) -> jax.Array: ...

    def sample(self, params: Params, key: jax.Array, num: int) -> jax.Array: ...

    def probs(self, params: Params) -> jax.Array: ...

    def config(self) -> dict[str, Any]: ...

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GenerativeModel[Params]: ...
