"""TensorCircuit's cloud interface, and token redaction.

:func:`cloud` imports ``tensorcircuit.cloud`` (through :func:`jqgen.qcbm.tc_settings`, so the
import leaves TensorCircuit's settings and ``jax_enable_x64`` as the caller had them) and
returns its ``apis`` and ``abstraction`` modules. :func:`redact` removes every known token
from a text: the device descriptions (:mod:`._device`) and the runner (:mod:`._runner`) pass
every error message through it.
"""

from __future__ import annotations

import os
from typing import Any

from ..qcbm import tc_settings

__all__ = ["PROVIDERS", "cloud", "redact"]

#: Providers whose stored tokens :func:`redact` removes.
PROVIDERS = ("tencent", "tianyan", "local", "quafu")
_MIN_SECRET = 4


def cloud() -> tuple[Any, Any]:
    """TensorCircuit's ``(apis, abstraction)`` cloud modules."""
    with tc_settings(backend=None, dtype=None):
        from tensorcircuit.cloud import abstraction, apis

    return apis, abstraction


def _secrets() -> list[str]:
    vals = {v for k, v in os.environ.items() if "TOKEN" in k.upper() and v and len(v) >= _MIN_SECRET}
    try:
        apis, _ = cloud()
        for p in PROVIDERS:
            try:
                t = apis.get_token(provider=p)
            except Exception:  # noqa: BLE001 - a broken token store must not hide the real error
                t = None
            if t and len(str(t)) >= _MIN_SECRET:
                vals.add(str(t))
    except Exception:  # noqa: BLE001
        pass
    return sorted(vals, key=len, reverse=True)


def redact(text: Any) -> str:
    """``str(text)`` with every known token replaced by ``***``.

    Tokens: values of environment variables whose name contains ``TOKEN`` and the tokens
    TensorCircuit's ``apis.get_token`` returns for its providers (errors ignored).

    Examples:
        >>> import os
        >>> os.environ["MY_TOKEN"] = "s3cr3t-value"
        >>> redact("auth failed for s3cr3t-value")
        'auth failed for ***'
        >>> del os.environ["MY_TOKEN"]
    """
    s = str(text)
    for secret in _secrets():
        s = s.replace(secret, "***")
    return s
