"""The kubelet's HTTPS serving certificate (port 10250).

``ensure_serving_cert(dir, …)`` returns (cert path, key path) under ``dir``
(``<data>/agent/kubelet/pki``), creating them when missing or when their names no longer
cover the node: signed by the cluster CA when the agent can read its key
(``<data>/tls/ca.crt`` + ``ca.key``, i.e. it shares the data dir with ``pyk8s server``),
self-signed otherwise — as upstream's kubelet without ``--tls-cert-file`` writes a
self-signed ``kubelet.crt``. Subject ``CN=<node>@<unix time>`` for self-signed ones,
``CN=system:node:<node>, O=system:nodes`` for CA-signed ones; SANs: the node name, the
host name, ``localhost``, the node IP and 127.0.0.1. Keys are ECDSA P-256; a year of
validity (self-signed) or ten (CA-signed), renewed when less than 30 days remain.

The code is the kubelet's own (the kubelet must not import the apiserver package).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import time
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ensure_serving_cert"]


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _load_ca(ca_dir: Path | None) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    if ca_dir is None:
        return None
    try:
        cert = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
        key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    return cert, key


def _sans(dns: Sequence[str], ips: Sequence[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = [x509.DNSName(d) for d in dict.fromkeys(dns) if d]
    for ip in dict.fromkeys(ips):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError:
            continue
    return out


def _still_good(cert_path: Path, key_path: Path, dns: Sequence[str], ips: Sequence[str]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return False
    if not key_path.exists():
        return False
    remaining = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    if remaining < datetime.timedelta(days=30):
        return False
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_dns = set(names.get_values_for_type(x509.DNSName))
    have_ips = {str(i) for i in names.get_values_for_type(x509.IPAddress)}
    return set(filter(None, dns)) <= have_dns and set(ips) <= have_ips


def ensure_serving_cert(
    directory: Path,
    *,
    node_name: str,
    node_ips: Sequence[str],
    hostnames: Sequence[str] = (),
    ca_dir: Path | None = None,
) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_path, key_path = directory / "kubelet.crt", directory / "kubelet.key"
    dns = [node_name, *hostnames, "localhost"]
    ips = [*node_ips, "127.0.0.1"]
    if _still_good(cert_path, key_path, dns, ips):
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    ca = _load_ca(ca_dir)
    if ca is not None:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node_name}"),
            ]
        )
        issuer, signer, days = ca[0].subject, ca[1], 3650
    else:
        subject = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, f"{node_name}@{int(time.time())}")]
        )
        issuer, signer, days = subject, key, 365
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_sans(dns, ips)), critical=False)
    )
    cert = builder.sign(signer, hashes.SHA256())
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
