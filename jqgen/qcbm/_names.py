"""Circuit ansätze by name: the names the ``jqgen`` command line accepts for ``--ansatz``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._ansatz import HardwareEfficient, LiuWang, SU4Brickwork
from ._tree import chow_liu_tree

__all__ = ["ANSATZ_NAMES", "ansatz_by_name"]

#: Names accepted by :func:`ansatz_by_name`: RXX hardware-efficient layers on a ``line``,
#: ``all``-to-all or ``star`` graph; Liu & Wang's CNOT layers on a line (``cnot-line``) or on
#: the data's Chow-Liu tree (``chow-liu``); a brickwork of general two-qubit gates (``su4``).
ANSATZ_NAMES = ("line", "all", "star", "cnot-line", "chow-liu", "su4")


def ansatz_by_name(name: str, num_qubits: int, layers: int, data: Any = None) -> Any:
    """The ansatz called ``name`` on ``num_qubits`` qubits with ``layers`` entangling blocks.

    Args:
        name: one of :data:`ANSATZ_NAMES`:

            * ``"line"``, ``"all"``, ``"star"``: :class:`HardwareEfficient` with that topology;
            * ``"cnot-line"``: :class:`LiuWang` with CNOTs along the line;
            * ``"chow-liu"``: :class:`LiuWang` with CNOTs along the Chow-Liu tree of ``data``
              (:func:`chow_liu_tree`);
            * ``"su4"``: :class:`SU4Brickwork` (brick order).
        num_qubits: number of qubits (bits per sample).
        layers: entangling blocks (``>= 1``).
        data: ``[N, num_qubits]`` 0/1 training samples; needed for ``"chow-liu"`` only.

    Returns:
        A :class:`HardwareEfficient`, :class:`LiuWang` or :class:`SU4Brickwork`.

    Raises:
        ValueError: an unknown ``name``, ``"chow-liu"`` without ``data``, or bad sizes (from
            the ansatz itself).

    Examples:
        >>> from jqgen.qcbm import ansatz_by_name
        >>> ansatz_by_name("star", 4, 2)
        HardwareEfficient(num_qubits=4, layers=2, topology='star')
    """
    if name not in ANSATZ_NAMES:
        raise ValueError(f"name must be one of {', '.join(ANSATZ_NAMES)}; got {name!r}")
    if name in ("line", "all", "star"):
        return HardwareEfficient(num_qubits, layers, topology=name)
    if name == "cnot-line":
        return LiuWang(num_qubits, layers)
    if name == "chow-liu":
        if data is None:
            raise ValueError("ansatz 'chow-liu' needs data (its CNOT tree is the data's Chow-Liu tree); got data=None")
        return LiuWang(num_qubits, layers, cnots=chow_liu_tree(np.asarray(data)))
    return SU4Brickwork(num_qubits, layers)
