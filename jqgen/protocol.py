"""The generative-model protocol shared by every model family (see docs/protocol.md).

Every family (:class:`jqgen.MPSBornMachine`, :class:`jqgen.QCBM`) implements it, and
``tests/test_protocol_conformance.py`` checks the whole contract for each family in its
``FAMILIES`` list: a new family joins by implementing the methods below and being added to
that list (and to :data:`jqgen.checkpoint.MODEL_FAMILIES`). The checks are
:mod:`jqgen.testing`'s: ``jqgen.testing.check_generative_model(model, params)`` runs them on
any model, a user's own family included (docs/testing.md).
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

import jax

__all__ = ["GenerativeModel", "check_support"]

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

    Optional:
        in_support(bits[..., n]) -> bool[...]: for a family whose support is a known
            constraint (the symmetric MPS, the weight-conserving QCBM): which strings it can
            generate. Trainers refuse data outside it (:func:`check_support`).

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


def check_support(model: Any, data: Any, name: str = "data") -> None:
    """Raises ``ValueError`` when a row of ``data [N, n]`` lies outside a constrained model's
    support (a model with ``in_support``; no-op for the others): its likelihood would be 0.

    Examples:
        >>> import jqgen
        >>> from jqgen.protocol import check_support
        >>> m = jqgen.mps.SymmetricMPSBornMachine(4, 2, 2)
        >>> check_support(m, [[1, 1, 0, 0], [1, 1, 1, 0]])
        Traceback (most recent call last):
        ...
        ValueError: data row 1 ([1, 1, 1, 0], sum_i a_i x_i = 3) is outside the support of SymmetricMPSBornMachine (only strings with sum_i a_i x_i = 2); 1 of 2 rows break it
    """
    in_support = getattr(model, "in_support", None)
    if in_support is None:
        return
    import numpy as np

    ok = np.asarray(in_support(data))
    if not ok.all():
        rows = np.asarray(data)
        bad = int(np.argmin(ok))
        weights = np.asarray(getattr(model, "constraint_weights", np.ones(rows.shape[-1], np.int64)))
        target = getattr(model, "target", None)
        raise ValueError(
            f"{name} row {bad} ({rows[bad].astype(int).tolist()}, sum_i a_i x_i = {int(rows[bad] @ weights)}) is "
            f"outside the support of {type(model).__name__} (only strings with sum_i a_i x_i = {target}); "
            f"{int((~ok).sum())} of {len(ok)} rows break it"
        )
