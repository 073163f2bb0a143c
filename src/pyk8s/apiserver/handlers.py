"""HTTP handlers for resource requests: get, list, watch, create, update, patch, delete,
deletecollection, and the subresources that are plain object reads and writes (status,
scale, binding, eviction, finalize). Each handler parses the request, calls the registry,
and encodes the answer; all failures leave as StatusError (→ a Status response)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from typing import Any

import orjson
import yaml
from aiohttp import web

from pyk8s.api import errors, fieldcheck, selectors
from pyk8s.api import protobuf as pb
from pyk8s.api.resources import Resource
from pyk8s.apiserver import (
    admission,
    applying,
    conversion,
    negotiation,
    objectmeta,
    patching,
    responses,
    strategy,
    streaming,
    subresources,
)
from pyk8s.apiserver.negotiation import BodyType, Choice, Output
from pyk8s.apiserver.registry import DeleteOptions, Registry, WriteContext
from pyk8s.apiserver.routing import ResourceRequest
from pyk8s.apiserver.watchcache import Filter, TooOld, event_line

__all__ = ["ResourceHandler"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
MAX_BODY = 3 * 1024 * 1024
BOOKMARK_INTERVAL = 30.0
CLIENT_CHECK_INTERVAL = 5.0


def _bool(v: str | None) -> bool:
    return v is not None and v.lower() in ("1", "true", "yes", "")


def _int(q: Any, name: str) -> int | None:
    v = q.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise errors.bad_request(f'{name}: Invalid value: "{v}": must be an integer')


def _json(
    body: bytes,
    status: int = 200,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> web.Response:
    return web.Response(
        body=body, status=status, content_type=content_type.split(";")[0], headers=headers
    )


async def read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise errors.too_large()
    data = bytearray()
    async for chunk in request.content.iter_chunked(65536):
        data += chunk
        if len(data) > MAX_BODY:
            raise errors.too_large()
    return bytes(data)


def decode_object(body: bytes, bt: BodyType) -> Obj:
    if not body.strip():
        raise errors.bad_request("the request body must not be empty")
    try:
        if bt is BodyType.JSON:
            obj = orjson.loads(body)
        elif bt is BodyType.YAML:
            obj = yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        elif bt is BodyType.PROTOBUF:
            obj = pb.decode(body)
        else:
            raise errors.unsupported_media_type(
                bt.value,
                ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"],
            )
    except errors.StatusError:
        raise
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"json: error decoding request body: {exc}")
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {exc}".replace("\n", " "))
    except ValueError as exc:
        raise errors.bad_request(f"error decoding protobuf body: {exc}")
    if not isinstance(obj, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    return obj


def check_type(
    res: Resource, obj: Obj, *, kind: str | None = None, api_version: str | None = None
) -> None:
    """Fill in apiVersion/kind when absent; refuse a body of another kind (400)."""
    want_kind = kind or res.kind
    want_av = api_version or res.api_version
    av = obj.get("apiVersion")
    k = obj.get("kind")
    if k and k != want_kind:
        raise errors.bad_request(
            f"the object provided is unrecognized (must be of type {want_kind}): "
            f"couldn't get version/kind; kind {k} does not match {want_kind}"
        )
    if av and av != want_av:
        raise errors.bad_request(
            f"the API version in the data ({av}) does not match the expected API version "
            f"({want_av})"
        )
    obj["apiVersion"] = want_av
    obj["kind"] = want_kind


class ResourceHandler:
    def __init__(
        self, registry: Registry, *, kubelet_tls: streaming.KubeletClientTLS | None = None
    ) -> None:
        self.registry = registry
        self.kubelet_tls = kubelet_tls or streaming.KubeletClientTLS()

    # ----------------------------------------------------------------- entry

    async def handle(
        self, request: web.Request, rr: ResourceRequest, user: Any
    ) -> web.StreamResponse:
        method = request.method
        q = request.query
        res = rr.resource
        choice = negotiation.choose_output(request.headers.get("Accept"))
        if choice is None:
            raise errors.StatusError(
                406,
                "NotAcceptable",
                "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf",
            )
        if rr.subresource is not None:
            return await subresources.handle(self, request, rr, choice, user)
        if rr.name is None:
            if method == "GET":
                if _bool(q.get("watch")) if "watch" in q else False:
                    return await self.watch(request, rr, choice)
                return await self.list_collection(request, rr, choice)
            if method == "POST":
                return await self.create(request, rr, choice, user)
            if method == "DELETE":
                return await self.delete_collection(request, rr, choice)
            raise errors.method_not_supported(res.group, res.plural, method.lower())
        if method == "GET":
            if _bool(q.get("watch")) if "watch" in q else False:
                return await self.watch(request, rr, choice, name=rr.name)
            return await self.get(request, rr, choice)
        if method == "PUT":
            return await self.replace(request, rr, choice, user)
        if method == "PATCH":
            return await self.patch(request, rr, choice, user)
        if method == "DELETE":
            return await self.delete(request, rr, choice)
        raise errors.method_not_supported(res.group, res.plural, method.lower())

    def _verb_allowed(self, res: Resource, verb: str) -> None:
        if verb not in res.verbs:
            raise errors.method_not_supported(res.group, res.plural, verb)

    # ----------------------------------------------------------------- reads

    def _filter(self, rr: ResourceRequest, q: Any, name: str | None = None) -> Filter:
        flt = Filter(namespace=rr.namespace if rr.resource.namespaced else None)
        ls = q.get("labelSelector")
        if ls:
            try:
                sel = selectors.parse_label_selector(ls)
            except ValueError as exc:
                raise errors.bad_request(
                    f"unable to parse requirement: {exc}"
                    if "unable to parse" not in str(exc)
                    else str(exc)
                )
            if not sel.empty:
                flt.labels = sel.matches
        fs = q.get("fieldSelector")
        if fs:
            try:
                fsel = selectors.validate_field_selector(
                    rr.resource.key, selectors.parse_field_selector(fs)
                )
            except ValueError as exc:
                raise errors.bad_request(str(exc))
            reqs = list(fsel.requirements)
            simple_name = [
                r
                for r in reqs
                if r.field == "metadata.name" and str(r.operator.value) in ("=", "==")
            ]
            if len(reqs) == 1 and simple_name:
                flt.name = simple_name[0].value
            elif reqs:
                key = rr.resource.key
                flt.fields = fsel.matches
                flt.fields_of = lambda obj: selectors.field_set(key, obj)
        if name is not None:
            flt.name = name
        return flt

    async def get(self, request: web.Request, rr: ResourceRequest, choice: Choice) -> web.Response:
        res = rr.resource
        self._verb_allowed(res, "get")
        assert rr.name is not None
        entry = await self.registry.get(
            conversion.storage_resource(res),
            rr.namespace,
            rr.name,
            rv=request.query.get("resourceVersion", ""),
        )
        if choice.output is Output.JSON and not conversion.converts(res):
            return _json(entry.raw)
        obj = conversion.from_storage(res, entry.decode())
        body, ct = responses.encode_object(
            res, obj, choice, include=request.query.get("includeObject", "Metadata")
        )
        return _json(body, content_type=ct)

    async def list_collection(
        self, request: web.Request, rr: ResourceRequest, choice: Choice
    ) -> web.Response:
        res = rr.resource
        self._verb_allowed(res, "list")
        q = request.query
        flt = self._filter(rr, q)
        page = await self.registry.list(
            conversion.storage_resource(res),
            flt,
            rv=q.get("resourceVersion", ""),
            rv_match=q.get("resourceVersionMatch"),
            limit=_int(q, "limit") or 0,
            continue_=q.get("continue") or None,
        )
        entries = page.entries
        if conversion.converts(res):
            entries = [
                dataclasses.replace(e, raw=orjson.dumps(conversion.from_storage(res, e.decode())))
                for e in entries
            ]
        body, ct = responses.encode_list(
            res,
            entries,
            revision=page.revision,
            cont=page.continue_,
            remaining=page.remaining,
            choice=choice,
            include=q.get("includeObject", "Metadata"),
        )
        return _json(body, content_type=ct)

    async def watch(
        self, request: web.Request, rr: ResourceRequest, choice: Choice, name: str | None = None
    ) -> web.StreamResponse:
        res = rr.resource
        self._verb_allowed(res, "watch")
        q = request.query
        flt = self._filter(rr, q, name)
        rv = q.get("resourceVersion", "")
        send_initial = q.get("sendInitialEvents")
        bookmarks = _bool(q.get("allowWatchBookmarks")) if "allowWatchBookmarks" in q else False
        timeout = _int(q, "timeoutSeconds")
        if timeout is None:
            timeout = int(1800 * (1 + random.random()))
        cache = self.registry.cache_for(conversion.storage_resource(res))
        initial = False
        after: int | None = None
        if send_initial is not None and _bool(send_initial):
            if q.get("resourceVersionMatch") != "NotOlderThan":
                raise errors.invalid(
                    "meta.k8s.io",
                    "ListOptions",
                    "",
                    [
                        {
                            "reason": "FieldValueForbidden",
                            "message": "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                            "field": "resourceVersionMatch",
                        }
                    ],
                )
            if rv in ("", None):
                await self.registry.caches.consistent()
            initial = True
        elif rv in ("", "0"):
            if rv == "":
                await self.registry.caches.consistent()
            initial = True
        else:
            try:
                after = int(rv)
            except ValueError:
                raise errors.bad_request(f'resourceVersion: Invalid value: "{rv}"')
            if not await self.registry.caches.wait_for(after):
                raise errors.too_large_rv(after)
        try:
            watcher = cache.watch(flt, after=after, initial=initial)
        except TooOld as exc:
            raise errors.gone(str(exc))
        include = q.get("includeObject", "Metadata")
        resp = web.StreamResponse(
            status=200,
            headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"},
        )
        resp.enable_chunked_encoding()
        try:
            await resp.prepare(request)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            if initial and send_initial is not None and _bool(send_initial):
                batch = list(watcher.queue)
                watcher.queue.clear()
                await self._write_batch(resp, res, batch, choice, include)
                await resp.write(
                    self._bookmark(res, self.registry.caches.revision, choice, initial_end=True)
                )
            next_bookmark = loop.time() + BOOKMARK_INTERVAL
            while True:
                now = loop.time()
                if now >= deadline:
                    break
                wait = min(deadline, next_bookmark if bookmarks else deadline) - now
                # wake at least every few seconds to notice a client that went away
                batch2 = await watcher.next_batch(min(wait, CLIENT_CHECK_INTERVAL))
                transport = request.transport
                if transport is None or transport.is_closing():
                    break
                if batch2 is None:
                    break
                if batch2:
                    await self._write_batch(resp, res, batch2, choice, include)
                if bookmarks and loop.time() >= next_bookmark:
                    await resp.write(self._bookmark(res, self.registry.caches.revision, choice))
                    next_bookmark = loop.time() + BOOKMARK_INTERVAL
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            watcher.close()
        try:
            await resp.write_eof()
        except (ConnectionResetError, RuntimeError):
            pass
        return resp

    async def _write_batch(
        self,
        resp: web.StreamResponse,
        res: Resource,
        batch: list[tuple[str, bytes, int]],
        choice: Choice,
        include: str,
    ) -> None:
        if not batch:
            return
        if conversion.converts(res):
            batch = [(t, _convert_line(res, line), rev) for t, line, rev in batch]
        if choice.output is Output.JSON:
            await resp.write(b"".join(line for _, line, _ in batch))
        else:
            await resp.write(
                b"".join(
                    responses.watch_line(res, t, line, choice, include) for t, line, _ in batch
                )
            )

    def _bookmark(
        self, res: Resource, revision: int, choice: Choice, *, initial_end: bool = False
    ) -> bytes:
        meta: Obj = {"resourceVersion": str(revision)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}
        return event_line("BOOKMARK", orjson.dumps(obj))

    # ----------------------------------------------------------------- writes

    def _ctx(
        self, request: web.Request, user: Any, default_manager: str | None = None
    ) -> WriteContext:
        q = request.query
        dry = q.getall("dryRun", [])
        for d in dry:
            if d != "All":
                raise errors.bad_request(
                    f'dryRun: Unsupported value: "{d}": supported values: "All"'
                )
        manager = (
            q.get("fieldManager")
            or default_manager
            or objectmeta.manager_from_user_agent(request.headers.get("User-Agent"))
        )
        return WriteContext(manager=manager, dry_run=bool(dry), user=_user_info(user))

    def _field_validation(self, request: web.Request, res: Resource, obj: Obj) -> list[str]:
        """Unknown fields per fieldValidation: Strict → 400, Warn → warnings, Ignore."""
        mode = request.query.get("fieldValidation", "Warn")
        if mode not in ("Strict", "Warn", "Ignore", ""):
            raise errors.bad_request(f"fieldValidation parameter unsupported: {mode}")
        if mode == "Ignore":
            return []
        unknown = strategy.for_resource(res).unknown_fields(obj)
        if unknown is None:
            unknown = fieldcheck.unknown_fields((res.group, res.version, res.kind), obj)
        if not unknown:
            return []
        if mode == "Strict":
            raise errors.bad_request(fieldcheck.decode_error(res.kind, res.version, unknown))
        return fieldcheck.warnings(unknown)

    async def create(
        self, request: web.Request, rr: ResourceRequest, choice: Choice, user: Any
    ) -> web.Response:
        res = rr.resource
        self._verb_allowed(res, "create")
        bt = negotiation.body_type(request.headers.get("Content-Type"))
        if bt not in (BodyType.JSON, BodyType.YAML, BodyType.PROTOBUF):
            raise errors.unsupported_media_type(
                request.headers.get("Content-Type", ""),
                ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"],
            )
        obj = decode_object(await read_body(request), bt)
        if res.verbs == ("create",):
            return await subresources.virtual_create(self, request, rr, obj, user)
        check_type(res, obj)
        warnings = self._field_validation(request, res, obj)
        ctx = self._ctx(request, user)
        created = await self.registry.create(
            conversion.storage_resource(res), rr.namespace, conversion.to_storage(res, obj), ctx
        )
        body, ct = responses.encode_object(res, conversion.from_storage(res, created), choice)
        return _json(body, 201, ct, _warning_headers(warnings + ctx.warnings))

    async def replace(
        self,
        request: web.Request,
        rr: ResourceRequest,
        choice: Choice,
        user: Any,
        subresource: str | None = None,
    ) -> web.Response:
        res = rr.resource
        self._verb_allowed(res, "update")
        bt = negotiation.body_type(request.headers.get("Content-Type"))
        if bt not in (BodyType.JSON, BodyType.YAML, BodyType.PROTOBUF):
            raise errors.unsupported_media_type(
                request.headers.get("Content-Type", ""),
                ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"],
            )
        obj = decode_object(await read_body(request), bt)
        check_type(res, obj)
        warnings = self._field_validation(request, res, obj)
        ctx = self._ctx(request, user)
        assert rr.name is not None

        async def mutate(_old: Obj) -> Obj:
            return conversion.to_storage(res, obj)

        updated = await self.registry.update(
            conversion.storage_resource(res),
            rr.namespace,
            rr.name,
            mutate,
            ctx,
            subresource=subresource,
        )
        body, ct = responses.encode_object(res, conversion.from_storage(res, updated), choice)
        return _json(body, 200, ct, _warning_headers(warnings + ctx.warnings))

    async def patch(
        self,
        request: web.Request,
        rr: ResourceRequest,
        choice: Choice,
        user: Any,
        subresource: str | None = None,
    ) -> web.Response:
        res = rr.resource
        self._verb_allowed(res, "patch")
        ct_header = request.headers.get("Content-Type", "")
        bt = negotiation.body_type(ct_header)
        if bt not in (
            BodyType.JSON_PATCH,
            BodyType.MERGE_PATCH,
            BodyType.STRATEGIC_PATCH,
            BodyType.APPLY_YAML,
        ):
            raise errors.unsupported_media_type(ct_header, negotiation.accepted_patch_types())
        raw = await read_body(request)
        if bt is BodyType.APPLY_YAML:
            return await applying.apply(self, request, rr, choice, user, raw, subresource)
        if "force" in request.query:
            raise errors.bad_request("force is only allowed for apply requests")
        if bt is BodyType.STRATEGIC_PATCH and not strategy.for_resource(res).strategic_merge:
            raise errors.unsupported_media_type(
                ct_header,
                [BodyType.JSON_PATCH.value, BodyType.MERGE_PATCH.value, BodyType.APPLY_YAML.value],
            )
        patch_doc = patching.decode_patch(raw, bt)
        ctx = self._ctx(request, user)
        assert rr.name is not None
        warnings: list[str] = []

        async def mutate(old: Obj) -> Obj:
            new = patching.apply(res, conversion.from_storage(res, old), patch_doc, bt)
            warnings[:] = self._field_validation(request, res, new)
            return conversion.to_storage(res, new)

        updated = await self.registry.update(
            conversion.storage_resource(res),
            rr.namespace,
            rr.name,
            mutate,
            ctx,
            subresource=subresource,
        )
        body, ct = responses.encode_object(res, conversion.from_storage(res, updated), choice)
        return _json(body, 200, ct, _warning_headers(warnings + ctx.warnings))

    async def _delete_options(self, request: web.Request) -> DeleteOptions:
        q = request.query
        opts: Obj = {}
        raw = await read_body(request)
        if raw.strip():
            opts = decode_object(
                raw, negotiation.body_type(request.headers.get("Content-Type")) or BodyType.JSON
            )
        grace = opts.get("gracePeriodSeconds")
        if grace is None:
            grace = _int(q, "gracePeriodSeconds")
        propagation = opts.get("propagationPolicy") or q.get("propagationPolicy")
        if propagation is None:
            orphan = opts.get("orphanDependents")
            if orphan is None and "orphanDependents" in q:
                orphan = _bool(q.get("orphanDependents"))
            if orphan is not None:
                propagation = "Orphan" if orphan else "Background"
        if propagation not in (None, "Orphan", "Background", "Foreground"):
            raise errors.invalid(
                "",
                "DeleteOptions",
                "",
                [
                    {
                        "reason": "FieldValueNotSupported",
                        "message": f'propagationPolicy: Unsupported value: "{propagation}": supported values: "Foreground", "Background", "Orphan", "nil"',
                        "field": "propagationPolicy",
                    }
                ],
            )
        pre = opts.get("preconditions") or {}
        dry = opts.get("dryRun") or q.getall("dryRun", [])
        return DeleteOptions(
            grace_period=grace,
            propagation=propagation,
            precondition_uid=pre.get("uid"),
            precondition_rv=pre.get("resourceVersion"),
            dry_run=bool(dry),
            user=_user_info(request.get("user")),
        )

    async def delete(
        self, request: web.Request, rr: ResourceRequest, choice: Choice
    ) -> web.Response:
        res = rr.resource
        self._verb_allowed(res, "delete")
        opts = await self._delete_options(request)
        assert rr.name is not None
        obj, deleted_now = await self.registry.delete(
            conversion.storage_resource(res), rr.namespace, rr.name, opts
        )
        if res.key == ("", "pods") or not deleted_now:
            body, ct = responses.encode_object(res, conversion.from_storage(res, obj), choice)
            return _json(body, 200, ct)
        meta = obj.get("metadata") or {}
        status: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": rr.name, "kind": res.plural, "uid": meta.get("uid")},
        }
        if res.group:
            status["details"] = {
                "name": rr.name,
                "group": res.group,
                "kind": res.plural,
                "uid": meta.get("uid"),
            }
        return _json(orjson.dumps(status))

    async def delete_collection(
        self, request: web.Request, rr: ResourceRequest, choice: Choice
    ) -> web.Response:
        res = rr.resource
        self._verb_allowed(res, "deletecollection")
        opts = await self._delete_options(request)
        flt = self._filter(rr, request.query)
        store_res = conversion.storage_resource(res)
        page = await self.registry.list(store_res, flt, rv="")
        deleted = []
        for e in page.entries:
            try:
                obj, _ = await self.registry.delete(store_res, e.namespace or None, e.name, opts)
                deleted.append(conversion.from_storage(res, obj))
            except errors.StatusError as exc:
                if exc.code != 404:
                    raise
        body = orjson.dumps(
            {
                "kind": res.list_kind,
                "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(self.registry.caches.revision)},
                "items": deleted,
            }
        )
        return _json(body)


def _user_info(user: Any) -> admission.UserInfo:
    return admission.UserInfo(
        getattr(user, "name", ""), getattr(user, "uid", ""), tuple(getattr(user, "groups", ()))
    )


def _convert_line(res: Resource, line: bytes) -> bytes:
    ev = orjson.loads(line)
    ev["object"] = conversion.from_storage(res, ev["object"])
    return orjson.dumps(ev) + b"\n"


def _warning_headers(warnings: list[str]) -> dict[str, str] | None:
    if not warnings:
        return None
    return {
        "Warning": ", ".join(f'299 - "{w.replace(chr(34), chr(92) + chr(34))}"' for w in warnings)
    }
