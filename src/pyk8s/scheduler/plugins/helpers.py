"""Shared scoring arithmetic of the plugins (upstream's plugins/helper)."""

from __future__ import annotations

import numpy as np

from pyk8s.scheduler.framework import MAX_NODE_SCORE, IntArray

__all__ = ["default_normalize", "go_div"]


def go_div(a: IntArray, b: IntArray | int) -> IntArray:
    """Integer division truncating toward zero, as Go's ``/`` on int64 (b != 0)."""
    bb = np.asarray(b, dtype=np.int64)
    q = np.abs(a) // np.abs(bb)
    out: IntArray = np.where((a < 0) ^ (bb < 0), -q, q).astype(np.int64)
    return out


def default_normalize(scores: IntArray, *, reverse: bool = False) -> IntArray:
    """helper.DefaultNormalizeScore: scale to 0..100 by the maximum; reverse flips."""
    if scores.size == 0:
        return scores
    top = int(scores.max())
    if top <= 0:
        return np.full(scores.size, MAX_NODE_SCORE, dtype=np.int64) if reverse else scores
    out = go_div(MAX_NODE_SCORE * scores, top)
    return MAX_NODE_SCORE - out if reverse else out
