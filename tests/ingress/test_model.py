"""The ingress model: servers, locations, precedence, merging, regex/rewrite, TLS and
backends — checked through ``routing`` (nginx's selection rules) where the question is
"which backend answers this request"."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.client.store import ObjectKey
from pyk8s.ingress import model, routing

from . import objs as o

Obj = dict[str, Any]


def snapshot(
    *ingresses: Obj,
    services: list[Obj] | None = None,
    slices: list[Obj] | None = None,
    secrets: list[Obj] | None = None,
    default_backend: ObjectKey | None = None,
) -> model.Snapshot:
    """Every service named in ``ingresses`` exists with one ready endpoint (port 80 →
    a port derived from its name) unless ``services``/``slices`` say otherwise."""
    names: set[tuple[str, str]] = set()
    for ing in ingresses:
        ns = ing["metadata"]["namespace"]
        spec = ing["spec"]
        backends = [spec.get("defaultBackend") or {}]
        for r in spec.get("rules") or []:
            backends += [p["backend"] for p in r.get("http", {}).get("paths", [])]
        names |= {(ns, b["service"]["name"]) for b in backends if b.get("service")}
    if services is None:
        services = [o.service(n, namespace=ns) for ns, n in sorted(names)]
    if slices is None:
        slices = [
            o.endpoint_slice(n, 8000 + sum(map(ord, n)) % 1000, namespace=ns)
            for ns, n in sorted(names)
        ]
    by_svc: dict[ObjectKey, list[Obj]] = {}
    for sl in slices:
        key = ObjectKey(
            sl["metadata"]["namespace"], sl["metadata"]["labels"]["kubernetes.io/service-name"]
        )
        by_svc.setdefault(key, []).append(sl)
    return model.Snapshot(
        ingresses=list(ingresses),
        services={ObjectKey.of(s): s for s in services},
        slices=by_svc,
        secrets={ObjectKey.of(s): s for s in secrets or []},
        default_backend=default_backend,
    )


def served_by(cfg: model.Configuration, host: str, uri: str) -> str:
    """The service that answers, or the status code nginx returns."""
    loc = routing.route(cfg, host, uri)
    assert loc is not None
    if loc.upstream:
        return loc.service.split(":")[0]
    return str(loc.status)


# The path-matching table of the Ingress API documentation ("Examples").
DOC_TABLE = [
    ("Prefix", ["/"], "/anything/at/all", "/"),
    ("Exact", ["/foo"], "/foo", "/foo"),
    ("Exact", ["/foo"], "/bar", None),
    ("Exact", ["/foo"], "/foo/", None),
    ("Exact", ["/foo/"], "/foo", None),
    ("Prefix", ["/foo"], "/foo", "/foo"),
    ("Prefix", ["/foo"], "/foo/", "/foo"),
    ("Prefix", ["/foo/"], "/foo", "/foo/"),
    ("Prefix", ["/foo/"], "/foo/", "/foo/"),
    ("Prefix", ["/aaa/bb"], "/aaa/bbb", None),
    ("Prefix", ["/aaa/bbb"], "/aaa/bbb", "/aaa/bbb"),
    ("Prefix", ["/aaa/bbb/"], "/aaa/bbb", "/aaa/bbb/"),
    ("Prefix", ["/aaa/bbb"], "/aaa/bbb/", "/aaa/bbb"),
    ("Prefix", ["/aaa/bbb"], "/aaa/bbb/ccc", "/aaa/bbb"),
    ("Prefix", ["/aaa/bbb"], "/aaa/bbbxyz", None),
    ("Prefix", ["/", "/aaa"], "/aaa/ccc", "/aaa"),
    ("Prefix", ["/", "/aaa", "/aaa/bbb"], "/aaa/bbb", "/aaa/bbb"),
    ("Prefix", ["/", "/aaa", "/aaa/bbb"], "/ccc", "/"),
    ("Prefix", ["/aaa"], "/ccc", None),
]


def _svc_for(path: str) -> str:
    return (
        "svc-" + "".join(c if c.isalnum() else "-" for c in path).strip("-")
        if path != "/"
        else "root"
    )


@pytest.mark.parametrize(
    ("path_type", "paths", "request_path", "expected"),
    [pytest.param(*row, id=f"{row[0]}-{','.join(row[1])}-{row[2]}") for row in DOC_TABLE],
)
def test_ingress_documentation_path_table(
    path_type: str, paths: list[str], request_path: str, expected: str | None
) -> None:
    ing = o.ingress("a", o.rule("foo.com", *(o.path(p, _svc_for(p), path_type) for p in paths)))
    cfg = model.build(snapshot(ing))
    want = "404" if expected is None else _svc_for(expected)
    assert served_by(cfg, "foo.com", request_path) == want


@pytest.mark.parametrize(
    ("request_path", "expected"),
    [
        pytest.param("/foo", "exact", id="exact-wins-over-prefix"),
        pytest.param("/foo/", "prefix", id="slash-goes-to-prefix"),
        pytest.param("/foo/bar", "prefix", id="subpath-goes-to-prefix"),
        pytest.param("/foobar", "impl", id="string-prefix-only-for-implementation-specific"),
        pytest.param("/foo/bar/baz", "longer", id="longest-prefix-wins"),
        pytest.param("/other", "404", id="unmatched-is-404"),
    ],
)
def test_precedence(request_path: str, expected: str) -> None:
    ing = o.ingress(
        "a",
        o.rule(
            "foo.com",
            o.path("/foo", "prefix", "Prefix"),
            o.path("/foo", "exact", "Exact"),
            o.path("/foo/bar/baz", "longer", "Prefix"),
            o.path("/foob", "impl", "ImplementationSpecific"),
        ),
    )
    assert served_by(model.build(snapshot(ing)), "foo.com", request_path) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        pytest.param("bar.foo.com", "wild", id="one-label"),
        pytest.param("BAR.Foo.com:8080", "wild", id="case-and-port-ignored"),
        pytest.param("baz.bar.foo.com", "catchall", id="two-labels-do-not-match"),
        pytest.param("foo.com", "catchall", id="bare-domain-does-not-match"),
        pytest.param("exact.foo.com", "exact", id="exact-host-beats-wildcard"),
        pytest.param("unknown.org", "catchall", id="unknown-host-catch-all-rule"),
    ],
)
def test_wildcard_and_catch_all_hosts(host: str, expected: str) -> None:
    ing = o.ingress(
        "a",
        o.rule("*.foo.com", o.path("/", "wild")),
        o.rule("exact.foo.com", o.path("/", "exact")),
        o.rule(None, o.path("/", "catchall")),
    )
    cfg = model.build(snapshot(ing))
    assert served_by(cfg, host, "/x") == expected


def test_wildcard_server_is_one_label_regex_in_nginx() -> None:
    from pyk8s.ingress import nginxconf

    assert nginxconf.server_name("*.foo.com") == r"~^(?<subdomain>[\w-]+)\.foo\.com$"
    assert nginxconf.server_name("foo.com") == "foo.com"


def test_merging_same_host_oldest_wins_conflicts() -> None:
    older = o.ingress(
        "old",
        o.rule("foo.com", o.path("/a", "old-a"), o.path("/shared", "old-shared")),
        created="2024-01-01T00:00:00Z",
        namespace="zz",
    )
    newer = o.ingress(
        "new",
        o.rule("foo.com", o.path("/b", "new-b"), o.path("/shared", "new-shared")),
        created="2024-02-01T00:00:00Z",
        namespace="aa",
    )
    # list order must not matter, creation time does
    for order in ((newer, older), (older, newer)):
        cfg = model.build(snapshot(*order))
        assert served_by(cfg, "foo.com", "/a") == "old-a"
        assert served_by(cfg, "foo.com", "/b") == "new-b"
        assert served_by(cfg, "foo.com", "/shared/x") == "old-shared"
        assert [s.name for s in cfg.servers] == ["_", "foo.com"]


def test_same_path_different_type_both_kept() -> None:
    a = o.ingress("a", o.rule("foo.com", o.path("/p", "pre", "Prefix")))
    b = o.ingress(
        "b", o.rule("foo.com", o.path("/p", "exa", "Exact")), created="2024-03-01T00:00:00Z"
    )
    cfg = model.build(snapshot(a, b))
    assert served_by(cfg, "foo.com", "/p") == "exa"
    assert served_by(cfg, "foo.com", "/p/q") == "pre"


def test_default_backends() -> None:
    only_default = o.ingress(
        "d", default_backend=o.backend("fallback"), created="2024-01-01T00:00:00Z"
    )
    later_default = o.ingress(
        "d2", default_backend=o.backend("later"), created="2024-05-01T00:00:00Z"
    )
    with_rules = o.ingress(
        "r", o.rule("foo.com", o.path("/app", "app")), default_backend=o.backend("foo-default")
    )
    cfg = model.build(snapshot(later_default, with_rules, only_default))
    assert served_by(cfg, "unknown.org", "/") == "fallback"  # oldest rule-less Ingress
    assert served_by(cfg, "foo.com", "/app/x") == "app"
    assert served_by(cfg, "foo.com", "/elsewhere") == "foo-default"


def test_controller_default_backend_service() -> None:
    ing = o.ingress("a", o.rule("foo.com", o.path("/app", "app")))
    snap = snapshot(
        ing,
        services=[o.service("app"), o.service("dflt", ("web", 8080), namespace="sys")],
        slices=[
            o.endpoint_slice("app", 9000),
            o.endpoint_slice("dflt", 9999, port_name="web", namespace="sys"),
        ],
        default_backend=ObjectKey("sys", "dflt"),
    )
    cfg = model.build(snap)
    assert served_by(cfg, "nowhere", "/") == "dflt"
    assert served_by(cfg, "foo.com", "/other") == "dflt"
    assert ("127.0.0.1", 9999) in {ep for u in cfg.upstreams for ep in u.endpoints}


def test_no_endpoints_is_503_and_never_cluster_ip() -> None:
    ing = o.ingress(
        "a",
        o.rule(
            "foo.com",
            o.path("/none", "empty"),
            o.path("/missing", "ghost"),
            o.path("/notready", "sick"),
        ),
    )
    snap = snapshot(
        ing,
        services=[o.service("empty"), o.service("sick")],
        slices=[o.endpoint_slice("sick", 9000, ready=False)],
    )
    cfg = model.build(snap)
    assert served_by(cfg, "foo.com", "/none") == "503"
    assert served_by(cfg, "foo.com", "/missing") == "503"
    assert served_by(cfg, "foo.com", "/notready") == "503"
    assert cfg.upstreams == ()


def test_upstream_collects_every_slice_with_its_own_port() -> None:
    ing = o.ingress("a", o.rule("foo.com", o.path("/", "web", port="http")))
    snap = snapshot(
        ing,
        services=[o.service("web", ("http", 80))],
        slices=[
            o.endpoint_slice("web", 9001, "127.0.0.1", name="web-a"),
            o.endpoint_slice("web", 9002, "127.0.0.1", "127.0.0.2", name="web-b"),
            o.endpoint_slice("web", 9003, "127.0.0.9", name="web-c", ready=None),
            o.endpoint_slice("web", 9004, "127.0.0.3", name="web-d", ready=False),
        ],
    )
    (up,) = model.build(snap).upstreams
    assert up.name == "ns_web_http"
    assert up.endpoints == (
        ("127.0.0.1", 9001),
        ("127.0.0.1", 9002),
        ("127.0.0.2", 9002),
        ("127.0.0.9", 9003),
    )


REWRITE = "nginx.ingress.kubernetes.io/rewrite-target"
USE_REGEX = "nginx.ingress.kubernetes.io/use-regex"


@pytest.mark.parametrize(
    ("path", "target", "uri", "upstream_uri"),
    [
        pytest.param("/something(/|$)(.*)", "/$2", "/something", "/", id="bare"),
        pytest.param("/something(/|$)(.*)", "/$2", "/something/", "/", id="slash"),
        pytest.param("/something(/|$)(.*)", "/$2", "/something/new", "/new", id="subpath"),
        pytest.param(
            "/something(/|$)(.*)", "/$2", "/something/new?x=1", "/new?x=1", id="query-kept"
        ),
        pytest.param(
            "/api/(v\\d+)/(.*)",
            "/$2/$1",
            "/API/v2/items",
            "/items/v2",
            id="two-groups-case-insensitive",
        ),
        pytest.param("/app", "/", "/app/deep/path", "/", id="no-groups-replaces-everything"),
    ],
)
def test_rewrite_target_capture_groups(path: str, target: str, uri: str, upstream_uri: str) -> None:
    ing = o.ingress(
        "rw",
        o.rule("rw.com", o.path(path, "app", "ImplementationSpecific")),
        annotations={REWRITE: target},
    )
    cfg = model.build(snapshot(ing))
    loc = routing.route(cfg, "rw.com", uri)
    assert loc is not None and loc.kind is model.PathKind.REGEX
    assert loc.service.startswith("app:")
    assert routing.rewritten(loc, uri) == upstream_uri


def test_rewrite_puts_whole_host_in_regex_mode() -> None:
    rw = o.ingress(
        "rw",
        o.rule("foo.com", o.path("/api(/|$)(.*)", "api", "ImplementationSpecific")),
        annotations={REWRITE: "/$2"},
    )
    plain = o.ingress(
        "plain",
        o.rule("foo.com", o.path("/web", "web", "Prefix"), o.path("/exact", "ex", "Exact")),
        created="2024-06-01T00:00:00Z",
    )
    other = o.ingress("other", o.rule("bar.com", o.path("/web", "web", "Prefix")))
    cfg = model.build(snapshot(rw, plain, other))
    foo, bar = cfg.server("foo.com"), cfg.server("bar.com")
    assert foo is not None and bar is not None
    assert foo.regex and not bar.regex
    assert all(loc.kind is model.PathKind.REGEX for loc in foo.locations)
    paths = [loc.path for loc in foo.locations]
    assert paths == sorted(paths, key=len, reverse=True)  # longest first: first regex match wins
    assert "^/web/" in paths and "^/web" in paths and "^/exact" in paths
    # only the annotated Ingress's location rewrites
    assert [loc.rewrite for loc in foo.locations if loc.rewrite] == [("(?i)/api(/|$)(.*)", "/$2")]
    assert served_by(cfg, "foo.com", "/WEB/x") == "web"  # ~* is case-insensitive
    assert served_by(cfg, "bar.com", "/WEB/x") == "404"


def test_use_regex() -> None:
    ing = o.ingress(
        "re",
        o.rule(
            "foo.com",
            o.path("/item/[0-9]+$", "digits", "ImplementationSpecific"),
            o.path("/item", "items", "ImplementationSpecific"),
        ),
        annotations={USE_REGEX: "true"},
    )
    cfg = model.build(snapshot(ing))
    assert served_by(cfg, "foo.com", "/item/42") == "digits"
    assert served_by(cfg, "foo.com", "/item/abc") == "items"
    server = cfg.server("foo.com")
    assert server is not None and server.locations[-1].path == "^/"
    assert all(loc.rewrite is None for loc in server.locations)


def test_rewrite_target_equal_to_path_is_no_rewrite() -> None:
    ing = o.ingress("same", o.rule("foo.com", o.path("/x", "x")), annotations={REWRITE: "/x"})
    server = model.build(snapshot(ing)).server("foo.com")
    assert server is not None and not server.regex


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        pytest.param({REWRITE: "/$1; return 200"}, "rewrite-target", id="rewrite-injection"),
        pytest.param({USE_REGEX: "yes"}, "use-regex", id="not-a-bool"),
    ],
)
def test_refused_annotations_exclude_the_ingress(annotations: dict[str, str], message: str) -> None:
    bad = o.ingress("bad", o.rule("bad.com", o.path("/", "x")), annotations=annotations)
    good = o.ingress("good", o.rule("good.com", o.path("/", "y")))
    cfg = model.build(snapshot(bad, good))
    assert cfg.ingresses == (ObjectKey("ns", "good"),)
    assert cfg.server("bad.com") is None
    (problem,) = cfg.problems
    assert problem.ingress == ObjectKey("ns", "bad")
    assert problem.reason == "AnnotationParsingFailed" and message in problem.message


# ---------------------------------------------------------------------- TLS


def test_tls_certificate_per_host_and_redirect() -> None:
    secret = o.tls_secret("foo-tls", "foo.com")
    wild = o.tls_secret("wild-tls", "*.bar.com")
    ing = o.ingress(
        "tls",
        o.rule("foo.com", o.path("/", "web")),
        o.rule("a.bar.com", o.path("/", "web")),
        o.rule("plain.com", o.path("/", "web")),
        tls=[{"hosts": ["foo.com"], "secretName": "foo-tls"}, {"secretName": "wild-tls"}],
    )
    cfg = model.build(snapshot(ing, secrets=[secret, wild]))
    foo, bar, plain = (cfg.server(h) for h in ("foo.com", "a.bar.com", "plain.com"))
    assert foo is not None and bar is not None and plain is not None
    assert foo.certificate.startswith("ns_foo-tls_")
    assert bar.certificate.startswith("ns_wild-tls_")  # no host entry, but its SAN covers it
    assert plain.certificate == ""
    assert {c.name for c in cfg.certificates} == {foo.certificate, bar.certificate}
    assert all(loc.redirect == model.Redirect() for loc in foo.locations)
    assert all(loc.redirect is None for loc in plain.locations)
    assert cfg.problems == ()
    pem = next(c.pem for c in cfg.certificates if c.name == foo.certificate)
    assert b"BEGIN CERTIFICATE" in pem and b"PRIVATE KEY" in pem


@pytest.mark.parametrize(
    ("annotations", "redirect"),
    [
        pytest.param(
            {"nginx.ingress.kubernetes.io/ssl-redirect": "false"}, None, id="ssl-redirect-off"
        ),
        pytest.param(
            {"nginx.ingress.kubernetes.io/use-port-in-redirects": "true"},
            model.Redirect(use_port=True),
            id="port-in-redirect",
        ),
    ],
)
def test_redirect_annotations(annotations: dict[str, str], redirect: model.Redirect | None) -> None:
    ing = o.ingress(
        "t",
        o.rule("foo.com", o.path("/", "web")),
        annotations=annotations,
        tls=[{"hosts": ["foo.com"], "secretName": "s"}],
    )
    server = model.build(snapshot(ing, secrets=[o.tls_secret("s", "foo.com")])).server("foo.com")
    assert server is not None and {loc.redirect for loc in server.locations} == {redirect}


def test_force_ssl_redirect_without_certificate() -> None:
    ing = o.ingress(
        "t",
        o.rule("foo.com", o.path("/", "web")),
        annotations={"nginx.ingress.kubernetes.io/force-ssl-redirect": "true"},
    )
    server = model.build(snapshot(ing)).server("foo.com")
    assert server is not None and server.locations[0].redirect == model.Redirect()


@pytest.mark.parametrize(
    ("secrets", "fragment"),
    [
        pytest.param([], "was not found", id="missing"),
        pytest.param(
            [o.tls_secret("s", "other.com")], "does not contain a Common Name", id="wrong-host"
        ),
        pytest.param(
            [
                {
                    **o.tls_secret("s", "foo.com"),
                    "data": {"tls.crt": "bm90IGEgY2VydA==", "tls.key": "eA=="},
                }
            ],
            "no valid PEM",
            id="garbage",
        ),
    ],
)
def test_unusable_tls_secret_serves_default_certificate_with_warning(
    secrets: list[Obj], fragment: str
) -> None:
    ing = o.ingress(
        "t", o.rule("foo.com", o.path("/", "web")), tls=[{"hosts": ["foo.com"], "secretName": "s"}]
    )
    cfg = model.build(snapshot(ing, secrets=secrets))
    server = cfg.server("foo.com")
    assert server is not None and server.certificate == ""
    assert served_by(cfg, "foo.com", "/") == "web"  # still served, no redirect
    assert server.locations[0].redirect is None
    (problem,) = cfg.problems
    assert problem.reason == "Sync" and problem.type == "Warning" and fragment in problem.message


def test_oldest_ingress_decides_the_certificate() -> None:
    a = o.ingress(
        "a",
        o.rule("foo.com", o.path("/a", "web")),
        tls=[{"hosts": ["foo.com"], "secretName": "first"}],
        created="2024-01-01T00:00:00Z",
    )
    b = o.ingress(
        "b",
        o.rule("foo.com", o.path("/b", "web")),
        tls=[{"hosts": ["foo.com"], "secretName": "second"}],
        created="2024-02-01T00:00:00Z",
    )
    cfg = model.build(
        snapshot(
            b, a, secrets=[o.tls_secret("first", "foo.com"), o.tls_secret("second", "foo.com")]
        )
    )
    server = cfg.server("foo.com")
    assert server is not None and server.certificate.startswith("ns_first_")


def test_nothing_unsafe_reaches_nginx_names() -> None:
    ing = o.ingress(
        "odd",
        o.rule("ok.com", o.path("/", "web")),
        o.rule("evil.com; include /etc/shadow", o.path("/", "web")),
    )
    cfg = model.build(snapshot(ing))
    assert [s.name for s in cfg.servers] == ["_", "ok.com"]
    weird = o.ingress("w", o.rule("w.com", o.path("/", "web", port="a;b")))
    snap = snapshot(
        weird,
        services=[o.service("web", ("a;b", 80))],
        slices=[o.endpoint_slice("web", 9000, port_name="a;b")],
    )
    (up,) = model.build(snap).upstreams
    assert up.name == "ns_web_a-b"
