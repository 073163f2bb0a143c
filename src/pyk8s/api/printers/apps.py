"""Printers for apps/v1: deployments, replica sets, stateful sets, daemon sets and
controller revisions, with upstream's columns and cell logic.

``spec.replicas`` is read as 1 when absent (what defaulting writes). The deployment's wide
SELECTOR is ``LabelSelectorAsSelector(...).String()`` (empty for no selector,
``<invalid>`` for a bad one) while the other workloads use ``FormatLabelSelector``
(``<none>``, ``<error>``): upstream differs, so we do.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pyk8s.api import selectors
from pyk8s.api.printers import descriptions as d
from pyk8s.api.printers.columns import AGE, NAME, Cell, Printer, column, containers_columns
from pyk8s.api.printers.formatting import (
    Obj,
    format_label_selector,
    format_labels,
    get_bool,
    get_int,
    get_list,
    get_map,
    get_str,
    layout_containers,
    since,
)

__all__ = ["PRINTERS"]


def _name(obj: Obj) -> str:
    return get_str(get_map(obj, "metadata"), "name")


def _age(obj: Obj, now: datetime) -> str:
    return since(get_map(obj, "metadata").get("creationTimestamp"), now)


def _containers(spec: Obj) -> tuple[str, str]:
    return layout_containers(get_list(get_map(spec, "template", "spec"), "containers"))


def _deployment(obj: Obj, now: datetime) -> list[Cell]:
    spec, status = get_map(obj, "spec"), get_map(obj, "status")
    names, images = _containers(spec)
    raw_selector = spec.get("selector")
    try:
        selector = str(
            selectors.from_label_selector_obj(
                raw_selector if isinstance(raw_selector, Mapping) else None
            )
        )
    except selectors.SelectorError:
        selector = "<invalid>"
    return [
        _name(obj),
        f"{get_int(status, 'readyReplicas')}/{get_int(spec, 'replicas', 1)}",
        get_int(status, "updatedReplicas"),
        get_int(status, "availableReplicas"),
        _age(obj, now),
        names,
        images,
        selector,
    ]


def _replica_set(obj: Obj, now: datetime) -> list[Cell]:
    spec, status = get_map(obj, "spec"), get_map(obj, "status")
    names, images = _containers(spec)
    return [
        _name(obj),
        get_int(spec, "replicas", 1),
        get_int(status, "replicas"),
        get_int(status, "readyReplicas"),
        _age(obj, now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def _stateful_set(obj: Obj, now: datetime) -> list[Cell]:
    spec, status = get_map(obj, "spec"), get_map(obj, "status")
    names, images = _containers(spec)
    ready = f"{get_int(status, 'readyReplicas')}/{get_int(spec, 'replicas', 1)}"
    return [_name(obj), ready, _age(obj, now), names, images]


def _daemon_set(obj: Obj, now: datetime) -> list[Cell]:
    spec, status = get_map(obj, "spec"), get_map(obj, "status")
    names, images = _containers(spec)
    return [
        _name(obj),
        get_int(status, "desiredNumberScheduled"),
        get_int(status, "currentNumberScheduled"),
        get_int(status, "numberReady"),
        get_int(status, "updatedNumberScheduled"),
        get_int(status, "numberAvailable"),
        format_labels(get_map(spec, "template", "spec", "nodeSelector")),
        _age(obj, now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def _controller_name(obj: Obj) -> str:
    """``kind.group/name`` of the controlling owner (lower-cased kind), or ``<none>``."""
    for ref in get_list(get_map(obj, "metadata"), "ownerReferences"):
        if not get_bool(ref, "controller"):
            continue
        api_version, kind = get_str(ref, "apiVersion"), get_str(ref, "kind")
        group = api_version.partition("/")[0] if "/" in api_version else ""
        group_kind = f"{kind}.{group}" if group else kind
        if not group_kind:
            return get_str(ref, "name")
        return f"{group_kind.lower()}/{get_str(ref, 'name')}"
    return "<none>"


def _controller_revision(obj: Obj, now: datetime) -> list[Cell]:
    return [_name(obj), _controller_name(obj), get_int(obj, "revision"), _age(obj, now)]


PRINTERS = {
    ("apps", "deployments"): Printer(
        (
            NAME,
            column("Ready", "string", "Number of the pod with ready state"),
            column("Up-to-date", "string", d.DEPLOYMENT_UPDATED),
            column("Available", "string", d.DEPLOYMENT_AVAILABLE),
            AGE,
            *containers_columns(d.DEPLOYMENT_SELECTOR),
        ),
        _deployment,
    ),
    ("apps", "replicasets"): Printer(
        (
            NAME,
            column("Desired", "integer", d.RS_SPEC_REPLICAS),
            column("Current", "integer", d.RS_STATUS_REPLICAS),
            column("Ready", "integer", d.RS_STATUS_READY_REPLICAS),
            AGE,
            *containers_columns(d.RS_SPEC_SELECTOR),
        ),
        _replica_set,
    ),
    ("apps", "statefulsets"): Printer(
        (
            NAME,
            column("Ready", "string", "Number of the pod with ready state"),
            AGE,
            *containers_columns(None),
        ),
        _stateful_set,
    ),
    ("apps", "daemonsets"): Printer(
        (
            NAME,
            column("Desired", "integer", d.DS_DESIRED),
            column("Current", "integer", d.DS_CURRENT),
            column("Ready", "integer", d.DS_READY),
            column("Up-to-date", "integer", d.DS_UPDATED),
            column("Available", "integer", d.DS_AVAILABLE),
            column("Node Selector", "string", d.POD_NODE_SELECTOR),
            AGE,
            *containers_columns(d.DS_SELECTOR),
        ),
        _daemon_set,
    ),
    ("apps", "controllerrevisions"): Printer(
        (
            NAME,
            column("Controller", "string", "Controller of the object"),
            column("Revision", "string", d.CONTROLLER_REVISION_REVISION),
            AGE,
        ),
        _controller_revision,
    ),
}
