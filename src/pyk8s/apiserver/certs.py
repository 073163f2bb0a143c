"""The cluster's TLS material, generated on first start into ``<data-dir>/tls``.

Files: ``ca.crt``/``ca.key`` (the cluster CA), ``server.crt``/``server.key`` (the
apiserver's serving certificate, valid for loopback, the host name and the in-cluster
``kubernetes`` Service names and ClusterIP), ``admin.crt``/``admin.key`` (a client
certificate for user ``system:admin`` in group ``system:masters``). Existing files are
reused, so restarts keep kubeconfigs valid. Keys are ECDSA P-256 (fast handshakes).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ClusterTLS", "ensure_tls", "issue_client_cert"]

_VALID_DAYS = 3650


@dataclass(frozen=True, slots=True)
class ClusterTLS:
    dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.dir / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.dir / "server.key"

    @property
    def admin_cert(self) -> Path:
        return self.dir / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.dir / "admin.key"


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _load_ca(tls: ClusterTLS) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(tls.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(tls.ca_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{tls.ca_key}: expected an EC private key")
    return cert, key


def _make_ca(tls: ClusterTLS) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pyk8s-ca")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    _write_private(tls.ca_key, _key_pem(key))
    tls.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _issue(
    tls: ClusterTLS,
    *,
    common_name: str,
    organizations: Sequence[str],
    server: bool,
    dns_names: Sequence[str] = (),
    ips: Sequence[str] = (),
) -> tuple[bytes, bytes]:
    ca_cert, ca_key = _load_ca(tls)
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def issue_client_cert(tls: ClusterTLS, user: str, groups: Sequence[str]) -> tuple[bytes, bytes]:
    """A client certificate (PEM cert, PEM key) signed by the cluster CA."""
    return _issue(tls, common_name=user, organizations=groups, server=False)


def ensure_tls(
    data_dir: Path, *, extra_sans: Sequence[str] = (), service_ip: str = "10.96.0.1"
) -> ClusterTLS:
    """Create whatever of the CA, serving and admin certificates is missing."""
    tls = ClusterTLS(data_dir / "tls")
    tls.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (tls.ca_cert.exists() and tls.ca_key.exists()):
        _make_ca(tls)
        for stale in (tls.server_cert, tls.admin_cert):
            stale.unlink(missing_ok=True)
    if not (tls.server_cert.exists() and tls.server_key.exists()):
        dns = [
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            socket.gethostname(),
        ]
        ips = ["127.0.0.1", "::1", service_ip]
        for san in extra_sans:
            try:
                ipaddress.ip_address(san)
                ips.append(san)
            except ValueError:
                dns.append(san)
        cert, key = _issue(
            tls, common_name="kube-apiserver", organizations=[], server=True, dns_names=dns, ips=ips
        )
        _write_private(tls.server_key, key)
        tls.server_cert.write_bytes(cert)
    if not (tls.admin_cert.exists() and tls.admin_key.exists()):
        cert, key = issue_client_cert(tls, "system:admin", ["system:masters"])
        _write_private(tls.admin_key, key)
        tls.admin_cert.write_bytes(cert)
    return tls
