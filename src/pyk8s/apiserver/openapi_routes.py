"""``/openapi/v3`` (index and per group-version documents, cacheable by hash) and
``/openapi/v2`` (an empty placeholder: kubectl 1.27/1.28 fetch it before ``explain`` and
then read v3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import orjson
from aiohttp import web

from pyk8s.api import errors, openapi

__all__ = ["OpenAPIRoutes"]


class OpenAPIRoutes:
    """``extra`` returns the documents of custom resources (path → document)."""

    def __init__(self, extra: Callable[[], Mapping[str, openapi.Document]] = dict) -> None:
        self.extra = extra
        self._root: tuple[int, bytes] | None = None

    def _root_body(self) -> bytes:
        extra = self.extra()
        if not extra:
            return openapi.root()
        key = hash(tuple(sorted((p, d.hash) for p, d in extra.items())))
        if self._root is None or self._root[0] != key:
            index = orjson.loads(openapi.root())
            for p, d in extra.items():
                index["paths"][p] = {"serverRelativeURL": d.server_relative_url}
            self._root = (key, orjson.dumps(index))
        return self._root[1]

    def handle(self, request: web.Request) -> web.Response:
        path = request.path
        if path in ("/openapi/v3", "/openapi/v3/"):
            return web.Response(body=self._root_body(), content_type="application/json")
        if path.startswith("/openapi/v3/"):
            rel = path[len("/openapi/v3/") :].strip("/")
            doc = openapi.document(rel) or self.extra().get(rel)
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
