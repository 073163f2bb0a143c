"""Rendering nginx.conf: the directives ingress-nginx sets, quoting, and that the real
nginx accepts what is rendered (``nginx -t``)."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path

import pytest

from pyk8s.client.store import ObjectKey
from pyk8s.ingress import model, nginxconf, tlscerts

from . import objs as o
from .test_model import REWRITE, USE_REGEX, snapshot


@pytest.fixture
def opts(tmp_path: Path) -> nginxconf.RenderOptions:
    opts = nginxconf.RenderOptions(
        data_dir=tmp_path, http_port=18080, https_port=18443, listen_address="127.0.0.1"
    )
    for d in (opts.certs_dir, opts.error_log.parent, tmp_path / "temp"):
        d.mkdir(parents=True, exist_ok=True)
    opts.default_certificate.write_bytes(
        tlscerts.default_certificate(now=datetime.datetime.now(datetime.UTC))
    )
    return opts


def nginx_accepts(cfg: model.Configuration, opts: nginxconf.RenderOptions) -> str:
    for cert in cfg.certificates:
        opts.certificate(cert.name).write_bytes(cert.pem)
    conf = opts.data_dir / "test.conf"
    conf.write_text(nginxconf.render(cfg, opts))
    cp = subprocess.run(
        ["/usr/sbin/nginx", "-t", "-q", "-c", str(conf), "-p", f"{opts.data_dir}/"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return cp.stderr if cp.returncode else ""


def everything() -> model.Snapshot:
    return snapshot(
        o.ingress(
            "plain",
            o.rule(
                "foo.com",
                o.path("/", "web"),
                o.path("/api", "api"),
                o.path("/exact", "web", "Exact"),
                o.path("/impl", "web", "ImplementationSpecific"),
            ),
        ),
        o.ingress("wild", o.rule("*.bar.com", o.path("/", "web"))),
        o.ingress("catch", o.rule(None, o.path("/c", "web"))),
        o.ingress(
            "rw",
            o.rule("rw.com", o.path("/something(/|$)(.*)", "web", "ImplementationSpecific")),
            annotations={REWRITE: "/$2"},
        ),
        o.ingress(
            "re",
            o.rule("re.com", o.path('/q"uo\\te[0-9]+', "web", "ImplementationSpecific")),
            annotations={USE_REGEX: "true"},
        ),
        o.ingress(
            "tls",
            o.rule("secure.com", o.path("/", "web"), o.path("/none", "empty")),
            tls=[{"hosts": ["secure.com"], "secretName": "sec"}],
            annotations={"nginx.ingress.kubernetes.io/use-port-in-redirects": "true"},
        ),
        o.ingress("dflt", default_backend=o.backend("web")),
        services=[o.service("web"), o.service("api"), o.service("empty")],
        slices=[
            o.endpoint_slice("web", 9001, "127.0.0.1", "127.0.0.2"),
            o.endpoint_slice("api", 9002),
        ],
        secrets=[o.tls_secret("sec", "secure.com")],
    )


def test_nginx_accepts_rendered_configuration(opts: nginxconf.RenderOptions) -> None:
    assert nginx_accepts(model.build(everything()), opts) == ""


def test_nginx_accepts_empty_configuration(opts: nginxconf.RenderOptions) -> None:
    cfg = model.build(model.Snapshot(ingresses=[]))
    assert nginx_accepts(cfg, opts) == ""
    text = nginxconf.render(cfg, opts)
    assert "server_name _;" in text and "return 404;" in text


def test_nginx_refuses_bad_regex(opts: nginxconf.RenderOptions) -> None:
    bad = o.ingress(
        "bad",
        o.rule("x.com", o.path("/foo(", "web", "ImplementationSpecific")),
        annotations={USE_REGEX: "true"},
    )
    assert "pcre" in nginx_accepts(model.build(snapshot(bad)), opts).lower()


def test_global_settings(opts: nginxconf.RenderOptions) -> None:
    text = nginxconf.render(model.build(everything()), opts)
    d = opts.data_dir
    for line in [
        "worker_processes auto;",
        f"pid {d}/nginx.pid;",
        f"error_log {d}/logs/error.log notice;",
        f"client_body_temp_path {d}/temp/client_body;",
        f"proxy_temp_path {d}/temp/proxy;",
        "proxy_set_header Host $best_http_host;",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Forwarded-Host $best_http_host;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Forwarded-Port $pass_port;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_http_version 1.1;",
        "    18443 443;",
        f"ssl_certificate {d}/certs/default-fake-certificate.pem;",
    ]:
        assert line in text, line
    assert "\nuser " not in text and "include" not in text


def test_servers_locations_and_upstreams(opts: nginxconf.RenderOptions) -> None:
    cfg = model.build(everything())
    text = nginxconf.render(cfg, opts)
    assert "listen 127.0.0.1:18080 default_server;" in text
    assert "listen 127.0.0.1:18443 default_server ssl http2;" in text
    assert text.count("default_server;") == 1
    assert "server_name ~^(?<subdomain>[\\w-]+)\\.bar\\.com$;" in text
    assert (
        "upstream ns_web_80 {\n        server 127.0.0.1:9001 max_fails=0;\n"
        "        server 127.0.0.2:9001 max_fails=0;\n        keepalive 320;"
    ) in text
    assert (
        'location = "/exact" {' in text
        and 'location "/api/" {' in text
        and 'location = "/api" {' in text
    )
    assert 'location "/impl" {' in text
    assert 'location ~* "^/something(/|$)(.*)" {' in text
    assert 'rewrite "(?i)/something(/|$)(.*)" /$2 break;' in text
    assert 'location ~* "^/q\\"uo\\\\te[0-9]+" {' in text  # " and \\ escaped
    assert "proxy_pass http://ns_web_80;" in text
    assert "return 503;" in text  # /none has no endpoints
    secure = text[text.index("## server secure.com") :]
    secure = secure[: secure.index("## server", 5)] if "## server" in secure[5:] else secure
    (cert,) = cfg.certificates
    assert f"ssl_certificate {opts.certificate(cert.name)};" in secure
    assert (
        "if ($scheme = http) {\n                return 308 https://$host:18443$redirect_uri_no_slash;"
        in secure
    )


def test_default_backend_and_user_and_access_log(tmp_path: Path) -> None:
    opts = nginxconf.RenderOptions(
        data_dir=tmp_path, user="root", access_log=tmp_path / "access.log"
    )
    cfg = model.build(
        snapshot(
            o.ingress("dflt", default_backend=o.backend("web")),
            default_backend=ObjectKey("ns", "web"),
        )
    )
    text = nginxconf.render(cfg, opts)
    assert "user root;" in text and f"access_log {tmp_path}/access.log upstreaminfo;" in text
    assert "listen 80 default_server;" in text and "listen 443 default_server ssl http2;" in text
    default_server = text[text.index("## server _") :]
    assert "proxy_pass http://ns_web_80;" in default_server


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("/plain", '"/plain"'),
        ('/a"b', '"/a\\"b"'),
        ("/a\\b", '"/a\\\\b"'),
        ("/x;y{z}", '"/x;y{z}"'),
    ],
)
def test_quote(value: str, quoted: str) -> None:
    assert nginxconf.quote(value) == quoted
