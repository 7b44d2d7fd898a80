"""Memory of the default JAX device, for the models' guards (refuse before allocating)."""

from __future__ import annotations

import os

import jax

__all__ = ["available_memory", "format_bytes", "largest_fitting", "statevector_step_bytes"]


def available_memory() -> int:
    """Memory of JAX's default device in bytes (accelerator limit, or physical RAM on CPU)."""
    dev = jax.devices()[0]
    try:
        stats = dev.memory_stats()
    except Exception:  # noqa: BLE001 - not every backend implements memory_stats
        stats = None
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 16 * 2**30


def format_bytes(b: float) -> str:
    """``1536 -> '1.5 KiB'``.

    Examples:
        >>> from jqgen._memory import format_bytes
        >>> format_bytes(3 * 2**30)
        '3.0 GiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if b < 1024 or unit == "PiB":
            return f"{b:.1f} {unit}" if unit != "B" else f"{int(b)} B"
        b /= 1024
    raise AssertionError  # pragma: no cover


#: Statevector-sized arrays a training step keeps alive beyond the gradient residuals
#: (state, cotangent, probabilities, their logs and cotangents, a gather's temporary).
WORKING_COPIES = 8


def statevector_step_bytes(num_qubits: int, itemsize: int, layers: int, gradient: str,
                           blocks_per_layer: int | None = None) -> int:
    """Peak bytes of one ``value_and_grad`` step of a ``num_qubits`` statevector circuit.

    ``gradient="adjoint"``: :data:`WORKING_COPIES` statevectors of ``itemsize`` bytes per
    amplitude, whatever ``layers`` (the backward pass re-derives earlier states);
    ``"backprop"``: also one stored state per fused block and layer (``blocks_per_layer``,
    default ``num_qubits // 2 + 1``, the CPU plan of a rotation layer plus its entangler).

    Examples:
        >>> from jqgen._memory import statevector_step_bytes
        >>> statevector_step_bytes(20, 8, 16, "adjoint") == statevector_step_bytes(20, 8, 4, "adjoint")
        True
        >>> statevector_step_bytes(20, 8, 16, "backprop") // 2**20  # MiB
        1472
    """
    if gradient not in ("adjoint", "backprop"):
        raise ValueError(f"gradient must be 'adjoint' or 'backprop', got {gradient!r}")
    state = (2**num_qubits) * itemsize
    copies = WORKING_COPIES
    if gradient == "backprop":
        copies += layers * (blocks_per_layer if blocks_per_layer is not None else num_qubits // 2 + 1)
    return state * copies


def largest_fitting(need_of_n, have: int, start: int = 1, stop: int = 64) -> int:
    """The largest ``n`` in ``[start, stop]`` with ``need_of_n(n) <= have`` (``start - 1`` if none)."""
    n = start - 1
    while n + 1 <= stop and need_of_n(n + 1) <= have:
        n += 1
    return n
