"""configMap / secret / downwardAPI / projected volume contents."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from pyk8s.kubelet.volumes import payloads
from pyk8s.kubelet.volumes.atomic_writer import FileProjection as F
from pyk8s.kubelet.volumes.payloads import VolumeSetupError

Obj = dict[str, Any]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


CM: Obj = {"data": {"a": "alpha", "b": "beta"}, "binaryData": {"bin": b64(b"\x00\x01")}}
SECRET: Obj = {"data": {"user": b64(b"admin"), "tls.key": b64(b"KEY")}}
POD: Obj = {
    "metadata": {
        "name": "p",
        "namespace": "ns",
        "uid": "u",
        "labels": {"b": "2", "a": "1"},
        "annotations": {"x": "y"},
    },
    "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi"}}}]},
}


@pytest.mark.parametrize(
    ("source", "obj", "expected"),
    [
        pytest.param(
            {"name": "cm"},
            CM,
            {"a": F(b"alpha", 0o644), "b": F(b"beta", 0o644), "bin": F(b"\x00\x01", 0o644)},
            id="all-keys",
        ),
        pytest.param(
            {"name": "cm", "defaultMode": 0o400},
            {"data": {"a": "x"}},
            {"a": F(b"x", 0o400)},
            id="default-mode",
        ),
        pytest.param(
            {
                "name": "cm",
                "items": [
                    {"key": "a", "path": "conf/a.txt", "mode": 0o600},
                    {"key": "bin", "path": "raw"},
                ],
            },
            CM,
            {"conf/a.txt": F(b"alpha", 0o600), "raw": F(b"\x00\x01", 0o644)},
            id="items",
        ),
        pytest.param({"name": "cm", "optional": True}, None, {}, id="optional-missing"),
        pytest.param(
            {
                "name": "cm",
                "optional": True,
                "items": [{"key": "zz", "path": "z"}, {"key": "a", "path": "a"}],
            },
            CM,
            {"a": F(b"alpha", 0o644)},
            id="optional-key-missing",
        ),
    ],
)
def test_configmap_payload(source: Obj, obj: Obj | None, expected: dict[str, F]) -> None:
    assert payloads.configmap_payload(source, obj) == expected


@pytest.mark.parametrize(
    ("source", "obj", "message"),
    [
        pytest.param({"name": "cm"}, None, 'configmap "cm" not found', id="missing"),
        pytest.param(
            {"name": "cm", "items": [{"key": "zz", "path": "z"}]},
            CM,
            "configmap references non-existent config key: zz",
            id="missing-key",
        ),
    ],
)
def test_configmap_errors(source: Obj, obj: Obj | None, message: str) -> None:
    with pytest.raises(VolumeSetupError) as e:
        payloads.configmap_payload(source, obj)
    assert str(e.value) == message


def test_secret_payload() -> None:
    assert payloads.secret_payload({"secretName": "s"}, SECRET) == {
        "user": F(b"admin", 0o644),
        "tls.key": F(b"KEY", 0o644),
    }
    assert payloads.secret_payload(
        {"secretName": "s", "items": [{"key": "user", "path": "u", "mode": 0o400}]}, SECRET
    ) == {"u": F(b"admin", 0o400)}
    assert payloads.secret_payload({"secretName": "s", "optional": True}, None) == {}
    with pytest.raises(VolumeSetupError, match=r'^secret "s" not found$'):
        payloads.secret_payload({"secretName": "s"}, None)
    with pytest.raises(VolumeSetupError, match=r"^references non-existent secret key: nope$"):
        payloads.secret_payload(
            {"secretName": "s", "items": [{"key": "nope", "path": "n"}]}, SECRET
        )


def test_downward_api_payload() -> None:
    items = [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "./name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 0o400},
        {
            "path": "mem",
            "resourceFieldRef": {
                "containerName": "c",
                "resource": "limits.memory",
                "divisor": "1Mi",
            },
        },
        {"path": "cpu", "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu"}},
    ]
    got = payloads.downward_api_payload(items, POD, node_allocatable={"cpu": "2"})
    assert got == {
        "labels": F(b'a="1"\nb="2"', 0o644),
        "name": F(b"p", 0o400),
        "mem": F(b"64", 0o644),
        "cpu": F(b"2", 0o644),
    }


def test_downward_api_errors_aggregate() -> None:
    items = [
        {"path": "x", "fieldRef": {"fieldPath": "spec.nodeName"}},
        {"path": "y", "resourceFieldRef": {"containerName": "nope", "resource": "limits.cpu"}},
    ]
    with pytest.raises(VolumeSetupError) as e:
        payloads.downward_api_payload(items, POD)
    assert str(e.value) == "[unsupported fieldPath: spec.nodeName, container nope not found]"


def test_projected_payload() -> None:
    source = {
        "defaultMode": 0o440,
        "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {
                "configMap": {
                    "name": "kube-root-ca.crt",
                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                }
            },
            {
                "downwardAPI": {
                    "items": [
                        {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}
                    ]
                }
            },
            {"secret": {"name": "s", "items": [{"key": "user", "path": "user", "mode": 0o400}]}},
            {"configMap": {"name": "maybe", "optional": True}},
        ],
    }
    got = payloads.projected_payload(
        source,
        POD,
        configmaps={"kube-root-ca.crt": {"data": {"ca.crt": "PEM"}}, "maybe": None},
        secrets={"s": SECRET},
        tokens={"token": "eyJ.tok"},
    )
    assert got == {
        "token": F(b"eyJ.tok", 0o440),
        "ca.crt": F(b"PEM", 0o440),
        "namespace": F(b"ns", 0o440),
        "user": F(b"admin", 0o400),
    }
    assert payloads.token_sources(source) == [{"path": "token", "expirationSeconds": 3607}]


def test_projected_errors_are_collected() -> None:
    source = {"sources": [{"configMap": {"name": "a"}}, {"secret": {"name": "b"}}]}
    with pytest.raises(VolumeSetupError) as e:
        payloads.projected_payload(
            source, POD, configmaps={"a": None}, secrets={"b": None}, tokens={}
        )
    assert str(e.value) == '[configmap "a" not found, secret "b" not found]'
