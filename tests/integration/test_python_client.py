"""The official ``kubernetes`` Python client against a real pyk8s apiserver: list, watch
with resume, create, patch, delete, and 409 on a stale update."""

from __future__ import annotations

import threading

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from cluster import Cluster


@pytest.fixture
def api(cluster: Cluster) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


def _cm(name: str, data: dict[str, str] | None = None) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data or {})


def test_create_list_patch_delete(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    created = core.create_namespaced_config_map(namespace, _cm("a", {"k": "v"}))
    assert created.metadata.resource_version
    names = [c.metadata.name for c in core.list_namespaced_config_map(namespace).items]
    assert names == ["a"]
    patched = core.patch_namespaced_config_map("a", namespace, {"data": {"k2": "v2"}})
    assert patched.data == {"k": "v", "k2": "v2"}
    core.delete_namespaced_config_map("a", namespace)
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("a", namespace)
    assert exc.value.status == 404


def test_stale_update_conflicts(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    first = core.create_namespaced_config_map(namespace, _cm("c", {"n": "0"}))
    core.patch_namespaced_config_map("c", namespace, {"data": {"n": "1"}})
    first.data = {"n": "stale"}
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("c", namespace, first)
    assert exc.value.status == 409
    assert '"reason":"Conflict"' in exc.value.body.replace(" ", "")


def test_apps_deployment_roundtrip(api: client.ApiClient, namespace: str) -> None:
    apps = client.AppsV1Api(api)
    body = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="d"),
        spec=client.V1DeploymentSpec(
            replicas=3,
            selector=client.V1LabelSelector(match_labels={"app": "d"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "d"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]),
            ),
        ),
    )
    d = apps.create_namespaced_deployment(namespace, body)
    assert d.spec.strategy.rolling_update.max_surge == "25%"
    scale = apps.read_namespaced_deployment_scale("d", namespace)
    assert scale.spec.replicas == 3
    apps.patch_namespaced_deployment_scale("d", namespace, {"spec": {"replicas": 5}})
    assert apps.read_namespaced_deployment("d", namespace).spec.replicas == 5


def test_watch_and_resume(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    listed = core.list_namespaced_config_map(namespace)
    rv = listed.metadata.resource_version
    core.create_namespaced_config_map(namespace, _cm("w1"))
    core.create_namespaced_config_map(namespace, _cm("w2"))
    w = watch.Watch()
    seen = []
    for ev in w.stream(
        core.list_namespaced_config_map, namespace, resource_version=rv, timeout_seconds=10
    ):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 2:
            w.stop()
    assert seen == [("ADDED", "w1"), ("ADDED", "w2")]
    # resume from the second event: only what happened after it arrives
    rv2 = core.read_namespaced_config_map("w2", namespace).metadata.resource_version

    def change() -> None:
        core.delete_namespaced_config_map("w1", namespace)

    t = threading.Thread(target=change)
    t.start()
    seen = []
    w = watch.Watch()
    for ev in w.stream(
        core.list_namespaced_config_map, namespace, resource_version=rv2, timeout_seconds=10
    ):
        seen.append((ev["type"], ev["object"].metadata.name))
        w.stop()
    t.join()
    assert seen == [("DELETED", "w1")]
