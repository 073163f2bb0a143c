"""e2e: the real kubectl 1.33 against a real pyk8s apiserver — create, apply, get in every
output format, describe, edit, patch, label/annotate, scale, delete."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from cluster import Cluster

pytestmark = pytest.mark.e2e

DEPLOYMENT = textwrap.dedent(
    """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      labels: {app: web}
    spec:
      replicas: 2
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: nginx
            image: nginx:1.25
            ports:
            - containerPort: 80
            env:
            - {name: A, value: "1"}
    """
)


def test_get_namespaces_table(cluster: Cluster) -> None:
    out = cluster.kubectl("get", "namespaces").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AGE"]
    status = {line.split()[0]: line.split()[1] for line in lines[1:]}
    system = {"default", "kube-system", "kube-public", "kube-node-lease"}
    assert system <= set(status)
    # other tests' namespaces may be Terminating (no namespace controller runs here)
    assert {status[n] for n in system} == {"Active"}


def test_version_and_api_listing(cluster: Cluster) -> None:
    out = cluster.kubectl("version", "-o", "json").stdout
    assert json.loads(out)["serverVersion"]["gitVersion"].startswith("v1.33")
    versions = cluster.kubectl("api-versions").stdout.split()
    assert {"v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "autoscaling/v2"} <= set(versions)
    resources = cluster.kubectl("api-resources").stdout
    assert "deployments" in resources and "deploy" in resources
    line = next(ln for ln in resources.splitlines() if ln.startswith("pods "))
    assert line.split() == ["pods", "po", "v1", "true", "Pod"]


def test_cluster_info_and_whoami(cluster: Cluster) -> None:
    out = cluster.kubectl("cluster-info").stdout
    assert "is running at" in out and cluster.url in out
    who = cluster.kubectl("auth", "whoami", "-o", "json").stdout
    info = json.loads(who)["status"]["userInfo"]
    assert info["username"] == "system:admin"
    assert "system:masters" in info["groups"]


def test_create_get_formats(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("-n", namespace, "create", "-f", "-", input=DEPLOYMENT)
    wide = cluster.kubectl("-n", namespace, "get", "deploy", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:5] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert "CONTAINERS" in wide[0] and "SELECTOR" in wide[0]
    assert wide[1].split()[0] == "web" and "app=web" in wide[1]
    obj = yaml.safe_load(
        cluster.kubectl("-n", namespace, "get", "deploy", "web", "-o", "yaml").stdout
    )
    assert obj["spec"]["replicas"] == 2
    assert obj["spec"]["strategy"]["type"] == "RollingUpdate"
    assert obj["metadata"]["generation"] == 1
    assert obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    j = json.loads(cluster.kubectl("-n", namespace, "get", "deploy", "web", "-o", "json").stdout)
    assert j["metadata"]["uid"] == obj["metadata"]["uid"]
    jp = cluster.kubectl(
        "-n",
        namespace,
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ).stdout
    assert jp == "nginx:1.25"
    assert (
        cluster.kubectl("-n", namespace, "get", "deploy", "-o", "name").stdout.strip()
        == "deployment.apps/web"
    )
    cc = cluster.kubectl(
        "-n", namespace, "get", "deploy", "-o", "custom-columns=N:.metadata.name,R:.spec.replicas"
    ).stdout.split()
    assert cc == ["N", "R", "web", "2"]
    labels = cluster.kubectl(
        "-n", namespace, "get", "deploy", "-l", "app=web", "--show-labels"
    ).stdout
    assert "app=web" in labels
    assert (
        "No resources found"
        in cluster.kubectl("-n", namespace, "get", "deploy", "-l", "app=other").stderr
    )
    all_ns = cluster.kubectl("get", "deploy", "-A").stdout.splitlines()
    assert all_ns[0].split()[0] == "NAMESPACE"
    assert any(line.split()[:2] == [namespace, "web"] for line in all_ns[1:])
    fs = cluster.kubectl(
        "-n", namespace, "get", "deploy", "--field-selector", "metadata.name=web", "-o", "name"
    ).stdout
    assert fs.strip() == "deployment.apps/web"


def test_apply_twice_merges_lists(cluster: Cluster, namespace: str) -> None:
    out = cluster.kubectl("-n", namespace, "apply", "-f", "-", input=DEPLOYMENT).stdout
    assert "deployment.apps/web created" in out
    again = cluster.kubectl("-n", namespace, "apply", "-f", "-", input=DEPLOYMENT).stdout
    assert "deployment.apps/web unchanged" in again
    # someone else adds an env var and a label; apply with a changed image and a second
    # container must keep them (merge by key), and drop nothing it does not own
    cluster.kubectl("-n", namespace, "set", "env", "deploy/web", "-c", "nginx", "B=2")
    changed = DEPLOYMENT.replace("nginx:1.25", "nginx:1.26") + (
        "      - name: sidecar\n        image: busybox:1.36\n"
    )
    out = cluster.kubectl("-n", namespace, "apply", "-f", "-", input=changed).stdout
    assert "deployment.apps/web configured" in out
    obj = json.loads(cluster.kubectl("-n", namespace, "get", "deploy", "web", "-o", "json").stdout)
    containers = {c["name"]: c for c in obj["spec"]["template"]["spec"]["containers"]}
    assert containers["nginx"]["image"] == "nginx:1.26"
    assert containers["sidecar"]["image"] == "busybox:1.36"
    env = {e["name"]: e.get("value") for e in containers["nginx"]["env"]}
    assert env == {"A": "1", "B": "2"}
    assert containers["nginx"]["ports"][0]["containerPort"] == 80
    assert obj["metadata"]["generation"] >= 3


def test_patch_each_type(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("-n", namespace, "create", "configmap", "c", "--from-literal=a=1")
    cluster.kubectl(
        "-n", namespace, "patch", "configmap", "c", "--type=merge", "-p", '{"data":{"b":"2"}}'
    )
    cluster.kubectl(
        "-n",
        namespace,
        "patch",
        "configmap",
        "c",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/data/a","value":"9"}]',
    )
    cluster.kubectl("-n", namespace, "patch", "configmap", "c", "-p", '{"data":{"c":"3"}}')
    data = json.loads(cluster.kubectl("-n", namespace, "get", "cm", "c", "-o", "json").stdout)[
        "data"
    ]
    assert data == {"a": "9", "b": "2", "c": "3"}
    failed = cluster.kubectl(
        "-n",
        namespace,
        "patch",
        "configmap",
        "c",
        "--type=json",
        "-p",
        '[{"op":"test","path":"/data/a","value":"0"}]',
        check=False,
    )
    assert failed.returncode != 0


def test_label_annotate(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("-n", namespace, "create", "configmap", "l")
    cluster.kubectl("-n", namespace, "label", "cm", "l", "tier=web")
    assert (
        cluster.kubectl("-n", namespace, "label", "cm", "l", "tier=db", check=False).returncode != 0
    )
    cluster.kubectl("-n", namespace, "label", "cm", "l", "tier=db", "--overwrite")
    cluster.kubectl("-n", namespace, "annotate", "cm", "l", "note=hello")
    meta = json.loads(cluster.kubectl("-n", namespace, "get", "cm", "l", "-o", "json").stdout)[
        "metadata"
    ]
    assert meta["labels"] == {"tier": "db"}
    assert meta["annotations"]["note"] == "hello"
    cluster.kubectl("-n", namespace, "label", "cm", "l", "tier-")
    cluster.kubectl("-n", namespace, "annotate", "cm", "l", "note-")
    meta = json.loads(cluster.kubectl("-n", namespace, "get", "cm", "l", "-o", "json").stdout)[
        "metadata"
    ]
    assert "tier" not in (meta.get("labels") or {})
    assert "note" not in (meta.get("annotations") or {})


def test_scale(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("-n", namespace, "create", "deployment", "s", "--image=nginx", "--replicas=1")
    out = cluster.kubectl("-n", namespace, "scale", "deployment", "s", "--replicas=4").stdout
    assert "scaled" in out
    assert (
        cluster.kubectl(
            "-n", namespace, "get", "deploy", "s", "-o", "jsonpath={.spec.replicas}"
        ).stdout
        == "4"
    )


def test_edit_with_editor_script(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    cluster.kubectl("-n", namespace, "create", "configmap", "e", "--from-literal=k=v1")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/k: v1/k: v2/' \"$1\"\n")
    editor.chmod(0o755)
    cluster.kubectl("-n", namespace, "edit", "cm", "e", env={"KUBE_EDITOR": str(editor)})
    assert (
        cluster.kubectl("-n", namespace, "get", "cm", "e", "-o", "jsonpath={.data.k}").stdout
        == "v2"
    )


def test_configmap_secret_from_literals_and_files(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    f = tmp_path / "app.properties"
    f.write_text("x=1\ny=2\n")
    cluster.kubectl(
        "-n", namespace, "create", "configmap", "files", f"--from-file={f}", "--from-literal=z=3"
    )
    data = json.loads(cluster.kubectl("-n", namespace, "get", "cm", "files", "-o", "json").stdout)[
        "data"
    ]
    assert data == {"app.properties": "x=1\ny=2\n", "z": "3"}
    cluster.kubectl(
        "-n",
        namespace,
        "create",
        "secret",
        "generic",
        "s",
        "--from-literal=password=hunter2",
        f"--from-file={f}",
    )
    sec = json.loads(cluster.kubectl("-n", namespace, "get", "secret", "s", "-o", "json").stdout)
    assert sec["type"] == "Opaque"
    import base64

    assert base64.b64decode(sec["data"]["password"]) == b"hunter2"
    table = cluster.kubectl("-n", namespace, "get", "secret", "s").stdout.split()
    assert table[:4] == ["NAME", "TYPE", "DATA", "AGE"] and table[5:7] == ["Opaque", "2"]


def test_describe_shows_object(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("-n", namespace, "create", "deployment", "d", "--image=nginx")
    out = cluster.kubectl("-n", namespace, "describe", "deployment", "d").stdout
    assert "Name:" in out and "d" in out
    assert "StrategyType:" in out and "RollingUpdate" in out


@pytest.mark.parametrize("policy", ["background", "foreground", "orphan"])
def test_delete_with_propagation(cluster: Cluster, namespace: str, policy: str) -> None:
    cluster.kubectl("-n", namespace, "create", "configmap", f"p-{policy}")
    cluster.kubectl(
        "-n", namespace, "delete", "configmap", f"p-{policy}", f"--cascade={policy}", "--wait=false"
    )
    status, body, _ = cluster.request(
        "GET", f"/api/v1/namespaces/{namespace}/configmaps/p-{policy}"
    )
    if policy == "background":
        assert status == 404
    else:
        # recorded for the garbage collector as a finalizer, with a deletionTimestamp
        assert status == 200
        fin = {"foreground": "foregroundDeletion", "orphan": "orphan"}[policy]
        assert fin in body["metadata"]["finalizers"]
        assert body["metadata"]["deletionTimestamp"]


def test_explain(cluster: Cluster) -> None:
    out = cluster.kubectl("explain", "deployment.spec.replicas").stdout
    assert "replicas" in out and "integer" in out
    out = cluster.kubectl("explain", "pods.spec.containers.image").stdout
    assert "image" in out


def test_get_watch_streams_changes(cluster: Cluster, namespace: str) -> None:
    import subprocess
    import time

    from cluster import kubectl_binary

    cluster.kubectl("-n", namespace, "create", "configmap", "w0")
    proc = subprocess.Popen(
        [
            kubectl_binary(),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--cache-dir",
            str(cluster.data_dir / "kubecache-1.33"),
            "-n",
            namespace,
            "get",
            "cm",
            "-w",
            "--request-timeout=20s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.split()[:2] == ["NAME", "DATA"]
        seen: list[str] = []
        deadline = time.monotonic() + 20
        created = False
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line.split()[0])
            if "w0" in seen and not created:
                cluster.kubectl("-n", namespace, "create", "configmap", "w1")
                created = True
            if "w1" in seen:
                break
        assert "w1" in seen, seen
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_kubectl_127_smoke(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl(
        "-n", namespace, "create", "configmap", "old", "--from-literal=a=b", version="1.27"
    )
    out = cluster.kubectl("-n", namespace, "get", "cm", "old", version="1.27").stdout
    assert out.split()[:3] == ["NAME", "DATA", "AGE"]
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=DEPLOYMENT, version="1.27")
    cluster.kubectl("-n", namespace, "delete", "cm", "old", version="1.27")
