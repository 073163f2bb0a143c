"""The ``nginx.ingress.kubernetes.io/*`` annotations this controller understands (pure).

Supported, with ingress-nginx's defaults and value checks:

- ``rewrite-target``: the URI sent upstream; may use the path regex's capture groups
  (``$1``, ``$2`` …). Values must match ingress-nginx's ``RegexPathWithCapture``
  (``/?[-._~a-zA-Z0-9/:$]*``); a target different from the path puts the whole host in
  regex mode (see ``model``).
- ``use-regex``: treat paths as case-insensitive regular expressions (whole host).
- ``ssl-redirect`` (default true): redirect HTTP to HTTPS when the host has a
  certificate; ``force-ssl-redirect`` (default false) redirects even without one;
  ``use-port-in-redirects`` (default false) puts the HTTPS port into that redirect.
- ``preserve-trailing-slash`` (default false): keep a trailing ``/`` in that redirect.

A value that fails its check makes the whole Ingress invalid, as ingress-nginx's
annotation extractor does: ``parse`` raises ``InvalidAnnotation`` whose message is what
the ``AnnotationParsingFailed`` event says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["PREFIX", "Annotations", "InvalidAnnotation", "parse"]

PREFIX = "nginx.ingress.kubernetes.io/"

# ingress-nginx's parser.RegexPathWithCapture and MaliciousRegex
_PATH_WITH_CAPTURE = re.compile(r"^/?[-._~a-zA-Z0-9/:$]*$")
_MALICIOUS = re.compile(r"[\r\n]")

# Go's strconv.ParseBool, which ingress-nginx's bool annotations use
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class InvalidAnnotation(ValueError):
    """An annotation value ingress-nginx would refuse."""


@dataclass(frozen=True, slots=True)
class Annotations:
    rewrite_target: str = ""
    use_regex: bool = False
    ssl_redirect: bool = True
    force_ssl_redirect: bool = False
    use_port_in_redirects: bool = False
    preserve_trailing_slash: bool = False


def _bool(annotations: Mapping[str, str], name: str, default: bool) -> bool:
    raw = annotations.get(PREFIX + name)
    if raw is None:
        return default
    value = str(raw).strip()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidAnnotation(f"annotation {name} contains invalid value {value!r}: not a boolean")


def _rewrite_target(annotations: Mapping[str, str]) -> str:
    raw = annotations.get(PREFIX + "rewrite-target")
    if raw is None:
        return ""
    value = str(raw)
    if not _PATH_WITH_CAPTURE.match(value) or _MALICIOUS.search(value):
        raise InvalidAnnotation(f"annotation rewrite-target contains invalid value {value!r}")
    return value


def parse(annotations: Mapping[str, str] | None) -> Annotations:
    """The parsed annotations (defaults where unset); ``InvalidAnnotation`` if refused."""
    anns = annotations or {}
    return Annotations(
        rewrite_target=_rewrite_target(anns),
        use_regex=_bool(anns, "use-regex", False),
        ssl_redirect=_bool(anns, "ssl-redirect", True),
        force_ssl_redirect=_bool(anns, "force-ssl-redirect", False),
        use_port_in_redirects=_bool(anns, "use-port-in-redirects", False),
        preserve_trailing_slash=_bool(anns, "preserve-trailing-slash", False),
    )
