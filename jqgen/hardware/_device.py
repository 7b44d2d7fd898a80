"""Device descriptions: provider, name, width, native gates, coupling map and shot limit.

The offline ``local::testing`` provider is described by :meth:`Device.local`; other
providers' devices are read from the provider (``topology()``, ``native_gates()``) by
:func:`parse_device`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from ..qcbm import tc_settings
from . import _cloud

__all__ = ["DEFAULT_NATIVE_GATES", "Device", "LOCAL_DEFAULT_QUBITS", "parse_device"]

DEFAULT_NATIVE_GATES: tuple[str, ...] = ("rz", "sx", "x", "cx")
LOCAL_DEFAULT_QUBITS = 8
_LOCAL_DEVICES = ("testing",)
_KNOWN_PROVIDERS = ("local", "tencent", "tianyan")


def _check_positive_int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return int(v)


@dataclasses.dataclass(frozen=True)
class Device:
    """A quantum device (or simulator) as the compiler and runner see it.

    Attributes:
        provider: TensorCircuit cloud provider name (``"local"``, ``"tencent"``, ``"tianyan"``).
        name: device name at that provider (``"testing"`` for ``local``).
        num_qubits: number of physical qubits.
        native_gates: qiskit names of the basis gates the compiler lowers to.
        coupling_map: physical qubit pairs that admit two-qubit gates, treated as undirected
            (both directions allowed); ``None`` means all-to-all.
        max_shots: largest shot count accepted per circuit.

    Examples:
        >>> d = Device.local(4)
        >>> d.spec, d.coupling_map
        ('local::testing', ((0, 1), (1, 2), (2, 3)))
    """

    provider: str
    name: str
    num_qubits: int
    native_gates: tuple[str, ...] = DEFAULT_NATIVE_GATES
    coupling_map: tuple[tuple[int, int], ...] | None = None
    max_shots: int = 100_000

    def __post_init__(self) -> None:
        if not isinstance(self.provider, str) or not self.provider:
            raise ValueError(f"provider must be a non-empty str, got {self.provider!r}")
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty str, got {self.name!r}")
        _check_positive_int("num_qubits", self.num_qubits)
        _check_positive_int("max_shots", self.max_shots)
        gates = tuple(str(g) for g in self.native_gates)
        if not gates:
            raise ValueError("native_gates must not be empty")
        object.__setattr__(self, "native_gates", gates)
        if self.coupling_map is not None:
            pairs = tuple((int(a), int(b)) for a, b in self.coupling_map)
            for a, b in pairs:
                if not (0 <= a < self.num_qubits and 0 <= b < self.num_qubits) or a == b:
                    raise ValueError(f"coupling_map pairs must be distinct qubits in [0, {self.num_qubits}), got {(a, b)}")
            object.__setattr__(self, "coupling_map", pairs)

    @property
    def spec(self) -> str:
        """``"provider::name"``, the form TensorCircuit's cloud API and the journal use."""
        return f"{self.provider}::{self.name}"

    @classmethod
    def local(
        cls,
        num_qubits: int = LOCAL_DEFAULT_QUBITS,
        native_gates: Sequence[str] = DEFAULT_NATIVE_GATES,
        coupling: str | Sequence[tuple[int, int]] | None = "line",
        max_shots: int = 100_000,
    ) -> "Device":
        """The offline ``local::testing`` provider (TensorCircuit samples the circuit exactly).

        Args:
            num_qubits: width of the simulated device.
            native_gates: basis gates compiled circuits are lowered to.
            coupling: ``"line"`` (``(0, 1), (1, 2), ...``), ``None`` (all-to-all) or an
                explicit list of pairs.
            max_shots: shot limit per circuit.
        """
        n = _check_positive_int("num_qubits", num_qubits)
        if coupling == "line":
            cmap: tuple[tuple[int, int], ...] | None = tuple((i, i + 1) for i in range(n - 1))
        elif coupling is None:
            cmap = None
        elif isinstance(coupling, str):
            raise ValueError(f"coupling must be 'line', None or a list of pairs, got {coupling!r}")
        else:
            cmap = tuple((int(a), int(b)) for a, b in coupling)
        return cls("local", "testing", n, tuple(native_gates), cmap, max_shots)

    def check_shots(self, shots: Any) -> int:
        """Returns ``shots`` as an int; ``ValueError`` unless ``1 <= shots <= max_shots``."""
        if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
            raise ValueError(f"shots must be a positive int, got {shots!r}")
        if shots > self.max_shots:
            raise ValueError(f"shots={shots} exceeds the limit of {self.spec} ({self.max_shots})")
        return int(shots)


def parse_device(spec: str, num_qubits: int | None = None, **kwargs: Any) -> Device:
    """A :class:`Device` from ``"provider::name"``.

    ``local::testing`` is described offline (``num_qubits`` defaults to
    :data:`LOCAL_DEFAULT_QUBITS`; ``kwargs`` go to :meth:`Device.local`). Other providers'
    devices are read from the provider through TensorCircuit (``Device.topology()`` and
    ``native_gates()``; needs the network, the provider's client library and a token; not
    exercised in CI); ``kwargs`` may set ``max_shots``. A failure raises ``ValueError``
    with tokens redacted.

    Examples:
        >>> parse_device("local::testing", num_qubits=5).num_qubits
        5
    """
    if not isinstance(spec, str) or spec.count("::") != 1:
        raise ValueError(f"device must be 'provider::name', got {spec!r}")
    provider, name = spec.split("::")
    provider = provider.lower()
    if provider not in _KNOWN_PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; expected one of {list(_KNOWN_PROVIDERS)}")
    if provider == "local":
        if name not in _LOCAL_DEVICES:
            raise ValueError(f"unknown local device {name!r}; expected one of {list(_LOCAL_DEVICES)}")
        return Device.local(LOCAL_DEFAULT_QUBITS if num_qubits is None else num_qubits, **kwargs)
    return _remote_device(provider, name, **kwargs)


def _remote_device(provider: str, name: str, max_shots: int = 10_000) -> Device:
    try:
        apis, _ = _cloud.cloud()
        with tc_settings(backend=None, dtype=None):
            d = apis.get_device(provider=provider, device=name)
            edges = sorted({tuple(sorted((int(a), int(b)))) for a, b in d.topology()})
            gates = tuple(str(g).lower() for g in d.native_gates())
    except Exception as e:  # noqa: BLE001 - any provider/client failure becomes one clear error
        raise ValueError(_cloud.redact(f"could not read the description of {provider}::{name} from the provider: "
                                       f"{type(e).__name__}: {e}")) from None
    if not edges or not gates:
        raise ValueError(f"{provider}::{name} reported no coupling map or no native gates")
    return Device(provider, name, 1 + max(max(e) for e in edges), gates, tuple(edges), max_shots)
