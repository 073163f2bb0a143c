"""Server-side apply (``PATCH`` with ``application/apply-patch+yaml``): the HTTP glue around
``api.fieldmanager.apply``. The object is created when missing (201) and updated
otherwise (200); conflicts answer 409 with the conflicting fields and managers."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import yaml
from aiohttp import web

from pyk8s.api import errors, fieldmanager, schemas
from pyk8s.apiserver import conversion, objectmeta, responses
from pyk8s.apiserver.negotiation import Choice

if TYPE_CHECKING:
    from pyk8s.apiserver.handlers import ResourceHandler
    from pyk8s.apiserver.routing import ResourceRequest

__all__ = ["apply"]

Obj = dict[str, Any]


def _config(raw: bytes) -> Obj:
    try:
        cfg = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error decoding YAML: {exc}".replace("\n", " "))
    if not isinstance(cfg, dict):
        raise errors.bad_request("the apply configuration must be an object")
    return cfg


def _status_error(exc: fieldmanager.Conflicts | fieldmanager.ApplyError) -> errors.StatusError:
    if isinstance(exc, fieldmanager.Conflicts):
        st = fieldmanager.conflict_status(exc)
        return errors.StatusError(409, "Conflict", st["message"], st.get("details"))
    if exc.code >= 500:
        return errors.internal_error(exc.message)
    return errors.StatusError(exc.code, exc.reason or "BadRequest", exc.message)


async def apply(
    h: ResourceHandler,
    request: web.Request,
    rr: ResourceRequest,
    choice: Choice,
    user: Any,
    raw: bytes,
    subresource: str | None,
) -> web.Response:
    from pyk8s.apiserver.handlers import _json, _warning_headers

    res = rr.resource
    q = request.query
    manager = q.get("fieldManager")
    if not manager:
        raise errors.bad_request(
            "PATCH requests with application/apply-patch+yaml must specify a fieldManager"
        )
    force = q.get("force", "false").lower() in ("1", "true")
    config = _config(raw)
    warnings = h._field_validation(request, res, config)
    ctx = dataclasses.replace(h._ctx(request, user), apply=True)
    store_res = conversion.storage_resource(res)
    schema = schemas.node_for_gvk(res.group, res.version, res.kind)
    assert rr.name is not None

    def run(live: Obj | None) -> Obj:
        try:
            return fieldmanager.apply(
                live,
                config,
                manager=manager,
                api_version=res.api_version,
                time=objectmeta.now_rfc3339(),
                force=force,
                subresource=subresource,
                schema=schema,
                kind=res.kind,
                name=rr.name,
            )
        except (fieldmanager.Conflicts, fieldmanager.ApplyError) as exc:
            raise _status_error(exc)

    async def mutate(old: Obj) -> Obj:
        return conversion.to_storage(res, run(conversion.from_storage(res, old)))

    try:
        updated = await h.registry.update(
            store_res, rr.namespace, rr.name, mutate, ctx, subresource=subresource
        )
        status = 200
    except errors.StatusError as exc:
        if exc.code != 404 or subresource is not None:
            raise
        created = run(None)
        updated = await h.registry.create(
            store_res, rr.namespace, conversion.to_storage(res, created), ctx
        )
        status = 201
    body, ct = responses.encode_object(res, conversion.from_storage(res, updated), choice)
    return _json(body, status, ct, _warning_headers(warnings + ctx.warnings))
