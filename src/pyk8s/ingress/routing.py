"""Which location nginx picks for a request, computed from a ``model.Configuration``
(pure). It restates nginx's documented selection rules so the model's precedence can be
checked in tables without running nginx; the integration tests check that the real
nginx agrees.

Server (``server_name``): an exact host wins; then wildcard hosts (``*.example.com``,
rendered as a regex matching exactly one leading label) in configuration order; then the
default server ``_``. Host names compare case-insensitively, without a port.

Location (nginx's ``location`` rules): an exact match (``=``) ends the search; else the
longest matching prefix is remembered; then regex locations are tried in order and the
first match wins (``~*``: case-insensitive); else the remembered prefix.

Rewrite (``rewritten``): when the location's rewrite regex matches anywhere in the path,
the whole path becomes the replacement with ``$1``…``$9`` taken from that match
(unmatched groups are empty); the query string is kept.
"""

from __future__ import annotations

import functools
import re

from pyk8s.ingress.model import DEFAULT_SERVER, Configuration, Location, PathKind, Server

__all__ = ["rewritten", "route", "select_location", "select_server"]


def _host_matches(name: str, host: str) -> bool:
    if name.startswith("*."):
        label, _, rest = host.partition(".")
        return (
            bool(label) and rest == name[2:].lower() and re.fullmatch(r"[\w-]+", label) is not None
        )
    return name.lower() == host


def select_server(cfg: Configuration, host: str) -> Server | None:
    host = host.lower().split(":", 1)[0].rstrip(".")
    for s in cfg.servers:
        if not s.name.startswith("*.") and s.name != DEFAULT_SERVER and _host_matches(s.name, host):
            return s
    for s in cfg.servers:
        if s.name.startswith("*.") and _host_matches(s.name, host):
            return s
    return cfg.server(DEFAULT_SERVER)


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def select_location(server: Server, uri: str) -> Location | None:
    path = uri.split("?", 1)[0]
    best: Location | None = None
    for loc in server.locations:
        if loc.kind is PathKind.EXACT and loc.path == path:
            return loc
        if (
            loc.kind is PathKind.PREFIX
            and path.startswith(loc.path)
            and (best is None or len(loc.path) > len(best.path))
        ):
            best = loc
    for loc in server.locations:
        if loc.kind is PathKind.REGEX and _compile(loc.path).search(path):
            return loc
    return best


def route(cfg: Configuration, host: str, uri: str) -> Location | None:
    server = select_server(cfg, host)
    return None if server is None else select_location(server, uri)


def rewritten(loc: Location, uri: str) -> str:
    """The URI nginx sends upstream for ``uri`` in ``loc``."""
    if loc.rewrite is None:
        return uri
    path, sep, query = uri.partition("?")
    regex, target = loc.rewrite
    m = re.search(regex, path)
    if m is None:
        return uri

    def group(ref: re.Match[str]) -> str:
        n = int(ref.group(1))
        return (m.group(n) or "") if n <= m.re.groups else ""

    return re.sub(r"\$(\d)", group, target) + sep + query
