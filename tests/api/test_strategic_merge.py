"""strategic_merge: upstream's strategic merge patch on built-in kinds, directive by directive."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pyk8s.api import schemas
from pyk8s.api.patch import PatchError
from pyk8s.api.patch.strategic_merge import apply_strategic_merge

POD = schemas.node_for_gvk("", "v1", "Pod")
DEPLOYMENT = schemas.node_for_gvk("apps", "v1", "Deployment")
PDB = schemas.node_for_gvk("policy", "v1", "PodDisruptionBudget")


def pod(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


def containers(*items: dict[str, Any]) -> dict[str, Any]:
    return pod(containers=list(items))


def c(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, **fields}


CASES = [
    # --- containers: merge by name ---------------------------------------------------------
    pytest.param(
        containers(c("a", image="x:1"), c("b", image="y:1")),
        {"spec": {"containers": [c("b", image="y:2")]}},
        containers(c("a", image="x:1"), c("b", image="y:2")),
        id="containers-update-one-by-name",
    ),
    pytest.param(
        containers(c("a", image="x:1")),
        {"spec": {"containers": [c("b", image="y:1")]}},
        containers(c("b", image="y:1"), c("a", image="x:1")),
        id="containers-new-item-goes-first-without-order",
    ),
    pytest.param(
        containers(c("a", image="x:1")),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                "containers": [c("b", image="y:1")],
            }
        },
        containers(c("a", image="x:1"), c("b", image="y:1")),
        id="containers-set-element-order-appends",
    ),
    pytest.param(
        containers(c("a"), c("b"), c("c")),
        {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}},
        containers(c("c"), c("a"), c("b")),
        id="containers-reorder-only",
    ),
    pytest.param(
        containers(c("a", image="x"), c("b", image="y")),
        {"spec": {"containers": [{"$patch": "delete", "name": "a"}]}},
        containers(c("b", image="y")),
        id="containers-delete-directive",
    ),
    pytest.param(
        containers(c("a", image="x"), c("b", image="y")),
        {"spec": {"containers": [c("z", image="q"), {"$patch": "replace"}]}},
        containers(c("z", image="q")),
        id="containers-replace-directive",
    ),
    pytest.param(
        containers(c("a"), c("b"), c("c")),
        {"spec": {"containers": [{"$patch": "delete", "name": "a"}, c("d"), c("b", image="y")]}},
        containers(c("d"), c("b", image="y"), c("c")),
        id="containers-delete-add-update-without-order",
    ),
    pytest.param(
        containers(c("a", image="x", terminationMessagePath="/dev/termination-log")),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "a"}],
                "containers": [{"image": "x:2", "name": "a"}],
            }
        },
        containers(c("a", image="x:2", terminationMessagePath="/dev/termination-log")),
        id="containers-server-defaults-survive",
    ),
    # --- env / ports / volumeMounts ---------------------------------------------------------
    pytest.param(
        containers(c("a", env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])),
        {
            "spec": {
                "containers": [
                    {
                        "name": "a",
                        "$setElementOrder/env": [{"name": "A"}, {"name": "C"}],
                        "env": [{"name": "C", "value": "3"}, {"$patch": "delete", "name": "B"}],
                    }
                ]
            }
        },
        containers(c("a", env=[{"name": "A", "value": "1"}, {"name": "C", "value": "3"}])),
        id="env-add-and-delete",
    ),
    pytest.param(
        containers(c("a", env=[{"name": "A", "value": "1"}])),
        {
            "spec": {
                "containers": [c("a", env=[{"name": "A", "value": None, "valueFrom": {"x": 1}}])]
            }
        },
        containers(c("a", env=[{"name": "A", "valueFrom": {"x": 1}}])),
        id="env-null-deletes-member",
    ),
    pytest.param(
        containers(c("a", ports=[{"containerPort": 80, "protocol": "TCP"}])),
        {"spec": {"containers": [c("a", ports=[{"containerPort": 80, "name": "http"}])]}},
        containers(c("a", ports=[{"containerPort": 80, "protocol": "TCP", "name": "http"}])),
        id="ports-merge-by-container-port",
    ),
    pytest.param(
        containers(c("a", ports=[{"containerPort": 80}])),
        {"spec": {"containers": [c("a", ports=[{"containerPort": 443}])]}},
        containers(c("a", ports=[{"containerPort": 443}, {"containerPort": 80}])),
        id="ports-add",
    ),
    pytest.param(
        containers(c("a", volumeMounts=[{"name": "v", "mountPath": "/a"}])),
        {"spec": {"containers": [c("a", volumeMounts=[{"name": "v", "mountPath": "/b"}])]}},
        containers(
            c(
                "a",
                volumeMounts=[{"name": "v", "mountPath": "/b"}, {"name": "v", "mountPath": "/a"}],
            )
        ),
        id="volume-mounts-keyed-by-mount-path",
    ),
    # --- volumes: merge by name, retainKeys -------------------------------------------------
    pytest.param(
        pod(volumes=[{"name": "v", "emptyDir": {}}]),
        {
            "spec": {
                "volumes": [
                    {"$retainKeys": ["configMap", "name"], "name": "v", "configMap": {"name": "cm"}}
                ]
            }
        },
        pod(volumes=[{"name": "v", "configMap": {"name": "cm"}}]),
        id="volumes-retain-keys-switches-source",
    ),
    pytest.param(
        pod(volumes=[{"name": "v", "emptyDir": {}}, {"name": "w", "emptyDir": {}}]),
        {"spec": {"volumes": [{"name": "w", "secret": {"secretName": "s"}}]}},
        pod(
            volumes=[
                {"name": "v", "emptyDir": {}},
                {"name": "w", "emptyDir": {}, "secret": {"secretName": "s"}},
            ]
        ),
        id="volumes-without-retain-keys-merge",
    ),
    # --- atomic lists are replaced ----------------------------------------------------------
    pytest.param(
        pod(tolerations=[{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]),
        {"spec": {"tolerations": [{"key": "c", "operator": "Exists"}]}},
        pod(tolerations=[{"key": "c", "operator": "Exists"}]),
        id="tolerations-replaced",
    ),
    pytest.param(
        containers(c("a", args=["x", "y"], command=["sh"])),
        {"spec": {"containers": [c("a", args=["z"])]}},
        containers(c("a", args=["z"], command=["sh"])),
        id="args-replaced",
    ),
    # --- primitive merge lists: finalizers --------------------------------------------------
    pytest.param(
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["b", "c"]}},
        {"metadata": {"finalizers": ["a", "b", "c"]}},
        id="finalizers-union",
    ),
    pytest.param(
        {"metadata": {"finalizers": ["a", "b", "c"]}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}},
        {"metadata": {"finalizers": ["a", "c"]}},
        id="finalizers-delete-from-primitive-list",
    ),
    pytest.param(
        {"metadata": {"finalizers": ["a", "b"]}},
        {
            "metadata": {
                "$setElementOrder/finalizers": ["b", "c", "a"],
                "finalizers": ["c"],
            }
        },
        {"metadata": {"finalizers": ["b", "c", "a"]}},
        id="finalizers-set-element-order",
    ),
    pytest.param(
        {"metadata": {}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}},
        {"metadata": {}},
        id="delete-from-missing-list-is-a-no-op",
    ),
    # --- ownerReferences: merge by uid ------------------------------------------------------
    pytest.param(
        {"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b"}]}},
        {
            "metadata": {
                "ownerReferences": [
                    {"uid": "2", "controller": True},
                    {"$patch": "delete", "uid": "1"},
                ]
            }
        },
        {"metadata": {"ownerReferences": [{"uid": "2", "name": "b", "controller": True}]}},
        id="owner-references-by-uid",
    ),
    # --- maps -------------------------------------------------------------------------------
    pytest.param(
        {"metadata": {"labels": {"a": "1", "b": "2"}}},
        {"metadata": {"labels": {"b": None, "c": "3"}}},
        {"metadata": {"labels": {"a": "1", "c": "3"}}},
        id="labels-null-deletes",
    ),
    pytest.param(
        pod(securityContext={"runAsUser": 1, "fsGroup": 2}),
        {"spec": {"securityContext": {"$patch": "replace", "runAsGroup": 3}}},
        pod(securityContext={"runAsGroup": 3}),
        id="map-replace-directive",
    ),
    pytest.param(
        pod(securityContext={"runAsUser": 1}),
        {"spec": {"securityContext": {"$patch": "delete"}}},
        pod(securityContext={}),
        id="map-delete-directive-empties-it",
    ),
    pytest.param(
        pod(),
        {"spec": {"securityContext": {"$patch": "delete"}}},
        pod(),
        id="map-delete-directive-on-missing-map",
    ),
    pytest.param(
        pod(nodeSelector={"a": "1"}),
        {"spec": {"nodeSelector": None}},
        pod(),
        id="null-deletes-whole-field",
    ),
    pytest.param(
        pod(),
        {"spec": {"affinity": {"nodeAffinity": {"x": None, "y": {"z": None, "w": 1}}}}},
        pod(affinity={"nodeAffinity": {"y": {"w": 1}}}),
        id="new-values-lose-nulls",
    ),
    pytest.param(
        pod(hostname="a"),
        {"spec": {"hostname": ["not", "a", "string"]}},
        pod(hostname=["not", "a", "string"]),
        id="type-change-replaces",
    ),
    pytest.param(
        {"kind": "Pod", "metadata": {"name": "p"}},
        {"$patch": "replace", "kind": "Pod", "metadata": {"name": "q"}},
        {"kind": "Pod", "metadata": {"name": "q"}},
        id="root-replace",
    ),
]


@pytest.mark.parametrize(("original", "patch", "expected"), CASES)
def test_pod(original: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]) -> None:
    before, patch_before = copy.deepcopy(original), copy.deepcopy(patch)
    assert apply_strategic_merge(original, patch, POD) == expected
    assert (original, patch) == (before, patch_before)


def deployment(strategy: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"replicas": 1, "strategy": strategy}}


@pytest.mark.parametrize(
    ("original", "patch", "expected"),
    [
        pytest.param(
            deployment({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}),
            {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
            deployment({"type": "Recreate"}),
            id="strategy-retain-keys",
        ),
        pytest.param(
            deployment({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}),
            {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 2}}}},
            deployment({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2}}),
            id="strategy-merge-int-or-string",
        ),
        pytest.param(
            {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}}}},
            {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}], "containers": [{"image": "nginx:1.26", "name": "nginx"}]}}}},
            {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.26", "ports": [{"containerPort": 80}]}]}}}},
            id="kubectl-apply-image-change",
        ),
    ],
)  # fmt: skip
def test_deployment(
    original: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert apply_strategic_merge(original, patch, DEPLOYMENT) == expected


def test_kubectl_apply_twice_loses_nothing() -> None:
    live = {
        "metadata": {
            "name": "web",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        },
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "dnsPolicy": "ClusterFirst",
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.25",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            "imagePullPolicy": "IfNotPresent",
                        },
                        {"name": "sidecar", "image": "busybox"},
                    ],
                }
            },
        },
    }
    patch = {
        "metadata": {
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"v":2}'}
        },
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.26",
                            "$setElementOrder/env": [{"name": "A"}, {"name": "C"}],
                            "env": [{"name": "C", "value": "3"}, {"$patch": "delete", "name": "B"}],
                            "$setElementOrder/ports": [
                                {"containerPort": 80},
                                {"containerPort": 443},
                            ],
                            "ports": [{"containerPort": 443}],
                        }
                    ],
                }
            }
        },
    }
    result = apply_strategic_merge(live, patch, DEPLOYMENT)
    pod_spec = result["spec"]["template"]["spec"]
    assert pod_spec["dnsPolicy"] == "ClusterFirst"
    nginx, sidecar = pod_spec["containers"]
    assert sidecar == {"name": "sidecar", "image": "busybox"}
    assert nginx == {
        "name": "nginx",
        "image": "nginx:1.26",
        "env": [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}],
        "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "imagePullPolicy": "IfNotPresent",
    }
    assert result["spec"]["replicas"] == 2
    assert result["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/last-applied-configuration": '{"v":2}'
    }


def test_replace_strategy_takes_the_patch_whole() -> None:
    original = {"spec": {"selector": {"matchLabels": {"a": "1"}, "matchExpressions": []}}}
    patch = {"spec": {"selector": {"matchLabels": {"b": "2"}}}}
    assert apply_strategic_merge(original, patch, PDB) == {
        "spec": {"selector": {"matchLabels": {"b": "2"}}}
    }


def test_set_element_order_keeps_server_only_items_in_place() -> None:
    # Upstream's own example: server-only items keep their live position relative to the
    # items the patch lists; deleted items are gone, new ones follow the order list.
    live = {"spec": {"containers": [c("1"), c("2", image="b"), c("4", image="c")]}}
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "2"}, {"name": "3"}],
            "containers": [c("3"), {"name": "1", "$patch": "delete"}],
        }
    }
    result = apply_strategic_merge(live, patch, POD)
    assert [x["name"] for x in result["spec"]["containers"]] == ["2", "4", "3"]


@pytest.mark.parametrize(
    ("original", "patch", "expected"),
    [
        pytest.param(
            {"spec": {"items": [1, 2], "m": {"a": 1}}},
            {"spec": {"items": [3], "m": {"b": 2}}},
            {"spec": {"items": [3], "m": {"a": 1, "b": 2}}},
            id="lists-replaced-maps-merged",
        ),
        pytest.param(
            {"spec": {"a": 1, "b": 2}},
            {"spec": {"a": None}},
            {"spec": {"b": 2}},
            id="null-deletes",
        ),
        pytest.param(
            {"spec": {"items": [{"name": "a"}]}},
            {"spec": {"$setElementOrder/items": [{"name": "b"}], "items": [{"name": "b"}]}},
            {"spec": {"items": [{"name": "b"}]}},
            id="directives-honoured-not-stored",
        ),
    ],
)
def test_without_schema_is_json_merge(
    original: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert apply_strategic_merge(original, patch, None) == expected


@pytest.mark.parametrize(
    ("original", "patch", "code", "message"),
    [
        pytest.param(
            pod(securityContext={"runAsUser": 1}),
            {"spec": {"securityContext": {"$patch": "frobnicate"}}},
            422,
            "unknown patch type: frobnicate in map: map[$patch:frobnicate]",
            id="unknown-map-directive",
        ),
        pytest.param(
            containers(c("a")),
            {"spec": {"containers": [{"$patch": "frobnicate", "name": "a"}]}},
            422,
            "unknown patch type: frobnicate in map: map[$patch:frobnicate name:a]",
            id="unknown-list-directive",
        ),
        pytest.param(
            containers(c("a")),
            {"spec": {"containers": [{"$patch": "merge"}]}},
            422,
            "merging lists cannot yet be specified in the patch",
            id="merge-directive-in-list",
        ),
        pytest.param(
            containers(c("a")),
            {"spec": {"containers": [{"image": "x"}]}},
            422,
            "map: map[image:x] does not contain declared merge key: name",
            id="missing-merge-key",
        ),
        pytest.param(
            containers(c("a")),
            {"spec": {"containers": [{"$patch": "delete"}]}},
            422,
            "map: map[$patch:delete] does not contain declared merge key: name",
            id="delete-without-merge-key",
        ),
        pytest.param(
            pod(volumes=[{"name": "v", "emptyDir": {}}]),
            {"spec": {"volumes": [{"$retainKeys": ["name"], "name": "v", "secret": {}}]}},
            400,
            "invalid patch format of retainKeys",
            id="retain-keys-missing-patched-field",
        ),
        pytest.param(
            pod(volumes=[{"name": "v"}]),
            {"spec": {"volumes": [{"$retainKeys": "name", "name": "v"}]}},
            400,
            "invalid patch format of retainKeys",
            id="retain-keys-not-a-list",
        ),
        pytest.param(
            containers(c("a"), c("b")),
            {
                "spec": {
                    "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                    "containers": [c("b"), c("a")],
                }
            },
            422,
            "The order in patch list:\n[map[name:b] map[name:a]]\n doesn't match "
            "$setElementOrder list:\n[map[name:a] map[name:b]]\n",
            id="patch-order-contradicts-set-element-order",
        ),
        pytest.param(
            containers(c("a")),
            {"spec": {"$setElementOrder": [{"name": "a"}]}},
            400,
            "invalid patch format of setElementOrder list",
            id="set-element-order-without-field",
        ),
        pytest.param(
            containers(c("a")),
            {"spec": {"$setElementOrder/containers": "a"}},
            422,
            "expected a []interface {}, but received a string",
            id="set-element-order-not-a-list",
        ),
        pytest.param(
            {"metadata": {"finalizers": ["a"]}},
            {"metadata": {"$deleteFromPrimitiveList": ["a"]}},
            400,
            "invalid patch format of primitive list",
            id="delete-from-primitive-list-without-field",
        ),
        pytest.param(
            {"metadata": {"finalizers": ["a"]}},
            {"metadata": {"finalizers": [["b"]]}},
            422,
            "list element types are not identical: [a] [[b]]",
            id="mixed-element-types",
        ),
        pytest.param(
            {"metadata": {"finalizers": [["a"]]}},
            {"metadata": {"finalizers": [["b"]]}},
            422,
            "lists of lists are not supported",
            id="list-of-lists",
        ),
        pytest.param(
            {"metadata": {"finalizers": [{"a": 1}]}},
            {"metadata": {"finalizers": [{"b": 1}]}},
            422,
            "cannot merge lists without merge key for Struct",
            id="maps-in-a-keyless-merge-list",
        ),
    ],
)
def test_errors(original: dict[str, Any], patch: dict[str, Any], code: int, message: str) -> None:
    with pytest.raises(PatchError) as caught:
        apply_strategic_merge(original, patch, POD)
    assert (caught.value.code, caught.value.message) == (code, message)


@pytest.mark.parametrize("bad", [[], "x", None], ids=["list", "string", "null"])
def test_non_object_documents_are_bad_requests(bad: Any) -> None:
    with pytest.raises(PatchError) as caught:
        apply_strategic_merge({}, bad, POD)
    assert (caught.value.code, caught.value.message) == (400, "invalid JSON document")


def test_result_shares_nothing_with_inputs() -> None:
    original = containers(c("a", env=[{"name": "A", "value": "1"}]))
    patch = {"spec": {"containers": [c("b", env=[{"name": "B", "value": "2"}])]}}
    result = apply_strategic_merge(original, patch, POD)
    for container in result["spec"]["containers"]:
        container["env"].append({"name": "X"})
    assert original == containers(c("a", env=[{"name": "A", "value": "1"}]))
    assert patch == {"spec": {"containers": [c("b", env=[{"name": "B", "value": "2"}])]}}
