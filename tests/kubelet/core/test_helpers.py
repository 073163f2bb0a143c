"""Small pieces: log tails for termination messages, the status patch, the serving
certificate."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pyk8s.kubelet import pleg, servingcert, statusmanager


def test_tail_of_a_cri_log(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    lines = [f"2026-01-01T00:00:00.{i:09d}Z stdout F line {i}" for i in range(100)]
    lines.append("2026-01-01T00:00:01.000000000Z stderr P part-")
    lines.append("2026-01-01T00:00:01.000000001Z stderr F end")
    log.write_text("\n".join(lines) + "\n")
    text = pleg.tail_log_message(str(log), lines=3)
    assert text == "line 98\nline 99\npart-end\n"
    assert len(pleg.tail_log_message(str(log), lines=80, limit=20).encode()) <= 20
    assert pleg.tail_log_message(str(tmp_path / "missing.log")) == ""


def test_status_patch_replaces_lists_and_merges_conditions() -> None:
    patch = statusmanager.status_patch(
        "u1",
        {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c"}],
            "podIPs": [{"ip": "10.0.0.1"}],
        },
    )
    assert patch["metadata"] == {"uid": "u1"}
    status = patch["status"]
    assert status["conditions"] == [
        {"reason": None, "message": None, "type": "Ready", "status": "True"}
    ]
    assert status["containerStatuses"] == [{"$patch": "replace"}, {"name": "c"}]
    assert status["podIPs"][0] == {"$patch": "replace"}


def _make_ca(directory: Path) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (directory / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "ca.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert


def _sans(path: Path) -> tuple[x509.Certificate, set[str]]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = set(ext.get_values_for_type(x509.DNSName))
    names |= {str(ip) for ip in ext.get_values_for_type(x509.IPAddress)}
    return cert, names


def test_self_signed_serving_cert(tmp_path: Path) -> None:
    cert_path, key_path = servingcert.ensure_serving_cert(
        tmp_path / "pki", node_name="n1", node_ips=["127.0.0.2"]
    )
    cert, names = _sans(cert_path)
    assert cert.issuer == cert.subject
    assert {"n1", "localhost", "127.0.0.2", "127.0.0.1"} <= names
    assert key_path.stat().st_mode & 0o777 == 0o600
    again = servingcert.ensure_serving_cert(
        tmp_path / "pki", node_name="n1", node_ips=["127.0.0.2"]
    )
    assert again == (cert_path, key_path)
    assert x509.load_pem_x509_certificate(cert_path.read_bytes()) == cert  # kept


def test_ca_signed_serving_cert(tmp_path: Path) -> None:
    ca = _make_ca(tmp_path)
    cert_path, _ = servingcert.ensure_serving_cert(
        tmp_path / "pki", node_name="n1", node_ips=["127.0.0.1"], ca_dir=tmp_path
    )
    cert, _ = _sans(cert_path)
    assert cert.issuer == ca.subject
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "system:node:n1"
    # a new node IP is not covered: a new certificate is made
    servingcert.ensure_serving_cert(
        tmp_path / "pki", node_name="n1", node_ips=["127.0.0.9"], ca_dir=tmp_path
    )
    assert "127.0.0.9" in _sans(cert_path)[1]
