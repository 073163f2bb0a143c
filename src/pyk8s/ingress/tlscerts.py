"""TLS material for nginx: certificates from ``kubernetes.io/tls`` Secrets, and the
self-signed default certificate (pure: no files, no clock except where passed in).

``from_secret(secret)`` checks what ingress-nginx checks before it uses a Secret: the
type is ``kubernetes.io/tls``, ``tls.crt`` holds at least one PEM certificate,
``tls.key`` a PEM private key, and the key belongs to the (first) certificate. It
returns a ``Certificate`` whose ``pem`` is the chain followed by the key — one file that
nginx reads for both ``ssl_certificate`` and ``ssl_certificate_key`` — and whose
``name`` is derived from the Secret and a digest of that content, so a changed Secret
is a new file and a running nginx never sees a half-written one. Failures raise
``CertificateError`` with ingress-nginx's wording.

``default_certificate()`` makes the stand-in certificate ingress-nginx serves where no
other fits ("Kubernetes Ingress Controller Fake Certificate").
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = [
    "FAKE_CERTIFICATE_CN",
    "TLS_SECRET_TYPE",
    "Certificate",
    "CertificateError",
    "covers",
    "default_certificate",
    "from_secret",
]

TLS_SECRET_TYPE = "kubernetes.io/tls"
FAKE_CERTIFICATE_CN = "Kubernetes Ingress Controller Fake Certificate"


class CertificateError(ValueError):
    """A Secret that cannot serve as a certificate."""


@dataclass(frozen=True, slots=True)
class Certificate:
    name: str  # file stem: <namespace>_<secret>_<digest>
    pem: bytes  # certificate chain, then the private key
    dns_names: tuple[str, ...]  # SANs, else the CN (what the certificate is valid for)


def _field(data: Mapping[str, Any], key: str) -> bytes:
    raw = data.get(key)
    if not raw:
        return b""
    try:
        return base64.b64decode(str(raw), validate=True)
    except (binascii.Error, ValueError):
        return b""


def from_secret(secret: Mapping[str, Any]) -> Certificate:
    meta = secret.get("metadata") or {}
    ns, name = meta.get("namespace") or "", meta.get("name") or ""
    if secret.get("type") != TLS_SECRET_TYPE:
        raise CertificateError(f"secret {ns}/{name} is not of type {TLS_SECRET_TYPE}")
    data = secret.get("data") or {}
    crt, key = _field(data, "tls.crt"), _field(data, "tls.key")
    if not crt:
        raise CertificateError(f"secret {ns}/{name} has no 'tls.crt' key")
    if not key:
        raise CertificateError(f"secret {ns}/{name} has no 'tls.key' key")
    pem, dns_names = _checked(crt, key, f"{ns}/{name}")
    digest = hashlib.sha256(pem).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9_.-]", "-", f"{ns}_{name}")  # a file name, whatever happens
    return Certificate(name=f"{stem}_{digest}", pem=pem, dns_names=dns_names)


@functools.lru_cache(maxsize=512)
def _checked(crt: bytes, key: bytes, what: str) -> tuple[bytes, tuple[str, ...]]:
    try:
        chain = x509.load_pem_x509_certificates(crt)
    except ValueError as exc:
        raise CertificateError(
            f"unexpected error creating SSL Cert: no valid PEM formatted block found in {what}: {exc}"
        ) from None
    try:
        private = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"error decoding the private key of {what}: {exc}") from None
    leaf = chain[0]
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if private.public_key().public_bytes(enc, pub) != leaf.public_key().public_bytes(enc, pub):
        raise CertificateError(
            f"private key of {what} does not match public key of the certificate"
        )
    key_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    body = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    return body + key_pem, _dns_names(leaf)


def _dns_names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = san.value.get_values_for_type(x509.DNSName)
        if names:
            return tuple(n.lower() for n in names)
    except x509.ExtensionNotFound:
        pass
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return tuple(str(c.value).lower() for c in cns)


def covers(cert: Certificate, host: str) -> bool:
    """Whether ``host`` is one of the certificate's names (``*.`` covers one label)."""
    host = host.lower().rstrip(".")
    for name in cert.dns_names:
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            label, rest = host.split(".", 1)
            if label and label != "*" and rest == name[2:]:
                return True
    return False


def default_certificate(*, now: datetime.datetime) -> bytes:
    """A fresh self-signed certificate plus key (PEM), valid for a year from ``now``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme Co"),
            x509.NameAttribute(NameOID.COMMON_NAME, FAKE_CERTIFICATE_CN),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("ingress.local")]), False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
