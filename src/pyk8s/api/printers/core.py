"""Printers for the core group (other than pods): upstream's columns and cell logic.

Covers services, endpoints, nodes, events (core/v1 and events.k8s.io/v1, which upstream
prints with one printer from the internal core Event), namespaces, secrets, service
accounts, persistent volumes and claims, config maps, replication controllers, resource
quotas and pod templates. Limit ranges have no printer upstream (the default table).
Quantities are shown as stored; upstream shows them canonicalised, which they are once the
apiserver has normalised them on write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pyk8s.api.printers import descriptions as d
from pyk8s.api.printers.columns import AGE, NAME, Cell, Printer, column, containers_columns
from pyk8s.api.printers.formatting import (
    Obj,
    format_labels,
    get_bool,
    get_int,
    get_list,
    get_map,
    get_str,
    get_strs,
    layout_containers,
    since,
    text,
)

__all__ = ["PRINTERS"]


def _name(obj: Obj) -> str:
    return get_str(get_map(obj, "metadata"), "name")


def _age(obj: Obj, now: datetime) -> str:
    return since(get_map(obj, "metadata").get("creationTimestamp"), now)


def _deleting(obj: Obj) -> bool:
    return get_map(obj, "metadata").get("deletionTimestamp") is not None


# -- services -----------------------------------------------------------------------------


def _load_balancer_ips(status: Obj) -> list[str]:
    """Distinct ingress IPs (or hostnames), sorted; never clipped (the server prints wide)."""
    found = {get_str(i, "ip") or get_str(i, "hostname") for i in get_list(status, "ingress")}
    return sorted(found - {""})


def _external_ip(svc: Obj) -> str:
    spec = get_map(svc, "spec")
    external = get_strs(spec, "externalIPs")
    svc_type = get_str(spec, "type")
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if svc_type == "LoadBalancer":
        lb = _load_balancer_ips(get_map(svc, "status", "loadBalancer"))
        if external:
            return ",".join(lb + external)
        return ",".join(lb) or "<pending>"
    if svc_type == "ExternalName":
        return get_str(spec, "externalName")
    return "<unknown>"


def _ports(ports: list[Obj]) -> str:
    shown = []
    for p in ports:
        node_port = get_int(p, "nodePort")
        middle = f":{node_port}" if node_port > 0 else ""
        shown.append(f"{get_int(p, 'port')}{middle}/{get_str(p, 'protocol')}")
    return ",".join(shown)


def _service(svc: Obj, now: datetime) -> list[Cell]:
    spec = get_map(svc, "spec")
    cluster_ips = get_strs(spec, "clusterIPs") or [ip for ip in [get_str(spec, "clusterIP")] if ip]
    return [
        _name(svc),
        get_str(spec, "type"),
        cluster_ips[0] if cluster_ips else "<none>",
        _external_ip(svc),
        _ports(get_list(spec, "ports")) or "<none>",
        _age(svc, now),
        format_labels(get_map(spec, "selector")),
    ]


_SERVICE = (
    NAME,
    column("Type", "string", d.SERVICE_TYPE),
    column("Cluster-IP", "string", d.SERVICE_CLUSTER_IP),
    column("External-IP", "string", d.SERVICE_EXTERNAL_IPS),
    column("Port(s)", "string", d.SERVICE_PORTS),
    AGE,
    column("Selector", "string", d.SERVICE_SELECTOR, priority=1),
)


def list_with_more(items: list[str], total: int, limit: int = 3) -> str:
    """``a,b,c + 2 more...`` once more than ``limit`` items exist."""
    shown = ",".join(items[:limit])
    return f"{shown} + {total - limit} more..." if total > limit else shown


def _join_host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _endpoints(ep: Obj, now: datetime) -> list[Cell]:
    subsets = get_list(ep, "subsets")
    items: list[str] = []
    total = 0
    for ss in subsets:
        ips = [get_str(a, "ip") for a in get_list(ss, "addresses")]
        ports = get_list(ss, "ports")
        if not ports:  # headless services may have no ports
            total += len(ips)
            items += ips
            continue
        for port in ports:
            total += len(ips)
            items += [_join_host_port(ip, get_int(port, "port")) for ip in ips]
    shown = list_with_more(items, total) if subsets else "<none>"
    return [_name(ep), shown, _age(ep, now)]


# -- nodes --------------------------------------------------------------------------------


def _node_roles(labels: Obj) -> str:
    roles = set()
    for key, value in labels.items():
        if key.startswith("node-role.kubernetes.io/"):
            roles.add(key.removeprefix("node-role.kubernetes.io/"))
        elif key == "kubernetes.io/role":
            roles.add(text(value))
    return ",".join(sorted(roles - {""})) or "<none>"


def _node_address(status: Obj, kind: str) -> str:
    for addr in get_list(status, "addresses"):
        if get_str(addr, "type") == kind:
            return get_str(addr, "address")
    return "<none>"


def _node(node: Obj, now: datetime) -> list[Cell]:
    status, info = get_map(node, "status"), get_map(node, "status", "nodeInfo")
    conditions = {get_str(c, "type"): get_str(c, "status") for c in get_list(status, "conditions")}
    state = ["Unknown"]
    if "Ready" in conditions:
        state = ["Ready" if conditions["Ready"] == "True" else "NotReady"]
    if get_bool(get_map(node, "spec"), "unschedulable"):
        state.append("SchedulingDisabled")
    return [
        _name(node),
        ",".join(state),
        _node_roles(get_map(node, "metadata", "labels")),
        _age(node, now),
        get_str(info, "kubeletVersion"),
        _node_address(status, "InternalIP"),
        _node_address(status, "ExternalIP"),
        get_str(info, "osImage") or "<unknown>",
        get_str(info, "kernelVersion") or "<unknown>",
        get_str(info, "containerRuntimeVersion") or "<unknown>",
    ]


_NODE = (
    NAME,
    column("Status", "string", "The status of the node"),
    column("Roles", "string", "The roles of the node"),
    AGE,
    column("Version", "string", d.NODE_KUBELET_VERSION),
    column("Internal-IP", "string", d.NODE_ADDRESSES, priority=1),
    column("External-IP", "string", d.NODE_ADDRESSES, priority=1),
    column("OS-Image", "string", d.NODE_OS_IMAGE, priority=1),
    column("Kernel-Version", "string", d.NODE_KERNEL_VERSION, priority=1),
    column("Container-Runtime", "string", d.NODE_CONTAINER_RUNTIME_VERSION, priority=1),
)

# -- events -------------------------------------------------------------------------------


def _as_core_event(ev: Obj) -> Obj:
    """An events.k8s.io/v1 Event in core/v1 field names (upstream's conversion)."""
    if "regarding" not in ev and not get_str(ev, "apiVersion").startswith("events.k8s.io/"):
        return ev
    return {
        **ev,
        "involvedObject": get_map(ev, "regarding"),
        "message": get_str(ev, "note"),
        "source": get_map(ev, "deprecatedSource"),
        "firstTimestamp": ev.get("deprecatedFirstTimestamp"),
        "lastTimestamp": ev.get("deprecatedLastTimestamp"),
        "count": get_int(ev, "deprecatedCount"),
    }


def _event(raw: Obj, now: datetime) -> list[Cell]:
    ev = _as_core_event(raw)
    first = since(ev.get("firstTimestamp"), now)
    if first == "<unknown>":
        first = since(ev.get("eventTime"), now)
    last = since(ev.get("lastTimestamp"), now)
    if last == "<unknown>":
        last = first
    count = get_int(ev, "count")
    series = ev.get("series")
    if isinstance(series, Mapping):
        last = since(series.get("lastObservedTime"), now)
        count = get_int(series, "count")
    elif count == 0:
        count = 1  # singleton events have no count in the new API
    involved = get_map(ev, "involvedObject")
    target = get_str(involved, "kind").lower()
    if get_str(involved, "name"):
        target += "/" + get_str(involved, "name")
    source = get_map(ev, "source")
    component = get_str(source, "component") or get_str(ev, "reportingController")
    host = get_str(source, "host") or get_str(ev, "reportingInstance")
    return [
        last,
        get_str(ev, "type"),
        get_str(ev, "reason"),
        target,
        get_str(involved, "fieldPath"),
        f"{component}, {host}" if host else component,
        get_str(ev, "message").strip(),
        first,
        count,
        _name(ev),
    ]


_EVENT = (
    column("Last Seen", "string", d.EVENT_LAST_TIMESTAMP),
    column("Type", "string", d.EVENT_TYPE),
    column("Reason", "string", d.EVENT_REASON),
    column("Object", "string", d.EVENT_INVOLVED_OBJECT),
    column("Subobject", "string", d.OBJECT_REFERENCE_FIELD_PATH, priority=1),
    column("Source", "string", d.EVENT_SOURCE, priority=1),
    column("Message", "string", d.EVENT_MESSAGE),
    column("First Seen", "string", d.EVENT_FIRST_TIMESTAMP, priority=1),
    column("Count", "string", d.EVENT_COUNT, priority=1),
    column("Name", "string", d.NAME, format_="name", priority=1),
)

# -- storage ------------------------------------------------------------------------------

_ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)
_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"


def _access_modes(modes: list[str]) -> str:
    return ",".join(short for mode, short in _ACCESS_MODES if mode in modes)


def _storage_class(obj: Obj) -> str:
    annotations = get_map(obj, "metadata", "annotations")
    if _BETA_CLASS in annotations:
        return text(annotations[_BETA_CLASS])
    return get_str(get_map(obj, "spec"), "storageClassName")


def _storage(resources: Obj) -> str:
    """A ``storage`` quantity; a missing one is the zero quantity, "0"."""
    return text(resources.get("storage")) or "0"


def _persistent_volume(pv: Obj, now: datetime) -> list[Cell]:
    spec, status = get_map(pv, "spec"), get_map(pv, "status")
    claim = get_map(spec, "claimRef")
    claim_ref = ""
    if spec.get("claimRef") is not None:
        claim_ref = f"{get_str(claim, 'namespace')}/{get_str(claim, 'name')}"
    return [
        _name(pv),
        _storage(get_map(spec, "capacity")),
        _access_modes(get_strs(spec, "accessModes")),
        get_str(spec, "persistentVolumeReclaimPolicy"),
        "Terminating" if _deleting(pv) else get_str(status, "phase"),
        claim_ref,
        _storage_class(pv),
        get_str(spec, "volumeAttributesClassName") or "<unset>",
        get_str(status, "reason"),
        _age(pv, now),
        get_str(spec, "volumeMode") or "<unset>",
    ]


def _persistent_volume_claim(pvc: Obj, now: datetime) -> list[Cell]:
    spec, status = get_map(pvc, "spec"), get_map(pvc, "status")
    volume = get_str(spec, "volumeName")
    annotations = get_map(pvc, "metadata", "annotations")
    if _BETA_CLASS in annotations:
        storage_class = text(annotations[_BETA_CLASS])
    else:
        storage_class = text(spec.get("storageClassName"))
    return [
        _name(pvc),
        "Terminating" if _deleting(pvc) else get_str(status, "phase"),
        volume,
        _storage(get_map(status, "capacity")) if volume else "",
        _access_modes(get_strs(status, "accessModes")) if volume else "",
        storage_class,
        get_str(spec, "volumeAttributesClassName") or "<unset>",
        _age(pvc, now),
        get_str(spec, "volumeMode") or "<unset>",
    ]


# -- the rest -----------------------------------------------------------------------------


def _replication_controller(rc: Obj, now: datetime) -> list[Cell]:
    spec, status = get_map(rc, "spec"), get_map(rc, "status")
    names, images = layout_containers(get_list(get_map(spec, "template", "spec"), "containers"))
    return [
        _name(rc),
        get_int(spec, "replicas", 1),
        get_int(status, "replicas"),
        get_int(status, "readyReplicas"),
        _age(rc, now),
        names,
        images,
        format_labels(get_map(spec, "selector")),
    ]


def _resource_quota(quota: Obj, now: datetime) -> list[Cell]:
    hard, used = get_map(quota, "status", "hard"), get_map(quota, "status", "used")
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        shown = f"{resource}: {text(used.get(resource)) or '0'}/{text(hard[resource])}"
        pieces = resource.split(".")
        (limits if len(pieces) > 1 and pieces[0] == "limits" else requests).append(shown)
    return [_name(quota), ", ".join(requests), ", ".join(limits), _age(quota, now)]


def _pod_template(tmpl: Obj, now: datetime) -> list[Cell]:
    template = get_map(tmpl, "template")
    names, images = layout_containers(get_list(get_map(template, "spec"), "containers"))
    return [_name(tmpl), names, images, format_labels(get_map(template, "metadata", "labels"))]


PRINTERS = {
    ("", "services"): Printer(_SERVICE, _service),
    ("", "endpoints"): Printer(
        (NAME, column("Endpoints", "string", d.ENDPOINTS_SUBSETS), AGE), _endpoints
    ),
    ("", "nodes"): Printer(_NODE, _node),
    ("", "events"): Printer(_EVENT, _event),
    ("events.k8s.io", "events"): Printer(_EVENT, _event),
    ("", "namespaces"): Printer(
        (NAME, column("Status", "string", "The status of the namespace"), AGE),
        lambda o, now: [_name(o), get_str(get_map(o, "status"), "phase"), _age(o, now)],
    ),
    ("", "secrets"): Printer(
        (
            NAME,
            column("Type", "string", d.SECRET_TYPE),
            column("Data", "string", d.SECRET_DATA),
            AGE,
        ),
        lambda o, now: [_name(o), get_str(o, "type"), len(get_map(o, "data")), _age(o, now)],
    ),
    ("", "serviceaccounts"): Printer(
        (NAME, column("Secrets", "string", d.SERVICE_ACCOUNT_SECRETS), AGE),
        lambda o, now: [_name(o), len(get_list(o, "secrets")), _age(o, now)],
    ),
    ("", "persistentvolumes"): Printer(
        (
            NAME,
            column("Capacity", "string", d.PV_CAPACITY),
            column("Access Modes", "string", d.PV_ACCESS_MODES),
            column("Reclaim Policy", "string", d.PV_RECLAIM_POLICY),
            column("Status", "string", d.PV_STATUS_PHASE),
            column("Claim", "string", d.PV_CLAIM_REF),
            column("StorageClass", "string", "StorageClass of the pv"),
            column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
            column("Reason", "string", d.PV_STATUS_REASON),
            AGE,
            column("VolumeMode", "string", d.PV_VOLUME_MODE, priority=1),
        ),
        _persistent_volume,
    ),
    ("", "persistentvolumeclaims"): Printer(
        (
            NAME,
            column("Status", "string", d.PVC_STATUS_PHASE),
            column("Volume", "string", d.PVC_VOLUME_NAME),
            column("Capacity", "string", d.PVC_STATUS_CAPACITY),
            column("Access Modes", "string", d.PVC_STATUS_ACCESS_MODES),
            column("StorageClass", "string", "StorageClass of the pvc"),
            column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
            AGE,
            column("VolumeMode", "string", d.PVC_VOLUME_MODE, priority=1),
        ),
        _persistent_volume_claim,
    ),
    ("", "configmaps"): Printer(
        (NAME, column("Data", "string", d.CONFIGMAP_DATA), AGE),
        lambda o, now: [
            _name(o),
            len(get_map(o, "data")) + len(get_map(o, "binaryData")),
            _age(o, now),
        ],
    ),
    ("", "replicationcontrollers"): Printer(
        (
            NAME,
            column("Desired", "integer", d.RC_SPEC_REPLICAS),
            column("Current", "integer", d.RC_STATUS_REPLICAS),
            column("Ready", "integer", d.RC_STATUS_READY_REPLICAS),
            AGE,
            *containers_columns(d.RC_SPEC_SELECTOR),
        ),
        _replication_controller,
    ),
    ("", "resourcequotas"): Printer(
        (
            NAME,
            column(
                "Request",
                "string",
                "Request represents a minimum amount of cpu/memory that a container may consume.",
            ),
            column(
                "Limit",
                "string",
                "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
            ),
            AGE,
        ),
        _resource_quota,
    ),
    ("", "podtemplates"): Printer(
        (
            NAME,
            column("Containers", "string", "Names of each container in the template."),
            column("Images", "string", "Images referenced by each container in the template."),
            column("Pod Labels", "string", "The labels for the pod template."),
        ),
        _pod_template,
    ),
}
