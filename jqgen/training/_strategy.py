"""A training method as a value: :class:`Strategy`, in the style of an Optax transformation.

A strategy holds pure functions and a JSON description of its settings; the runner
(:func:`jqgen.training.run`) owns everything common to all of them (chunks, progress,
history, the NaN/inf policy, callbacks, checkpoints, resume, the result).

* ``init(params, key) -> state``: the method's state for initial parameters (an Optax
  state, an evosax CMA-ES state, a sweep's bond dimensions). Leaves are arrays, or Python
  scalars (``int``/``float``/``str``/``None``) that a checkpoint keeps exactly.
* ``step(params, state, data, i, key) -> (params, state, loss)``: one **compiled** step
  (pure, traceable; ``i`` is the traced step index, ``key`` the run's key, to be folded
  with ``i``). The runner scans it in ``lax.scan`` chunks compiled once. ``loss`` is a
  scalar, or a dict of scalars with a ``"loss"`` entry (a GAN's discriminator, generator
  and prior losses): every entry is recorded per step, ``"loss"`` is the one the NaN/inf
  policy watches.
* or ``host_step(params, state, data, i, key) -> (params, state, metrics)``: one step run
  from Python (a journaled device batch, a two-site sweep loop); ``metrics`` is a dict of
  floats with at least ``"loss"``, and may hold ``"stop": reason`` to end the run (a
  converged sweep); a resumed run that was stopped returns at once.

Exactly one of ``step`` and ``host_step`` is given.

Examples:
    >>> import jax, jax.numpy as jnp
    >>> from jqgen.training import Strategy
    >>> def step(params, state, data, i, key):  # gradient descent on a quadratic
    ...     loss, g = jax.value_and_grad(lambda p: jnp.sum((p - 1.0) ** 2))(params)
    ...     return params - 0.1 * g, state, loss
    >>> s = Strategy("descent", init=lambda params, key: (), step=step, config={"lr": 0.1})
    >>> s.name, s.compiled
    ('descent', True)
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

__all__ = ["NonFiniteLossError", "Strategy", "TrainResult"]


class Strategy(NamedTuple):
    """A training method (see the module docstring).

    Attributes:
        name: short name recorded in checkpoints (``"gradient"``, ``"cmaes"``, ``"sweep"``, ...).
        init: ``(params, key) -> state``.
        step: compiled step ``(params, state, data, i, key) -> (params, state, loss)`` (``loss``
            a scalar or a dict of scalars with ``"loss"``), or ``None``.
        host_step: Python step ``(params, state, data, i, key) -> (params, state, metrics)``, or ``None``.
        config: JSON-serializable settings; a resumed run must have equal ones.
        model_of: ``params -> model`` for checkpoints when the model changes with the
            parameters (a sweep's bond padding grows); ``None``: the model given to the runner.
        unit: progress-bar unit (``"step"``, ``"gen"``, ``"loop"``).
    """

    name: str
    init: Callable[[Any, Any], Any]
    step: Callable[..., tuple[Any, Any, Any]] | None = None
    host_step: Callable[..., tuple[Any, Any, Mapping[str, Any]]] | None = None
    config: Mapping[str, Any] = {}
    model_of: Callable[[Any], Any] | None = None
    unit: str = "step"

    @property
    def compiled(self) -> bool:
        """Whether the steps run in compiled chunks (``step``) rather than from Python."""
        return self.step is not None


class TrainResult(NamedTuple):
    """What every trainer returns.

    Attributes:
        params: the final parameters (for CMA-ES the best candidate found).
        state: the strategy's final state (Optax/evosax/sweep state).
        history: ``[steps_done]`` float64 loss of every step of the run (including steps
            of earlier, resumed invocations).
        metrics: every recorded metric by name (``"loss"`` and strategy-specific ones such
            as a sweep's ``"test_nll"``), float64 arrays of the same length.
        steps_done: number of steps the run has completed.
        status: ``"completed"``, ``"stopped: <reason>"`` (a strategy's stop rule).
    """

    params: Any
    state: Any
    history: np.ndarray
    metrics: dict[str, np.ndarray] = {}
    steps_done: int = 0
    status: str = "completed"

    @property
    def opt_state(self) -> Any:
        """The optimizer state (alias of :attr:`state`)."""
        return self.state


class NonFiniteLossError(FloatingPointError):
    """Training met a NaN/inf loss (or parameters). ``params``/``opt_state`` are the last
    ones with a finite loss, ``history`` the losses up to and including the bad step,
    ``step`` its index."""

    def __init__(self, step: int, params: Any, opt_state: Any, history: np.ndarray):
        super().__init__(
            f"loss became non-finite ({float(history[-1]) if len(history) else float('nan')}) at step {step}; "
            "training stopped. The exception's .params hold the last parameters with a finite loss (try a "
            "smaller learning rate or gradient clipping, e.g. optax.clip_by_global_norm)."
        )
        self.step, self.params, self.opt_state, self.history = step, params, opt_state, history
