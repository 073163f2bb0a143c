"""The resource scorers of NodeResourcesFit and NodeResourcesBalancedAllocation, over all
nodes at once.

Each scorer takes, per scoring resource, ``requested`` (including the incoming pod) and
``allocatable`` as int64 arrays over the nodes, and returns one int64 score per node
with upstream's integer results: per-resource scores truncate, the weighted average of
LeastAllocated/MostAllocated truncates, RequestedToCapacityRatio's rounds. A resource
whose allocatable is 0 on a node is left out of that node's average, as upstream does
for extended resources a node lacks or a pod does not request.

The arithmetic runs in float64 (numpy's int64 division is several times slower). It is
exact here: operands stay below 2**53, and a quotient of integers below ~10**13 is never
within rounding distance of the next integer, so ``floor`` gives the integer result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from pyk8s.scheduler.framework import MAX_NODE_SCORE, IntArray
from pyk8s.scheduler.plugins.helpers import go_div
from pyk8s.scheduler.resources import CPU, EPHEMERAL_STORAGE, MEMORY
from pyk8s.scheduler.snapshot import Snapshot

__all__ = [
    "MAX_CUSTOM_PRIORITY_SCORE",
    "balanced_allocation",
    "broken_linear",
    "gather",
    "least_allocated",
    "most_allocated",
    "requested_to_capacity_ratio",
]

MAX_CUSTOM_PRIORITY_SCORE = 10
FloatArray = npt.NDArray[np.float64]
Columns = list[tuple[FloatArray, FloatArray]]  # per resource: (requested, allocatable)


def gather(
    snapshot: Snapshot,
    rows: IntArray,
    names: Sequence[str],
    pod_requests: Sequence[int],
    *,
    use_requested: bool,
) -> Columns:
    """Per resource (requested incl. the pod, allocatable) on ``rows``, as float64.

    CPU and memory count the node's non-zero requests (100m / 200Mi for containers that
    request nothing) unless ``use_requested``; a scalar resource the pod does not request
    is left out (allocatable 0)."""
    cols = snapshot.columns
    n = cols.n
    sel: slice | IntArray = slice(0, n) if rows.size == n else rows
    out: Columns = []
    for name, want in zip(names, pod_requests, strict=True):
        if name not in (CPU, MEMORY, EPHEMERAL_STORAGE) and want == 0:
            zero = np.zeros(rows.size, dtype=np.float64)
            out.append((zero, zero))
            continue
        if name == CPU and not use_requested:
            used = cols.non_zero_cpu[:n][sel]
        elif name == MEMORY and not use_requested:
            used = cols.non_zero_memory[:n][sel]
        else:
            used = cols.requested(name)[sel]
        req = used.astype(np.float64)
        req += want
        out.append((req, cols.allocatable(name)[sel].astype(np.float64)))
    return out


def _average(
    parts: Sequence[tuple[npt.NDArray[Any], npt.NDArray[Any]]], size: int, *, rounded: bool
) -> IntArray:
    """Weighted mean of per-resource (score, weight-or-0) arrays."""
    total = np.zeros(size, dtype=np.float64)
    wsum = np.zeros(size, dtype=np.float64)
    for score, w in parts:
        total += score * w
        wsum += w
    np.maximum(wsum, 1.0, out=wsum)
    mean = total / wsum
    mean = np.floor(mean + 0.5) if rounded else np.floor(mean)
    return mean.astype(np.int64)


def least_allocated(columns: Columns, weights: Sequence[int]) -> IntArray:
    """(capacity - requested) * 100 / capacity per resource; 0 when over capacity."""
    parts = []
    size = columns[0][0].size if columns else 0
    for (req, alloc), w in zip(columns, weights, strict=True):
        present = alloc > 0
        cap = np.where(present, alloc, 1.0)
        per = np.floor(np.maximum(cap - req, 0.0) * MAX_NODE_SCORE / cap)
        parts.append((per, present * float(w)))
    return _average(parts, size, rounded=False)


def most_allocated(columns: Columns, weights: Sequence[int]) -> IntArray:
    """requested * 100 / capacity per resource, requested capped at capacity."""
    parts = []
    size = columns[0][0].size if columns else 0
    for (req, alloc), w in zip(columns, weights, strict=True):
        present = alloc > 0
        cap = np.where(present, alloc, 1.0)
        per = np.floor(np.minimum(req, cap) * MAX_NODE_SCORE / cap)
        parts.append((per, present * float(w)))
    return _average(parts, size, rounded=False)


def broken_linear(p: IntArray, shape: Sequence[tuple[int, int]]) -> IntArray:
    """helper.BuildBrokenLinearFunction over an array of utilisations (0..100)."""
    out = np.full(p.shape, shape[-1][1], dtype=np.int64)
    done = np.zeros(p.shape, dtype=np.bool_)
    for i, (u, s) in enumerate(shape):
        hit = ~done & (p <= u)
        if i == 0:
            out[hit] = s
        else:
            u0, s0 = shape[i - 1]
            out[hit] = s0 + go_div((s - s0) * (p[hit] - u0), u - u0)
        done |= hit
    return out


def requested_to_capacity_ratio(
    columns: Columns, weights: Sequence[int], shape: Sequence[tuple[int, int]]
) -> IntArray:
    """Score each resource by the shape (utilisation → 0..10, scaled to 0..100); the node
    score is the weighted mean over resources with a positive score, rounded."""
    scaled = [(u, s * (MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE)) for u, s in shape]
    parts = []
    size = columns[0][0].size if columns else 0
    for (req, alloc), w in zip(columns, weights, strict=True):
        present = alloc > 0
        cap = np.where(present, alloc, 1.0)
        util = np.where(req > cap, 100.0, np.floor(req * 100 / cap)).astype(np.int64)
        per = broken_linear(util, scaled).astype(np.float64)
        parts.append((per, (present & (per > 0)) * float(w)))
    return _average(parts, size, rounded=True)


def balanced_allocation(columns: Columns) -> IntArray:
    """(1 - standard deviation of the requested/allocatable fractions) * 100, truncated;
    fractions capped at 1; with two resources std is |f1 - f2| / 2 as upstream computes."""
    size = columns[0][0].size if columns else 0
    fracs, present = [], []
    for req, alloc in columns:
        has = alloc > 0
        fracs.append(np.where(has, np.minimum(req / np.where(has, alloc, 1.0), 1.0), 0.0))
        present.append(has)
    if len(columns) == 2:
        both = present[0] & present[1]
        std = np.where(both, np.abs((fracs[0] - fracs[1]) / 2), 0.0)
    else:
        count = np.zeros(size, dtype=np.float64)
        total = np.zeros(size, dtype=np.float64)
        for f, has in zip(fracs, present, strict=True):
            count += has
            total += f
        safe = np.maximum(count, 1.0)
        mean = total / safe
        var = np.zeros(size, dtype=np.float64)
        for f, has in zip(fracs, present, strict=True):
            var += ((f - mean) * has) ** 2
        std = np.where(count > 2, np.sqrt(var / safe), 0.0)
        if len(columns) > 2:
            # exactly two present fractions: upstream's |f1 - f2| / 2 form
            two = count == 2
            if two.any():
                f_present = [
                    np.where(has, f, np.nan) for f, has in zip(fracs, present, strict=True)
                ]
                stack = np.vstack(f_present)
                hi, lo = np.nanmax(stack, axis=0), np.nanmin(stack, axis=0)
                std = np.where(two, np.abs((hi - lo) / 2), std)
    out: IntArray = np.trunc((1 - std) * MAX_NODE_SCORE).astype(np.int64)
    return out
