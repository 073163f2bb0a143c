"""Authentication: client certificates signed by the cluster CA (user = CN, groups = O)
and bearer tokens from a static token file (upstream's --token-auth-file CSV format:
``token,user,uid,"group1,group2"``). Requests with neither are anonymous."""

from __future__ import annotations

import csv
import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ANONYMOUS", "Authenticator", "User", "load_token_file"]


@dataclass(frozen=True, slots=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = field(default=())

    @property
    def anonymous(self) -> bool:
        return self.name == "system:anonymous"


ANONYMOUS = User("system:anonymous", groups=("system:unauthenticated",))


def load_token_file(path: Path) -> dict[str, User]:
    users: dict[str, User] = {}
    with path.open(newline="") as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            if not row or row[0].startswith("#"):
                continue
            if len(row) < 3:
                raise ValueError(f'{path}:{lineno}: want token,user,uid[,"groups"]')
            groups = (
                tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            )
            users[row[0]] = User(row[1], row[2], (*groups, "system:authenticated"))
    return users


class Authenticator:
    def __init__(self, tokens: dict[str, User] | None = None) -> None:
        self.tokens = tokens or {}

    def authenticate_token(self, token: str) -> User | None:
        for known, user in self.tokens.items():
            if hmac.compare_digest(known, token):
                return user
        return None

    def authenticate(self, authorization: str | None, peercert: Any) -> User | None:
        """The request's user; ANONYMOUS without credentials; None for bad credentials."""
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token:
                return None
            return self.authenticate_token(token.strip())
        if peercert:
            cn = ""
            orgs: list[str] = []
            for rdn in peercert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        orgs.append(v)
            if cn:
                return User(cn, groups=(*orgs, "system:authenticated"))
        return ANONYMOUS
