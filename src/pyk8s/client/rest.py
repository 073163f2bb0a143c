"""The REST client every component talks to the apiserver through.

``RESTClient(config)`` owns one aiohttp session (keep-alive connection pool, the TLS
context from ``config.Config``) and one token bucket (``qps``/``burst``, default 50/100;
client-go's 5/10 is too low for our controllers). Every request — watches included —
takes a token first.

Contract:
- Objects in and out are plain JSON dicts (orjson). Resource-level helpers are keyed by
  ``pyk8s.api.resources.Resource`` (``paths.resource_for`` builds one for a custom
  resource). A namespaced resource needs a namespace for single-object calls: the
  ``namespace`` argument, else the object's ``metadata.namespace``; list and watch
  without one span all namespaces.
- Failures raise ``errors.ApiError`` subclasses built from the ``Status`` body
  (``errors.is_not_found`` & co.) or ``errors.TransportError`` when no HTTP answer came.
  A 429/5xx answer carrying ``Retry-After`` is retried after that delay (at most
  ``max_retries`` times, each delay capped at 10 s), as client-go does.
- ``watch`` returns a ``watching.Watch`` (its module states the stream's contract); a
  watch refused up front (HTTP 410 and friends) raises like any request. Use it as
  ``async with client.watch(...) as w: async for ev in w`` so the connection is released.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Mapping
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

import aiohttp
import orjson

from pyk8s.api import resources
from pyk8s.client import clock as clock_mod
from pyk8s.client import config as config_mod
from pyk8s.client import errors, paths, ratelimit, watching

__all__ = ["PatchType", "RESTClient"]

Obj = dict[str, Any]

_RETRY_AFTER_CAP = 10.0
_TOKEN_REREAD = 60.0


class PatchType(StrEnum):
    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    JSON = "application/json-patch+json"
    APPLY = "application/apply-patch+yaml"


def _decode(payload: bytes, content_type: str) -> Any:
    if not payload:
        return None
    if "json" in content_type or payload[:1] in (b"{", b"["):
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            pass
    return payload.decode(errors="replace")


class RESTClient:
    def __init__(
        self,
        config: config_mod.Config,
        *,
        qps: float = 50.0,
        burst: int = 100,
        user_agent: str = "pyk8s",
        timeout: float = 60.0,
        max_retries: int = 5,
        max_connections: int = 0,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
    ) -> None:
        self.config = config
        self.user_agent = user_agent
        self.timeout = timeout
        self.max_retries = max_retries
        self.limiter = ratelimit.TokenBucket(qps, burst, clock=clock)
        self._clock = clock
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = config.token
        self._token_read_at: float | None = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
            # closed transports finish (connection_lost) on the next loop turns; give them
            # those turns so a loop that ends right after us leaks no socket
            for _ in range(3):
                await asyncio.sleep(0)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            ctx = self.config.ssl_context()
            connector = aiohttp.TCPConnector(
                ssl=ctx if ctx is not None else True,
                limit=self._max_connections,
                keepalive_timeout=30.0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                json_serialize=lambda o: orjson.dumps(o).decode(),
                headers={"User-Agent": self.user_agent},
            )
        return self._session

    def _headers(self, accept: str, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        token = self._current_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _current_token(self) -> str | None:
        if self.config.token_file is None:
            return self.config.token
        now = self._clock.now()
        if self._token_read_at is None or now - self._token_read_at >= _TOKEN_REREAD:
            self._token = self.config.read_token()
            self._token_read_at = now
        return self._token

    # ------------------------------------------------------------------ raw requests

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: paths.Params | Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str | None = None,
        accept: str = "application/json",
        timeout: float | None = None,
    ) -> Any:
        """Send one request; the decoded JSON answer (text if it is not JSON)."""
        data: bytes | None = None
        if body is not None:
            if isinstance(body, bytes):
                data = body
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = orjson.dumps(body)
            content_type = content_type or "application/json"
        client_timeout = aiohttp.ClientTimeout(total=timeout if timeout else self.timeout)
        attempt = 0
        while True:
            await self.limiter.wait()
            try:
                async with self._get_session().request(
                    method,
                    self.config.server + path,
                    params=list(params.items()) if isinstance(params, Mapping) else params,
                    data=data,
                    headers=self._headers(accept, content_type if data is not None else None),
                    timeout=client_timeout,
                    server_hostname=self.config.tls_server_name,
                ) as resp:
                    payload = await resp.read()
                    status = resp.status
                    ctype = resp.headers.get("Content-Type", "")
                    retry_after = resp.headers.get("Retry-After")
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise errors.TransportError(f"{method} {path}: {exc!r}") from exc
            if status < 300:
                return _decode(payload, ctype)
            delay = _retry_delay(status, retry_after)
            if delay is not None and attempt < self.max_retries:
                attempt += 1
                await self._clock.sleep(delay)
                continue
            raise errors.from_status(status, _decode(payload, ctype))

    def watch_path(
        self, path: str, *, params: paths.Params, read_timeout: float | None = None
    ) -> watching.Watch:
        """A watch on any path (``params`` must include ``watch=1``)."""
        return watching.Watch(
            lambda: self._open_stream(path, params, read_timeout), description=path
        )

    async def _open_stream(
        self, path: str, params: paths.Params, read_timeout: float | None
    ) -> aiohttp.ClientResponse:
        await self.limiter.wait()
        try:
            resp = await self._get_session().get(
                self.config.server + path,
                params=params,
                headers=self._headers("application/json", None),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.timeout, sock_read=read_timeout
                ),
                server_hostname=self.config.tls_server_name,
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise errors.TransportError(f"GET {path} (watch): {exc!r}") from exc
        if resp.status >= 300:
            try:
                payload = await resp.read()
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise errors.TransportError(f"GET {path} (watch): {exc!r}") from exc
            finally:
                resp.release()
            raise errors.from_status(
                resp.status, _decode(payload, resp.headers.get("Content-Type", ""))
            )
        return resp

    # ------------------------------------------------------------------ resources

    @staticmethod
    def _namespace(
        resource: resources.Resource, namespace: str | None, obj: Mapping[str, Any] | None = None
    ) -> str | None:
        if not resource.namespaced:
            return None
        ns = namespace or ((obj or {}).get("metadata") or {}).get("namespace")
        if not ns:
            raise ValueError(f"{resource.plural} are namespaced: a namespace is required")
        return str(ns)

    @staticmethod
    def _name(obj: Mapping[str, Any]) -> str:
        name = (obj.get("metadata") or {}).get("name")
        if not name:
            raise ValueError("the object has no metadata.name")
        return str(name)

    async def get(
        self,
        resource: resources.Resource,
        name: str,
        *,
        namespace: str | None = None,
        resource_version: str | None = None,
    ) -> Obj:
        ns = self._namespace(resource, namespace)
        params = [("resourceVersion", resource_version)] if resource_version is not None else []
        path = paths.resource_path(resource, namespace=ns, name=name)
        result: Obj = await self.request("GET", path, params=params)
        return result

    async def list(
        self,
        resource: resources.Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
    ) -> Obj:
        """One page: the ``<Kind>List`` object (``items``, ``metadata.continue``)."""
        params = paths.selector_params(label_selector, field_selector)
        if limit:
            params.append(("limit", str(limit)))
        if continue_:
            params.append(("continue", continue_))
        if resource_version is not None:
            params.append(("resourceVersion", resource_version))
        if resource_version_match:
            params.append(("resourceVersionMatch", resource_version_match))
        path = paths.resource_path(resource, namespace=namespace)
        result: Obj = await self.request("GET", path, params=params)
        return result

    async def list_all(
        self,
        resource: resources.Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> tuple[builtins.list[Obj], str]:
        """Every item (following ``continue``) and the list's resourceVersion.

        All pages come from one snapshot. If the continue token expires mid-way (410),
        start over with one unpaginated list, as client-go's pager does.
        """
        items: list[Obj] = []
        cont: str | None = None
        limit: int | None = page_size or None
        while True:
            try:
                page = await self.list(
                    resource,
                    namespace=namespace,
                    label_selector=label_selector,
                    field_selector=field_selector,
                    limit=limit,
                    continue_=cont,
                )
            except errors.Gone:
                if cont is None:
                    raise
                items, cont, limit = [], None, None
                continue
            items.extend(page.get("items") or [])
            meta = page.get("metadata") or {}
            cont = meta.get("continue") or None
            if cont is None:
                return items, str(meta.get("resourceVersion") or "")

    def watch(
        self,
        resource: resources.Resource,
        *,
        namespace: str | None = None,
        name: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        allow_bookmarks: bool = True,
        timeout_seconds: int | None = None,
        send_initial_events: bool = False,
    ) -> watching.Watch:
        params = [("watch", "1"), *paths.selector_params(label_selector, field_selector)]
        if name is not None:
            params.append(("fieldSelector", f"metadata.name={name}"))
        if resource_version is not None:
            params.append(("resourceVersion", resource_version))
        if allow_bookmarks:
            params.append(("allowWatchBookmarks", "true"))
        if timeout_seconds is not None:
            params.append(("timeoutSeconds", str(timeout_seconds)))
        if send_initial_events:
            params += [("sendInitialEvents", "true"), ("resourceVersionMatch", "NotOlderThan")]
        # a healthy stream is silent for at most the bookmark interval; far past the
        # server's own timeout something in between has died
        read_timeout = timeout_seconds + 60.0 if timeout_seconds is not None else None
        path = paths.resource_path(resource, namespace=namespace)
        return self.watch_path(path, params=params, read_timeout=read_timeout)

    async def create(
        self,
        resource: resources.Resource,
        obj: Mapping[str, Any],
        *,
        namespace: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
    ) -> Obj:
        ns = self._namespace(resource, namespace, obj)
        result: Obj = await self.request(
            "POST",
            paths.resource_path(resource, namespace=ns),
            params=paths.write_params(dry_run, field_manager),
            body=obj,
        )
        return result

    async def update(
        self,
        resource: resources.Resource,
        obj: Mapping[str, Any],
        *,
        namespace: str | None = None,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
    ) -> Obj:
        """PUT the whole object; its ``metadata.resourceVersion`` makes it conditional."""
        ns = self._namespace(resource, namespace, obj)
        path = paths.resource_path(
            resource, namespace=ns, name=self._name(obj), subresource=subresource
        )
        result: Obj = await self.request(
            "PUT", path, params=paths.write_params(dry_run, field_manager), body=obj
        )
        return result

    async def update_status(
        self,
        resource: resources.Resource,
        obj: Mapping[str, Any],
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
    ) -> Obj:
        return await self.update(
            resource, obj, namespace=namespace, subresource="status", field_manager=field_manager
        )

    async def patch(
        self,
        resource: resources.Resource,
        name: str,
        patch: Obj | builtins.list[Obj] | str,
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> Obj:
        ns = self._namespace(resource, namespace)
        params = paths.write_params(dry_run, field_manager)
        if force is not None:
            params.append(("force", "true" if force else "false"))
        path = paths.resource_path(resource, namespace=ns, name=name, subresource=subresource)
        result: Obj = await self.request(
            "PATCH", path, params=params, body=patch, content_type=str(patch_type)
        )
        return result

    async def delete(
        self,
        resource: resources.Resource,
        name: str,
        *,
        namespace: str | None = None,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions: paths.Preconditions | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """DELETE with DeleteOptions; the answer is the object (if it lingers) or a Status."""
        ns = self._namespace(resource, namespace)
        body = paths.delete_options(
            propagation_policy=propagation_policy,
            grace_period_seconds=grace_period_seconds,
            preconditions=preconditions,
            dry_run=dry_run,
        )
        result: Obj = await self.request(
            "DELETE", paths.resource_path(resource, namespace=ns, name=name), body=body
        )
        return result

    async def delete_collection(
        self,
        resource: resources.Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        propagation_policy: str | None = None,
    ) -> Obj:
        body = paths.delete_options(propagation_policy=propagation_policy)
        result: Obj = await self.request(
            "DELETE",
            paths.resource_path(resource, namespace=namespace),
            params=paths.selector_params(label_selector, field_selector),
            body=body,
        )
        return result

    async def subresource(
        self,
        method: str,
        resource: resources.Resource,
        name: str,
        subresource: str,
        *,
        namespace: str | None = None,
        body: Any = None,
        params: paths.Params | None = None,
        content_type: str | None = None,
    ) -> Any:
        """Any subresource call: GET/PUT ``scale``, POST ``binding``/``eviction``, …"""
        ns = self._namespace(resource, namespace)
        path = paths.resource_path(resource, namespace=ns, name=name, subresource=subresource)
        return await self.request(method, path, params=params, body=body, content_type=content_type)


def _retry_delay(status: int, retry_after: str | None) -> float | None:
    if retry_after is None or not (status == 429 or 500 <= status <= 504):
        return None
    try:
        seconds = float(retry_after)
    except ValueError:
        return None
    return min(max(seconds, 0.0), _RETRY_AFTER_CAP)
