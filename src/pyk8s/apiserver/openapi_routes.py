"""``/openapi/v3`` (index and per group-version documents, cacheable by hash) and
``/openapi/v2`` (an empty placeholder: kubectl 1.27/1.28 fetch it before ``explain`` and
then read v3)."""

from __future__ import annotations

from aiohttp import web

from pyk8s.api import errors, openapi

__all__ = ["OpenAPIRoutes"]


class OpenAPIRoutes:
    def handle(self, request: web.Request) -> web.Response:
        path = request.path
        if path in ("/openapi/v3", "/openapi/v3/"):
            return web.Response(body=openapi.root(), content_type="application/json")
        if path.startswith("/openapi/v3/"):
            doc = openapi.document(path[len("/openapi/v3/") :])
            if doc is None:
                raise errors.not_found_path()
            headers = {"ETag": doc.etag, "Vary": "Accept"}
            if request.query.get("hash") == doc.hash:
                headers["Cache-Control"] = "public, immutable"
                headers["Expires"] = "Thu, 31 Dec 2099 00:00:00 GMT"
            else:
                headers["Cache-Control"] = "no-cache, private"
            if request.headers.get("If-None-Match") == doc.etag:
                return web.Response(status=304, headers=headers)
            return web.Response(body=doc.body, content_type="application/json", headers=headers)
        if path == "/openapi/v2":
            return web.Response(
                body=openapi.V2_PLACEHOLDER, headers={"Content-Type": openapi.V2_CONTENT_TYPE}
            )
        raise errors.not_found_path()
