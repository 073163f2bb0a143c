"""e2e: kubectl apply --server-side — ownership in managedFields, conflicts between
managers, forced take-over, removal of fields the applier stopped setting, dry run."""

from __future__ import annotations

import json

import pytest

from cluster import Cluster

pytestmark = pytest.mark.e2e

CM = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa
  labels: {team: a}
data:
  owned: "1"
  shared: "x"
"""


def _get(cluster: Cluster, ns: str, *what: str) -> dict:  # type: ignore[type-arg]
    return json.loads(
        cluster.kubectl("-n", ns, "get", *what, "-o", "json", "--show-managed-fields").stdout
    )


def test_apply_creates_and_records_owner(cluster: Cluster, namespace: str) -> None:
    out = cluster.kubectl("-n", namespace, "apply", "--server-side", "-f", "-", input=CM).stdout
    assert "configmap/ssa serverside-applied" in out
    obj = _get(cluster, namespace, "cm", "ssa")
    [entry] = obj["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl" and entry["operation"] == "Apply"
    assert "f:owned" in entry["fieldsV1"]["f:data"]


def test_conflict_then_force(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("-n", namespace, "apply", "--server-side", "-f", "-", input=CM)
    other = CM.replace('owned: "1"', 'owned: "2"')
    cp = cluster.kubectl(
        "-n",
        namespace,
        "apply",
        "--server-side",
        "--field-manager=other",
        "-f",
        "-",
        input=other,
        check=False,
    )
    assert cp.returncode != 0
    assert 'conflict with "kubectl"' in cp.stderr and ".data.owned" in cp.stderr
    cluster.kubectl(
        "-n",
        namespace,
        "apply",
        "--server-side",
        "--field-manager=other",
        "--force-conflicts",
        "-f",
        "-",
        input=other,
    )
    obj = _get(cluster, namespace, "cm", "ssa")
    assert obj["data"]["owned"] == "2"
    owners = {
        e["manager"]: e["fieldsV1"].get("f:data", {}) for e in obj["metadata"]["managedFields"]
    }
    assert "f:owned" in owners["other"] and "f:owned" not in owners["kubectl"]


def test_removed_field_is_dropped_unless_shared(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("-n", namespace, "apply", "--server-side", "-f", "-", input=CM)
    # a second manager also sets shared to the same value: no conflict, shared ownership
    cluster.kubectl(
        "-n",
        namespace,
        "apply",
        "--server-side",
        "--field-manager=second",
        "-f",
        "-",
        input='apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {shared: "x"}\n',
    )
    trimmed = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa, labels: {team: a}}\ndata: {}\n"
    )
    cluster.kubectl("-n", namespace, "apply", "--server-side", "-f", "-", input=trimmed)
    data = _get(cluster, namespace, "cm", "ssa").get("data") or {}
    assert "owned" not in data  # only kubectl owned it
    assert data.get("shared") == "x"  # still owned by "second"


def test_dry_run_server_changes_nothing(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("-n", namespace, "apply", "--server-side", "-f", "-", input=CM)
    changed = CM.replace('owned: "1"', 'owned: "9"')
    out = cluster.kubectl(
        "-n", namespace, "apply", "--server-side", "--dry-run=server", "-f", "-", input=changed
    ).stdout
    assert "(server dry run)" in out
    assert _get(cluster, namespace, "cm", "ssa")["data"]["owned"] == "1"


def test_deployment_containers_merge_by_name(cluster: Cluster, namespace: str) -> None:
    dep = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  replicas: 1
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec:
      containers:
      - {name: a, image: "nginx:1"}
"""
    cluster.kubectl("-n", namespace, "apply", "--server-side", "-f", "-", input=dep)
    sidecar = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      containers:
      - {name: b, image: "busybox:1"}
"""
    cluster.kubectl(
        "-n",
        namespace,
        "apply",
        "--server-side",
        "--field-manager=sidecar-injector",
        "-f",
        "-",
        input=sidecar,
    )
    names = [
        c["name"]
        for c in _get(cluster, namespace, "deploy", "d")["spec"]["template"]["spec"]["containers"]
    ]
    assert sorted(names) == ["a", "b"]
    cp = cluster.kubectl("-n", namespace, "scale", "deploy", "d", "--replicas=3")
    assert cp.returncode == 0
    cp = cluster.kubectl(
        "-n", namespace, "apply", "--server-side", "-f", "-", input=dep, check=False
    )
    assert cp.returncode != 0 and ".spec.replicas" in cp.stderr
