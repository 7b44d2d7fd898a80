"""Chow-Liu trees: the CNOT layout Liu & Wang use for their QCBM entanglers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import validate_binary

__all__ = ["chow_liu_tree", "mutual_information"]


def mutual_information(data: Any) -> np.ndarray:
    """Pairwise mutual information (nats) ``[n, n]`` of the bits of ``data [N, n]``."""
    x = validate_binary(data).astype(np.float64)
    n_data, n = x.shape
    p1 = x.mean(0)
    joint = {}
    joint[1, 1] = x.T @ x / n_data
    joint[1, 0] = p1[:, None] - joint[1, 1]
    joint[0, 1] = p1[None, :] - joint[1, 1]
    joint[0, 0] = 1 - joint[1, 1] - joint[1, 0] - joint[0, 1]
    marg = {0: 1 - p1, 1: p1}
    mi = np.zeros((n, n))
    for a in (0, 1):
        for b in (0, 1):
            pj = joint[a, b]
            denom = marg[a][:, None] * marg[b][None, :]
            with np.errstate(divide="ignore", invalid="ignore"):
                term = np.where(pj > 1e-15, pj * np.log(pj / np.where(denom > 0, denom, 1)), 0.0)
            mi += term
    np.fill_diagonal(mi, 0.0)
    return mi


def chow_liu_tree(data: Any, root: int = 0) -> tuple[tuple[int, int], ...]:
    """Maximum-mutual-information spanning tree of the bits, as ``(parent, child)`` edges in
    breadth-first order from ``root`` (Prim's algorithm; ties broken by lower index).

    Examples:
        >>> from jqgen.data import bars_and_stripes
        >>> from jqgen.qcbm import chow_liu_tree
        >>> len(chow_liu_tree(bars_and_stripes(3, 3)))
        8
    """
    mi = mutual_information(data)
    n = mi.shape[0]
    if not 0 <= root < n:
        raise ValueError(f"root must be in [0, {n}), got {root!r}")
    in_tree = {root}
    parent = {}
    best = mi[root].copy()
    best_from = np.full(n, root)
    while len(in_tree) < n:
        cand = [(best[j], -j) for j in range(n) if j not in in_tree]
        _, neg = max(cand)
        j = -neg
        parent[j] = int(best_from[j])
        in_tree.add(j)
        for k in range(n):
            if k not in in_tree and mi[j, k] > best[k]:
                best[k], best_from[k] = mi[j, k], j
    order, edges = [root], []
    while order:
        node = order.pop(0)
        for child in sorted(c for c, p in parent.items() if p == node):
            edges.append((node, child))
            order.append(child)
    return tuple(edges)
