"""Errors the client raises: API failures carried by ``Status`` bodies, and transport
failures (the server could not be reached or the connection broke).

``ApiError`` mirrors upstream's ``StatusError`` (k8s.io/apimachinery/pkg/api/errors):
``code``, ``reason``, ``message``, ``details`` and the ``status`` dict as received. The
subclass is chosen by reason first and HTTP code second, like the ``IsNotFound`` family
upstream, so callers may either ``except errors.NotFound`` or test with
``errors.is_not_found(exc)`` (which accepts any exception and answers False for
non-API ones). A response that is not a ``Status`` (a proxy's HTML page, an empty body)
still becomes an ``ApiError`` with the reason upstream derives from the HTTP code.

``TransportError`` is everything below HTTP: refused or reset connections, TLS failures,
timeouts, a watch stream cut mid-line. Reflectors reconnect on it; writers may retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AlreadyExists",
    "ApiError",
    "Conflict",
    "Forbidden",
    "Gone",
    "Invalid",
    "NotFound",
    "TooManyRequests",
    "TransportError",
    "Unauthorized",
    "from_status",
    "is_already_exists",
    "is_conflict",
    "is_forbidden",
    "is_gone",
    "is_invalid",
    "is_not_found",
    "is_too_many_requests",
    "retry_after_seconds",
]

Obj = dict[str, Any]


class TransportError(Exception):
    """The request did not get an HTTP answer (or its stream broke)."""


class ApiError(Exception):
    def __init__(
        self,
        *,
        code: int,
        reason: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        status: Obj | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.details: Obj = dict(details or {})
        self.status: Obj = (
            status
            if status is not None
            else {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": message,
                "reason": reason,
                "code": code,
                **({"details": self.details} if self.details else {}),
            }
        )


class NotFound(ApiError): ...


class AlreadyExists(ApiError): ...


class Conflict(ApiError): ...


class Gone(ApiError):
    """410: the requested resourceVersion is too old (compacted) — relist."""


class Invalid(ApiError): ...


class Forbidden(ApiError): ...


class Unauthorized(ApiError): ...


class TooManyRequests(ApiError): ...


_BY_REASON: dict[str, type[ApiError]] = {
    "NotFound": NotFound,
    "AlreadyExists": AlreadyExists,
    "Conflict": Conflict,
    "Gone": Gone,
    "Expired": Gone,
    "Invalid": Invalid,
    "Forbidden": Forbidden,
    "Unauthorized": Unauthorized,
    "TooManyRequests": TooManyRequests,
}

_BY_CODE: dict[int, type[ApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}

# upstream's reasons for a non-Status error body (errors.NewGenericServerResponse)
_REASON_FOR_CODE: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Gone",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def from_status(code: int, body: object) -> ApiError:
    """The typed error for an HTTP error ``code`` and its (decoded) body."""
    if isinstance(body, dict) and body.get("kind") == "Status":
        raw_code = body.get("code")
        status_code = raw_code if isinstance(raw_code, int) and raw_code else code
        reason = str(body.get("reason") or _REASON_FOR_CODE.get(status_code, "Unknown"))
        message = str(body.get("message") or "")
        details = body.get("details")
        cls = _BY_REASON.get(reason) or _BY_CODE.get(status_code, ApiError)
        return cls(
            code=status_code,
            reason=reason,
            message=message,
            details=details if isinstance(details, dict) else None,
            status=body,
        )
    reason = _REASON_FOR_CODE.get(code, "Unknown")
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
    message = text.strip() or f"the server responded with HTTP {code}"
    return _BY_CODE.get(code, ApiError)(code=code, reason=reason, message=message)


def _is(exc: BaseException, cls: type[ApiError], code: int) -> bool:
    return isinstance(exc, cls) or (
        isinstance(exc, ApiError) and exc.code == code and type(exc) is ApiError
    )


def is_not_found(exc: BaseException) -> bool:
    return _is(exc, NotFound, 404)


def is_already_exists(exc: BaseException) -> bool:
    return isinstance(exc, AlreadyExists)


def is_conflict(exc: BaseException) -> bool:
    """409 Conflict proper (a stale resourceVersion), not AlreadyExists."""
    return isinstance(exc, Conflict)


def is_gone(exc: BaseException) -> bool:
    return _is(exc, Gone, 410)


def is_invalid(exc: BaseException) -> bool:
    return _is(exc, Invalid, 422)


def is_forbidden(exc: BaseException) -> bool:
    return _is(exc, Forbidden, 403)


def is_too_many_requests(exc: BaseException) -> bool:
    return _is(exc, TooManyRequests, 429)


def retry_after_seconds(exc: BaseException) -> float | None:
    """``details.retryAfterSeconds`` of an API error, if the server suggested a delay."""
    if isinstance(exc, ApiError):
        value = exc.details.get("retryAfterSeconds")
        if isinstance(value, int | float) and value > 0:
            return float(value)
    return None
