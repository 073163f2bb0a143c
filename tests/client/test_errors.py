"""Typed API errors from Status bodies (and from bodies that are not Status)."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import errors as api_errors
from pyk8s.client import errors


@pytest.mark.parametrize(
    ("code", "body", "cls", "reason", "predicate"),
    [
        pytest.param(
            404,
            api_errors.not_found("apps", "deployments", "web").status(),
            errors.NotFound,
            "NotFound",
            errors.is_not_found,
            id="not-found",
        ),
        pytest.param(
            409,
            api_errors.already_exists("", "pods", "p").status(),
            errors.AlreadyExists,
            "AlreadyExists",
            errors.is_already_exists,
            id="already-exists",
        ),
        pytest.param(
            409,
            api_errors.conflict("", "pods", "p", "modified").status(),
            errors.Conflict,
            "Conflict",
            errors.is_conflict,
            id="conflict",
        ),
        pytest.param(
            410,
            api_errors.gone("too old resource version: 1 (5)").status(),
            errors.Gone,
            "Expired",
            errors.is_gone,
            id="gone-expired",
        ),
        pytest.param(
            422,
            api_errors.invalid(
                "", "Pod", "p", [{"message": "bad", "field": "x", "reason": "FieldValueInvalid"}]
            ).status(),
            errors.Invalid,
            "Invalid",
            errors.is_invalid,
            id="invalid",
        ),
        pytest.param(
            403,
            api_errors.forbidden("no").status(),
            errors.Forbidden,
            "Forbidden",
            errors.is_forbidden,
            id="forbidden",
        ),
        pytest.param(
            404,
            b"<html>404 page</html>",
            errors.NotFound,
            "NotFound",
            errors.is_not_found,
            id="not-a-status",
        ),
        pytest.param(
            429,
            "",
            errors.TooManyRequests,
            "TooManyRequests",
            errors.is_too_many_requests,
            id="empty-429",
        ),
        pytest.param(
            500,
            None,
            errors.ApiError,
            "InternalError",
            lambda e: type(e) is errors.ApiError,
            id="plain-500",
        ),
    ],
)
def test_from_status(
    code: int, body: Any, cls: type[errors.ApiError], reason: str, predicate: Any
) -> None:
    exc = errors.from_status(code, body)
    assert type(exc) is cls
    assert exc.code == code and exc.reason == reason
    assert predicate(exc)
    assert exc.status["kind"] == "Status" and exc.status["code"] == code


def test_details_and_predicates_on_other_exceptions() -> None:
    exc = errors.from_status(404, api_errors.not_found("apps", "deployments", "web").status())
    assert exc.details == {"name": "web", "group": "apps", "kind": "deployments"}
    assert exc.message == 'deployments.apps "web" not found'
    assert not errors.is_conflict(exc) and not errors.is_already_exists(exc)
    assert not errors.is_not_found(ValueError("x"))
    assert (
        errors.retry_after_seconds(errors.from_status(504, api_errors.too_large_rv(9).status()))
        == 1.0
    )
