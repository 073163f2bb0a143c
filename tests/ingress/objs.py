"""Builders for the objects the ingress tests feed to the model and the apiserver."""

from __future__ import annotations

import base64
import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Obj = dict[str, Any]


def backend(service: str, port: int | str = 80) -> Obj:
    ref = {"number": port} if isinstance(port, int) else {"name": port}
    return {"service": {"name": service, "port": ref}}


def path(p: str, service: str, path_type: str = "Prefix", port: int | str = 80) -> Obj:
    return {"path": p, "pathType": path_type, "backend": backend(service, port)}


def rule(host: str | None, *paths: Obj) -> Obj:
    r: Obj = {"http": {"paths": list(paths)}}
    if host:
        r["host"] = host
    return r


def ingress(
    name: str,
    *rules: Obj,
    namespace: str = "ns",
    created: str = "2024-01-01T00:00:00Z",
    annotations: dict[str, str] | None = None,
    tls: list[Obj] | None = None,
    default_backend: Obj | None = None,
    class_name: str | None = "pyk8s",
) -> Obj:
    spec: Obj = {}
    if class_name:
        spec["ingressClassName"] = class_name
    if rules:
        spec["rules"] = list(rules)
    if tls:
        spec["tls"] = tls
    if default_backend:
        spec["defaultBackend"] = default_backend
    meta: Obj = {"name": name, "namespace": namespace, "creationTimestamp": created}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


def service(name: str, *ports: tuple[str, int], namespace: str = "ns") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "ports": [
                {"name": n, "port": p, "protocol": "TCP", "targetPort": p}
                for n, p in ports or [("http", 80)]
            ]
        },
    }


def endpoint_slice(
    service: str,
    port: int,
    *addresses: str,
    name: str | None = None,
    port_name: str = "http",
    ready: bool | None = True,
    namespace: str = "ns",
) -> Obj:
    conditions: Obj = {} if ready is None else {"ready": ready}
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name or f"{service}-{port}",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": "IPv4",
        "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
        "endpoints": [
            {"addresses": [a], "conditions": conditions} for a in addresses or ["127.0.0.1"]
        ],
    }


def certificate(cn: str, *sans: str) -> tuple[bytes, bytes]:
    """A self-signed certificate (PEM) and its key (PEM) for ``cn`` (+ SANs)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in (cn, *sans)]), False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def tls_secret(name: str, cn: str, *sans: str, namespace: str = "ns") -> Obj:
    crt, key = certificate(cn, *sans)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(crt).decode(),
            "tls.key": base64.b64encode(key).decode(),
        },
    }
