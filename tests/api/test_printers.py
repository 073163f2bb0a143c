"""Server-side Table printing: columns and cells against upstream's printers.go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pyk8s.api import printers, resources
from pyk8s.api.printers import Cell

JSON = dict[str, Any]

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str = "x", age: float = 330, **extra: Any) -> JSON:
    return {"name": name, "namespace": "default", "creationTimestamp": ago(age), **extra}


def cells(key: tuple[str, str], obj: JSON) -> list[Cell]:
    return printers.row_cells(key, obj, NOW)


def named(key: tuple[str, str], obj: JSON) -> dict[str, Cell]:
    """Cells by column name (lower-cased), for cases that check a few columns."""
    names = [c["name"].lower() for c in printers.column_definitions(key)]
    return dict(zip(names, cells(key, obj), strict=True))


# -- human_duration -----------------------------------------------------------------------

_M, _H, _D, _Y = 60, 3600, 86400, 365 * 86400


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        pytest.param(-2, "<invalid>", id="future"),
        pytest.param(-1.5, "0s", id="skew-tolerated"),
        pytest.param(0, "0s", id="zero"),
        pytest.param(45, "45s", id="seconds"),
        pytest.param(119.9, "119s", id="below-two-minutes-truncates"),
        pytest.param(120, "2m", id="two-minutes"),
        pytest.param(125, "2m5s", id="minutes-and-seconds"),
        pytest.param(5 * _M + 30, "5m30s", id="5m30s"),
        pytest.param(10 * _M - 1, "9m59s", id="below-ten-minutes"),
        pytest.param(10 * _M + 59, "10m", id="ten-minutes-drops-seconds"),
        pytest.param(3 * _H - 1, "179m", id="below-three-hours-in-minutes"),
        pytest.param(3 * _H, "3h", id="three-hours"),
        pytest.param(3 * _H + 30 * _M, "3h30m", id="hours-and-minutes"),
        pytest.param(8 * _H - 1, "7h59m", id="below-eight-hours"),
        pytest.param(8 * _H + 59 * _M, "8h", id="eight-hours-drops-minutes"),
        pytest.param(48 * _H - 1, "47h", id="below-two-days"),
        pytest.param(2 * _D + 3 * _H, "2d3h", id="2d3h"),
        pytest.param(8 * _D - 1, "7d23h", id="below-eight-days"),
        pytest.param(8 * _D + 5 * _H, "8d", id="eight-days-drops-hours"),
        pytest.param(2 * _Y - 1, "729d", id="below-two-years"),
        pytest.param(2 * _Y + 5 * _D, "2y5d", id="years-and-days"),
        pytest.param(8 * _Y + 100 * _D, "8y", id="eight-years"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert printers.human_duration(seconds) == expected


# -- columns ------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", resources.BUILTIN, ids=lambda r: f"{r.version}-{r.plural}")
def test_one_cell_per_column(resource: resources.Resource) -> None:
    cols = printers.column_definitions(resource.key)
    assert set(cols[0]) == {"name", "type", "format", "description", "priority"}
    assert len(cells(resource.key, {"metadata": meta()})) == len(cols)


def test_pod_columns() -> None:
    cols = printers.column_definitions(("", "pods"))
    assert [(c["name"], c["type"], c["priority"]) for c in cols] == [
        ("Name", "string", 0),
        ("Ready", "string", 0),
        ("Status", "string", 0),
        ("Restarts", "string", 0),
        ("Age", "string", 0),
        ("IP", "string", 1),
        ("Node", "string", 1),
        ("Nominated Node", "string", 1),
        ("Readiness Gates", "string", 1),
    ]
    assert cols[0]["format"] == "name"
    assert cols[0]["description"].startswith("Name must be unique within a namespace.")


def test_column_definitions_are_fresh_copies() -> None:
    printers.column_definitions(("", "pods"))[0]["name"] = "changed"
    assert printers.column_definitions(("", "pods"))[0]["name"] == "Name"


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(("rbac.authorization.k8s.io", "roles"), id="roles"),
        pytest.param(("", "limitranges"), id="limitranges"),
        pytest.param(("example.com", "widgets"), id="unknown"),
    ],
)
def test_default_table(key: tuple[str, str]) -> None:
    cols = printers.column_definitions(key)
    assert [(c["name"], c["type"], c["format"]) for c in cols] == [
        ("Name", "string", "name"),
        ("Created At", "date", ""),
    ]
    assert cells(
        key, {"metadata": {"name": "r", "creationTimestamp": "2024-01-02T03:04:05.5+01:00"}}
    ) == [
        "r",
        "2024-01-02T02:04:05Z",
    ]
    assert cells(key, {"metadata": {"name": "r"}}) == ["r", "0001-01-01T00:00:00Z"]
    assert not printers.has_printer(key)


# -- pods ---------------------------------------------------------------------------------


def _running(name: str, *, ready: bool = True, restarts: int = 0) -> JSON:
    return {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": ago(100)}},
    }


def _waiting(name: str, reason: str, restarts: int = 0) -> JSON:
    return {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason}},
    }


def _terminated(name: str, code: int, reason: str = "", signal: int = 0) -> JSON:
    term: JSON = {"exitCode": code, "finishedAt": ago(60)}
    if reason:
        term["reason"] = reason
    if signal:
        term["signal"] = signal
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": term}}


def _pod(
    *,
    containers: int = 1,
    init: list[JSON] | None = None,
    statuses: list[JSON] | None = None,
    init_statuses: list[JSON] | None = None,
    phase: str = "Running",
    conditions: list[JSON] | None = None,
    spec: JSON | None = None,
    **status: Any,
) -> JSON:
    return {
        "metadata": meta("web-0"),
        "spec": {
            "containers": [{"name": f"c{i}", "image": "busybox"} for i in range(containers)],
            "initContainers": init or [],
            **(spec or {}),
        },
        "status": {
            "phase": phase,
            "containerStatuses": statuses or [],
            "initContainerStatuses": init_statuses or [],
            "conditions": conditions or [],
            **status,
        },
    }


def _deleted(pod: JSON) -> JSON:
    return {**pod, "metadata": {**meta("web-0"), "deletionTimestamp": ago(5)}}


_INITS = [{"name": "i0"}, {"name": "i1"}]
_SIDECAR = [{"name": "proxy", "restartPolicy": "Always"}]
_READY = [{"type": "Ready", "status": "True"}]


@pytest.mark.parametrize(
    ("pod", "ready", "status"),
    [
        pytest.param(_pod(statuses=[_running("c0")]), "1/1", "Running", id="running"),
        pytest.param(
            _pod(containers=2, statuses=[_running("c0"), _running("c1", ready=False)]),
            "1/2",
            "Running",
            id="one-of-two-ready",
        ),
        pytest.param(_pod(phase="Pending"), "0/1", "Pending", id="pending-no-statuses"),
        pytest.param(
            _pod(phase="Pending", statuses=[_waiting("c0", "ContainerCreating")]),
            "0/1",
            "ContainerCreating",
            id="container-creating",
        ),
        pytest.param(
            _pod(statuses=[_waiting("c0", "CrashLoopBackOff", restarts=4)]),
            "0/1",
            "CrashLoopBackOff",
            id="crash-loop",
        ),
        pytest.param(
            _pod(
                containers=2,
                statuses=[_waiting("c0", "ImagePullBackOff"), _waiting("c1", "ErrImagePull")],
            ),
            "0/2",
            "ImagePullBackOff",
            id="first-container-wins",
        ),
        pytest.param(
            _pod(phase="Succeeded", statuses=[_terminated("c0", 0, "Completed")]),
            "0/1",
            "Completed",
            id="completed",
        ),
        pytest.param(
            _pod(phase="Failed", statuses=[_terminated("c0", 137)]),
            "0/1",
            "ExitCode:137",
            id="exit-code-without-reason",
        ),
        pytest.param(
            _pod(phase="Failed", statuses=[_terminated("c0", 137, signal=9)]),
            "0/1",
            "Signal:9",
            id="signal-without-reason",
        ),
        pytest.param(
            _pod(
                containers=2,
                statuses=[_terminated("c0", 0, "Completed"), _running("c1")],
                conditions=_READY,
            ),
            "1/2",
            "Running",
            id="completed-but-one-running-ready-pod",
        ),
        pytest.param(
            _pod(containers=2, statuses=[_terminated("c0", 0, "Completed"), _running("c1")]),
            "1/2",
            "NotReady",
            id="completed-but-one-running-unready-pod",
        ),
        pytest.param(
            _pod(phase="Pending", init=_INITS, init_statuses=[_waiting("i0", "PodInitializing")]),
            "0/1",
            "Init:0/2",
            id="init-0-of-2",
        ),
        pytest.param(
            _pod(
                phase="Pending",
                init=_INITS,
                init_statuses=[_terminated("i0", 0, "Completed"), _running("i1", ready=False)],
            ),
            "0/1",
            "Init:1/2",
            id="init-1-of-2",
        ),
        pytest.param(
            _pod(phase="Pending", init=_INITS, init_statuses=[_waiting("i0", "CrashLoopBackOff")]),
            "0/1",
            "Init:CrashLoopBackOff",
            id="init-crash-loop",
        ),
        pytest.param(
            _pod(phase="Pending", init=_INITS, init_statuses=[_terminated("i0", 1, "Error")]),
            "0/1",
            "Init:Error",
            id="init-error",
        ),
        pytest.param(
            _pod(phase="Pending", init=_INITS, init_statuses=[_terminated("i0", 2)]),
            "0/1",
            "Init:ExitCode:2",
            id="init-exit-code",
        ),
        pytest.param(
            _pod(phase="Pending", init=_INITS, init_statuses=[_terminated("i0", 143, signal=15)]),
            "0/1",
            "Init:Signal:15",
            id="init-signal",
        ),
        pytest.param(
            _pod(
                init=_SIDECAR,
                init_statuses=[{**_running("proxy"), "started": True}],
                statuses=[_running("c0")],
            ),
            "2/2",
            "Running",
            id="sidecar-counts-as-container",
        ),
        pytest.param(
            _pod(
                phase="Pending",
                init=_SIDECAR,
                init_statuses=[{**_running("proxy", ready=False), "started": False}],
            ),
            "0/2",
            "Init:0/1",
            id="sidecar-not-started-yet",
        ),
        pytest.param(
            _deleted(_pod(statuses=[_running("c0")])), "1/1", "Terminating", id="terminating"
        ),
        pytest.param(
            _deleted(_pod(phase="Succeeded", statuses=[_terminated("c0", 0, "Completed")])),
            "0/1",
            "Completed",
            id="deleted-but-terminal",
        ),
        pytest.param(
            _deleted(_pod(statuses=[_running("c0")], reason="NodeLost")),
            "1/1",
            "Unknown",
            id="node-lost-deleted",
        ),
        pytest.param(_pod(phase="Running", reason="NodeLost"), "0/1", "NodeLost", id="node-lost"),
        pytest.param(_pod(phase="Failed", reason="Evicted"), "0/1", "Evicted", id="evicted"),
        pytest.param(
            _pod(
                phase="Pending",
                conditions=[
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
                ],
            ),
            "0/1",
            "SchedulingGated",
            id="scheduling-gated",
        ),
    ],
)
def test_pod_ready_and_status(pod: JSON, ready: str, status: str) -> None:
    row = named(("", "pods"), pod)
    assert (row["ready"], row["status"]) == (ready, status)


def _restarted(status: JSON, count: int, finished_ago: float) -> JSON:
    return {
        **status,
        "restartCount": count,
        "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(finished_ago)}},
    }


@pytest.mark.parametrize(
    ("pod", "restarts"),
    [
        pytest.param(_pod(statuses=[_running("c0")]), "0", id="none"),
        pytest.param(_pod(statuses=[_running("c0", restarts=2)]), "2", id="no-last-state"),
        pytest.param(
            _pod(
                containers=2,
                statuses=[_restarted(_running("c0"), 3, 600), _restarted(_running("c1"), 2, 300)],
            ),
            "5 (5m ago)",
            id="sum-and-most-recent",
        ),
        pytest.param(
            _pod(
                phase="Pending",
                init=_INITS,
                init_statuses=[_restarted(_waiting("i0", "CrashLoopBackOff"), 4, 90)],
                statuses=[_restarted(_waiting("c0", "PodInitializing"), 7, 10)],
            ),
            "4 (90s ago)",
            id="init-restarts-while-initializing",
        ),
        pytest.param(
            _pod(
                init=_SIDECAR,
                init_statuses=[{**_restarted(_running("proxy"), 1, 3600 * 3), "started": True}],
                statuses=[_running("c0", restarts=1)],
            ),
            "2 (3h ago)",
            id="sidecar-restarts-always-count",
        ),
    ],
)
def test_pod_restarts(pod: JSON, restarts: str) -> None:
    assert named(("", "pods"), pod)["restarts"] == restarts


def test_pod_wide_cells() -> None:
    pod = _pod(
        statuses=[_running("c0")],
        podIPs=[{"ip": "10.244.0.5"}, {"ip": "fd00::5"}],
        nominatedNodeName="n2",
        conditions=[{"type": "example.com/gate", "status": "True"}],
        spec={
            "nodeName": "n1",
            "readinessGates": [
                {"conditionType": "example.com/gate"},
                {"conditionType": "example.com/other"},
            ],
        },
    )
    assert cells(("", "pods"), pod) == [
        "web-0",
        "1/1",
        "Running",
        "0",
        "5m30s",
        "10.244.0.5",
        "n1",
        "n2",
        "1/2",
    ]


# -- core ---------------------------------------------------------------------------------


def _svc(spec: JSON, status: JSON | None = None) -> JSON:
    return {"metadata": meta("svc"), "spec": spec, "status": status or {}}


@pytest.mark.parametrize(
    ("svc", "expected"),
    [
        pytest.param(
            _svc(
                {
                    "type": "ClusterIP",
                    "clusterIPs": ["10.96.0.10"],
                    "ports": [{"port": 53, "protocol": "UDP"}],
                    "selector": {"k8s-app": "dns", "a": "b"},
                }
            ),
            ["svc", "ClusterIP", "10.96.0.10", "<none>", "53/UDP", "5m30s", "a=b,k8s-app=dns"],
            id="cluster-ip",
        ),
        pytest.param(
            _svc(
                {
                    "type": "NodePort",
                    "clusterIP": "10.96.0.11",
                    "ports": [
                        {"port": 80, "nodePort": 30080, "protocol": "TCP"},
                        {"port": 443, "nodePort": 30443, "protocol": "TCP"},
                    ],
                }
            ),
            [
                "svc",
                "NodePort",
                "10.96.0.11",
                "<none>",
                "80:30080/TCP,443:30443/TCP",
                "5m30s",
                "<none>",
            ],
            id="node-port",
        ),
        pytest.param(
            _svc(
                {
                    "type": "LoadBalancer",
                    "clusterIPs": ["10.96.0.12"],
                    "ports": [{"port": 80, "nodePort": 31000, "protocol": "TCP"}],
                }
            ),
            ["svc", "LoadBalancer", "10.96.0.12", "<pending>", "80:31000/TCP", "5m30s", "<none>"],
            id="load-balancer-pending",
        ),
        pytest.param(
            _svc(
                {
                    "type": "LoadBalancer",
                    "clusterIPs": ["10.96.0.12"],
                    "externalIPs": ["192.0.2.9"],
                },
                {
                    "loadBalancer": {
                        "ingress": [
                            {"ip": "192.0.2.2"},
                            {"hostname": "lb.example"},
                            {"ip": "192.0.2.1"},
                        ]
                    }
                },
            ),
            [
                "svc",
                "LoadBalancer",
                "10.96.0.12",
                "192.0.2.1,192.0.2.2,lb.example,192.0.2.9",
                "<none>",
                "5m30s",
                "<none>",
            ],
            id="load-balancer-ingress-and-external",
        ),
        pytest.param(
            _svc({"type": "ExternalName", "externalName": "db.example.com"}),
            ["svc", "ExternalName", "<none>", "db.example.com", "<none>", "5m30s", "<none>"],
            id="external-name",
        ),
        pytest.param(
            _svc({"type": "ClusterIP", "clusterIPs": ["None"], "externalIPs": ["192.0.2.3"]}),
            ["svc", "ClusterIP", "None", "192.0.2.3", "<none>", "5m30s", "<none>"],
            id="headless-with-external-ip",
        ),
    ],
)
def test_service(svc: JSON, expected: list[Cell]) -> None:
    assert cells(("", "services"), svc) == expected


def _subset(ips: list[str], ports: list[int]) -> JSON:
    return {"addresses": [{"ip": ip} for ip in ips], "ports": [{"port": p} for p in ports]}


@pytest.mark.parametrize(
    ("subsets", "expected"),
    [
        pytest.param([], "<none>", id="none"),
        pytest.param([_subset(["10.0.0.1"], [80])], "10.0.0.1:80", id="one"),
        pytest.param(
            [_subset(["10.0.0.1", "10.0.0.2"], [80, 443]), _subset(["10.0.0.3"], [80])],
            "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...",
            id="more",
        ),
        pytest.param(
            [_subset(["10.0.0.1", "fd00::1"], [])], "10.0.0.1,fd00::1", id="headless-no-ports"
        ),
        pytest.param([_subset(["fd00::1"], [53])], "[fd00::1]:53", id="ipv6"),
    ],
)
def test_endpoints(subsets: list[JSON], expected: str) -> None:
    assert cells(("", "endpoints"), {"metadata": meta("ep"), "subsets": subsets}) == [
        "ep",
        expected,
        "5m30s",
    ]


def test_node() -> None:
    node = {
        "metadata": meta(
            "n1",
            age=2 * _D + 3 * _H,
            labels={
                "node-role.kubernetes.io/control-plane": "",
                "node-role.kubernetes.io/worker": "",
                "kubernetes.io/role": "master",
            },
        ),
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "addresses": [
                {"type": "Hostname", "address": "n1"},
                {"type": "InternalIP", "address": "192.0.2.10"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.33.0",
                "osImage": "Debian GNU/Linux 13",
                "kernelVersion": "6.12.0",
                "containerRuntimeVersion": "containerd://2.1.0",
            },
        },
    }
    assert cells(("", "nodes"), node) == [
        "n1",
        "Ready,SchedulingDisabled",
        "control-plane,master,worker",
        "2d3h",
        "v1.33.0",
        "192.0.2.10",
        "<none>",
        "Debian GNU/Linux 13",
        "6.12.0",
        "containerd://2.1.0",
    ]


@pytest.mark.parametrize(
    ("conditions", "status"),
    [
        pytest.param([{"type": "Ready", "status": "False"}], "NotReady", id="not-ready"),
        pytest.param(
            [{"type": "Ready", "status": "Unknown"}], "NotReady", id="unknown-is-not-ready"
        ),
        pytest.param([], "Unknown", id="no-ready-condition"),
    ],
)
def test_node_status(conditions: list[JSON], status: str) -> None:
    assert (
        named(("", "nodes"), {"metadata": meta("n"), "status": {"conditions": conditions}})[
            "status"
        ]
        == status
    )


_EVENT = {
    "metadata": meta("web.17a"),
    "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
    "reason": "BackOff",
    "message": "Back-off restarting failed container\n",
    "type": "Warning",
    "source": {"component": "kubelet", "host": "n1"},
    "firstTimestamp": ago(3600),
    "lastTimestamp": ago(30),
    "count": 12,
}


@pytest.mark.parametrize(
    ("key", "event", "expected"),
    [
        pytest.param(
            ("", "events"),
            _EVENT,
            [
                "30s",
                "Warning",
                "BackOff",
                "pod/web",
                "spec.containers{app}",
                "kubelet, n1",
                "Back-off restarting failed container",
                "60m",
                12,
                "web.17a",
            ],
            id="core",
        ),
        pytest.param(
            ("", "events"),
            {
                "metadata": meta("e"),
                "involvedObject": {"kind": "Node"},
                "eventTime": ago(45),
                "reportingController": "pyk8s-scheduler",
                "reportingInstance": "s-1",
                "series": {"count": 3, "lastObservedTime": ago(5)},
            },
            ["5s", "", "", "node", "", "pyk8s-scheduler, s-1", "", "45s", 3, "e"],
            id="new-style-with-series",
        ),
        pytest.param(
            ("events.k8s.io", "events"),
            {
                "apiVersion": "events.k8s.io/v1",
                "metadata": meta("e"),
                "regarding": {"kind": "Deployment", "name": "web"},
                "note": "Scaled up",
                "reason": "ScalingReplicaSet",
                "type": "Normal",
                "eventTime": ago(200),
                "reportingController": "deployment-controller",
            },
            [
                "3m20s",
                "Normal",
                "ScalingReplicaSet",
                "deployment/web",
                "",
                "deployment-controller",
                "Scaled up",
                "3m20s",
                1,
                "e",
            ],
            id="events-k8s-io-shape",
        ),
    ],
)
def test_event(key: tuple[str, str], event: JSON, expected: list[Cell]) -> None:
    assert cells(key, event) == expected


@pytest.mark.parametrize(
    ("key", "obj", "expected"),
    [
        pytest.param(
            ("", "namespaces"),
            {"metadata": meta("kube-system"), "status": {"phase": "Active"}},
            ["kube-system", "Active", "5m30s"],
            id="namespace",
        ),
        pytest.param(
            ("", "secrets"),
            {
                "metadata": meta("s"),
                "type": "kubernetes.io/tls",
                "data": {"tls.crt": "", "tls.key": ""},
            },
            ["s", "kubernetes.io/tls", 2, "5m30s"],
            id="secret",
        ),
        pytest.param(
            ("", "configmaps"),
            {"metadata": meta("cm"), "data": {"a": "1"}, "binaryData": {"b": "AA=="}},
            ["cm", 2, "5m30s"],
            id="configmap",
        ),
        pytest.param(
            ("", "serviceaccounts"),
            {"metadata": meta("default"), "secrets": [{"name": "t"}]},
            ["default", 1, "5m30s"],
            id="serviceaccount",
        ),
        pytest.param(
            ("", "persistentvolumes"),
            {
                "metadata": meta(
                    "pv1", annotations={"volume.beta.kubernetes.io/storage-class": "slow"}
                ),
                "spec": {
                    "capacity": {"storage": "10Gi"},
                    "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "claimRef": {"namespace": "db", "name": "data"},
                    "storageClassName": "fast",
                    "volumeMode": "Filesystem",
                },
                "status": {"phase": "Bound"},
            },
            [
                "pv1",
                "10Gi",
                "RWO,RWX",
                "Retain",
                "Bound",
                "db/data",
                "slow",
                "<unset>",
                "",
                "5m30s",
                "Filesystem",
            ],
            id="pv-bound",
        ),
        pytest.param(
            ("", "persistentvolumeclaims"),
            {
                "metadata": meta("data"),
                "spec": {
                    "volumeName": "pv1",
                    "storageClassName": "fast",
                    "resources": {"requests": {"storage": "5Gi"}},
                },
                "status": {
                    "phase": "Bound",
                    "capacity": {"storage": "10Gi"},
                    "accessModes": ["ReadWriteOnce"],
                },
            },
            ["data", "Bound", "pv1", "10Gi", "RWO", "fast", "<unset>", "5m30s", "<unset>"],
            id="pvc-bound",
        ),
        pytest.param(
            ("", "persistentvolumeclaims"),
            {
                "metadata": {**meta("data"), "deletionTimestamp": ago(1)},
                "spec": {},
                "status": {"phase": "Pending"},
            },
            ["data", "Terminating", "", "", "", "", "<unset>", "5m30s", "<unset>"],
            id="pvc-terminating-unbound",
        ),
        pytest.param(
            ("", "replicationcontrollers"),
            {
                "metadata": meta("rc"),
                "spec": {
                    "replicas": 3,
                    "selector": {"app": "web"},
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "a", "image": "i1"},
                                {"name": "b", "image": "i2"},
                            ]
                        }
                    },
                },
                "status": {"replicas": 3, "readyReplicas": 2},
            },
            ["rc", 3, 3, 2, "5m30s", "a,b", "i1,i2", "app=web"],
            id="replicationcontroller",
        ),
        pytest.param(
            ("", "resourcequotas"),
            {
                "metadata": meta("q"),
                "status": {
                    "hard": {"pods": "10", "limits.cpu": "4", "requests.memory": "1Gi"},
                    "used": {"pods": "3", "limits.cpu": "500m"},
                },
            },
            ["q", "pods: 3/10, requests.memory: 0/1Gi", "limits.cpu: 500m/4", "5m30s"],
            id="resourcequota",
        ),
        pytest.param(
            ("", "podtemplates"),
            {
                "metadata": meta("t"),
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "a", "image": "i1"}]},
                },
            },
            ["t", "a", "i1", "app=web"],
            id="podtemplate",
        ),
    ],
)
def test_core_kinds(key: tuple[str, str], obj: JSON, expected: list[Cell]) -> None:
    assert cells(key, obj) == expected


# -- apps, batch ----------------------------------------------------------------------------

_TEMPLATE = {
    "spec": {
        "containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]
    }
}
_SELECTOR = {
    "matchLabels": {"app": "web"},
    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe"]}],
}


@pytest.mark.parametrize(
    ("key", "obj", "expected"),
    [
        pytest.param(
            ("apps", "deployments"),
            {
                "metadata": meta("web"),
                "spec": {"replicas": 3, "selector": _SELECTOR, "template": _TEMPLATE},
                "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
            },
            ["web", "2/3", 3, 2, "5m30s", "web,log", "nginx:1.27,busybox", "app=web,tier in (fe)"],
            id="deployment",
        ),
        pytest.param(
            ("apps", "deployments"),
            {
                "metadata": meta("web"),
                "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Bad"}]}},
            },
            ["web", "0/1", 0, 0, "5m30s", "", "", "<invalid>"],
            id="deployment-bad-selector",
        ),
        pytest.param(
            ("apps", "replicasets"),
            {
                "metadata": meta("web-5d4"),
                "spec": {"replicas": 2, "selector": _SELECTOR, "template": _TEMPLATE},
                "status": {"replicas": 2, "readyReplicas": 1},
            },
            ["web-5d4", 2, 2, 1, "5m30s", "web,log", "nginx:1.27,busybox", "app=web,tier in (fe)"],
            id="replicaset",
        ),
        pytest.param(
            ("apps", "statefulsets"),
            {
                "metadata": meta("db"),
                "spec": {"replicas": 3, "template": _TEMPLATE},
                "status": {"readyReplicas": 3},
            },
            ["db", "3/3", "5m30s", "web,log", "nginx:1.27,busybox"],
            id="statefulset",
        ),
        pytest.param(
            ("apps", "daemonsets"),
            {
                "metadata": meta("proxy"),
                "spec": {
                    "selector": {"matchLabels": {"app": "proxy"}},
                    "template": {
                        "spec": {
                            "nodeSelector": {"kubernetes.io/os": "linux"},
                            "containers": [{"name": "p", "image": "p:1"}],
                        }
                    },
                },
                "status": {
                    "desiredNumberScheduled": 3,
                    "currentNumberScheduled": 3,
                    "numberReady": 2,
                    "updatedNumberScheduled": 3,
                    "numberAvailable": 2,
                },
            },
            ["proxy", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "5m30s", "p", "p:1", "app=proxy"],
            id="daemonset",
        ),
        pytest.param(
            ("apps", "controllerrevisions"),
            {
                "metadata": meta(
                    "db-7f9",
                    ownerReferences=[
                        {
                            "apiVersion": "apps/v1",
                            "kind": "StatefulSet",
                            "name": "db",
                            "controller": True,
                        }
                    ],
                ),
                "revision": 4,
            },
            ["db-7f9", "statefulset.apps/db", 4, "5m30s"],
            id="controllerrevision",
        ),
    ],
)
def test_apps(key: tuple[str, str], obj: JSON, expected: list[Cell]) -> None:
    assert cells(key, obj) == expected


def _job(
    spec: JSON | None = None,
    status: JSON | None = None,
    **metadata: Any,
) -> JSON:
    return {
        "metadata": meta("pi", **metadata),
        "spec": {"template": _TEMPLATE, "selector": {"matchLabels": {"job": "pi"}}, **(spec or {})},
        "status": status or {},
    }


@pytest.mark.parametrize(
    ("job", "status", "completions", "duration"),
    [
        pytest.param(_job({"completions": 1}), "Running", "0/1", "", id="not-started"),
        pytest.param(
            _job({"completions": 3}, {"startTime": ago(90), "succeeded": 1}),
            "Running",
            "1/3",
            "90s",
            id="running",
        ),
        pytest.param(
            _job({"parallelism": 4}, {"startTime": ago(300)}),
            "Running",
            "0/1 of 4",
            "5m",
            id="parallel-no-completions",
        ),
        pytest.param(
            _job(
                {"completions": 1},
                {
                    "startTime": ago(400),
                    "completionTime": ago(100),
                    "succeeded": 1,
                    "conditions": [{"type": "Complete", "status": "True"}],
                },
            ),
            "Complete",
            "1/1",
            "5m",
            id="complete",
        ),
        pytest.param(
            _job(None, {"conditions": [{"type": "Failed", "status": "True"}]}),
            "Failed",
            "0/1",
            "",
            id="failed",
        ),
        pytest.param(
            _job(None, {}, deletionTimestamp=ago(1)), "Terminating", "0/1", "", id="terminating"
        ),
        pytest.param(
            _job(None, {"conditions": [{"type": "Suspended", "status": "True"}]}),
            "Suspended",
            "0/1",
            "",
            id="suspended",
        ),
        pytest.param(
            _job(
                None,
                {
                    "conditions": [
                        {"type": "FailureTarget", "status": "True"},
                        {"type": "Failed", "status": "False"},
                    ]
                },
            ),
            "FailureTarget",
            "0/1",
            "",
            id="failure-target",
        ),
    ],
)
def test_job(job: JSON, status: str, completions: str, duration: str) -> None:
    assert cells(("batch", "jobs"), job) == [
        "pi",
        status,
        completions,
        duration,
        "5m30s",
        "web,log",
        "nginx:1.27,busybox",
        "job=pi",
    ]


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        pytest.param(
            {"schedule": "*/5 * * * *", "timeZone": "Etc/UTC", "suspend": False},
            {"active": [{"name": "a"}], "lastScheduleTime": ago(65)},
            [
                "nightly",
                "*/5 * * * *",
                "Etc/UTC",
                "False",
                1,
                "65s",
                "5m30s",
                "web,log",
                "nginx:1.27,busybox",
                "<none>",
            ],
            id="scheduled",
        ),
        pytest.param(
            {"schedule": "@daily"},
            {},
            [
                "nightly",
                "@daily",
                "<none>",
                "<unset>",
                0,
                "<none>",
                "5m30s",
                "web,log",
                "nginx:1.27,busybox",
                "<none>",
            ],
            id="never-ran",
        ),
    ],
)
def test_cronjob(spec: JSON, status: JSON, expected: list[Cell]) -> None:
    cj = {
        "metadata": meta("nightly"),
        "spec": {**spec, "jobTemplate": {"spec": {"template": _TEMPLATE}}},
        "status": status,
    }
    assert cells(("batch", "cronjobs"), cj) == expected


# -- networking, rbac, the rest -------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        pytest.param(
            {
                "ingressClassName": "nginx",
                "rules": [{"host": "a.example"}, {"host": "b.example"}],
                "tls": [{"hosts": ["a.example"]}],
            },
            {"loadBalancer": {"ingress": [{"ip": "192.0.2.5"}]}},
            ["web", "nginx", "a.example,b.example", "192.0.2.5", "80, 443", "5m30s"],
            id="tls",
        ),
        pytest.param(
            {"defaultBackend": {}}, {}, ["web", "<none>", "*", "", "80", "5m30s"], id="no-rules"
        ),
        pytest.param(
            {"rules": [{}, {"host": "a"}, {"host": "b"}, {"host": "c"}, {"host": "d"}]},
            {},
            ["web", "<none>", "a,b,c + 2 more...", "", "80", "5m30s"],
            id="more-hosts-counts-rules",
        ),
    ],
)
def test_ingress(spec: JSON, status: JSON, expected: list[Cell]) -> None:
    assert (
        cells(
            ("networking.k8s.io", "ingresses"),
            {"metadata": meta("web"), "spec": spec, "status": status},
        )
        == expected
    )


@pytest.mark.parametrize(
    ("key", "obj", "expected"),
    [
        pytest.param(
            ("networking.k8s.io", "ingressclasses"),
            {
                "metadata": meta("nginx"),
                "spec": {
                    "controller": "k8s.io/ingress-nginx",
                    "parameters": {
                        "apiGroup": "k8s.example.com",
                        "kind": "IngressParameters",
                        "name": "p",
                    },
                },
            },
            ["nginx", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/p", "5m30s"],
            id="ingressclass",
        ),
        pytest.param(
            ("networking.k8s.io", "networkpolicies"),
            {"metadata": meta("deny"), "spec": {"podSelector": {}}},
            ["deny", "<none>", "5m30s"],
            id="networkpolicy-all-pods",
        ),
        pytest.param(
            ("networking.k8s.io", "networkpolicies"),
            {"metadata": meta("web"), "spec": {"podSelector": {"matchLabels": {"app": "web"}}}},
            ["web", "app=web", "5m30s"],
            id="networkpolicy",
        ),
        pytest.param(
            ("discovery.k8s.io", "endpointslices"),
            {
                "metadata": meta("web-abc"),
                "addressType": "IPv4",
                "ports": [{"port": 80}, {"name": "metrics"}, {}, {"port": 9}],
                "endpoints": [
                    {"addresses": ["10.0.0.1"]},
                    {"addresses": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]},
                ],
            },
            [
                "web-abc",
                "IPv4",
                "80,metrics,* + 1 more...",
                "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...",
                "5m30s",
            ],
            id="endpointslice",
        ),
        pytest.param(
            ("discovery.k8s.io", "endpointslices"),
            {"metadata": meta("empty"), "addressType": "IPv6"},
            ["empty", "IPv6", "<unset>", "<unset>", "5m30s"],
            id="endpointslice-empty",
        ),
        pytest.param(
            ("rbac.authorization.k8s.io", "rolebindings"),
            {
                "metadata": meta("rb"),
                "roleRef": {"kind": "Role", "name": "reader"},
                "subjects": [
                    {"kind": "User", "name": "alice"},
                    {"kind": "Group", "name": "devs"},
                    {"kind": "ServiceAccount", "name": "ci", "namespace": "build"},
                    {"kind": "User", "name": "bob"},
                ],
            },
            ["rb", "Role/reader", "5m30s", "alice, bob", "devs", "build/ci"],
            id="rolebinding",
        ),
        pytest.param(
            ("rbac.authorization.k8s.io", "clusterrolebindings"),
            {"metadata": meta("crb"), "roleRef": {"kind": "ClusterRole", "name": "admin"}},
            ["crb", "ClusterRole/admin", "5m30s", "", "", ""],
            id="clusterrolebinding",
        ),
        pytest.param(
            ("coordination.k8s.io", "leases"),
            {"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "s-1_abc"}},
            ["kube-scheduler", "s-1_abc", "5m30s"],
            id="lease",
        ),
        pytest.param(
            ("storage.k8s.io", "storageclasses"),
            {
                "metadata": meta(
                    "local", annotations={"storageclass.kubernetes.io/is-default-class": "true"}
                ),
                "provisioner": "rancher.io/local-path",
                "volumeBindingMode": "WaitForFirstConsumer",
                "allowVolumeExpansion": True,
            },
            [
                "local (default)",
                "rancher.io/local-path",
                "Delete",
                "WaitForFirstConsumer",
                True,
                "5m30s",
            ],
            id="storageclass-default",
        ),
        pytest.param(
            ("policy", "poddisruptionbudgets"),
            {
                "metadata": meta("web"),
                "spec": {"minAvailable": "50%"},
                "status": {"disruptionsAllowed": 1},
            },
            ["web", "50%", "N/A", 1, "5m30s"],
            id="pdb",
        ),
        pytest.param(
            ("scheduling.k8s.io", "priorityclasses"),
            {
                "metadata": meta("system-node-critical"),
                "value": 2000001000,
                "globalDefault": False,
                "preemptionPolicy": "PreemptLowerPriority",
            },
            ["system-node-critical", 2000001000, False, "5m30s", "PreemptLowerPriority"],
            id="priorityclass",
        ),
        pytest.param(
            ("node.k8s.io", "runtimeclasses"),
            {"metadata": meta("gvisor"), "handler": "runsc"},
            ["gvisor", "runsc", "5m30s"],
            id="runtimeclass",
        ),
    ],
)
def test_other_kinds(key: tuple[str, str], obj: JSON, expected: list[Cell]) -> None:
    assert cells(key, obj) == expected


_HPA_KEY = ("autoscaling", "horizontalpodautoscalers")


@pytest.mark.parametrize(
    ("hpa", "targets"),
    [
        pytest.param(
            {
                "apiVersion": "autoscaling/v2",
                "spec": {
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": 80},
                            },
                        },
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "memory",
                                "target": {"type": "AverageValue", "averageValue": "500Mi"},
                            },
                        },
                    ]
                },
                "status": {
                    "currentMetrics": [
                        {
                            "type": "Resource",
                            "resource": {"name": "cpu", "current": {"averageUtilization": 45}},
                        },
                    ]
                },
            },
            "cpu: 45%/80%, memory: <unknown>/500Mi",
            id="v2-resource",
        ),
        pytest.param(
            {
                "spec": {
                    "metrics": [
                        {
                            "type": "Pods",
                            "pods": {
                                "metric": {"name": "qps"},
                                "target": {"type": "AverageValue", "averageValue": "10"},
                            },
                        },
                        {
                            "type": "Object",
                            "object": {
                                "metric": {"name": "rps"},
                                "target": {"type": "Value", "value": "2k"},
                            },
                        },
                        {
                            "type": "External",
                            "external": {
                                "metric": {"name": "queue"},
                                "target": {"type": "AverageValue", "averageValue": "30"},
                            },
                        },
                    ]
                },
                "status": {
                    "currentMetrics": [
                        {"type": "Pods", "pods": {"current": {"averageValue": "7"}}},
                        {"type": "Object", "object": {"current": {"value": "1500"}}},
                    ]
                },
            },
            "7/10, 1500/2k + 1 more...",
            id="v2-two-shown",
        ),
        pytest.param(
            {
                "apiVersion": "autoscaling/v1",
                "spec": {"targetCPUUtilizationPercentage": 60},
                "status": {"currentCPUUtilizationPercentage": 12},
            },
            "cpu: 12%/60%",
            id="v1-shape",
        ),
        pytest.param({"spec": {}}, "<none>", id="no-metrics"),
    ],
)
def test_hpa(hpa: dict[str, Any], targets: str) -> None:
    spec = {
        "scaleTargetRef": {"kind": "Deployment", "name": "web"},
        "minReplicas": 1,
        "maxReplicas": 10,
        **hpa["spec"],
    }
    obj = {
        **hpa,
        "metadata": meta("web"),
        "spec": spec,
        "status": {"currentReplicas": 2, **hpa.get("status", {})},
    }
    assert cells(_HPA_KEY, obj) == ["web", "Deployment/web", targets, "1", 10, 2, "5m30s"]


def test_naive_now_is_utc() -> None:
    obj = {"metadata": meta("ns")}
    naive = NOW.replace(tzinfo=None)
    assert printers.row_cells(("", "namespaces"), obj, naive) == ["ns", "", "5m30s"]
