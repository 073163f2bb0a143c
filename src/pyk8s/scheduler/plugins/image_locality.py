"""ImageLocality (Score): prefer nodes that already have the pod's images, weighted by
image size and by how widely the image is spread (so one node holding a popular image
does not attract every pod). Upstream's thresholds: 23 MB to 1000 MB per container."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.scheduler.framework import MAX_NODE_SCORE, CycleState, Framework
from pyk8s.scheduler.nodeinfo import NodeInfo
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.snapshot import Snapshot
from pyk8s.scheduler.status import Status

__all__ = ["ImageLocality", "calculate_priority", "normalized_image_name"]

NAME = "ImageLocality"
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


def normalized_image_name(name: str) -> str:
    """Add ``:latest`` when the reference has neither tag nor digest."""
    if name.rfind(":") <= name.rfind("/") and "@" not in name:
        return name + ":latest"
    return name


def calculate_priority(sum_scores: int, num_containers: int) -> int:
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    sum_scores = min(max(sum_scores, MIN_THRESHOLD), max_threshold)
    return MAX_NODE_SCORE * (sum_scores - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


def sum_image_scores(pod: PodInfo, node: NodeInfo, snapshot: Snapshot) -> int:
    total_nodes = max(len(snapshot), 1)
    total = 0
    for c in [*(pod.spec.get("initContainers") or ()), *(pod.spec.get("containers") or ())]:
        image = normalized_image_name(str(c.get("image") or ""))
        size = node.images.get(image)
        if size is not None:
            spread = snapshot.image_num_nodes(image) / total_nodes
            total += int(size * spread)
    return total


class ImageLocality:
    name = NAME

    def pre_score(self, state: CycleState, pod: PodInfo, rows: Any) -> Status:
        snap = state.snapshot
        images = {
            normalized_image_name(str(c.get("image") or ""))
            for c in [*(pod.spec.get("initContainers") or ()), *(pod.spec.get("containers") or ())]
        }
        # Nothing to prefer when no node reports any of the images.
        if not any(snap.image_num_nodes(i) for i in images):
            return Status.skip()
        return Status.success()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        n = len(pod.spec.get("initContainers") or ()) + len(pod.spec.get("containers") or ())
        return calculate_priority(sum_image_scores(pod, node, state.snapshot), max(n, 1))

    @classmethod
    def new(cls, args: Mapping[str, Any], fw: Framework) -> ImageLocality:
        return cls()
