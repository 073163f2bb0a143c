"""Calling an admission webhook over HTTPS (the only I/O of the webhook plugin; upstream's
``util/webhook.ClientManager`` and the rest client it builds).

Contract:

- ``Transport`` is the seam: ``post(client_config, body, timeout=…)`` sends one
  AdmissionReview and returns the decoded JSON answer, or raises ``CallError`` whose
  message is the reason upstream puts after ``failed calling webhook "<name>": ``
  (``failed to call webhook: Post "https://…?timeout=10s": context deadline exceeded``,
  ``could not get REST client: …``).
- ``webhook_url`` is where upstream sends the request: ``clientConfig.url`` with its path
  cleaned, or ``https://<name>.<namespace>.svc:<port><path>`` for ``clientConfig.service``
  (port 443 unless given), plus ``?timeout=<n>s``.
- ``HTTPSTransport`` posts with aiohttp. A ``<name>.<namespace>.svc`` host is resolved to
  the Service's ClusterIP through the ``service_ip`` callable (``None``: ``service
  "<name>" not found``) while TLS still verifies the name ``<name>.<namespace>.svc``, as
  upstream's dialer does. ``caBundle`` (base64 PEM) replaces the system roots when given.
  The whole call (connect, TLS, response) is bounded by ``timeout`` seconds. One
  connection pool per transport; ``aclose()`` releases it.
- Answers other than 2xx become upstream's rest-client errors (a ``Status`` body's
  message, else the generic text for the code); a 2xx body must be JSON.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import posixpath
import socket
import ssl
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from pyk8s.api.validation.field import go_quote
from pyk8s.apiserver.admission import review

__all__ = ["CallError", "HTTPSTransport", "ServiceIP", "Transport", "webhook_url"]

ServiceIP = Callable[[str, str], str | None]  # (namespace, name) → ClusterIP

_USER_AGENT: Final = "kube-apiserver-admission"

# apimachinery's NewGenericServerResponse: what a non-Status error answer says
_GENERIC: Final[dict[int, str]] = {
    400: "the server rejected our request for an unknown reason",
    401: "the server has asked for the client to provide credentials",
    404: "the server could not find the requested resource",
    405: "the server does not allow this method on the requested resource",
    409: "the server reported a conflict",
    422: "the server rejected our request due to an error in our request",
    429: "the server has received too many requests and has asked us to try again later",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted, but may still be "
    "processing the request",
}
_UNKNOWN_ISSUER: Final = (
    "unable to get local issuer certificate",
    "self-signed certificate",
    "self signed certificate",
    "unable to get issuer certificate",
)


class CallError(Exception):
    """The webhook could not be called, or its answer could not be read."""


class Transport(Protocol):
    async def post(self, client_config: Mapping[str, Any], body: bytes, *, timeout: int) -> Any:
        """POST ``body`` (an AdmissionReview) and return the decoded JSON answer."""
        ...


def _clean_path(path: str) -> str:
    """Go's ``path.Join("/", p)``."""
    joined = posixpath.normpath("/" + path)
    return "/" + joined.lstrip("/")


def webhook_url(client_config: Mapping[str, Any], timeout: int) -> str:
    """The URL upstream's rest client posts to; raises ``CallError`` for a bad config."""
    query = f"?timeout={timeout}s"
    service = client_config.get("service")
    if isinstance(service, Mapping):
        port = service.get("port")
        port = port if isinstance(port, int) and not isinstance(port, bool) and port else 443
        path = service.get("path")
        host = f"{service.get('name', '')}.{service.get('namespace', '')}.svc"
        return f"https://{host}:{port}{_clean_path(path if isinstance(path, str) else '')}{query}"
    url = client_config.get("url")
    if not isinstance(url, str) or not url:
        raise CallError(
            "could not get REST client: webhook configuration must have either service or URL"
        )
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as e:
        raise CallError(f"could not get REST client: Unparsable URL: {e}") from None
    return f"{parts.scheme}://{parts.netloc}{_clean_path(parts.path)}{query}"


def _service_parts(host: str) -> tuple[str, str] | None:
    parts = host.split(".")
    if len(parts) == 3 and parts[2] == "svc" and parts[0] and parts[1]:
        return parts[1], parts[0]
    return None


class _ServiceNotFound(OSError):
    pass


class _ServiceResolver(AbstractResolver):
    """``<name>.<namespace>.svc`` → the Service's ClusterIP; other hosts via DNS."""

    def __init__(self, service_ip: ServiceIP) -> None:
        self._service_ip = service_ip
        self._dns: AbstractResolver | None = None

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        svc = _service_parts(host)
        if svc is None:
            if self._dns is None:
                self._dns = DefaultResolver()
            return await self._dns.resolve(host, port, family)
        ip = self._service_ip(*svc)
        if not ip:
            raise _ServiceNotFound(f"service {go_quote(svc[1])} not found")
        fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
        return [
            ResolveResult(
                hostname=host, host=ip, port=port, family=fam, proto=0, flags=socket.AI_NUMERICHOST
            )
        ]

    async def close(self) -> None:
        if self._dns is not None:
            await self._dns.close()


def _ssl_context(ca_bundle: Any) -> ssl.SSLContext:
    if not ca_bundle:
        return ssl.create_default_context()
    bad = "could not get REST client: unable to load root certificates: unable to parse bytes as PEM block"
    try:
        pem = base64.b64decode(str(ca_bundle), validate=True).decode("ascii")
        return ssl.create_default_context(cadata=pem)
    except (binascii.Error, UnicodeDecodeError, ValueError, ssl.SSLError):
        raise CallError(bad) from None


def _tls_reason(err: ssl.SSLCertVerificationError, host: str) -> str:
    why = str(getattr(err, "verify_message", "") or err)
    if any(s in why for s in _UNKNOWN_ISSUER):
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    if "mismatch" in why:
        return f"tls: failed to verify certificate: x509: certificate is not valid for {host}"
    if "expired" in why:
        return (
            "tls: failed to verify certificate: x509: certificate has expired or is not yet valid"
        )
    return f"tls: failed to verify certificate: {why}"


def _connect_reason(err: aiohttp.ClientConnectorError, host: str, port: int) -> str:
    os_error = err.os_error
    if isinstance(os_error, _ServiceNotFound):
        return str(os_error)
    if isinstance(os_error, ConnectionRefusedError):
        return f"dial tcp {host}:{port}: connect: connection refused"
    if isinstance(err, aiohttp.ClientConnectorDNSError):
        return f"dial tcp: lookup {host}: no such host"
    return f"dial tcp {host}:{port}: {os_error.strerror or os_error}"


def _status_error(status: int, content_type: str, data: bytes) -> str:
    """The rest client's error for a non-2xx answer."""
    try:
        doc = orjson.loads(data) if data else None
    except orjson.JSONDecodeError:
        doc = None
    if (
        isinstance(doc, dict)
        and doc.get("kind") == "Status"
        and doc.get("status") == "Failure"
        and isinstance(doc.get("message"), str)
    ):
        return str(doc["message"])
    text = "unknown"
    if content_type.split(";")[0].strip().lower() == "text/plain":
        text = data[:1024].decode("utf-8", "replace").strip()
    if status in (403, 415):
        return text
    if status == 406:
        return (
            text
            if text not in ("", "unknown")
            else ("the server was unable to respond with a content type that the client supports")
        )
    if status in _GENERIC:
        return _GENERIC[status]
    if status >= 500:
        return (
            f"an error on the server ({go_quote(text)}) has prevented the request from succeeding"
        )
    return f"the server responded with the status code {status} but did not return more information"


def _decode(status: int, content_type: str, data: bytes) -> Any:
    if not data:
        raise CallError(
            f"failed to call webhook: 0-length response with status code: {status} "
            f"and content type: {content_type}"
        )
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    why = review.json_syntax_error(data)
    raise CallError(f"failed to call webhook: couldn't get version/kind; json parse error: {why}")


class HTTPSTransport:
    """Posts AdmissionReviews with aiohttp (one pool, created on first use)."""

    def __init__(self, service_ip: ServiceIP) -> None:
        self._service_ip = service_ip
        self._session: aiohttp.ClientSession | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}

    def _context(self, ca_bundle: Any) -> ssl.SSLContext:
        key = str(ca_bundle or "")
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = self._contexts[key] = _ssl_context(ca_bundle)
        return ctx

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=_ServiceResolver(self._service_ip), use_dns_cache=False
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                headers={"User-Agent": _USER_AGENT},
            )
        return self._session

    async def post(self, client_config: Mapping[str, Any], body: bytes, *, timeout: int) -> Any:
        url = webhook_url(client_config, timeout)
        ctx = self._context(client_config.get("caBundle"))
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "", parts.port or 443

        def failed(reason: str) -> CallError:
            return CallError(f"failed to call webhook: Post {go_quote(url)}: {reason}")

        session = self._get_session()
        try:
            async with (
                asyncio.timeout(timeout),
                session.post(
                    url,
                    data=body,
                    headers={"Content-Type": "application/json", "Accept": "application/json"},
                    ssl=ctx,
                    allow_redirects=False,
                ) as resp,
            ):
                data = await resp.read()
                status, content_type = resp.status, resp.headers.get("Content-Type", "")
        except TimeoutError:
            raise failed("context deadline exceeded") from None
        except aiohttp.ClientConnectorCertificateError as e:
            raise failed(_tls_reason(e.certificate_error, host)) from None  # type: ignore[arg-type]
        except aiohttp.ClientConnectorError as e:
            raise failed(_connect_reason(e, host, port)) from None
        except aiohttp.ServerDisconnectedError:
            raise failed("EOF") from None
        except (aiohttp.ClientError, OSError) as e:
            raise failed(str(e) or type(e).__name__) from None
        if not 200 <= status <= 206:
            raise CallError(f"failed to call webhook: {_status_error(status, content_type, data)}")
        return _decode(status, content_type, data)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
