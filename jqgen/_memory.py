"""Memory of the default JAX device, for the models' guards (refuse before allocating)."""

from __future__ import annotations

import os

import jax

__all__ = ["available_memory", "format_bytes"]


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

    Example:
        >>> from jqgen._memory import format_bytes
        >>> format_bytes(3 * 2**30)
        '3.0 GiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if b < 1024 or unit == "PiB":
            return f"{b:.1f} {unit}" if unit != "B" else f"{int(b)} B"
        b /= 1024
    raise AssertionError  # pragma: no cover
