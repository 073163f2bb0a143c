"""Container environment: service links, $(VAR) expansion, valueFrom, envFrom, errors."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from pyk8s.kubelet import envvars
from pyk8s.kubelet.envvars import ContainerConfigError

Obj = dict[str, Any]


def svc(name: str, ns: str, ip: str, *ports: Obj) -> Obj:
    return {
        "metadata": {"name": name, "namespace": ns},
        "spec": {"clusterIP": ip, "ports": list(ports)},
    }


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


# --- expansion -------------------------------------------------------------------------


VARS = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("$(VAR_A)", "A", id="whole"),
        pytest.param("___$(VAR_B)___", "___B___", id="embedded"),
        pytest.param("$(VAR_A)-$(VAR_B)-$(VAR_C)", "A-B-C", id="several"),
        pytest.param("$(VAR_REF)", "$(VAR_A)", id="no-recursion"),
        pytest.param("$(VAR_EMPTY)", "", id="empty-value"),
        pytest.param("$(UNKNOWN)", "$(UNKNOWN)", id="unknown-kept"),
        pytest.param("$$(VAR_A)", "$(VAR_A)", id="escaped"),
        pytest.param("$$$(VAR_A)", "$A", id="escape-then-ref"),
        pytest.param("$$$$(VAR_A)", "$$(VAR_A)", id="double-escape"),
        pytest.param("$(VAR_A", "$(VAR_A", id="unterminated"),
        pytest.param("$VAR_A", "$VAR_A", id="bare-dollar"),
        pytest.param("foo$", "foo$", id="trailing-dollar"),
        pytest.param("$()", "$()", id="empty-name"),
        pytest.param("$(VAR_A)$(VAR_B)", "AB", id="adjacent"),
        pytest.param("f00__(VAR_A)__", "f00__(VAR_A)__", id="no-operator"),
        pytest.param("$(VAR_A)$", "A$", id="ref-then-dollar"),
        pytest.param("$$", "$", id="only-escape"),
        pytest.param("$x$(VAR_B)", "$xB", id="operator-non-paren"),
    ],
)
def test_expand_matches_upstream(text: str, expected: str) -> None:
    assert envvars.expand(text, VARS.get) == expected


def test_expand_command_uses_final_env() -> None:
    cmd, args = envvars.expand_command(
        ["sh", "-c", "echo $(A)"], ["$(B)", "$$(A)"], [("A", "1"), ("B", "2")]
    )
    assert cmd == ["sh", "-c", "echo 1"]
    assert args == ["2", "$(A)"]


def test_subpath_expr_requires_every_variable() -> None:
    assert envvars.expand_subpath_expr("logs/$(POD)", [("POD", "p1")]) == "logs/p1"
    with pytest.raises(ContainerConfigError, match=r"^missing value for A, B$"):
        envvars.expand_subpath_expr("$(B)/$(A)/$(C)", [("C", "c"), ("A", "")])


# --- service links ---------------------------------------------------------------------


def test_service_env_link_variables() -> None:
    services = [
        svc(
            "my-svc",
            "ns",
            "10.96.0.10",
            {"name": "http", "port": 80, "protocol": "TCP"},
            {"name": "dns-udp", "port": 53, "protocol": "UDP"},
        )
    ]
    env = envvars.service_env(services, namespace="ns", enable_service_links=True)
    assert env == {
        "MY_SVC_SERVICE_HOST": "10.96.0.10",
        "MY_SVC_SERVICE_PORT": "80",
        "MY_SVC_SERVICE_PORT_HTTP": "80",
        "MY_SVC_SERVICE_PORT_DNS_UDP": "53",
        "MY_SVC_PORT": "tcp://10.96.0.10:80",
        "MY_SVC_PORT_80_TCP": "tcp://10.96.0.10:80",
        "MY_SVC_PORT_80_TCP_PROTO": "tcp",
        "MY_SVC_PORT_80_TCP_PORT": "80",
        "MY_SVC_PORT_80_TCP_ADDR": "10.96.0.10",
        "MY_SVC_PORT_53_UDP": "udp://10.96.0.10:53",
        "MY_SVC_PORT_53_UDP_PROTO": "udp",
        "MY_SVC_PORT_53_UDP_PORT": "53",
        "MY_SVC_PORT_53_UDP_ADDR": "10.96.0.10",
    }


def test_service_env_ipv6_and_default_protocol() -> None:
    env = envvars.service_env(
        [svc("v6", "ns", "fd00::a", {"port": 443})], namespace="ns", enable_service_links=True
    )
    assert env["V6_PORT"] == "tcp://[fd00::a]:443"
    assert env["V6_PORT_443_TCP_ADDR"] == "fd00::a"
    assert "V6_SERVICE_PORT_" not in "".join(env)  # unnamed port: no named variable


@pytest.mark.parametrize(
    ("links", "namespace", "expected"),
    [
        pytest.param(True, "ns", {"KUBERNETES", "LOCAL"}, id="links-on"),
        pytest.param(False, "ns", {"KUBERNETES"}, id="links-off-keeps-master"),
        pytest.param(True, "other", {"KUBERNETES"}, id="other-namespace"),
    ],
)
def test_service_env_selection(links: bool, namespace: str, expected: set[str]) -> None:
    services = [
        svc("kubernetes", "default", "10.96.0.1", {"name": "https", "port": 443}),
        svc("local", "ns", "10.96.0.20", {"port": 80}),
        svc("headless", "ns", "None", {"port": 80}),
        svc("pending", "ns", "", {"port": 80}),
        svc("elsewhere", "x", "10.96.0.30", {"port": 80}),
    ]
    env = envvars.service_env(services, namespace=namespace, enable_service_links=links)
    assert {k.removesuffix("_SERVICE_HOST") for k in env if k.endswith("_SERVICE_HOST")} == expected
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"


def test_local_service_named_kubernetes_wins() -> None:
    services = [
        svc("kubernetes", "ns", "10.96.0.99", {"port": 8080}),
        svc("kubernetes", "default", "10.96.0.1", {"port": 443}),
    ]
    for order in (services, services[::-1]):
        env = envvars.service_env(order, namespace="ns", enable_service_links=True)
        assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.99"


# --- container environment -------------------------------------------------------------


POD: Obj = {
    "metadata": {
        "name": "web-0",
        "namespace": "ns",
        "uid": "uid-1",
        "labels": {"app": "web", "tier": "front"},
        "annotations": {"note": 'say "hi"\n'},
    },
    "spec": {"nodeName": "node-a", "serviceAccountName": "sa"},
}
CONFIGMAPS: dict[str, Obj] = {"cfg": {"data": {"LEVEL": "debug", "MODE": "fast", "my.key": "x"}}}
SECRETS: dict[str, Obj] = {"creds": {"data": {"USER": b64("admin"), "PASS": b64("s3cr3t")}}}


def build(
    container: Obj, *, services: dict[str, str] | None = None, **kw: Any
) -> list[tuple[str, str]]:
    return envvars.container_env(
        POD,
        container,
        service_env=services or {},
        get_configmap=lambda ns, n: CONFIGMAPS.get(n) if ns == "ns" else None,
        get_secret=lambda ns, n: SECRETS.get(n) if ns == "ns" else None,
        host_ips=kw.pop("host_ips", ["192.168.1.5"]),
        pod_ips=kw.pop("pod_ips", ["10.244.0.7"]),
        **kw,
    )


def field_env(path: str) -> Obj:
    return {"name": "V", "valueFrom": {"fieldRef": {"fieldPath": path}}}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("metadata.name", "web-0", id="name"),
        pytest.param("metadata.namespace", "ns", id="namespace"),
        pytest.param("metadata.uid", "uid-1", id="uid"),
        pytest.param("metadata.labels['app']", "web", id="one-label"),
        pytest.param("metadata.labels['missing']", "", id="missing-label"),
        pytest.param("metadata.labels", 'app="web"\ntier="front"', id="all-labels"),
        pytest.param("metadata.annotations", 'note="say \\"hi\\"\\n"', id="annotations-go-quoted"),
        pytest.param("spec.nodeName", "node-a", id="node"),
        pytest.param("spec.serviceAccountName", "sa", id="service-account"),
        pytest.param("status.hostIP", "192.168.1.5", id="host-ip"),
        pytest.param("status.podIP", "10.244.0.7", id="pod-ip"),
        pytest.param("spec.host", "node-a", id="legacy-spec-host"),
    ],
)
def test_field_refs(path: str, expected: str) -> None:
    assert build({"env": [field_env(path)]}) == [("V", expected)]


def test_pod_ips_follow_node_family_order() -> None:
    env = dict(build({"env": [field_env("status.podIPs")]}, pod_ips=["fd00::7", "10.244.0.7"]))
    assert env["V"] == "10.244.0.7,fd00::7"
    env = dict(build({"env": [field_env("status.hostIPs")]}, host_ips=["192.168.1.5", "fd00::1"]))
    assert env["V"] == "192.168.1.5,fd00::1"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        pytest.param(
            "spec.containers", "field label not supported: spec.containers", id="unsupported"
        ),
        pytest.param(
            "spec.nodeName['x']",
            "field label does not support subscript: spec.nodeName['x']",
            id="bad-subscript",
        ),
        pytest.param(
            "status.phase", "unsupported fieldPath: status.phase", id="valid-label-unextractable"
        ),
    ],
)
def test_field_ref_errors(path: str, message: str) -> None:
    with pytest.raises(ContainerConfigError) as e:
        build({"env": [field_env(path)]})
    assert str(e.value) == message


def res_env(resource: str, divisor: str | None = None, container: str | None = None) -> Obj:
    ref: Obj = {"resource": resource}
    if divisor:
        ref["divisor"] = divisor
    if container:
        ref["containerName"] = container
    return {"name": "R", "valueFrom": {"resourceFieldRef": ref}}


RESOURCES: Obj = {
    "requests": {"cpu": "250m", "memory": "64Mi"},
    "limits": {"cpu": "1500m", "memory": "128Mi"},
}
ALLOCATABLE = {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"}


@pytest.mark.parametrize(
    ("resources", "ref", "expected"),
    [
        pytest.param(RESOURCES, res_env("limits.cpu"), "2", id="cpu-rounds-up"),
        pytest.param(RESOURCES, res_env("limits.cpu", "1m"), "1500", id="cpu-millis"),
        pytest.param(RESOURCES, res_env("requests.cpu"), "1", id="request-cpu-ceiling"),
        pytest.param(RESOURCES, res_env("requests.memory"), "67108864", id="memory-bytes"),
        pytest.param(RESOURCES, res_env("limits.memory", "1Mi"), "128", id="memory-mi"),
        pytest.param(RESOURCES, res_env("limits.memory", "1G"), "1", id="memory-rounds-up"),
        pytest.param({}, res_env("limits.cpu"), "4", id="unset-limit-is-allocatable"),
        pytest.param({}, res_env("limits.memory", "1Gi"), "8", id="unset-memory-limit"),
        pytest.param({}, res_env("requests.cpu"), "0", id="unset-request-zero"),
        pytest.param({}, res_env("limits.ephemeral-storage", "1Gi"), "100", id="ephemeral-storage"),
        pytest.param(
            {"limits": {"cpu": "0"}}, res_env("limits.cpu"), "4", id="zero-limit-is-allocatable"
        ),
    ],
)
def test_resource_field_refs(resources: Obj, ref: Obj, expected: str) -> None:
    env = build({"name": "c", "resources": resources, "env": [ref]}, node_allocatable=ALLOCATABLE)
    assert env == [("R", expected)]


def test_resource_ref_to_other_container() -> None:
    pod = {
        **POD,
        "spec": {
            **POD["spec"],
            "containers": [{"name": "app"}, {"name": "side", "resources": RESOURCES}],
        },
    }
    env = envvars.container_env(
        pod,
        {"name": "app", "env": [res_env("limits.memory", "1Mi", container="side")]},
        service_env={},
        get_configmap=lambda ns, n: None,
        get_secret=lambda ns, n: None,
    )
    assert env == [("R", "128")]
    with pytest.raises(ContainerConfigError, match=r"^container nope not found$"):
        envvars.container_env(
            pod,
            {"name": "app", "env": [res_env("limits.memory", container="nope")]},
            service_env={},
            get_configmap=lambda ns, n: None,
            get_secret=lambda ns, n: None,
        )
    with pytest.raises(
        ContainerConfigError, match=r"^unsupported container resource : limits.gpu$"
    ):
        build({"env": [res_env("limits.gpu")]})


def key_ref(kind: str, name: str, key: str, optional: bool | None = None) -> Obj:
    ref: Obj = {"name": name, "key": key}
    if optional is not None:
        ref["optional"] = optional
    return {"name": "K", "valueFrom": {kind: ref}}


@pytest.mark.parametrize(
    ("var", "expected"),
    [
        pytest.param(
            key_ref("configMapKeyRef", "cfg", "LEVEL"), [("K", "debug")], id="configmap-key"
        ),
        pytest.param(
            key_ref("secretKeyRef", "creds", "PASS"), [("K", "s3cr3t")], id="secret-key-decoded"
        ),
        pytest.param(
            key_ref("configMapKeyRef", "gone", "LEVEL", True), [], id="optional-configmap-missing"
        ),
        pytest.param(
            key_ref("configMapKeyRef", "cfg", "NOPE", True), [], id="optional-key-missing"
        ),
        pytest.param(key_ref("secretKeyRef", "gone", "X", True), [], id="optional-secret-missing"),
    ],
)
def test_key_refs(var: Obj, expected: list[tuple[str, str]]) -> None:
    assert build({"env": [var]}) == expected


@pytest.mark.parametrize(
    ("var", "message"),
    [
        pytest.param(
            key_ref("configMapKeyRef", "gone", "LEVEL"),
            'configmap "gone" not found',
            id="configmap-missing",
        ),
        pytest.param(
            key_ref("secretKeyRef", "gone", "X"), 'secret "gone" not found', id="secret-missing"
        ),
        pytest.param(
            key_ref("configMapKeyRef", "cfg", "NOPE"),
            "couldn't find key NOPE in ConfigMap ns/cfg",
            id="configmap-key-missing",
        ),
        pytest.param(
            key_ref("secretKeyRef", "creds", "NOPE", False),
            "couldn't find key NOPE in Secret ns/creds",
            id="secret-key-missing",
        ),
    ],
)
def test_key_ref_errors(var: Obj, message: str) -> None:
    with pytest.raises(ContainerConfigError) as e:
        build({"env": [var]})
    assert str(e.value) == message


def test_env_from_prefix_and_override_order() -> None:
    container = {
        "envFrom": [
            {"configMapRef": {"name": "cfg"}},
            {"secretRef": {"name": "creds"}, "prefix": "DB_"},
            {"configMapRef": {"name": "absent", "optional": True}},
        ],
        "env": [
            {"name": "MODE", "value": "slow"},
            {"name": "URL", "value": "$(DB_USER)@$(SVC_SERVICE_HOST)/$(LATER)"},
            {"name": "LATER", "value": "x"},
        ],
    }
    env = build(container, services={"SVC_SERVICE_HOST": "10.96.0.5", "LEVEL": "from-service"})
    assert env == [
        ("LEVEL", "debug"),
        ("MODE", "slow"),
        ("my.key", "x"),  # passed through, as the 1.33 kubelet does
        ("DB_USER", "admin"),
        ("DB_PASS", "s3cr3t"),
        ("URL", "admin@10.96.0.5/$(LATER)"),
        ("LATER", "x"),
        ("SVC_SERVICE_HOST", "10.96.0.5"),
    ]


def test_env_from_missing_required_source() -> None:
    with pytest.raises(ContainerConfigError, match=r'^configmap "absent" not found$'):
        build({"envFrom": [{"configMapRef": {"name": "absent"}}]})


def test_objects_are_fetched_once() -> None:
    calls: list[str] = []

    def get(ns: str, name: str) -> Obj | None:
        calls.append(name)
        return CONFIGMAPS.get(name)

    envvars.container_env(
        POD,
        {
            "envFrom": [{"configMapRef": {"name": "cfg"}}],
            "env": [key_ref("configMapKeyRef", "cfg", "MODE")],
        },
        service_env={},
        get_configmap=get,
        get_secret=lambda ns, n: None,
    )
    assert calls == ["cfg"]


def test_referenced_objects() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "a"}}, {"secretRef": {"name": "s1"}}],
        "env": [
            key_ref("configMapKeyRef", "b", "k"),
            key_ref("secretKeyRef", "s2", "k"),
            {"name": "x", "value": "1"},
        ],
    }
    assert envvars.referenced_objects(container) == ({"a", "b"}, {"s1", "s2"})
