"""``jqgen info``: what this installation runs on -- versions, devices, platform, x64, the
compile cache, device memory and the largest QCBM statevector it holds, optional extras.

``--json`` prints the same as one JSON object (for a sweep's log or a bug report).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
from typing import Any

import jax

from ._report import version

__all__ = ["EXTRAS", "collect", "command", "register"]

#: Optional packages by the extra that installs them.
EXTRAS = {"flax": "adversarial", "scikit-learn": "adversarial", "evosax": "cma", "qiskit": "hardware",
          "dwave-samplers": "geo", "pyscipopt": "geo", "quimb": "bench", "hypothesis": "testing", "mkdocs": "docs"}


def register(commands: Any) -> None:
    """Adds the ``info`` parser to the commands."""
    s = commands.add_parser("info", help="versions, devices, x64, compile cache, memory")
    s.add_argument("--json", action="store_true", help="one JSON object instead of text")
    s.set_defaults(func=command)


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect() -> dict[str, Any]:
    """The facts ``jqgen info`` prints, as a dict.

    Examples:
        >>> info = collect()
        >>> sorted(info)[:4]
        ['backend', 'compile_cache', 'device_memory_bytes', 'devices']
    """
    from ..qcbm import QCBM, LiuWang, available_memory

    devices = jax.devices()
    memory = available_memory()
    return {
        "jqgen": version(), "jax": jax.__version__, "jaxlib": _installed("jaxlib"),
        "backend": jax.default_backend(),
        "devices": [{"id": d.id, "platform": d.platform, "kind": d.device_kind, "process": d.process_index}
                    for d in devices],
        "local_device_count": jax.local_device_count(), "process_count": jax.process_count(),
        "x64": bool(jax.config.jax_enable_x64),
        "compile_cache": jax.config.jax_compilation_cache_dir or None,
        "device_memory_bytes": memory,
        "largest_qcbm_qubits": QCBM(LiuWang(2, 1)).max_qubits(memory),
        "extras": {name: _installed(name) for name in EXTRAS},
    }


def command(args: argparse.Namespace) -> int:
    """Runs ``jqgen info``."""
    info = collect()
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    kinds = sorted({f"{d['platform']}:{d['kind']}" for d in info["devices"]})
    print(f"jqgen {info['jqgen']} (jax {info['jax']}, jaxlib {info['jaxlib']})")
    print(f"  backend     {info['backend']}: {len(info['devices'])} device(s) ({', '.join(kinds)}), "
          f"{info['process_count']} process(es)")
    print(f"  x64         {'on' if info['x64'] else 'off (float32 default; JAX_ENABLE_X64=1 turns it on)'}")
    print(f"  cache       {info['compile_cache'] or 'off'} (JQGEN_COMPILE_CACHE)")
    print(f"  memory      {info['device_memory_bytes'] / 2**30:.1f} GiB on device 0; a QCBM statevector "
          f"(float32, adjoint gradient) fits up to {info['largest_qcbm_qubits']} qubits")
    missing = sorted({extra for name, extra in EXTRAS.items() if info["extras"][name] is None})
    have = ", ".join(f"{n} {v}" for n, v in info["extras"].items() if v)
    print(f"  extras      {have or 'none'}" + (f"; not installed: jqgen[{','.join(missing)}]" if missing else ""))
    return 0
