"""Built-in admission on pod create: Priority and DefaultTolerationSeconds."""

from __future__ import annotations

from cluster import Cluster


def _pod(name: str, **spec: object) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


def test_system_priority_classes_exist(cluster: Cluster) -> None:
    status, body, _ = cluster.request(
        "GET", "/apis/scheduling.k8s.io/v1/priorityclasses/system-node-critical"
    )
    assert status == 200 and body["value"] == 2000001000


def test_priority_resolved_from_class(cluster: Cluster, namespace: str) -> None:
    status, body, _ = cluster.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/pods",
        _pod("p", priorityClassName="system-cluster-critical"),
    )
    assert status == 201, body
    assert body["spec"]["priority"] == 2000000000
    assert body["spec"]["preemptionPolicy"] == "PreemptLowerPriority"


def test_unknown_priority_class_is_forbidden(cluster: Cluster, namespace: str) -> None:
    status, body, _ = cluster.request(
        "POST", f"/api/v1/namespaces/{namespace}/pods", _pod("q", priorityClassName="nope")
    )
    assert status == 403
    assert body["message"] == 'pods "q" is forbidden: no PriorityClass with name nope was found'


def test_default_tolerations_added(cluster: Cluster, namespace: str) -> None:
    status, body, _ = cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods", _pod("t"))
    assert status == 201
    assert body["spec"]["priority"] == 0
    tol = {(t["key"], t["effect"], t["tolerationSeconds"]) for t in body["spec"]["tolerations"]}
    assert tol == {
        ("node.kubernetes.io/not-ready", "NoExecute", 300),
        ("node.kubernetes.io/unreachable", "NoExecute", 300),
    }
