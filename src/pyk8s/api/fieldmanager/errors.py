"""The errors server-side apply raises, with upstream's messages and Status bodies.

``Conflicts`` (409) lists the fields another manager owns that an apply would change:

    Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas

    Apply failed with 2 conflicts: conflicts with "a":
    - .spec.replicas
    conflicts with "b" using apps/v1:
    - .spec.paused

Managers are named as upstream prints them: appliers by name, updaters with the
apiVersion they wrote (``using apps/v1``), either with ``with subresource "status"`` when
they wrote one. Conflicts are ordered by manager (upstream's identifier order), then path.

``ApplyError`` is everything else an apply refuses: a body of the wrong type or carrying
managedFields (400 BadRequest), and configurations upstream cannot type — list items
without their keys, duplicate keys, undeclared fields — which upstream answers with a
plain error, a 500 whose reason is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ApplyError", "Conflict", "Conflicts", "conflict_status"]


@dataclass(frozen=True)
class Conflict:
    """One field another manager owns."""

    manager: str
    operation: str  # "Apply" or "Update"
    api_version: str  # the updater's apiVersion ("" for appliers)
    subresource: str
    path: str  # upstream's text form: .spec.template.spec.containers[name="a"].image
    described: str  # the manager as upstream prints it: "m" using apps/v1

    @property
    def message(self) -> str:
        return f"conflict with {self.described}"


class Conflicts(ValueError):
    """An apply that would change fields other managers own (409 Conflict)."""

    def __init__(self, conflicts: tuple[Conflict, ...]) -> None:
        self.conflicts = conflicts
        self.message = _message(conflicts)
        super().__init__(self.message)


def _message(conflicts: tuple[Conflict, ...]) -> str:
    if len(conflicts) == 1:
        only = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {only.described}: {only.path}"
    lines: list[str] = []
    last = None
    for conflict in conflicts:
        if conflict.described != last:
            lines.append(f"conflicts with {conflict.described}:")
            last = conflict.described
        lines.append(f"- {conflict.path}")
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def conflict_status(exc: Conflicts) -> dict[str, Any]:
    """The 409 ``Status`` upstream answers a conflicting apply with."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": exc.message,
        "reason": "Conflict",
        "details": {
            "causes": [
                {"reason": "FieldManagerConflict", "message": c.message, "field": c.path}
                for c in exc.conflicts
            ]
        },
        "code": 409,
    }


class ApplyError(ValueError):
    """An apply the server refuses before any conflict is looked for."""

    def __init__(self, message: str, *, code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def reason(self) -> str:
        return "BadRequest" if self.code == 400 else ""
