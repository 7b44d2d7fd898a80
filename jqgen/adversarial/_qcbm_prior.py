"""The QCBM prior of QC-AAN: a quantum circuit Born machine read out in several bases.

A latent vector is the concatenation, basis-major, of one shot per readout basis: the first
``num_qubits`` bits are a joint sample of all qubits measured in ``bases[0]``, the next
``num_qubits`` in ``bases[1]``, ... (``p_b(x) = |<x| R_b U(theta) |0>|^2``, see
:mod:`jqgen.adversarial._readout`). Each shot samples the joint Born distribution of its
basis, so the correlations between qubits are kept (drawing independent bits from
single-qubit expectation values would lose them). Shots of different bases are separate
circuit executions, so the latent distribution is the **product** of the per-basis
distributions: ``p(x_1, ..., x_B) = prod_b p_b(x_b)``.

Training objectives (the ``features`` are the discriminator's binarized hidden units on real
images, ``[N, num_qubits * len(bases)]``):

* ``shots=None`` (exact): the mean negative log-likelihood ``-(1/N) sum_i sum_b log
  p_b(x_{i,b})`` with ``p_b`` clipped at :data:`PROB_FLOOR`; gradients by autodiff of the
  statevector (jqgen's adjoint engine).
* ``shots=S`` (what a device can run): ``L = sum_b MMD^2(q_b, t_b)``, ``t_b`` the features'
  empirical distribution in basis ``b`` and ``q_b`` the histogram of ``S`` shots of the
  circuit in basis ``b`` (:func:`jqgen.distributions.mmd`, bandwidths ``sigmas``). The
  gradient is the parameter-shift rule per basis (the basis rotation is fixed, every angle
  enters ``U`` through one Pauli rotation): ``dL/dtheta_j = sum_b sum_x g_b(x) [p_b^{+j}(x) -
  p_b^{-j}(x)] / 2`` with every shifted ``p_b^{+-j}`` a histogram of ``S`` shots (``2 P B``
  circuits, ``P`` angles) and ``g_b = dL/dq_b`` taken at a second, independent histogram,
  so the estimate is unbiased for the exact MMD gradient (MMD is quadratic, its gradient
  linear in ``q_b``).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._checks import check_batch, check_finite, check_int, check_shots
from ..bits import bits_to_index, index_to_bits
from ..distributions import DEFAULT_SIGMAS, empirical_distribution, mmd, sample_counts
from ..qcbm import ANSATZ_NAMES, QCBM, ansatz_by_name
from . import _prior_checks as C
from ._readout import parse_bases, rotated_probs

__all__ = ["MAX_LATENT_PROBS_BITS", "PROB_FLOOR", "QCBM_ANSATZ_NAMES", "QCBMPrior"]

#: Probabilities are clipped at this value before their logarithm in the exact NLL.
PROB_FLOOR = 1e-12
#: :meth:`QCBMPrior.latent_probs` enumerates at most this many latent bits.
MAX_LATENT_PROBS_BITS = 20
#: Ansatz names a QCBM prior accepts (:data:`jqgen.qcbm.ANSATZ_NAMES` without ``"chow-liu"``,
#: whose tree depends on data that a prior does not see when it is built).
QCBM_ANSATZ_NAMES = tuple(a for a in ANSATZ_NAMES if a != "chow-liu")
#: Bytes of shifted circuits' probabilities evaluated at once by the shot-based gradient.
_SHIFT_BATCH_BYTES = 64 * 2**20


@dataclasses.dataclass(frozen=True)
class QCBMPrior:
    """A QCBM over ``num_qubits`` qubits read out in ``bases``: ``num_qubits * len(bases)`` latent bits.

    A latent vector is one joint shot per basis, concatenated basis-major. Shots of
    different bases are separate circuit executions, so the latent distribution is the
    product of the per-basis Born distributions (:meth:`readout_probs`,
    :meth:`latent_probs`); correlations between qubits within a basis are kept.

    Attributes:
        num_qubits: qubits of the circuit (``>= 2``).
        bases: readout bases, distinct names from ``("z", "x", "y")`` (a string ``"zx"`` or a
            count 1..3 is accepted and stored as the tuple).
        layers: entangling blocks of the ansatz.
        ansatz: a name from :data:`QCBM_ANSATZ_NAMES` (:func:`jqgen.qcbm.ansatz_by_name`);
            the default ``"line"`` is the hardware-efficient RXX line.
        shots: ``None`` trains on the exact NLL; an int trains on the shot-based MMD with
            parameter-shift gradients (module docstring).
        init_scale: ``None`` draws initial angles uniformly, a float from ``N(0, scale^2)``
            (:class:`jqgen.QCBM`).
        sigmas: MMD bandwidths of the shot-based loss.

    Examples:
        >>> import jax
        >>> from jqgen.adversarial._qcbm_prior import QCBMPrior
        >>> prior = QCBMPrior(num_qubits=3, bases=("z", "x"), layers=1)
        >>> params = prior.init(jax.random.key(0))
        >>> z = prior.sample(params, jax.random.key(1), 5)
        >>> z.shape, z.dtype.name, prior.readout_probs(params).shape
        ((5, 6), 'uint8', (2, 8))
        >>> loss, grads = jax.jit(prior.value_and_grad)(params, z, jax.random.key(2))
        >>> bool(loss > 0), sorted(grads) == sorted(params)
        (True, True)
    """

    num_qubits: int = 8
    bases: tuple[str, ...] = ("z", "x")
    layers: int = 4
    ansatz: str = "line"
    shots: int | None = None
    init_scale: float | None = None
    sigmas: tuple[float, ...] = DEFAULT_SIGMAS

    trainable = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "num_qubits", check_int(self.num_qubits, "num_qubits", 2))
        object.__setattr__(self, "bases", parse_bases(self.bases))
        object.__setattr__(self, "layers", check_int(self.layers, "layers", 1))
        if self.ansatz not in QCBM_ANSATZ_NAMES:
            raise ValueError(f"ansatz must be one of {QCBM_ANSATZ_NAMES} (a prior has no data for 'chow-liu'), "
                             f"got {self.ansatz!r}")
        if self.shots is not None:
            check_shots(self.shots, "shots")
            object.__setattr__(self, "shots", int(self.shots))
        if self.init_scale is not None:
            if isinstance(self.init_scale, bool) or not isinstance(self.init_scale, (int, float, np.floating)) \
                    or not self.init_scale >= 0:
                raise ValueError(f"init_scale must be None or a float >= 0, got {self.init_scale!r}")
            object.__setattr__(self, "init_scale", float(self.init_scale))
        try:
            sigmas = tuple(float(s) for s in self.sigmas)
        except (TypeError, ValueError):
            raise ValueError(f"sigmas must be a sequence of positive floats, got {self.sigmas!r}") from None
        if not sigmas or not all(np.isfinite(s) and s > 0 for s in sigmas):
            raise ValueError(f"sigmas must be a non-empty sequence of positive floats, got {self.sigmas!r}")
        object.__setattr__(self, "sigmas", sigmas)
        self.model  # noqa: B018 - builds the circuit (its memory guard) now

    @property
    def num_latent(self) -> int:
        """Latent bits supplied: ``num_qubits * len(bases)``."""
        return self.num_qubits * len(self.bases)

    @functools.cached_property
    def model(self) -> QCBM:
        """The circuit as a :class:`jqgen.QCBM` (``model.state(params)`` is ``U(theta)|0>``)."""
        return QCBM(ansatz_by_name(self.ansatz, self.num_qubits, self.layers), init_scale=self.init_scale)

    # ------------------------------------------------------------------ public API

    def init(self, key: jax.Array) -> dict[str, jax.Array]:
        """Initial angles (the :class:`jqgen.QCBM`'s)."""
        return self.model.init(key)

    def readout_probs(self, params: dict[str, jax.Array]) -> jax.Array:
        """Exact per-basis distributions ``[len(bases), 2**num_qubits]`` (big-endian)."""
        self.model.ansatz.check_params(params)
        check_finite(params, "QCBMPrior params")
        return C.call(self, "_readout", (), params)

    def latent_probs(self, params: dict[str, jax.Array]) -> jax.Array:
        """The latent distribution ``[2**num_latent]``, ``prod_b p_b`` (big-endian over the
        basis-major latent bits).

        Raises:
            ValueError: more than :data:`MAX_LATENT_PROBS_BITS` latent bits.
        """
        if self.num_latent > MAX_LATENT_PROBS_BITS:
            raise ValueError(f"latent_probs enumerates at most {MAX_LATENT_PROBS_BITS} latent bits, this prior has "
                             f"{self.num_latent}; use readout_probs (one distribution per basis)")
        p = self.readout_probs(params)
        out = p[0]
        for b in range(1, p.shape[0]):
            out = (out[:, None] * p[b][None, :]).reshape(-1)
        return out

    def sample(self, params: dict[str, jax.Array], key: jax.Array, num: int) -> jax.Array:
        """``num`` latent vectors, uint8 ``[num, num_latent]``: one shot per basis each."""
        num = C.check_num(num)
        check_batch(num, 4 * self.num_latent + 32, f"sampling {self.num_latent}-bit latent vectors")
        self.model.ansatz.check_params(params)
        check_finite(params, "QCBMPrior params")
        return C.call(self, "_sample", (2,), params, key, num)

    def loss(self, params: dict[str, jax.Array], features: Any, key: jax.Array) -> jax.Array:
        """The training loss on ``features [N, num_latent]`` (exact NLL or shot MMD; ``key``
        draws the shots and is unused when exact)."""
        features = C.check_features(features, self.num_latent)
        self.model.ansatz.check_params(params)
        check_finite(params, "QCBMPrior params")
        return C.call(self, "_loss", (), params, features, key)

    def value_and_grad(self, params: dict[str, jax.Array], features: Any, key: jax.Array) -> tuple[jax.Array, Any]:
        """``(loss, grads)``: autodiff when exact, the parameter-shift estimate with shots."""
        features = C.check_features(features, self.num_latent)
        self.model.ansatz.check_params(params)
        check_finite(params, "QCBMPrior params")
        return C.call(self, "_value_and_grad", (), params, features, key)

    def config(self) -> dict[str, Any]:
        """JSON-serializable description; :meth:`from_config` rebuilds an equal prior."""
        return {"prior": "qcbm", "num_qubits": self.num_qubits, "bases": list(self.bases), "layers": self.layers,
                "ansatz": self.ansatz, "shots": self.shots, "init_scale": self.init_scale,
                "sigmas": list(self.sigmas)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "QCBMPrior":
        """The prior of a :meth:`config` dict."""
        return cls(**C.fields_from_config(cls, "qcbm", config, (), ("bases", "sigmas")))

    # ------------------------------------------------------------------ kernels (pure)

    def _readout(self, params: dict[str, jax.Array]) -> jax.Array:
        return rotated_probs(self.model.state(params), self.bases, self.num_qubits)

    def _sample(self, params: dict[str, jax.Array], key: jax.Array, num: int) -> jax.Array:
        p = self._readout(params)
        keys = jax.random.split(key, len(self.bases))
        parts = [index_to_bits(_sample_indices(p[b], keys[b], num), self.num_qubits) for b in range(len(self.bases))]
        return jnp.concatenate(parts, axis=1)

    def _per_basis(self, features: jax.Array) -> jax.Array:
        return features.reshape(features.shape[0], len(self.bases), self.num_qubits)

    def _nll(self, params: dict[str, jax.Array], features: jax.Array) -> jax.Array:
        p = self._readout(params)
        logp = jnp.log(jnp.maximum(p, jnp.asarray(PROB_FLOOR, p.dtype)))
        idx = bits_to_index(self._per_basis(features)).astype(jnp.int32)  # [N, B]
        picked = logp[jnp.arange(len(self.bases))[None, :], idx]
        return -jnp.mean(jnp.sum(picked, axis=1))

    def _targets(self, features: jax.Array) -> jax.Array:
        per = self._per_basis(features)
        return jnp.stack([empirical_distribution(per[:, b], self.num_qubits) for b in range(len(self.bases))])

    def _histograms(self, p: jax.Array, key: jax.Array) -> jax.Array:
        keys = jax.random.split(key, p.shape[0])
        shots = int(self.shots)
        return jnp.stack([sample_counts(p[b], keys[b], shots).astype(p.dtype) / shots for b in range(p.shape[0])])

    def _mmd_sum(self, q: jax.Array, targets: jax.Array) -> jax.Array:
        return sum(mmd(q[b], targets[b], self.sigmas) for b in range(q.shape[0]))

    def _loss(self, params: dict[str, jax.Array], features: jax.Array, key: jax.Array) -> jax.Array:
        if self.shots is None:
            return self._nll(params, features)
        k_value = jax.random.split(key, 3)[0]
        return self._mmd_sum(self._histograms(self._readout(params), k_value), self._targets(features))

    def _value_and_grad(self, params: dict[str, jax.Array], features: jax.Array, key: jax.Array) -> tuple[jax.Array, Any]:
        if self.shots is None:
            return jax.value_and_grad(self._nll)(params, features)
        k_value, k_grad, k_shift = jax.random.split(key, 3)
        targets = self._targets(features)
        p = self._readout(params)
        value = self._mmd_sum(self._histograms(p, k_value), targets)
        g = jax.grad(self._mmd_sum)(self._histograms(p, k_grad), targets)  # independent of the shifted shots
        return value, self._shift_grad(params, g, k_shift)

    def _shift_grad(self, params: dict[str, jax.Array], g: jax.Array, key: jax.Array) -> dict[str, jax.Array]:
        """``sum_b sum_x g_b(x) dp_b(x)/dtheta`` by the parameter-shift rule, every shifted
        circuit's distribution a histogram of ``shots`` shots."""
        flat, unravel = ravel_pytree(params)
        num = flat.shape[0]
        eye = jnp.eye(num, dtype=flat.dtype) * jnp.asarray(np.pi / 2, flat.dtype)
        thetas = jnp.concatenate([flat[None] + eye, flat[None] - eye])  # [2P, P]
        keys = jax.random.split(key, 2 * num)

        def one(args: tuple[jax.Array, jax.Array]) -> jax.Array:
            theta, k = args
            return jnp.sum(self._histograms(self._readout(unravel(theta)), k) * g)

        per_circuit = len(self.bases) * (2**self.num_qubits * 32 + 16 * (int(self.shots) + 1))
        vals = jax.lax.map(one, (thetas, keys), batch_size=max(1, min(2 * num, _SHIFT_BATCH_BYTES // per_circuit)))
        return unravel((vals[:num] - vals[num:]) / 2)


def _sample_indices(p: jax.Array, key: jax.Array, num: int) -> jax.Array:
    """``num`` indices drawn from ``p`` by inverse-CDF search."""
    cdf = jnp.cumsum(p)
    u = jax.random.uniform(key, (num,), p.dtype) * cdf[-1]
    return jnp.minimum(jnp.searchsorted(cdf, u, side="right"), p.shape[0] - 1)
