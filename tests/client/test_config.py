"""Connection config: kubeconfig parsing (contexts, data vs files, relative paths),
in-cluster config, client-go's loading order, and the TLS context."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import pytest

from pyk8s.apiserver import certs
from pyk8s.client import config, kubeconfig


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def two_contexts() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "one",
        "clusters": [
            {
                "name": "c1",
                "cluster": {
                    "server": "https://127.0.0.1:6443/",
                    "certificate-authority-data": b64(b"CA1"),
                },
            },
            {
                "name": "c2",
                "cluster": {
                    "server": "https://127.0.0.2:6443",
                    "insecure-skip-tls-verify": True,
                    "tls-server-name": "kubernetes",
                },
            },
        ],
        "users": [
            {
                "name": "u1",
                "user": {"client-certificate-data": b64(b"CERT"), "client-key-data": b64(b"KEY")},
            },
            {"name": "u2", "user": {"token": "tok-2"}},
        ],
        "contexts": [
            {"name": "one", "context": {"cluster": "c1", "user": "u1"}},
            {"name": "two", "context": {"cluster": "c2", "user": "u2", "namespace": "team"}},
        ],
    }


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        pytest.param(
            None,
            {
                "server": "https://127.0.0.1:6443",
                "ca_data": b"CA1",
                "cert_data": b"CERT",
                "key_data": b"KEY",
                "token": None,
                "namespace": "default",
                "insecure_skip_tls_verify": False,
                "tls_server_name": None,
            },
            id="current-context",
        ),
        pytest.param(
            "two",
            {
                "server": "https://127.0.0.2:6443",
                "ca_data": None,
                "cert_data": None,
                "key_data": None,
                "token": "tok-2",
                "namespace": "team",
                "insecure_skip_tls_verify": True,
                "tls_server_name": "kubernetes",
            },
            id="named-context",
        ),
    ],
)
def test_from_kubeconfig_contexts(context: str | None, expected: dict[str, Any]) -> None:
    cfg = config.from_kubeconfig(two_contexts(), context=context)
    assert {k: getattr(cfg, k) for k in expected} == expected


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(
            lambda c: c.update({"current-context": ""}), "no current-context", id="no-context"
        ),
        pytest.param(
            lambda c: c.update({"current-context": "nope"}),
            'context "nope" does not exist',
            id="unknown-context",
        ),
        pytest.param(
            lambda c: c["contexts"][0]["context"].update({"cluster": "x"}),
            'cluster "x"',
            id="unknown-cluster",
        ),
        pytest.param(
            lambda c: c["users"][0]["user"].update({"exec": {"command": "aws"}}),
            "exec credentials are not supported",
            id="exec-plugin",
        ),
        pytest.param(
            lambda c: c["clusters"][0]["cluster"].update({"server": ""}),
            "has no server",
            id="no-server",
        ),
        pytest.param(
            lambda c: c["clusters"][0]["cluster"].update({"certificate-authority-data": "!!"}),
            "not valid base64",
            id="bad-base64",
        ),
    ],
)
def test_from_kubeconfig_errors(mutate: Any, message: str) -> None:
    cfg = two_contexts()
    mutate(cfg)
    with pytest.raises(config.ConfigError, match=message):
        config.from_kubeconfig(cfg)


def test_file_references_are_relative_to_the_kubeconfig_and_data_wins(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"CA-FROM-FILE")
    (tmp_path / "tok").write_text("file-token\n")
    (tmp_path / "c.crt").write_bytes(b"CERT-FILE")
    cfg = {
        "current-context": "x",
        "clusters": [
            {"name": "c", "cluster": {"server": "https://h:1", "certificate-authority": "ca.crt"}}
        ],
        "users": [
            {
                "name": "u",
                "user": {
                    "tokenFile": "tok",
                    "client-certificate": "c.crt",
                    "client-certificate-data": b64(b"CERT-DATA"),
                },
            }
        ],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    }
    path = tmp_path / "kubeconfig"
    kubeconfig.write(path, cfg)
    c = config.from_kubeconfig(path)
    assert c.ca_data == b"CA-FROM-FILE"
    assert c.cert_data == b"CERT-DATA"
    assert c.token == "file-token"
    assert c.token_file == tmp_path / "tok"
    (tmp_path / "tok").write_text("rotated\n")
    assert c.read_token() == "rotated"


def test_in_cluster(tmp_path: Path) -> None:
    sa = tmp_path / config.SERVICE_ACCOUNT_DIR
    sa.mkdir(parents=True)
    (sa / "token").write_text("sa-token\n")
    (sa / "ca.crt").write_bytes(b"SA-CA")
    (sa / "namespace").write_text("kube-system")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    c = config.in_cluster(root=tmp_path, environ=env)
    assert (c.server, c.token, c.ca_data, c.namespace) == (
        "https://10.96.0.1:443",
        "sa-token",
        b"SA-CA",
        "kube-system",
    )
    assert c.token_file == sa / "token"
    v6 = config.in_cluster(root=tmp_path, environ={**env, "KUBERNETES_SERVICE_HOST": "fd00::1"})
    assert v6.server == "https://[fd00::1]:443"
    with pytest.raises(config.ConfigError, match="KUBERNETES_SERVICE_HOST"):
        config.in_cluster(root=tmp_path, environ={})
    with pytest.raises(config.ConfigError, match="token"):
        config.in_cluster(root=tmp_path / "elsewhere", environ=env)


def test_load_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a = two_contexts()
    b = two_contexts()
    b["current-context"] = "two"
    b["clusters"][0]["cluster"]["server"] = "https://shadowed:1"
    kubeconfig.write(first, a)
    kubeconfig.write(second, b)
    home = tmp_path / "home"
    # $KUBECONFIG: merged, first definition (and current-context) wins
    merged = config.load(environ={"KUBECONFIG": f"{first}:{second}"}, home=home)
    assert merged.server == "https://127.0.0.1:6443"
    # explicit path beats the environment
    assert config.load(kubeconfig_path=second, environ={"KUBECONFIG": str(first)}).token == "tok-2"
    # then ~/.kube/config
    kubeconfig.write(home / ".kube" / "config", b)
    assert config.load(environ={}, home=home).server == "https://127.0.0.2:6443"
    # then in-cluster
    with pytest.raises(config.ConfigError, match="in-cluster"):
        config.load(environ={}, home=tmp_path / "nobody")


def test_merge_keeps_relative_paths_of_each_file(tmp_path: Path) -> None:
    (tmp_path / "d1").mkdir()
    (tmp_path / "d1" / "ca.crt").write_bytes(b"CA-D1")
    cfg = {
        "current-context": "x",
        "clusters": [
            {"name": "c", "cluster": {"server": "https://h:1", "certificate-authority": "ca.crt"}}
        ],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    }
    kubeconfig.write(tmp_path / "d1" / "config", cfg)
    kubeconfig.write(tmp_path / "other", {"current-context": ""})
    c = config.load(environ={"KUBECONFIG": f"{tmp_path / 'd1' / 'config'}:{tmp_path / 'other'}"})
    assert c.ca_data == b"CA-D1"


def test_ssl_context_loads_ca_and_client_certificate(tmp_path: Path) -> None:
    tls = certs.ensure_tls(tmp_path)
    cfg = config.from_kubeconfig(
        kubeconfig.render(
            server="https://127.0.0.1:6443",
            ca_pem=tls.ca_cert.read_bytes(),
            client_cert_pem=tls.admin_cert.read_bytes(),
            client_key_pem=tls.admin_key.read_bytes(),
        )
    )
    ctx = cfg.ssl_context()
    assert ctx is not None
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert len(ctx.get_ca_certs()) == 1
    insecure = config.Config(server="https://x:1", insecure_skip_tls_verify=True).ssl_context()
    assert insecure is not None and insecure.verify_mode == ssl.CERT_NONE
    assert config.Config(server="http://127.0.0.1:8080").ssl_context() is None
    with pytest.raises(config.ConfigError):
        config.Config(server="https://x:1", cert_data=b"junk", key_data=b"junk").ssl_context()
