"""Every failure is a Status with upstream's code and reason; a client mistake is never a
500."""

from __future__ import annotations

import pytest

from cluster import Cluster


def _cm(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}}


@pytest.mark.parametrize(
    ("method", "path", "raw", "content_type", "code", "reason"),
    [
        pytest.param(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            b"{not json",
            "application/json",
            400,
            "BadRequest",
            id="malformed-json",
        ),
        pytest.param(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            b"a: [b",
            "application/yaml",
            400,
            "BadRequest",
            id="malformed-yaml",
        ),
        pytest.param(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            b"[]",
            "application/json",
            400,
            "BadRequest",
            id="not-an-object",
        ),
        pytest.param(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            b"{}",
            "text/plain",
            415,
            "UnsupportedMediaType",
            id="unsupported-media",
        ),
        pytest.param(
            "GET",
            "/api/v1/namespaces/default/widgets",
            None,
            "",
            404,
            "NotFound",
            id="unknown-resource",
        ),
        pytest.param(
            "GET", "/apis/nope.example.com/v1", None, "", 404, "NotFound", id="unknown-group"
        ),
        pytest.param(
            "GET",
            "/api/v1/namespaces/default/configmaps/missing",
            None,
            "",
            404,
            "NotFound",
            id="missing-object",
        ),
        pytest.param(
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x",
            b"{}",
            "text/plain",
            415,
            "UnsupportedMediaType",
            id="patch-media",
        ),
        pytest.param(
            "GET",
            "/api/v1/namespaces/default/configmaps?labelSelector=a%20in%20(",
            None,
            "",
            400,
            "BadRequest",
            id="bad-selector",
        ),
        pytest.param(
            "GET",
            "/api/v1/pods?fieldSelector=spec.bogus%3Dx",
            None,
            "",
            400,
            "BadRequest",
            id="unsupported-field",
        ),
        pytest.param(
            "POST",
            "/api/v1/namespaces/nope/configmaps",
            b'{"metadata":{"name":"x"}}',
            "application/json",
            404,
            "NotFound",
            id="missing-namespace",
        ),
        pytest.param(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            b'{"metadata":{"name":"Bad_Name"}}',
            "application/json",
            422,
            "Invalid",
            id="invalid-name",
        ),
    ],
)
def test_error_statuses(
    cluster: Cluster,
    method: str,
    path: str,
    raw: bytes | None,
    content_type: str,
    code: int,
    reason: str,
) -> None:
    status, body, _ = cluster.request(method, path, raw=raw, content_type=content_type)
    assert status == code, body
    assert body["kind"] == "Status"
    assert body["code"] == code
    assert body["reason"] == reason


def test_body_too_large(cluster: Cluster) -> None:
    big = b'{"metadata":{"name":"big"},"data":{"a":"' + b"x" * (3 * 1024 * 1024 + 10) + b'"}}'
    status, body, _ = cluster.request("POST", "/api/v1/namespaces/default/configmaps", raw=big)
    assert status == 413
    assert body["reason"] == "RequestEntityTooLarge"


def test_already_exists_and_conflict(cluster: Cluster, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    status, created, _ = cluster.request("POST", path, _cm("dup"))
    assert status == 201
    status, body, _ = cluster.request("POST", path, _cm("dup"))
    assert (status, body["reason"]) == (409, "AlreadyExists")
    assert body["message"] == 'configmaps "dup" already exists'
    stale = dict(created)
    cluster.request(
        "PATCH", f"{path}/dup", {"data": {"a": "c"}}, content_type="application/merge-patch+json"
    )
    status, body, _ = cluster.request("PUT", f"{path}/dup", stale)
    assert (status, body["reason"]) == (409, "Conflict")
    assert "the object has been modified" in body["message"]


def test_invalid_has_causes(cluster: Cluster, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c"}]},
    }
    status, body, _ = cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods", pod)
    assert status == 422
    assert body["message"] == 'Pod "p" is invalid: spec.containers[0].image: Required value'
    assert body["details"]["causes"][0]["field"] == "spec.containers[0].image"


def test_unauthenticated_is_refused(cluster: Cluster) -> None:
    import ssl
    import urllib.error
    import urllib.request

    ctx = ssl.create_default_context(cafile=str(cluster.ca))
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(cluster.url + "/api/v1/namespaces", context=ctx, timeout=10)
    exc.value.close()
    assert exc.value.code in (401, 403)
    req = urllib.request.Request(
        cluster.url + "/api/v1/namespaces", headers={"Authorization": "Bearer nope"}
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, context=ctx, timeout=10)
    exc.value.close()
    assert exc.value.code == 401


def test_update_with_another_uid_conflicts(cluster: Cluster, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    status, _, _ = cluster.request("POST", path, _cm("u"))
    assert status == 201
    status, body, _ = cluster.request(
        "PATCH",
        f"{path}/u",
        {"metadata": {"uid": "not-the-uid", "labels": {"a": "b"}}},
        content_type="application/strategic-merge-patch+json",
    )
    assert status == 409
    assert "Precondition failed: UID in precondition: not-the-uid" in body["message"]
