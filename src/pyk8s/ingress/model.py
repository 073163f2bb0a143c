"""From Ingresses, Services, EndpointSlices and TLS Secrets to what nginx should serve
(pure: ``build(snapshot) -> Configuration``; rendering is ``nginxconf``'s job).

The rules follow the Ingress API and ingress-nginx (its controller.go and location.go):

**Order and conflicts.** Ingresses are taken oldest first (``creationTimestamp``, then
namespace/name). When two of them define the same path with the same pathType on one
host, the oldest wins; the younger one's other paths still apply. A host's TLS
certificate comes from the oldest Ingress that has a ``tls`` section for that host.

**Servers.** One per host; ``*.example.com`` matches exactly one more DNS label (nginx
gets a regex server name). Rules without a host go to the catch-all server ``_``, which
is also nginx's default server. Each server starts with a root location ``/`` sending
traffic to the default backend: the ``spec.defaultBackend`` of the Ingress that first
named the host, else the controller's default backend Service (``Snapshot
.default_backend``), else a plain 404. An Ingress with a defaultBackend and no rules
takes over the catch-all server's root (the oldest such Ingress wins). A rule path ``/``
replaces the placeholder root.

**Locations** (without regex, nginx's own precedence then implements the Ingress spec:
exact matches first, then the longest prefix):
- ``Exact /foo`` → ``location = /foo``;
- ``Prefix /foo`` or ``/foo/`` → ``location /foo/`` plus ``location = /foo`` (unless an
  Exact ``/foo`` exists), which is element-wise prefix matching: ``/foo`` and
  ``/foo/bar`` match, ``/foobar`` does not; ``Prefix /`` → ``location /``;
- ``ImplementationSpecific /foo`` → ``location /foo`` (a plain string prefix, as
  ingress-nginx; ``/foobar`` matches).

**Regex mode.** When any path on a host has ``use-regex: "true"`` or a
``rewrite-target`` different from the path, every location of that host becomes a
case-insensitive regex anchored at the start (``location ~* "^<path>"``), as
ingress-nginx documents; Prefix paths of other Ingresses on that host still get their
``/``-terminated and exact variants first. Locations are ordered longest path first,
since nginx takes the first regex that matches. A rewrite becomes
``rewrite "(?i)<path>" <target> break;`` (capture groups ``$1``, ``$2`` … refer to the
path regex).

**Backends.** A service backend is the Service's ready endpoints (``endpoints``),
never its ClusterIP; with none the location answers 503, as ingress-nginx does.
Non-service (resource) backends are skipped. Upstreams are named
``<namespace>_<service>_<port>``.

**Redirects.** With ``ssl-redirect`` (default true) a location of a host that has a
certificate from a Secret redirects plain HTTP to HTTPS with 308; ``force-ssl-redirect``
redirects even without one. A host whose TLS Secret is missing or unusable is served
with the default (self-signed) certificate and without the redirect, and the Ingress
gets a Warning.

**Problems** (``Configuration.problems``) are what the controller reports as Events:
an Ingress whose annotations are refused is left out (``AnnotationParsingFailed``);
an unusable TLS Secret leaves its host on the default certificate (``Sync``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pyk8s.client.store import ObjectKey
from pyk8s.ingress import annotations as anns_mod
from pyk8s.ingress import endpoints as eps
from pyk8s.ingress import tlscerts

__all__ = [
    "DEFAULT_SERVER",
    "Configuration",
    "Location",
    "PathKind",
    "Problem",
    "Redirect",
    "Server",
    "Snapshot",
    "Upstream",
    "build",
    "ingress_order",
]

Obj = Mapping[str, Any]

DEFAULT_SERVER = "_"

# what the apiserver accepts as a rule host (a DNS subdomain, optionally "*." first);
# anything else never reaches nginx.conf
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class PathKind(StrEnum):
    EXACT = "exact"  # location = /p
    PREFIX = "prefix"  # location /p
    REGEX = "regex"  # location ~* "^p"


@dataclass(frozen=True, slots=True)
class Redirect:
    """HTTP → HTTPS redirect of a location (code 308, ingress-nginx's default)."""

    use_port: bool = False  # put the HTTPS port into the target
    preserve_trailing_slash: bool = False
    code: int = 308


@dataclass(frozen=True, slots=True)
class Location:
    path: str  # what nginx matches: "/foo", "/foo/", or a regex "^/foo" (kind REGEX)
    kind: PathKind
    upstream: str = ""  # upstream name; "" → answer ``status``
    status: int = 0
    ingress: str = ""  # "ns/name" that defined it; "" for the controller's default
    service: str = ""  # "svc:port", for logs
    rewrite: tuple[str, str] | None = None  # (regex, replacement)
    redirect: Redirect | None = None
    placeholder: bool = False  # the default root a rule "/" may replace


@dataclass(frozen=True, slots=True)
class Server:
    name: str  # host as written in the Ingress ("*.example.com"), "_" = catch-all
    locations: tuple[Location, ...]
    certificate: str = ""  # Certificate.name; "" = the default certificate
    regex: bool = False


@dataclass(frozen=True, slots=True)
class Upstream:
    name: str
    endpoints: tuple[eps.Endpoint, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    ingress: ObjectKey
    reason: str
    message: str
    type: str = "Warning"


@dataclass(frozen=True, slots=True)
class Configuration:
    servers: tuple[Server, ...]
    upstreams: tuple[Upstream, ...]
    certificates: tuple[tlscerts.Certificate, ...]
    problems: tuple[Problem, ...] = ()
    ingresses: tuple[ObjectKey, ...] = ()  # the Ingresses that made it in

    def server(self, name: str) -> Server | None:
        for s in self.servers:
            if s.name == name:
                return s
        return None


@dataclass(frozen=True, slots=True)
class Snapshot:
    ingresses: Sequence[Obj]
    services: Mapping[ObjectKey, Obj] = field(default_factory=dict)
    slices: Mapping[ObjectKey, Sequence[Obj]] = field(default_factory=dict)  # by Service
    secrets: Mapping[ObjectKey, Obj] = field(default_factory=dict)
    default_backend: ObjectKey | None = None  # the controller's default backend Service


def ingress_order(ingress: Obj) -> tuple[str, str, str]:
    meta = ingress.get("metadata") or {}
    return (
        str(meta.get("creationTimestamp") or ""),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )


# ---------------------------------------------------------------------- building


@dataclass(frozen=True, slots=True)
class _Target:
    upstream: str = ""
    status: int = 404
    service: str = ""


@dataclass(slots=True)
class _Path:
    path: str
    path_type: str
    target: _Target
    anns: anns_mod.Annotations
    ingress: str = ""
    placeholder: bool = False

    @property
    def needs_rewrite(self) -> bool:
        target = self.anns.rewrite_target
        return bool(target) and target != self.path


@dataclass(slots=True)
class _Server:
    name: str
    paths: list[_Path]
    certificate: tlscerts.Certificate | None = None
    tls_decided: bool = False


class _Builder:
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.upstreams: dict[str, tuple[eps.Endpoint, ...]] = {}
        self.problems: list[Problem] = []

    def target(self, namespace: str, service: Obj) -> _Target:
        name = str(service.get("name") or "")
        port = service.get("port") or {}
        port_ref = port.get("number") if port.get("number") is not None else port.get("name")
        label = f"{name}:{port_ref}"
        svc_key = ObjectKey(namespace, name)
        found = eps.backend_endpoints(
            self.snap.services.get(svc_key), self.snap.slices.get(svc_key, ()), port
        )
        if not found:
            return _Target(status=503, service=label)
        upstream = _UNSAFE.sub("-", f"{namespace}_{name}_{port_ref}")
        self.upstreams[upstream] = tuple(found)
        return _Target(upstream=upstream, service=label)

    def default_target(self) -> _Target:
        key = self.snap.default_backend
        if key is None:
            return _Target(status=404)
        svc = self.snap.services.get(key)
        ports = ((svc or {}).get("spec") or {}).get("ports") or []
        if not ports:
            return _Target(status=503, service=key.name)
        return self.target(
            key.namespace, {"name": key.name, "port": {"number": ports[0].get("port")}}
        )


def _key(ing: Obj) -> ObjectKey:
    return ObjectKey.of(ing)


def build(snap: Snapshot) -> Configuration:
    b = _Builder(snap)
    included: list[tuple[Obj, anns_mod.Annotations]] = []
    for ing in sorted(snap.ingresses, key=ingress_order):
        try:
            parsed = anns_mod.parse((ing.get("metadata") or {}).get("annotations"))
        except anns_mod.InvalidAnnotation as exc:
            b.problems.append(
                Problem(_key(ing), "AnnotationParsingFailed", f"Error parsing annotations: {exc}")
            )
            continue
        included.append((ing, parsed))

    default = anns_mod.Annotations()
    servers: dict[str, _Server] = {
        DEFAULT_SERVER: _Server(
            DEFAULT_SERVER, [_Path("/", "Prefix", b.default_target(), default, placeholder=True)]
        )
    }
    _create_servers(b, included, servers)
    _add_paths(b, included, servers)
    _assign_certificates(b, included, servers)

    out: list[Server] = []
    for name in sorted(servers, key=lambda n: (n != DEFAULT_SERVER, n)):
        s = servers[name]
        out.append(_finish_server(s))
    used_upstreams = {loc.upstream for s in out for loc in s.locations if loc.upstream}
    certs = {s.certificate.name: s.certificate for s in servers.values() if s.certificate}
    return Configuration(
        servers=tuple(out),
        upstreams=tuple(
            Upstream(n, b.upstreams[n]) for n in sorted(used_upstreams) if n in b.upstreams
        ),
        certificates=tuple(certs[n] for n in sorted(certs)),
        problems=tuple(b.problems),
        ingresses=tuple(_key(ing) for ing, _ in included),
    )


def _rules(ing: Obj) -> list[Obj]:
    """The Ingress's rules whose host (if any) is a valid DNS name."""
    rules = (ing.get("spec") or {}).get("rules") or []
    return [r for r in rules if not r.get("host") or _HOST.match(str(r["host"]))]


def _create_servers(
    b: _Builder, included: list[tuple[Obj, anns_mod.Annotations]], servers: dict[str, _Server]
) -> None:
    catch_all_taken = False
    for ing, parsed in included:
        key = str(_key(ing))
        spec = ing.get("spec") or {}
        root_target = b.default_target()
        svc = (spec.get("defaultBackend") or {}).get("service")
        if svc:
            root_target = b.target(_key(ing).namespace, svc)
            if not _rules(ing) and not catch_all_taken:
                catch_all_taken = True
                servers[DEFAULT_SERVER].paths[0] = _Path(
                    "/", "Prefix", root_target, anns_mod.Annotations(), key
                )
        for rule in _rules(ing):
            host = str(rule.get("host") or DEFAULT_SERVER)
            if host in servers:
                continue
            root = _Path("/", "Prefix", root_target, parsed, key, placeholder=True)
            servers[host] = _Server(host, [root])


def _add_paths(
    b: _Builder, included: list[tuple[Obj, anns_mod.Annotations]], servers: dict[str, _Server]
) -> None:
    for ing, parsed in included:
        key = _key(ing)
        for rule in _rules(ing):
            server = servers[str(rule.get("host") or DEFAULT_SERVER)]
            for p in (rule.get("http") or {}).get("paths") or ():
                svc = (p.get("backend") or {}).get("service")
                if not svc:
                    continue
                path = str(p.get("path") or "/")
                path_type = str(p.get("pathType") or "ImplementationSpecific")
                existing = next(
                    (e for e in server.paths if e.path == path and e.path_type == path_type), None
                )
                if existing is not None and not existing.placeholder:
                    continue  # the older Ingress keeps it
                new = _Path(path, path_type, b.target(key.namespace, svc), parsed, str(key))
                if existing is not None:
                    server.paths[server.paths.index(existing)] = new
                else:
                    server.paths.append(new)


def _assign_certificates(
    b: _Builder, included: list[tuple[Obj, anns_mod.Annotations]], servers: dict[str, _Server]
) -> None:
    for ing, _ in included:
        tls = (ing.get("spec") or {}).get("tls") or []
        if not tls:
            continue
        ns = _key(ing).namespace
        for rule in _rules(ing):
            host = str(rule.get("host") or DEFAULT_SERVER)
            server = servers[host]
            if host == DEFAULT_SERVER or server.tls_decided:
                continue
            server.tls_decided = True
            secret_name = _tls_secret_name(b, ns, host, tls)
            if not secret_name:
                continue
            skey = ObjectKey(ns, secret_name)
            secret = b.snap.secrets.get(skey)
            if secret is None:
                b.problems.append(
                    Problem(
                        _key(ing),
                        "Sync",
                        f'Error getting SSL certificate "{skey}": local SSL certificate {skey} '
                        "was not found. Using default certificate",
                    )
                )
                continue
            try:
                cert = tlscerts.from_secret(secret)
            except tlscerts.CertificateError as exc:
                b.problems.append(
                    Problem(
                        _key(ing),
                        "Sync",
                        f'Error getting SSL certificate "{skey}": {exc}. Using default certificate',
                    )
                )
                continue
            if not tlscerts.covers(cert, host):
                b.problems.append(
                    Problem(
                        _key(ing),
                        "Sync",
                        f'SSL certificate "{skey}" does not contain a Common Name or Subject '
                        f'Alternative Name for server "{host}". Using default certificate',
                    )
                )
                continue
            server.certificate = cert


def _tls_secret_name(b: _Builder, namespace: str, host: str, tls: Sequence[Obj]) -> str:
    """The Secret for ``host``: named with it in ``tls[].hosts``, else one covering it."""
    lower = host.lower()
    for entry in tls:
        if any(str(h).lower() == lower for h in entry.get("hosts") or ()):
            return str(entry.get("secretName") or "")
    for entry in tls:
        name = entry.get("secretName")
        if not name:
            continue
        secret = b.snap.secrets.get(ObjectKey(namespace, str(name)))
        if secret is None:
            continue
        try:
            cert = tlscerts.from_secret(secret)
        except tlscerts.CertificateError:
            continue
        if tlscerts.covers(cert, host):
            return str(name)
    return ""


def _finish_server(s: _Server) -> Server:
    regex = any(p.anns.use_regex or p.needs_rewrite for p in s.paths if not p.placeholder)
    # ingress-nginx: sort by path (descending), then stably by length (longest first)
    paths = sorted(s.paths, key=lambda p: p.path, reverse=True)
    paths.sort(key=lambda p: -len(p.path))
    exact = {p.path for p in paths if p.path_type == "Exact"}
    locations: list[Location] = []
    for p in paths:
        locations.extend(
            _expand(p, regex=regex, exact_paths=exact, has_cert=s.certificate is not None)
        )
    return Server(
        name=s.name,
        locations=tuple(_dedupe(locations)),
        certificate=s.certificate.name if s.certificate else "",
        regex=regex,
    )


def _expand(p: _Path, *, regex: bool, exact_paths: set[str], has_cert: bool) -> list[Location]:
    redirect = None
    if p.anns.force_ssl_redirect or (p.anns.ssl_redirect and has_cert):
        redirect = Redirect(
            use_port=p.anns.use_port_in_redirects,
            preserve_trailing_slash=p.anns.preserve_trailing_slash,
        )
    # the default root of a host never rewrites (ingress-nginx would apply the annotation
    # of the Ingress that named the host first to its default backend too)
    rewrite = (
        ("(?i)" + p.path, p.anns.rewrite_target) if p.needs_rewrite and not p.placeholder else None
    )

    def loc(path: str, kind: PathKind) -> Location:
        return Location(
            path=("^" + path) if kind is PathKind.REGEX else path,
            kind=kind,
            upstream=p.target.upstream,
            status=0 if p.target.upstream else p.target.status,
            ingress=p.ingress,
            service=p.target.service,
            rewrite=rewrite,
            redirect=redirect,
            placeholder=p.placeholder,
        )

    prefix_variants = p.path_type == "Prefix" and p.path != "/"
    if regex:
        if prefix_variants and not (p.anns.use_regex or p.needs_rewrite):
            trimmed = p.path.rstrip("/")
            out = [loc(trimmed + "/", PathKind.REGEX)]
            if trimmed not in exact_paths:
                out.append(loc(trimmed, PathKind.REGEX))
            return out
        return [loc(p.path, PathKind.REGEX)]
    if p.path_type == "Exact":
        return [loc(p.path, PathKind.EXACT)]
    if prefix_variants:
        trimmed = p.path.rstrip("/")
        out = [loc(trimmed + "/", PathKind.PREFIX)]
        if trimmed not in exact_paths:
            out.append(loc(trimmed, PathKind.EXACT))
        return out
    return [loc(p.path, PathKind.PREFIX)]


def _dedupe(locations: list[Location]) -> list[Location]:
    """One location per (kind, path): the first real one wins over placeholders."""
    real = {(loc.kind, loc.path) for loc in locations if not loc.placeholder}
    seen: set[tuple[PathKind, str]] = set()
    out: list[Location] = []
    for loc in locations:
        k = (loc.kind, loc.path)
        if k in seen or (loc.placeholder and k in real):
            continue
        seen.add(k)
        out.append(loc)
    return out
