"""Resource arithmetic for scheduling: quantities as integers, a pod's effective requests.

Units are upstream's: CPU in millicores, everything else (memory, ephemeral-storage,
extended resources such as ``nvidia.com/gpu``, hugepages) in whole units, rounded up as
``Quantity.Value()`` does. A request vector is a plain ``dict[str, int]`` keyed by resource
name; absent means zero.

``pod_requests`` is upstream's ``resourcehelper.PodRequests``: the sum over regular
containers, then the maximum with every init container's request (a sidecar — an init
container with ``restartPolicy: Always`` — keeps running, so it is added to the sum and
also to what later init containers run next to), then the pod overhead. With
``non_missing`` it first fills in defaults for requests a container leaves out: the
scorers use 100m CPU / 200Mi memory so that BestEffort pods do not all land on one node.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final

from pyk8s.api.validation.quantity import QuantityError, parse_quantity

__all__ = [
    "CPU",
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "EPHEMERAL_STORAGE",
    "MEMORY",
    "NON_ZERO_DEFAULTS",
    "PODS",
    "Requests",
    "add_into",
    "is_scalar_resource",
    "parse_resource_list",
    "pod_requests",
    "quantity_value",
]

CPU: Final = "cpu"
MEMORY: Final = "memory"
EPHEMERAL_STORAGE: Final = "ephemeral-storage"
PODS: Final = "pods"
DEFAULT_MILLI_CPU_REQUEST: Final = 100
DEFAULT_MEMORY_REQUEST: Final = 200 * 1024 * 1024
NON_ZERO_DEFAULTS: Final[Mapping[str, int]] = {
    CPU: DEFAULT_MILLI_CPU_REQUEST,
    MEMORY: DEFAULT_MEMORY_REQUEST,
}

Requests = dict[str, int]


def is_scalar_resource(name: str) -> bool:
    """Extended resources, hugepages and attachable volumes: tracked as opaque counters."""
    if name.startswith(("hugepages-", "attachable-volumes-")):
        return True
    if "/" not in name:
        return False
    domain = name.split("/", 1)[0]
    return not (domain == "kubernetes.io" or domain.endswith(".kubernetes.io")) and not (
        name.startswith("requests.")
    )


def _tracked(name: str) -> bool:
    return name in (CPU, MEMORY, EPHEMERAL_STORAGE) or is_scalar_resource(name)


@functools.lru_cache(maxsize=4096)
def quantity_value(name: str, raw: str | int | float) -> int:
    """A quantity as the scheduler counts it: millicores for cpu, rounded-up units else."""
    try:
        q = parse_quantity(raw)
    except QuantityError:
        return 0
    if name == CPU:
        return q.milli_value()
    v = q.value
    n = v.numerator // v.denominator
    return n + 1 if n * v.denominator != v.numerator and v > 0 else n


def parse_resource_list(raw: Mapping[str, Any] | None, *, only_tracked: bool = True) -> Requests:
    """A ``ResourceList`` (name → quantity) as integers; untracked names are dropped."""
    out: Requests = {}
    if not raw:
        return out
    for name, q in raw.items():
        if only_tracked and not _tracked(name) and name != PODS:
            continue
        if isinstance(q, str | int | float) and not isinstance(q, bool):
            out[name] = quantity_value(name, q)
    return out


def add_into(acc: Requests, other: Mapping[str, int]) -> None:
    for k, v in other.items():
        acc[k] = acc.get(k, 0) + v


def _max_into(acc: Requests, other: Mapping[str, int]) -> None:
    for k, v in other.items():
        if v > acc.get(k, 0):
            acc[k] = v


def _container_requests(c: Mapping[str, Any], non_missing: Mapping[str, int] | None) -> Requests:
    res = c.get("resources") or {}
    reqs = parse_resource_list(res.get("requests"))
    if non_missing:
        for k, v in non_missing.items():
            if k not in reqs:
                reqs[k] = v
    return reqs


def pod_requests(
    spec: Mapping[str, Any], *, non_missing: Mapping[str, int] | None = None
) -> Requests:
    """The pod's effective request vector (see the module docstring)."""
    total: Requests = {}
    for c in spec.get("containers") or ():
        add_into(total, _container_requests(c, non_missing))
    sidecars: Requests = {}
    init_max: Requests = {}
    for c in spec.get("initContainers") or ():
        reqs = _container_requests(c, non_missing)
        if c.get("restartPolicy") == "Always":
            add_into(total, reqs)
            add_into(sidecars, reqs)
            running = dict(sidecars)
        else:
            running = dict(reqs)
            add_into(running, sidecars)
        _max_into(init_max, running)
    _max_into(total, init_max)
    overhead = spec.get("overhead")
    if overhead:
        add_into(total, parse_resource_list(overhead))
    return {k: v for k, v in total.items() if v}
