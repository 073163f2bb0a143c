"""System-owned object metadata (pure): timestamps in upstream's format, uids, and the
default field manager name derived from a User-Agent."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

__all__ = [
    "manager_from_user_agent",
    "new_uid",
    "now_rfc3339",
]

Obj = dict[str, Any]


def now_rfc3339(now: datetime.datetime | None = None) -> str:
    t = now or datetime.datetime.now(datetime.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def manager_from_user_agent(user_agent: str | None) -> str:
    """Upstream's default field manager: the User-Agent up to the first '/'."""
    if not user_agent:
        return "unknown"
    return user_agent.split("/", 1)[0][:128] or "unknown"
