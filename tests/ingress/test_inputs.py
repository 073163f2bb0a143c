"""The pure input readers: class selection, annotations, endpoint resolution, TLS Secrets."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.ingress import annotations, bootstrap, classes, endpoints, tlscerts

from . import objs as o

Obj = dict[str, Any]

OWN = bootstrap.ingress_class()
OWN_NOT_DEFAULT = bootstrap.ingress_class(default=False)
FOREIGN_DEFAULT = {**OWN, "spec": {"controller": "example.com/other"}}


def test_bootstrap_manifest() -> None:
    assert OWN["apiVersion"] == "networking.k8s.io/v1" and OWN["kind"] == "IngressClass"
    assert OWN["metadata"]["name"] == "pyk8s"
    assert OWN["spec"] == {"controller": "pyk8s.io/ingress-nginx"}
    assert OWN["metadata"]["annotations"] == {"ingressclass.kubernetes.io/is-default-class": "true"}
    assert "annotations" not in OWN_NOT_DEFAULT["metadata"]


@pytest.mark.parametrize(
    ("class_name", "legacy", "own", "expected"),
    [
        pytest.param("pyk8s", None, None, True, id="our-class"),
        pytest.param("nginx", None, None, True, id="nginx-class"),
        pytest.param("traefik", None, OWN, False, id="other-class-even-if-we-are-default"),
        pytest.param(None, "nginx", None, True, id="legacy-annotation"),
        pytest.param(None, "haproxy", OWN, False, id="legacy-annotation-other"),
        pytest.param(None, None, OWN, True, id="unset-and-we-are-default"),
        pytest.param(None, None, OWN_NOT_DEFAULT, False, id="unset-and-not-default"),
        pytest.param(None, None, None, False, id="unset-and-no-class"),
        pytest.param(None, None, FOREIGN_DEFAULT, False, id="unset-and-class-of-other-controller"),
    ],
)
def test_handles(
    class_name: str | None, legacy: str | None, own: Obj | None, expected: bool
) -> None:
    ing = o.ingress("a", class_name=class_name)
    if legacy:
        ing["metadata"]["annotations"] = {"kubernetes.io/ingress.class": legacy}
    known = {"pyk8s": own} if own else {}
    assert classes.handles(ing, classes=known) is expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param({}, annotations.Annotations(), id="defaults"),
        pytest.param(
            {"rewrite-target": "/$1/x", "use-regex": "True", "ssl-redirect": "0"},
            annotations.Annotations(rewrite_target="/$1/x", use_regex=True, ssl_redirect=False),
            id="set",
        ),
        pytest.param(
            {
                "force-ssl-redirect": "t",
                "use-port-in-redirects": "1",
                "preserve-trailing-slash": "TRUE",
            },
            annotations.Annotations(
                force_ssl_redirect=True, use_port_in_redirects=True, preserve_trailing_slash=True
            ),
            id="redirect-flags",
        ),
    ],
)
def test_annotations(values: dict[str, str], expected: annotations.Annotations) -> None:
    assert annotations.parse({annotations.PREFIX + k: v for k, v in values.items()}) == expected


@pytest.mark.parametrize(
    "value",
    ['/x"; return 200; #', "/a b", "/$1\n", "/{x}", "/x;"],
)
def test_rewrite_target_refuses_what_could_escape(value: str) -> None:
    with pytest.raises(annotations.InvalidAnnotation, match="rewrite-target"):
        annotations.parse({annotations.PREFIX + "rewrite-target": value})


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        pytest.param({"number": 80}, [("10.0.0.1", 8080)], id="by-number"),
        pytest.param({"name": "http"}, [("10.0.0.1", 8080)], id="by-name"),
        pytest.param({"name": "metrics"}, [("10.0.0.1", 9090)], id="second-port"),
        pytest.param({"number": 81}, [], id="no-such-port"),
    ],
)
def test_backend_endpoints_port_mapping(port: Obj, expected: list[tuple[str, int]]) -> None:
    svc = o.service("web", ("http", 80), ("metrics", 9100))
    sl = o.endpoint_slice("web", 8080, "10.0.0.1")
    sl["ports"].append({"name": "metrics", "port": 9090, "protocol": "TCP"})
    assert endpoints.backend_endpoints(svc, [sl], port) == expected


def test_backend_endpoints_skips_what_nginx_must_not_see() -> None:
    svc = o.service("web")
    sl = o.endpoint_slice("web", 8080, "10.0.0.1", "10.0.0.2")
    sl["endpoints"].append({"addresses": ["1.2.3.4; include /etc/shadow"]})
    sl["endpoints"].append({"addresses": ["fd00::1"], "conditions": {"ready": True}})
    fqdn = {**o.endpoint_slice("web", 8080, "10.0.0.3"), "addressType": "FQDN"}
    external = {**svc, "spec": {**svc["spec"], "type": "ExternalName"}}
    found = endpoints.backend_endpoints(svc, [sl, fqdn], {"number": 80})
    assert found == [("10.0.0.1", 8080), ("10.0.0.2", 8080), ("fd00::1", 8080)]
    assert endpoints.format_endpoint(("fd00::1", 8080)) == "[fd00::1]:8080"
    assert endpoints.backend_endpoints(external, [sl], {"number": 80}) == []
    assert endpoints.backend_endpoints(None, [sl], {"number": 80}) == []


def test_tls_secret_reading() -> None:
    cert = tlscerts.from_secret(o.tls_secret("s", "foo.com", "*.foo.com"))
    assert cert.name.startswith("ns_s_") and cert.dns_names == ("foo.com", "*.foo.com")
    assert tlscerts.covers(cert, "FOO.com") and tlscerts.covers(cert, "a.foo.com")
    assert not tlscerts.covers(cert, "a.b.foo.com") and not tlscerts.covers(cert, "bar.com")
    # same content, same name: a running nginx's file never changes under it
    assert tlscerts.from_secret(o.tls_secret("s", "foo.com")).name != cert.name


def test_tls_secret_key_must_match_certificate() -> None:
    a, b = o.tls_secret("a", "foo.com"), o.tls_secret("b", "foo.com")
    mixed = {**a, "data": {"tls.crt": a["data"]["tls.crt"], "tls.key": b["data"]["tls.key"]}}
    with pytest.raises(tlscerts.CertificateError, match="does not match"):
        tlscerts.from_secret(mixed)
    with pytest.raises(tlscerts.CertificateError, match="not of type"):
        tlscerts.from_secret({**a, "type": "Opaque"})
    with pytest.raises(tlscerts.CertificateError, match=r"tls\.key"):
        tlscerts.from_secret({**a, "data": {"tls.crt": a["data"]["tls.crt"]}})
