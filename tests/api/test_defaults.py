"""Defaulting of built-in kinds, checked against what upstream 1.33 stores."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pyk8s.api.defaults import apply_defaults
from pyk8s.api.defaults_pod import image_pull_policy

Obj = dict[str, Any]

CONTAINER_DEFAULTS: Obj = {
    "imagePullPolicy": "Always",
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "resources": {},
}
TEMPLATE_SPEC_DEFAULTS: Obj = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
    "schedulerName": "default-scheduler",
}


def defaulted(key: tuple[str, str], obj: Obj) -> Obj:
    obj = copy.deepcopy(obj)
    apply_defaults(key, obj)
    return obj


def test_pod_defaults() -> None:
    pod = defaulted(("", "pods"), {"spec": {"containers": [{"name": "web", "image": "nginx"}]}})
    assert pod["spec"] == {
        "containers": [{"name": "web", "image": "nginx", **CONTAINER_DEFAULTS}],
        **TEMPLATE_SPEC_DEFAULTS,
        "enableServiceLinks": True,
    }


def test_deployment_defaults_match_the_wire_trace() -> None:
    # shared/reference/kubectl-1.33-wire-trace.txt: `kubectl create deployment web --image nginx`
    sent = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx"}]},
            },
        },
    }
    spec = defaulted(("apps", "deployments"), sent)["spec"]
    assert spec["replicas"] == 1
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    assert spec["template"]["spec"] == {
        "containers": [{"name": "nginx", "image": "nginx", **CONTAINER_DEFAULTS}],
        **TEMPLATE_SPEC_DEFAULTS,
    }


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        pytest.param("nginx", "Always", id="untagged"),
        pytest.param("nginx:latest", "Always", id="latest"),
        pytest.param("nginx:1.14.2", "IfNotPresent", id="tagged"),
        pytest.param("localhost:5000/app", "Always", id="registry-port-untagged"),
        pytest.param("localhost:5000/app:v1", "IfNotPresent", id="registry-port-tagged"),
        pytest.param("busybox@sha256:" + "a" * 64, "IfNotPresent", id="digest"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy


@pytest.mark.parametrize(
    ("key", "obj", "path", "expected"),
    [
        pytest.param(
            ("apps", "replicasets"), {"spec": {}}, ("spec", "replicas"), 1, id="rs-replicas"
        ),
        pytest.param(
            ("apps", "statefulsets"),
            {"spec": {}},
            ("spec",),
            {
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "replicas": 1,
                "revisionHistoryLimit": 10,
                "persistentVolumeClaimRetentionPolicy": {
                    "whenDeleted": "Retain",
                    "whenScaled": "Retain",
                },
            },
            id="statefulset",
        ),
        pytest.param(
            ("apps", "daemonsets"),
            {"spec": {}},
            ("spec",),
            {
                "updateStrategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
                },
                "revisionHistoryLimit": 10,
            },
            id="daemonset",
        ),
        pytest.param(
            ("batch", "jobs"),
            {"spec": {}},
            ("spec",),
            {
                "completions": 1,
                "parallelism": 1,
                "backoffLimit": 6,
                "completionMode": "NonIndexed",
                "suspend": False,
                "podReplacementPolicy": "TerminatingOrFailed",
            },
            id="job",
        ),
        pytest.param(
            ("batch", "jobs"),
            {"spec": {"parallelism": 3}},
            ("spec", "completions"),
            None,
            id="job-parallel-without-completions",
        ),
        pytest.param(
            ("batch", "jobs"),
            {
                "spec": {
                    "podFailurePolicy": {
                        "rules": [
                            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}
                        ]
                    }
                }
            },
            ("spec", "podReplacementPolicy"),
            "Failed",
            id="job-with-pod-failure-policy",
        ),
        pytest.param(
            ("batch", "cronjobs"),
            {"spec": {"schedule": "* * * * *"}},
            ("spec",),
            {
                "schedule": "* * * * *",
                "concurrencyPolicy": "Allow",
                "suspend": False,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1,
            },
            id="cronjob",
        ),
        pytest.param(
            ("", "services"),
            {"spec": {"ports": [{"port": 80}]}},
            ("spec",),
            {
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "sessionAffinity": "None",
                "type": "ClusterIP",
                "internalTrafficPolicy": "Cluster",
                "ipFamilyPolicy": "SingleStack",
                "ipFamilies": ["IPv4"],
            },
            id="service-cluster-ip",
        ),
        pytest.param(
            ("", "services"),
            {"spec": {"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": "http"}]}},
            ("spec",),
            {
                "type": "LoadBalancer",
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": "http"}],
                "sessionAffinity": "None",
                "externalTrafficPolicy": "Cluster",
                "internalTrafficPolicy": "Cluster",
                "allocateLoadBalancerNodePorts": True,
                "ipFamilyPolicy": "SingleStack",
                "ipFamilies": ["IPv4"],
            },
            id="service-load-balancer",
        ),
        pytest.param(
            ("", "services"),
            {"spec": {"clusterIP": "None", "ports": [{"port": 80}]}},
            ("spec", "ipFamilyPolicy"),
            "RequireDualStack",
            id="headless-without-selector",
        ),
        pytest.param(
            ("", "services"),
            {"spec": {"type": "ExternalName", "externalName": "example.com"}},
            ("spec",),
            {"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None"},
            id="service-external-name",
        ),
        pytest.param(("", "secrets"), {}, ("type",), "Opaque", id="secret-type"),
        pytest.param(
            ("", "namespaces"),
            {"metadata": {"name": "team-a"}},
            (),
            {
                "metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
                "status": {"phase": "Active"},
            },
            id="namespace",
        ),
        pytest.param(
            ("", "persistentvolumeclaims"),
            {"spec": {"resources": {"requests": {"storage": "1000Mi"}}}},
            (),
            {
                "spec": {
                    "volumeMode": "Filesystem",
                    "resources": {"requests": {"storage": "1000Mi"}},
                },
                "status": {"phase": "Pending"},
            },
            id="pvc",
        ),
        pytest.param(
            ("", "persistentvolumes"),
            {"spec": {"capacity": {"storage": "10Mi"}, "hostPath": {"path": "/data"}}},
            ("spec",),
            {
                "capacity": {"storage": "10Mi"},
                "hostPath": {"path": "/data", "type": ""},
                "persistentVolumeReclaimPolicy": "Retain",
                "volumeMode": "Filesystem",
            },
            id="pv",
        ),
        pytest.param(
            ("networking.k8s.io", "networkpolicies"),
            {"spec": {"egress": [{"ports": [{"port": 53}]}]}},
            ("spec",),
            {
                "egress": [{"ports": [{"port": 53, "protocol": "TCP"}]}],
                "policyTypes": ["Ingress", "Egress"],
            },
            id="networkpolicy",
        ),
        pytest.param(
            ("rbac.authorization.k8s.io", "rolebindings"),
            {
                "roleRef": {"kind": "Role", "name": "r"},
                "subjects": [
                    {"kind": "ServiceAccount", "name": "sa"},
                    {"kind": "User", "name": "u"},
                ],
            },
            (),
            {
                "roleRef": {"kind": "Role", "name": "r", "apiGroup": "rbac.authorization.k8s.io"},
                "subjects": [
                    {"kind": "ServiceAccount", "name": "sa"},
                    {"kind": "User", "name": "u", "apiGroup": "rbac.authorization.k8s.io"},
                ],
            },
            id="rolebinding",
        ),
        pytest.param(
            ("storage.k8s.io", "storageclasses"),
            {"provisioner": "x"},
            (),
            {"provisioner": "x", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"},
            id="storageclass",
        ),
        pytest.param(
            ("", "replicationcontrollers"),
            {
                "spec": {
                    "template": {
                        "metadata": {"labels": {"app": "kubia"}},
                        "spec": {"containers": []},
                    }
                }
            },
            ("spec", "selector"),
            {"app": "kubia"},
            id="rc-selector-from-template",
        ),
    ],
)
def test_kind_defaults(
    key: tuple[str, str], obj: Obj, path: tuple[str, ...], expected: Any
) -> None:
    out: Any = defaulted(key, obj)
    for step in path:
        out = out.get(step)
    assert out == expected


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        pytest.param(
            {"ports": [{"containerPort": 80}]},
            {"ports": [{"containerPort": 80, "protocol": "TCP"}]},
            id="port-protocol",
        ),
        pytest.param(
            {"livenessProbe": {"httpGet": {"port": 8080}}},
            {
                "livenessProbe": {
                    "httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
                    "timeoutSeconds": 1,
                    "periodSeconds": 10,
                    "successThreshold": 1,
                    "failureThreshold": 3,
                }
            },
            id="probe",
        ),
        pytest.param(
            {"env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]},
            {
                "env": [
                    {
                        "name": "N",
                        "valueFrom": {
                            "fieldRef": {"fieldPath": "spec.nodeName", "apiVersion": "v1"}
                        },
                    }
                ]
            },
            id="env-field-ref",
        ),
        pytest.param(
            {
                "resources": {
                    "requests": {"cpu": "0.25", "memory": "64Mi"},
                    "limits": {"cpu": "500m"},
                }
            },
            {
                "resources": {
                    "requests": {"cpu": "250m", "memory": "64Mi"},
                    "limits": {"cpu": "500m"},
                }
            },
            id="quantities-canonical",
        ),
    ],
)
def test_container_defaults(container: Obj, expected: Obj) -> None:
    tmpl = {
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i:1", **container}]}}}
    }
    out = defaulted(("apps", "replicasets"), tmpl)["spec"]["template"]["spec"]["containers"][0]
    for k, v in expected.items():
        assert out[k] == v


def test_pod_requests_default_to_limits_but_templates_do_not() -> None:
    limits = {"resources": {"limits": {"cpu": "1", "nvidia.com/gpu": 1}}}
    pod = defaulted(("", "pods"), {"spec": {"containers": [{"name": "c", "image": "i", **limits}]}})
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {
        "cpu": "1",
        "nvidia.com/gpu": "1",
    }
    rs = defaulted(
        ("apps", "replicasets"),
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i", **limits}]}}}},
    )
    assert "requests" not in rs["spec"]["template"]["spec"]["containers"][0]["resources"]


@pytest.mark.parametrize(
    ("volume", "expected"),
    [
        pytest.param({"name": "v"}, {"name": "v", "emptyDir": {}}, id="no-source-is-emptydir"),
        pytest.param(
            {"name": "v", "configMap": {"name": "c"}},
            {"name": "v", "configMap": {"name": "c", "defaultMode": 420}},
            id="configmap-mode",
        ),
        pytest.param(
            {"name": "v", "secret": {"secretName": "s"}},
            {"name": "v", "secret": {"secretName": "s", "defaultMode": 420}},
            id="secret-mode",
        ),
        pytest.param(
            {"name": "v", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
            {
                "name": "v",
                "projected": {
                    "sources": [{"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}}],
                    "defaultMode": 420,
                },
            },
            id="projected",
        ),
        pytest.param(
            {"name": "v", "hostPath": {"path": "/x"}},
            {"name": "v", "hostPath": {"path": "/x", "type": ""}},
            id="hostpath-type",
        ),
    ],
)
def test_volume_defaults(volume: Obj, expected: Obj) -> None:
    pod = defaulted(
        ("", "pods"), {"spec": {"containers": [{"name": "c", "image": "i"}], "volumes": [volume]}}
    )
    assert pod["spec"]["volumes"][0] == expected


def test_statefulset_claim_templates() -> None:
    sts = defaulted(
        ("apps", "statefulsets"),
        {
            "spec": {
                "volumeClaimTemplates": [
                    {"metadata": {"name": "www"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
                ]
            }
        },
    )
    assert sts["spec"]["volumeClaimTemplates"][0] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "www"},
        "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"},
        "status": {"phase": "Pending"},
    }


def test_explicit_values_are_kept() -> None:
    sent = {
        "spec": {
            "replicas": 0,
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 2,
            "template": {
                "spec": {
                    "restartPolicy": "Always",
                    "containers": [{"name": "c", "image": "i", "imagePullPolicy": "Never"}],
                }
            },
        }
    }
    spec = defaulted(("apps", "deployments"), sent)["spec"]
    assert spec["replicas"] == 0
    assert spec["strategy"] == {"type": "Recreate"}
    assert spec["revisionHistoryLimit"] == 2
    assert spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Never"


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(("", "pods"), id="pod"),
        pytest.param(("apps", "deployments"), id="deployment"),
        pytest.param(("", "services"), id="service"),
        pytest.param(("batch", "cronjobs"), id="cronjob"),
    ],
)
def test_defaults_are_idempotent(key: tuple[str, str]) -> None:
    obj: Obj = {
        "metadata": {"name": "x"},
        "spec": {
            "containers": [{"name": "c", "image": "i"}],
            "ports": [{"port": 80}],
            "schedule": "* * * * *",
            "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
            "jobTemplate": {
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}
            },
        },
    }
    once = defaulted(key, obj)
    assert defaulted(key, once) == once


def test_unknown_kind_untouched() -> None:
    obj = {"spec": {"x": 1}}
    assert defaulted(("example.com", "widgets"), obj) == obj
