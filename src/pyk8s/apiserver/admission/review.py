"""AdmissionReview requests and responses (admission.k8s.io/v1 and v1beta1), and the
errors a webhook's answer turns into (pure; upstream's webhook/request and
webhook/errors packages).

Contract (upstream 1.33 is the specification):

- ``review_version`` picks the first of the webhook's ``admissionReviewVersions`` this
  server speaks (``v1``, ``v1beta1``); ``build_review`` writes the request exactly as
  upstream's ``CreateV1AdmissionReview`` serialises it: ``kind``/``resource`` name what
  the webhook matched (an equivalent resource under ``matchPolicy: Equivalent``),
  ``requestKind``/``requestResource`` what the client asked for; ``object`` and
  ``oldObject`` are ``null`` when absent (``object`` on DELETE), as are ``options``.
- ``read_response`` checks a decoded response body as ``VerifyAdmissionResponse`` does
  (v1: ``apiVersion``/``kind`` must be admission.k8s.io/v1 AdmissionReview and
  ``response.uid`` must echo the request's; a validating webhook may not return a patch;
  a mutating webhook returns ``patch`` and ``patchType`` together) and raises
  ``InvalidResponse`` with upstream's wording. Field types that would not decode in Go
  (``allowed: "yes"``, a patch that is not base64) raise ``UndecodableResponse``.
- ``decode_patch`` parses the patch (a JSON array of operation objects) or raises
  ``UndecodableResponse``; ``apply_patch`` applies it (``api.patch.apply_json_patch``) and
  turns a failure into a 500, as upstream does.
- ``denied`` is ``ToStatusErr``: the webhook's ``status`` with the message prefixed by
  ``admission webhook "<name>" denied the request``, the code raised to at least 400;
  ``dry_run_unsupported`` and ``calling_failed`` are the other two upstream errors.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from pyk8s.api import errors
from pyk8s.api.patch.errors import PatchError
from pyk8s.api.patch.json_patch import apply_json_patch
from pyk8s.api.validation.field import go_quote
from pyk8s.apiserver.admission import Attributes
from pyk8s.apiserver.admission.matching import Invocation, effective_namespace, kind_for

__all__ = [
    "REVIEW_VERSIONS",
    "InvalidResponse",
    "Response",
    "UndecodableResponse",
    "apply_patch",
    "build_review",
    "calling_failed",
    "decode_patch",
    "denied",
    "dry_run_unsupported",
    "json_syntax_error",
    "read_response",
    "review_version",
]

Obj = dict[str, Any]

GROUP: Final = "admission.k8s.io"
REVIEW_VERSIONS: Final = ("v1", "v1beta1")
_BASE64: Final = re.compile(r"[A-Za-z0-9+/]*")


class InvalidResponse(Exception):
    """A response that decodes but breaks the protocol (``received invalid webhook
    response: …``)."""


class UndecodableResponse(Exception):
    """A response body Go would fail to decode (``failed to call webhook: …``)."""


@dataclass(frozen=True, slots=True)
class Response:
    allowed: bool
    result: Obj | None = None  # the response's ``status`` (a metav1.Status)
    patch: bytes = b""
    patch_type: str = ""
    warnings: tuple[str, ...] = field(default=())


def review_version(versions: Sequence[Any] | None) -> str | None:
    for v in versions or ():
        if v in REVIEW_VERSIONS:
            return str(v)
    return None


def _gvk(group: str, version: str, kind: str) -> Obj:
    return {"group": group, "version": version, "kind": kind}


def _gvr(group: str, version: str, resource: str) -> Obj:
    return {"group": group, "version": version, "resource": resource}


def build_review(
    *,
    version: str,
    uid: str,
    attrs: Attributes,
    invocation: Invocation,
    obj: Obj | None,
    old: Obj | None,
) -> Obj:
    """The AdmissionReview request body for one webhook call."""
    res, req = invocation.resource, attrs.resource
    req_kind = kind_for(req, attrs.subresource)
    request: Obj = {
        "uid": uid,
        "kind": _gvk(*invocation.kind),
        "resource": _gvr(res.group, res.version, res.plural),
    }
    if invocation.subresource:
        request["subResource"] = invocation.subresource
    request["requestKind"] = _gvk(*req_kind)
    request["requestResource"] = _gvr(req.group, req.version, req.plural)
    if attrs.subresource:
        request["requestSubResource"] = attrs.subresource
    if attrs.name:
        request["name"] = attrs.name
    namespace = effective_namespace(attrs)
    if namespace:
        request["namespace"] = namespace
    request["operation"] = attrs.operation
    user: Obj = {}
    if attrs.user.username:
        user["username"] = attrs.user.username
    if attrs.user.uid:
        user["uid"] = attrs.user.uid
    if attrs.user.groups:
        user["groups"] = list(attrs.user.groups)
    request["userInfo"] = user
    request["object"] = obj
    request["oldObject"] = old
    request["dryRun"] = attrs.dry_run
    request["options"] = attrs.options or None
    return {"kind": "AdmissionReview", "apiVersion": f"{GROUP}/{version}", "request": request}


def _go_kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_error(value: Any, field_path: str, go_type: str) -> UndecodableResponse:
    return UndecodableResponse(
        f"json: cannot unmarshal {_go_kind_of(value)} into Go struct field "
        f"{field_path} of type {go_type}"
    )


def _base64_bytes(value: str) -> bytes:
    """Go's ``base64.StdEncoding`` (padding required), as encoding/json decodes []byte."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        m = _BASE64.match(value)
        at = m.end() if m and m.end() < len(value) else len(value) - len(value) % 4
        raise UndecodableResponse(f"illegal base64 data at input byte {at}") from None


def _gvk_string(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


def read_response(body: Any, *, uid: str, version: str, mutating: bool) -> Response:
    """``VerifyAdmissionResponse`` for a decoded JSON body."""
    if not isinstance(body, dict):
        raise UndecodableResponse(
            f"couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{_go_kind_of(body)} into Go value of type struct {{ APIVersion string "
            '"json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
        )
    raw = body.get("response")
    if raw is not None and not isinstance(raw, dict):
        raise _type_error(raw, "AdmissionReview.response", f"{version}.AdmissionResponse")
    resp: Obj = raw or {}
    where = "AdmissionReview.response."
    allowed = resp.get("allowed", False)
    if allowed is not None and not isinstance(allowed, bool):
        raise _type_error(allowed, where + "allowed", "bool")
    for key in ("uid", "patchType"):
        if resp.get(key) is not None and not isinstance(resp[key], str):
            raise _type_error(resp[key], where + key, "string")
    result = resp.get("status")
    if result is not None and not isinstance(result, dict):
        raise _type_error(result, where + "status", "v1.Status")
    warnings = resp.get("warnings")
    if warnings is not None and not (
        isinstance(warnings, list) and all(isinstance(w, str) for w in warnings)
    ):
        raise _type_error(warnings, where + "warnings", "[]string")
    patch_raw = resp.get("patch")
    if patch_raw is not None and not isinstance(patch_raw, str):
        raise _type_error(patch_raw, where + "patch", "[]uint8")
    patch = _base64_bytes(patch_raw) if patch_raw else b""

    if raw is None:
        raise InvalidResponse("webhook response was absent")
    patch_type_raw = resp.get("patchType")
    patch_type = ""
    if version == "v1":
        got_uid = resp.get("uid") or ""
        if got_uid != uid:
            raise InvalidResponse(f"expected response.uid={go_quote(uid)}, got {go_quote(got_uid)}")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        api_version = api_version if isinstance(api_version, str) else ""
        kind = kind if isinstance(kind, str) else ""
        if (api_version, kind) != (f"{GROUP}/v1", "AdmissionReview"):
            raise InvalidResponse(
                f"expected webhook response of {GROUP}/v1, Kind=AdmissionReview, "
                f"got {_gvk_string(api_version, kind)}"
            )
        if mutating:
            if patch and patch_type_raw is None:
                raise InvalidResponse("webhook returned response.patch but not response.patchType")
            if not patch and patch_type_raw is not None:
                raise InvalidResponse("webhook returned response.patchType but not response.patch")
            if patch_type_raw is not None:
                patch_type = patch_type_raw
                if not patch_type:
                    raise InvalidResponse('webhook returned invalid response.patchType of ""')
        else:
            if patch:
                raise InvalidResponse("validating webhook may not return response.patch")
            if patch_type_raw is not None:
                raise InvalidResponse("validating webhook may not return response.patchType")
    elif mutating and patch:
        patch_type = "JSONPatch"  # v1beta1 knew no other kind
    return Response(
        allowed=bool(allowed),
        result=result,
        patch=patch if mutating else b"",
        patch_type=patch_type,
        warnings=tuple(warnings or ()),
    )


def json_syntax_error(data: bytes) -> str:
    """The ``encoding/json`` syntax error for ``data`` (which does not parse)."""
    text = data.decode("utf-8", "replace")
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        pos = e.pos
    else:  # orjson is stricter than json (e.g. NaN): name the first character
        pos = 0
    if pos >= len(text.rstrip()):
        return "unexpected end of JSON input"
    ch = text[pos]
    quoted = "'\\''" if ch == "'" else "'\"'" if ch == '"' else "'" + go_quote(ch)[1:-1] + "'"
    return f"invalid character {quoted} looking for beginning of value"


def decode_patch(data: bytes) -> list[Obj]:
    """``jsonpatch.DecodePatch``: a JSON array of operation objects."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UndecodableResponse(json_syntax_error(data)) from None
    if not isinstance(doc, list):
        raise UndecodableResponse(
            f"json: cannot unmarshal {_go_kind_of(doc)} into Go value of type jsonpatch.Patch"
        )
    for op in doc:
        if not isinstance(op, dict):
            raise UndecodableResponse(
                f"json: cannot unmarshal {_go_kind_of(op)} into Go value of type "
                "jsonpatch.Operation"
            )
    return doc


def apply_patch(obj: Obj, patch: list[Obj]) -> Obj:
    """The patched copy of ``obj``; a patch that does not apply is a 500, as upstream."""
    try:
        out = apply_json_patch(obj, patch)
    except PatchError as e:
        raise errors.internal_error(str(e)) from None
    if not isinstance(out, dict):
        raise errors.internal_error(
            f"json: cannot unmarshal {_go_kind_of(out)} into Go value of type map[string]interface {{}}"
        )
    return out


def denied(webhook: str, result: Obj | None) -> errors.StatusError:
    """``ToStatusErr``: the rejection a webhook's ``allowed: false`` answer becomes."""
    result = result or {}
    by = f"admission webhook {go_quote(webhook)} denied the request"
    code = result.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else 0
    message, reason = result.get("message"), result.get("reason")
    message = message if isinstance(message, str) else ""
    reason = reason if isinstance(reason, str) else ""
    if message:
        text = f"{by}: {message}"
    elif reason:
        text = f"{by}: {reason}"
    else:
        text = f"{by} without explanation"
    details = result.get("details")
    return errors.StatusError(
        max(code, 400), reason, text, details if isinstance(details, dict) else None
    )


def dry_run_unsupported(webhook: str) -> errors.StatusError:
    return errors.bad_request(f"admission webhook {go_quote(webhook)} does not support dry run")


def calling_failed(webhook: str, reason: str) -> errors.StatusError:
    """A failed call under ``failurePolicy: Fail`` (``ErrCallingWebhook`` → InternalError)."""
    return errors.internal_error(f"failed calling webhook {go_quote(webhook)}: {reason}")
