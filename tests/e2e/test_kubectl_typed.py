"""e2e: kubectl's typed generator commands, which send protobuf bodies (and `run`/`expose`,
which send JSON), create what upstream creates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cluster import Cluster

pytestmark = pytest.mark.e2e


def _get(cluster: Cluster, ns: str, *what: str) -> dict:  # type: ignore[type-arg]
    return json.loads(cluster.kubectl("-n", ns, "get", *what, "-o", "json").stdout)


@pytest.mark.parametrize(
    ("args", "get", "check"),
    [
        pytest.param(
            ["create", "deployment", "d", "--image=nginx:1.25", "--replicas=3", "--port=80"],
            ["deploy", "d"],
            lambda o: (
                o["spec"]["replicas"] == 3
                and o["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
                == 80
            ),
            id="deployment",
        ),
        pytest.param(
            ["create", "deployment", "z", "--image=nginx", "--replicas=0"],
            ["deploy", "z"],
            lambda o: o["spec"]["replicas"] == 0,
            id="deployment-zero-replicas",
        ),
        pytest.param(
            ["create", "configmap", "cm", "--from-literal=a=1", "--from-literal=b=2"],
            ["cm", "cm"],
            lambda o: o["data"] == {"a": "1", "b": "2"},
            id="configmap",
        ),
        pytest.param(
            ["create", "secret", "generic", "s", "--from-literal=k=v"],
            ["secret", "s"],
            lambda o: o["data"] == {"k": "dg=="} and o["type"] == "Opaque",
            id="secret",
        ),
        pytest.param(
            [
                "create",
                "secret",
                "docker-registry",
                "reg",
                "--docker-server=r.local",
                "--docker-username=u",
                "--docker-password=p",
            ],
            ["secret", "reg"],
            lambda o: o["type"] == "kubernetes.io/dockerconfigjson",
            id="secret-docker",
        ),
        pytest.param(
            ["create", "service", "clusterip", "svc", "--tcp=80:8080"],
            ["svc", "svc"],
            lambda o: (
                o["spec"]["clusterIP"].startswith("10.")
                and o["spec"]["ports"][0]["targetPort"] == 8080
            ),
            id="service-clusterip",
        ),
        pytest.param(
            ["create", "service", "nodeport", "np", "--tcp=80:80"],
            ["svc", "np"],
            lambda o: 30000 <= o["spec"]["ports"][0]["nodePort"] <= 32767,
            id="service-nodeport",
        ),
        pytest.param(
            ["create", "service", "externalname", "ext", "--external-name=example.test"],
            ["svc", "ext"],
            lambda o: o["spec"]["type"] == "ExternalName" and "clusterIP" not in o["spec"],
            id="service-externalname",
        ),
        pytest.param(
            ["create", "job", "j", "--image=busybox", "--", "echo", "hi"],
            ["job", "j"],
            lambda o: (
                o["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
                and o["spec"]["backoffLimit"] == 6
            ),
            id="job",
        ),
        pytest.param(
            ["create", "cronjob", "cj", "--image=busybox", "--schedule=*/5 * * * *"],
            ["cronjob", "cj"],
            lambda o: (
                o["spec"]["schedule"] == "*/5 * * * *" and o["spec"]["concurrencyPolicy"] == "Allow"
            ),
            id="cronjob",
        ),
        pytest.param(
            ["create", "serviceaccount", "sa"],
            ["sa", "sa"],
            lambda o: o["metadata"]["name"] == "sa",
            id="serviceaccount",
        ),
        pytest.param(
            ["create", "role", "r", "--verb=get,list", "--resource=pods"],
            ["role", "r"],
            lambda o: o["rules"][0]["verbs"] == ["get", "list"],
            id="role",
        ),
        pytest.param(
            ["create", "rolebinding", "rb", "--role=r", "--user=alice"],
            ["rolebinding", "rb"],
            lambda o: o["subjects"][0]["name"] == "alice",
            id="rolebinding",
        ),
        pytest.param(
            ["create", "quota", "q", "--hard=pods=10,cpu=2"],
            ["quota", "q"],
            lambda o: o["spec"]["hard"] == {"pods": "10", "cpu": "2"},
            id="quota",
        ),
        pytest.param(
            ["create", "poddisruptionbudget", "pdb", "--selector=app=x", "--min-available=1"],
            ["pdb", "pdb"],
            lambda o: o["spec"]["minAvailable"] == 1,
            id="pdb",
        ),
        pytest.param(
            ["create", "ingress", "ing", "--rule=foo.test/bar=svc:80"],
            ["ingress", "ing"],
            lambda o: o["spec"]["rules"][0]["host"] == "foo.test",
            id="ingress",
        ),
        pytest.param(
            [
                "run",
                "p",
                "--image=nginx",
                "--port=80",
                "--env=A=1",
                "--labels=app=p",
                "--restart=Never",
            ],
            ["pod", "p"],
            lambda o: (
                o["spec"]["restartPolicy"] == "Never"
                and o["status"]["phase"] == "Pending"
                and o["metadata"]["labels"] == {"app": "p"}
            ),
            id="run",
        ),
    ],
)
def test_typed_create(
    cluster: Cluster, namespace: str, args: list[str], get: list[str], check
) -> None:  # type: ignore[no-untyped-def]
    cluster.kubectl("-n", namespace, *args)
    assert check(_get(cluster, namespace, *get))


def test_cluster_scoped_typed(cluster: Cluster, tmp_path: Path) -> None:
    cluster.kubectl("create", "namespace", "typed-ns")
    assert _get(cluster, "default", "ns", "typed-ns")["status"]["phase"] == "Active"
    cluster.kubectl("create", "clusterrole", "cr", "--verb=get", "--resource=nodes")
    cluster.kubectl("create", "clusterrolebinding", "crb", "--clusterrole=cr", "--group=devs")
    assert _get(cluster, "default", "clusterrolebinding", "crb")["roleRef"]["name"] == "cr"
    cluster.kubectl("create", "priorityclass", "high", "--value=1000", "--description=hi")
    assert _get(cluster, "default", "priorityclass", "high")["value"] == 1000


def test_expose_deployment(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("-n", namespace, "create", "deployment", "web", "--image=nginx")
    cluster.kubectl(
        "-n",
        namespace,
        "expose",
        "deployment",
        "web",
        "--port=80",
        "--target-port=8080",
        "--type=NodePort",
    )
    svc = _get(cluster, namespace, "svc", "web")
    assert svc["spec"]["selector"] == {"app": "web"}
    assert svc["spec"]["type"] == "NodePort"
    row = cluster.kubectl("-n", namespace, "get", "svc", "web").stdout.splitlines()[1].split()
    assert row[1] == "NodePort" and row[4].startswith("80:") and row[4].endswith("/TCP")
