"""Training objectives for QCBMs: exact or shot-based losses, autodiff or parameter-shift.

:func:`make_loss` returns ``value_and_grad(params, batch, key) -> (loss, grads)``, the
``loss=`` argument of :func:`jqgen.fit`. The target is the empirical distribution of
``batch`` (the data bits). Gradients:

* ``"autodiff"``: ``jax.grad`` of the loss of the exact probabilities;
* ``"parameter-shift"``: every angle enters through a Pauli rotation, so
  ``dp(x)/dtheta_j = [p_{theta + pi/2 e_j}(x) - p_{theta - pi/2 e_j}(x)] / 2`` exactly, and
  ``dL/dtheta_j = sum_x g(x) dp(x)/dtheta_j`` with ``g = dL/dp``. With ``shots`` every
  probability vector is a histogram of that many shots (one key per circuit, all
  ``2 * num_params`` shifted circuits evaluated in one batched program), and ``g`` is taken
  at a second, independent histogram, so for losses linear in each argument (MMD) the
  estimate equals the exact gradient in expectation.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._checks import check_finite, check_shots
from ..distributions import DEFAULT_SIGMAS, distribution_loss, empirical_distribution, sample_counts
from ._model import QCBM

__all__ = ["make_loss", "parameter_shift_grad"]

#: Bytes of shifted statevectors evaluated at once by :func:`parameter_shift_grad`.
_SHIFT_BATCH_BYTES = 256 * 2**20


def _estimate(p: jax.Array, key: jax.Array, shots: int | None) -> jax.Array:
    if shots is None:
        return p
    return sample_counts(p, key, shots).astype(p.dtype) / shots


def parameter_shift_grad(
    model: QCBM,
    params: dict[str, jax.Array],
    dloss_dp: jax.Array,
    *,
    shots: int | None = None,
    key: jax.Array | None = None,
) -> dict[str, jax.Array]:
    """``sum_x dloss_dp(x) dp(x)/dtheta`` by the parameter-shift rule.

    Args:
        model: the QCBM.
        params: its parameters.
        dloss_dp: ``[2**n]`` gradient of the loss with respect to the probabilities.
        shots: ``None`` for exact shifted probabilities, else shots per shifted circuit.
        key: PRNG key (required with ``shots``).

    Returns:
        Gradients with the structure of ``params``.
    """
    flat, unravel = ravel_pytree(params)
    num = flat.shape[0]
    if shots is not None:
        check_shots(shots, "shots")
        if key is None:
            raise ValueError("parameter_shift_grad with shots needs a PRNG key")
    shift = jnp.asarray(np.pi / 2, flat.dtype)
    eye = jnp.eye(num, dtype=flat.dtype) * shift
    thetas = jnp.concatenate([flat[None] + eye, flat[None] - eye])  # [2P, P]
    keys = jax.random.split(key if key is not None else jax.random.key(0), 2 * num)

    def one(theta: jax.Array, k: jax.Array) -> jax.Array:
        p = model.probs(unravel(theta))
        return jnp.dot(_estimate(p, k, shots), dloss_dp)

    per_state = 2 ** model.num_bits * 16
    batch = max(1, min(2 * num, _SHIFT_BATCH_BYTES // per_state))
    vals = jax.lax.map(lambda a: one(*a), (thetas, keys), batch_size=batch)
    return unravel((vals[:num] - vals[num:]) / 2)


def make_loss(
    model: QCBM,
    loss: str = "mmd",
    *,
    shots: int | None = None,
    gradient: str | None = None,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    eps: float = 1e-8,
) -> Callable[[Any, jax.Array, jax.Array], tuple[jax.Array, Any]]:
    """The ``loss=`` callable for :func:`jqgen.fit`: ``(params, batch, key) -> (loss, grads)``.

    Args:
        model: a :class:`QCBM` (any :class:`jqgen.GenerativeModel` with dense ``probs``,
            e.g. a small MPS, for exact autodiff losses; parameter shift needs a QCBM).
        loss: ``"mmd"``, ``"kl"`` (clipped) or ``"nll"`` (clipped), as
            :func:`jqgen.distributions.distribution_loss`.
        shots: ``None`` for exact probabilities; else the loss and its gradient are
            estimated from this many shots per circuit (as on hardware).
        gradient: ``"autodiff"`` (default for exact) or ``"parameter-shift"`` (default and
            only choice with shots).
        sigmas: MMD bandwidths.
        eps: probability clipping of ``kl``/``nll``.

    Examples:
        >>> import jax, optax, jqgen
        >>> from jqgen.data import bars_and_stripes
        >>> model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(num_qubits=4, layers=2))
        >>> loss = jqgen.qcbm.make_loss(model, "mmd", shots=1000)
        >>> res = jqgen.fit(model, model.init(jax.random.key(0)), bars_and_stripes(2, 2),
        ...                 optax.adam(0.1), key=jax.random.key(1), steps=5, loss=loss, progress=False)
        >>> res.history.shape
        (5,)
    """
    f = distribution_loss(loss, sigmas=sigmas, eps=eps)
    if shots is not None:
        check_shots(shots, "shots")
    if gradient is None:
        gradient = "autodiff" if shots is None else "parameter-shift"
    if gradient not in ("autodiff", "parameter-shift"):
        raise ValueError(f"gradient must be 'autodiff' or 'parameter-shift', got {gradient!r}")
    if gradient == "autodiff" and shots is not None:
        raise ValueError("shot-based losses are not differentiable by autodiff; use gradient='parameter-shift'")
    if gradient == "parameter-shift" and not isinstance(model, QCBM):
        raise ValueError(f"the parameter-shift rule needs a jqgen.QCBM (angles of Pauli rotations), got "
                         f"{type(model).__name__}")
    if not (hasattr(model, "probs") and hasattr(model, "num_bits")):
        raise ValueError(f"make_loss needs a model with probs(params) and num_bits, got {type(model).__name__}")
    n = model.num_bits

    def value_and_grad(params: Any, batch: jax.Array, key: jax.Array) -> tuple[jax.Array, Any]:
        check_finite(params, "params")  # ValueError when concrete, a checkify check when traced
        target = empirical_distribution(batch, n, jnp.finfo(model.dtype).dtype)
        if gradient == "autodiff":
            return jax.value_and_grad(lambda th: f(model.probs(th), target))(params)
        k_value, k_grad, k_shift = jax.random.split(key, 3)
        p = model.probs(params)
        value = f(_estimate(p, k_value, shots), target)
        p_for_grad = _estimate(p, k_grad, shots)  # independent of the shifted shots
        g = jax.grad(lambda q: f(q, target))(p_for_grad)
        return value, parameter_shift_grad(model, params, g, shots=shots, key=k_shift)

    return value_and_grad
