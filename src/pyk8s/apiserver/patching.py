"""Applying a PATCH body to the current object: the glue between the HTTP layer and the
pure patch algorithms in ``pyk8s.api.patch`` (errors → upstream's Status codes)."""

from __future__ import annotations

from typing import Any

import orjson

from pyk8s.api import errors, schemas
from pyk8s.api.patch import PatchError, json_patch, merge_patch, strategic_merge
from pyk8s.api.resources import Resource
from pyk8s.apiserver.negotiation import BodyType

__all__ = ["apply", "decode_patch"]

Obj = dict[str, Any]


def decode_patch(raw: bytes, bt: BodyType) -> Any:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"error decoding patch: {exc}")
    if bt is BodyType.JSON_PATCH:
        if not isinstance(doc, list):
            raise errors.bad_request(
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
            )
    elif not isinstance(doc, dict):
        raise errors.bad_request("the patch must be a JSON object")
    return doc


def apply(res: Resource, current: Obj, patch: Any, bt: BodyType) -> Obj:
    try:
        if bt is BodyType.JSON_PATCH:
            out = json_patch.apply_json_patch(current, patch)
        elif bt is BodyType.MERGE_PATCH:
            out = merge_patch.apply_merge_patch(current, patch)
        else:
            node = schemas.node_for_gvk(res.group, res.version, res.kind)
            out = strategic_merge.apply_strategic_merge(current, patch, node)
    except PatchError as exc:
        reason = {400: "BadRequest", 413: "RequestEntityTooLarge"}.get(exc.code, "Invalid")
        raise errors.StatusError(exc.code, reason, exc.message)
    if not isinstance(out, dict):
        raise errors.StatusError(422, "Invalid", "the patched object must be a JSON object")
    return out
