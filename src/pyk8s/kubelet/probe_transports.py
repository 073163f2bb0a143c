"""The four ways the kubelet checks a container: HTTP GET, TCP connect, gRPC health, exec.

Each check returns ``(result, output)`` with upstream's ``pkg/probe`` results
(``success``, ``warning``, ``failure``, ``unknown``) and upstream's output texts, including
Go's wording of network errors (``Get "http://10.0.0.5:80/": dial tcp 10.0.0.5:80:
connect: connection refused``), because users and tests read them in events.

- ``http_get``: the request ``httpGet`` describes (``kube-<purpose>/1.33`` User-Agent
  unless given, ``Accept: */*`` unless given, an empty ``Accept`` removes it, ``Host``
  header honoured), TLS without verification, no keep-alive, no proxy. Redirects are
  followed only to the same host name (at most 10); a redirect elsewhere ends the request
  with the 3xx response, which counts as a ``warning`` (success with a ProbeWarning event).
  200-399 is success; the body is read up to 10 KiB.
- ``tcp_connect``: a connection that opens is success.
- ``grpc_health``: ``grpc.health.v1.Health/Check`` with ``service``; ``SERVING`` is success.
  Messages are hand-encoded (field 1 of each message) so no generated stubs are needed.
- ``exec_check``: the command through the caller's ``exec_fn``; exit 0 is success, a
  timeout is a failure (``command "…" timed out``), an error is ``unknown`` with the error.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import aiohttp
import grpc
import grpc.aio

from pyk8s.kubelet.envvars import join_host_port

__all__ = [
    "KUBE_VERSION",
    "MAX_BODY",
    "ExecFn",
    "ExecOutput",
    "FetchError",
    "canonical_header",
    "exec_check",
    "fetch",
    "go_duration",
    "grpc_health",
    "http_get",
    "probe_url",
    "tcp_connect",
    "user_agent",
]

KUBE_VERSION: Final = "1.33"
MAX_BODY: Final = 10 * 1024
MAX_REDIRECTS: Final = 10
ExecOutput = tuple[int, bytes] | tuple[int, bytes, bytes]
ExecFn = Callable[[list[str], float], Awaitable[ExecOutput]]
Check = tuple[str, str]  # (result, output)

_ERRNO_TEXT: Final = {
    errno.ECONNREFUSED: "connect: connection refused",
    errno.EHOSTUNREACH: "connect: no route to host",
    errno.ENETUNREACH: "connect: network is unreachable",
    errno.ECONNRESET: "read: connection reset by peer",
    errno.ETIMEDOUT: "i/o timeout",
}
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_HEALTH_STATUS: Final = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def user_agent(purpose: str) -> str:
    """``kube-probe/1.33``, ``kube-lifecycle/1.33``."""
    return f"kube-{purpose}/{KUBE_VERSION}"


def go_duration(seconds: float) -> str:
    """A duration as Go's ``time.Duration`` prints whole seconds (``1s``, ``1m30s``)."""
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m}m{s}s" if h else f"{m}m{s}s"


def canonical_header(name: str) -> str:
    """Go's ``CanonicalMIMEHeaderKey`` (``x-custom-header`` → ``X-Custom-Header``)."""
    if not name or any(not (c.isalnum() or c in "-!#$%&'*+.^_`|~") for c in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def probe_url(scheme: str, host: str, port: int, path: str) -> str:
    """``formatURL``: scheme://host:port then the path (which may carry a query)."""
    scheme = (scheme or "http").lower()
    if path and not path.startswith("/"):
        path = "/" + path
    return f"{scheme}://{join_host_port(host, port)}{path}"


def _dial_error(host_port: str, exc: BaseException) -> str:
    os_err = exc
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_err = exc.os_error
    code = getattr(os_err, "errno", None)
    if isinstance(exc, asyncio.TimeoutError | TimeoutError) and code is None:
        return f"dial tcp {host_port}: i/o timeout"
    text = _ERRNO_TEXT.get(code or -1) or f"connect: {getattr(os_err, 'strerror', None) or os_err}"
    return f"dial tcp {host_port}: {text}"


# --- HTTP --------------------------------------------------------------------------------


def _request_headers(
    headers: Sequence[dict[str, Any]], purpose: str
) -> tuple[dict[str, str], set[str]]:
    out: dict[str, str] = {}
    for h in headers:
        name = canonical_header(str(h.get("name", "")))
        out[name] = (
            str(h.get("value", ""))
            if name not in out
            else out[name] + ", " + str(h.get("value", ""))
        )
    skip: set[str] = set()
    if "User-Agent" not in out:
        out["User-Agent"] = user_agent(purpose)
    if "Accept" not in out:
        out["Accept"] = "*/*"
    elif out["Accept"] == "":
        del out["Accept"]
        skip.add("Accept")
    return out, skip


class FetchError(Exception):
    """An HTTP request that got no response; ``str()`` is Go's ``url.Error`` text."""


async def fetch(
    url: str,
    *,
    headers: Sequence[dict[str, Any]] = (),
    timeout: float | None,
    purpose: str = "probe",
    any_host_redirects: bool = False,
    drop_headers: Sequence[str] = (),
) -> tuple[int, str]:
    """GET ``url`` the way the kubelet's clients do; (status, first 10 KiB of the body).

    Redirects are followed (at most 10) only to the same host name unless
    ``any_host_redirects``; a redirect elsewhere ends with the 3xx response.
    """
    request_headers, skip = _request_headers(headers, purpose)
    for name in drop_headers:
        request_headers.pop(canonical_header(name), None)
    connector = aiohttp.TCPConnector(ssl=False, force_close=True)
    current = url
    try:
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=timeout), trust_env=False
        ) as session:
            for hop in range(MAX_REDIRECTS + 1):
                try:
                    async with session.get(
                        current,
                        headers=request_headers,
                        allow_redirects=False,
                        skip_auto_headers=skip,
                    ) as resp:
                        location = resp.headers.get("Location")
                        if resp.status in _REDIRECTS and location:
                            target = urljoin(current, location)
                            if (
                                any_host_redirects
                                or urlsplit(target).hostname == urlsplit(url).hostname
                            ):
                                if hop == MAX_REDIRECTS:
                                    raise FetchError(f'Get "{target}": stopped after 10 redirects')
                                current = target
                                continue
                        return resp.status, await _read_body(resp)
                except TimeoutError:
                    raise FetchError(
                        f'Get "{current}": context deadline exceeded '
                        "(Client.Timeout exceeded while awaiting headers)"
                    ) from None
                except aiohttp.ClientConnectorError as e:
                    if isinstance(e.os_error, ssl.SSLError):
                        raise FetchError(f'Get "{current}": {_tls_error(e.os_error)}') from None
                    parts = urlsplit(current)
                    host_port = join_host_port(
                        parts.hostname or "", parts.port or _default_port(parts.scheme)
                    )
                    raise FetchError(f'Get "{current}": {_dial_error(host_port, e)}') from None
                except aiohttp.ServerDisconnectedError:
                    raise FetchError(f'Get "{current}": EOF') from None
                except aiohttp.ClientError as e:
                    raise FetchError(f'Get "{current}": {e}') from None
    finally:
        await connector.close()
    raise FetchError(f'Get "{current}": stopped after 10 redirects')


async def http_get(
    url: str,
    *,
    headers: Sequence[dict[str, Any]] = (),
    timeout: float,
    purpose: str = "probe",
) -> Check:
    """One HTTP GET probe (``DoHTTPProbe``)."""
    try:
        status, body = await fetch(url, headers=headers, timeout=timeout, purpose=purpose)
    except FetchError as e:
        return "failure", str(e)
    return _classify(status, body)


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _tls_error(e: ssl.SSLError) -> str:
    if "WRONG_VERSION_NUMBER" in str(e) or "record layer failure" in str(e):
        return "http: server gave HTTP response to HTTPS client"
    return f"remote error: tls: {e.reason or e}"


async def _read_body(resp: aiohttp.ClientResponse) -> str:
    try:
        data = await resp.content.read(MAX_BODY)
    except (TimeoutError, aiohttp.ClientError):
        data = b""
    return data.decode("utf-8", errors="replace")


def _classify(status: int, body: str) -> Check:
    if 200 <= status < 400:
        if status >= 300:
            return "warning", f"Probe terminated redirects, Response body: {body}"
        return "success", body
    return "failure", f"HTTP probe failed with statuscode: {status}"


# --- TCP ---------------------------------------------------------------------------------


async def tcp_connect(host: str, port: int, *, timeout: float) -> Check:
    """``DoTCPProbe``: open and close a connection."""
    host_port = join_host_port(host, port)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (TimeoutError, OSError) as e:
        return "failure", _dial_error(host_port, e)
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return "success", ""


# --- gRPC --------------------------------------------------------------------------------


def _encode_request(service: str) -> bytes:
    raw = service.encode()
    if not raw:
        return b""
    return b"\x0a" + _varint(len(raw)) + raw


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def decode_health_status(data: bytes) -> int:
    """Field 1 (varint) of a ``HealthCheckResponse``; 0 when absent."""
    i, status = 0, 0
    while i < len(data):
        key = data[i]
        i += 1
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, shift = 0, 0
            while True:
                b = data[i]
                i += 1
                value |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            if field == 1:
                status = value
        elif wire == 2:
            length, shift = 0, 0
            while True:
                b = data[i]
                i += 1
                length |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            i += length
        else:
            break
    return status


def _go_code(code: grpc.StatusCode) -> str:
    name = str(code.name)
    if name == "CANCELLED":
        return "Canceled"
    return "".join(part.capitalize() for part in name.split("_")) if name != "OK" else "OK"


async def grpc_health(host: str, port: int, service: str, *, timeout: float) -> Check:
    """``grpc.health.v1.Health/Check`` against host:port (plaintext)."""
    addr = join_host_port(host, port)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    channel = grpc.aio.insecure_channel(
        addr, options=[("grpc.primary_user_agent", user_agent("probe"))]
    )
    try:
        try:
            await asyncio.wait_for(channel.channel_ready(), timeout)
        except TimeoutError:
            return (
                "failure",
                f'timeout: failed to connect service "{addr}" within {go_duration(timeout)}: '
                "context deadline exceeded",
            )
        check: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            "/grpc.health.v1.Health/Check"
        )
        try:
            reply = await check(
                _encode_request(service), timeout=max(0.001, deadline - loop.time())
            )
        except grpc.aio.AioRpcError as e:
            code = e.code()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return (
                    "failure",
                    "error: this server does not implement the grpc health protocol "
                    f"(grpc.health.v1.Health): {e.details()}",
                )
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return (
                    "failure",
                    f"timeout: health rpc did not complete within {go_duration(timeout)}",
                )
            return (
                "failure",
                f"error: health rpc probe failed: rpc error: code = {_go_code(code)} desc = {e.details()}",
            )
        status = decode_health_status(bytes(reply))
        if status != 1:
            return (
                "failure",
                f'service unhealthy (responded with "{_HEALTH_STATUS.get(status, str(status))}")',
            )
        return "success", "service is serving"
    finally:
        await channel.close()


# --- exec --------------------------------------------------------------------------------


async def exec_check(
    exec_fn: ExecFn, command: list[str], *, timeout: float
) -> tuple[str, str, str | None]:
    """Run ``command`` through ``exec_fn``; (result, output, error)."""
    try:
        out = await exec_fn(command, timeout)
    except TimeoutError:
        return "failure", f'command "{" ".join(command)}" timed out', None
    except Exception as e:
        return "unknown", "", str(e) or type(e).__name__
    code = out[0]
    data = b"".join(out[1:])[:MAX_BODY]
    text = data.decode("utf-8", errors="replace")
    return ("success" if code == 0 else "failure"), text, None
