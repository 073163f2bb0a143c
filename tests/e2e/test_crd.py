"""e2e: CustomResourceDefinitions through the real kubectl — served within a second,
printer columns, explain, schema validation with field causes, defaults, pruning,
status and scale subresources, and deleting the CRD deletes its objects."""

from __future__ import annotations

import json
import time

import pytest

from cluster import Cluster

pytestmark = pytest.mark.e2e

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - name: Spec
      type: string
      jsonPath: .spec.cronSpec
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [cronSpec]
            properties:
              cronSpec:
                type: string
                pattern: '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'
                description: The cron schedule.
              image: {type: string}
              replicas: {type: integer, minimum: 1, maximum: 10, default: 1}
              color: {type: string, enum: [red, blue]}
          status:
            type: object
            properties:
              replicas: {type: integer}
"""

CT = """
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: my-cron}
spec:
  cronSpec: "* * * * */5"
  image: my-awesome-cron-image
  extra: pruned
"""


@pytest.fixture(scope="module")
def crd(cluster: Cluster) -> str:
    cluster.kubectl("apply", "-f", "-", input=CRD)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status, _, _ = cluster.request("GET", "/apis/stable.example.com/v1")
        if status == 200:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("CRD not served within 5 s")
    obj = json.loads(
        cluster.kubectl("get", "crd", "crontabs.stable.example.com", "-o", "json").stdout
    )
    conds = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
    assert conds["Established"] == "True" and conds["NamesAccepted"] == "True"
    return "crontabs.stable.example.com"


def test_crud_and_printer_columns(cluster: Cluster, namespace: str, crd: str) -> None:
    strict = cluster.kubectl("-n", namespace, "apply", "-f", "-", input=CT, check=False)
    assert 'strict decoding error: unknown field "spec.extra"' in strict.stderr
    out = cluster.kubectl("-n", namespace, "apply", "--validate=false", "-f", "-", input=CT).stdout
    assert "crontab.stable.example.com/my-cron created" in out
    table = cluster.kubectl("-n", namespace, "get", "ct").stdout.splitlines()
    assert table[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
    assert table[1].split()[:6] == ["my-cron", "*", "*", "*", "*", "*/5"]
    obj = json.loads(
        cluster.kubectl("-n", namespace, "get", "crontab", "my-cron", "-o", "json").stdout
    )
    assert obj["spec"]["replicas"] == 1  # defaulted
    assert "extra" not in obj["spec"]  # pruned
    assert obj["metadata"]["generation"] == 1
    assert "my-cron" in cluster.kubectl("-n", namespace, "get", "all").stdout


def test_validation_causes(cluster: Cluster, namespace: str, crd: str) -> None:
    bad = CT.replace('cronSpec: "* * * * */5"', "cronSpec: nope").replace(
        "image:", "color: pink\n  image:"
    )
    cp = cluster.kubectl(
        "-n", namespace, "create", "--validate=false", "-f", "-", input=bad, check=False
    )
    assert cp.returncode != 0
    assert 'The CronTab "my-cron" is invalid' in cp.stderr
    assert 'spec.color: Unsupported value: "pink": supported values: "red", "blue"' in cp.stderr
    assert "spec.cronSpec: Invalid value" in cp.stderr


def test_explain(cluster: Cluster, crd: str) -> None:
    out = cluster.kubectl("explain", "crontab.spec.cronSpec").stdout
    assert "The cron schedule." in out


def test_status_and_scale(cluster: Cluster, namespace: str, crd: str) -> None:
    cluster.kubectl(
        "-n",
        namespace,
        "apply",
        "-f",
        "-",
        input=CT.replace("my-cron", "scaled").replace("  extra: pruned\n", ""),
    )
    cluster.kubectl("-n", namespace, "scale", "crontab", "scaled", "--replicas=3")
    obj = json.loads(
        cluster.kubectl("-n", namespace, "get", "crontab", "scaled", "-o", "json").stdout
    )
    assert obj["spec"]["replicas"] == 3 and obj["metadata"]["generation"] == 2
    status, body, _ = cluster.request(
        "PATCH",
        f"/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/scaled/status",
        {"status": {"replicas": 3}, "spec": {"replicas": 9}},
        content_type="application/merge-patch+json",
    )
    assert status == 200, body
    assert body["status"]["replicas"] == 3 and body["spec"]["replicas"] == 3
    assert body["metadata"]["generation"] == 2


def test_deleting_crd_deletes_objects(cluster: Cluster, namespace: str) -> None:
    doomed = (
        CRD.replace("crontabs.stable.example.com", "widgets.doomed.example.com")
        .replace("group: stable.example.com", "group: doomed.example.com")
        .replace("plural: crontabs", "plural: widgets")
        .replace("singular: crontab", "singular: widget")
        .replace("kind: CronTab", "kind: Widget")
        .replace("shortNames: [ct]", "shortNames: [wd]")
    )
    cluster.kubectl("apply", "-f", "-", input=doomed)
    deadline = time.monotonic() + 5
    while cluster.request("GET", "/apis/doomed.example.com/v1")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    w = (
        CT.replace("stable.example.com", "doomed.example.com")
        .replace("CronTab", "Widget")
        .replace("  extra: pruned\n", "")
    )
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=w)
    cluster.kubectl("delete", "crd", "widgets.doomed.example.com", "--timeout=20s")
    assert cluster.request("GET", "/apis/doomed.example.com/v1")[0] == 404
    status, _, _ = cluster.request(
        "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.doomed.example.com"
    )
    assert status == 404


MULTI = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.multi.example.com}
spec:
  group: multi.example.com
  scope: Cluster
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1beta1
    served: true
    storage: false
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""


def test_multiple_versions_cluster_scope(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=MULTI)
    deadline = time.monotonic() + 5
    while cluster.request("GET", "/apis/multi.example.com/v1")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, body, _ = cluster.request("GET", "/apis/multi.example.com")
    assert status == 200
    assert body["preferredVersion"]["version"] == "v1"
    assert [v["version"] for v in body["versions"]] == ["v1", "v1beta1"]
    status, created, _ = cluster.request(
        "POST",
        "/apis/multi.example.com/v1beta1/gadgets",
        {
            "apiVersion": "multi.example.com/v1beta1",
            "kind": "Gadget",
            "metadata": {"name": "g"},
            "x": 1,
        },
    )
    assert status == 201 and created["apiVersion"] == "multi.example.com/v1beta1"
    status, v1, _ = cluster.request("GET", "/apis/multi.example.com/v1/gadgets/g")
    assert status == 200 and v1["apiVersion"] == "multi.example.com/v1" and v1["x"] == 1
    names = cluster.kubectl("get", "gadgets", "-o", "name").stdout.split()
    assert names == ["gadget.multi.example.com/g"]
