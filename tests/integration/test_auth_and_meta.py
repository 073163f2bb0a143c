"""Static bearer tokens (--token-auth-file), --write-kubeconfig, and metadata-only
(PartialObjectMetadata) responses."""

from __future__ import annotations

import json
import ssl
import urllib.request
from pathlib import Path

from cluster import Cluster, free_port


def test_token_file_and_written_kubeconfig(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('s3cret,alice,1001,"devs,ops"\n')
    kc = tmp_path / "out" / "kubeconfig"
    c = Cluster(tmp_path / "d", free_port())
    c.start("--token-auth-file", str(tokens), "--write-kubeconfig", str(kc))
    try:
        assert kc.exists()
        ctx = ssl.create_default_context(cafile=str(c.ca))
        req = urllib.request.Request(
            c.url + "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            data=json.dumps(
                {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
            ).encode(),
            headers={"Authorization": "Bearer s3cret", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            info = json.loads(r.read())["status"]["userInfo"]
        assert info["username"] == "alice" and info["uid"] == "1001"
        assert {"devs", "ops", "system:authenticated"} <= set(info["groups"])
        out = c.kubectl("--kubeconfig", str(kc), "get", "ns", "default", "-o", "name").stdout
        assert out.strip() == "namespace/default"
    finally:
        c.stop()


def test_partial_object_metadata(cluster: Cluster, namespace: str) -> None:
    cluster.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        {"metadata": {"name": "m", "labels": {"a": "b"}}, "data": {"k": "v"}},
    )
    accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    status, body, _ = cluster.request(
        "GET", f"/api/v1/namespaces/{namespace}/configmaps", headers={"Accept": accept}
    )
    assert status == 200 and body["kind"] == "PartialObjectMetadataList"
    [item] = body["items"]
    assert item["kind"] == "PartialObjectMetadata" and item["metadata"]["labels"] == {"a": "b"}
    assert "data" not in item
    accept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
    status, one, _ = cluster.request(
        "GET", f"/api/v1/namespaces/{namespace}/configmaps/m", headers={"Accept": accept}
    )
    assert one["kind"] == "PartialObjectMetadata" and one["metadata"]["name"] == "m"
