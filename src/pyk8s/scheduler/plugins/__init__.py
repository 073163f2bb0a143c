"""The in-tree plugins and the registry that builds them by name.

``REGISTRY`` maps a plugin name to ``factory(args, framework)``; ``DEFAULT_PLUGINS`` is
upstream's default ``multiPoint`` set for kubescheduler.config.k8s.io/v1 (in upstream's
order, which is also the order Filter runs them) with their default score weights.
``extension_points(name)`` says which extension points a plugin implements, which is how
a ``multiPoint`` entry expands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.scheduler.framework import PluginFactory
from pyk8s.scheduler.plugins import (
    balanced_allocation,
    default_binder,
    default_preemption,
    image_locality,
    inter_pod_affinity,
    node_affinity,
    node_name,
    node_ports,
    node_resources_fit,
    node_unschedulable,
    pod_topology_spread,
    priority_sort,
    scheduling_gates,
    taint_toleration,
    volume_binding,
)

__all__ = ["DEFAULT_PLUGINS", "EXTENSION_POINTS", "REGISTRY", "extension_points"]

_CLASSES: Mapping[str, type[Any]] = {
    "SchedulingGates": scheduling_gates.SchedulingGates,
    "PrioritySort": priority_sort.PrioritySort,
    "NodeUnschedulable": node_unschedulable.NodeUnschedulable,
    "NodeName": node_name.NodeName,
    "TaintToleration": taint_toleration.TaintToleration,
    "NodeAffinity": node_affinity.NodeAffinity,
    "NodePorts": node_ports.NodePorts,
    "NodeResourcesFit": node_resources_fit.NodeResourcesFit,
    "VolumeBinding": volume_binding.VolumeBinding,
    "PodTopologySpread": pod_topology_spread.PodTopologySpread,
    "InterPodAffinity": inter_pod_affinity.InterPodAffinity,
    "DefaultPreemption": default_preemption.DefaultPreemption,
    "NodeResourcesBalancedAllocation": balanced_allocation.NodeResourcesBalancedAllocation,
    "ImageLocality": image_locality.ImageLocality,
    "DefaultBinder": default_binder.DefaultBinder,
}

REGISTRY: Mapping[str, PluginFactory] = {name: cls.new for name, cls in _CLASSES.items()}

DEFAULT_PLUGINS: tuple[tuple[str, int], ...] = (
    ("SchedulingGates", 0),
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("VolumeBinding", 0),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
)

# config field name -> the method that marks a plugin as serving it
EXTENSION_POINTS: Mapping[str, tuple[str, ...]] = {
    "preEnqueue": ("pre_enqueue",),
    "queueSort": ("less",),
    "preFilter": ("pre_filter",),
    "filter": ("filter",),
    "postFilter": ("post_filter",),
    "preScore": ("pre_score",),
    "score": ("score", "score_nodes"),
    "reserve": ("reserve",),
    "permit": ("permit",),
    "preBind": ("pre_bind",),
    "bind": ("bind",),
}


def extension_points(name: str) -> list[str]:
    cls = _CLASSES.get(name)
    if cls is None:
        return []
    return [p for p, methods in EXTENSION_POINTS.items() if any(hasattr(cls, m) for m in methods)]
