"""Kubeconfig files: render one for a cluster, write it privately, merge it into another
(``~/.kube/config``) under its own context, and load one for the REST client.

``named`` and ``resolve_context`` read a loaded file the way kubectl does: entries are
looked up by name in ``clusters``/``users``/``contexts``; the context is the one asked
for, else ``current-context``. ``client.config`` turns the result into a connection."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ResolvedContext", "load", "merge_into", "named", "render", "resolve_context", "write"]

Obj = dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def render(
    *,
    server: str,
    ca_pem: bytes,
    name: str = "pyk8s",
    user: str = "admin",
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    token: str | None = None,
) -> Obj:
    user_entry: Obj = {}
    if client_cert_pem is not None and client_key_pem is not None:
        user_entry["client-certificate-data"] = _b64(client_cert_pem)
        user_entry["client-key-data"] = _b64(client_key_pem)
    if token is not None:
        user_entry["token"] = token
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)},
            }
        ],
        "users": [{"name": f"{name}-{user}", "user": user_entry}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-{user}"}}],
        "current-context": name,
        "preferences": {},
    }


def write(path: Path, cfg: Obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(cfg, f, default_flow_style=False, sort_keys=False)
    os.replace(tmp, path)


def load(path: Path) -> Obj:
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a kubeconfig")
    return data


def merge_into(path: Path, cfg: Obj, *, make_current: bool = True) -> None:
    """Replace (or add) cfg's clusters, users and contexts by name in the file at path."""
    existing: Obj = load(path) if path.exists() else {"apiVersion": "v1", "kind": "Config"}
    for section in ("clusters", "users", "contexts"):
        names = {e["name"] for e in cfg.get(section) or []}
        kept = [e for e in existing.get(section) or [] if e.get("name") not in names]
        existing[section] = kept + list(cfg.get(section) or [])
    if make_current or not existing.get("current-context"):
        existing["current-context"] = cfg.get("current-context")
    existing.setdefault("preferences", {})
    write(path, existing)


def named(cfg: Obj, section: str, name: str) -> Obj | None:
    """The body (``cluster``/``user``/``context`` mapping) of the entry called ``name``."""
    singular = section.removesuffix("s")
    for entry in cfg.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(singular)
            return body if isinstance(body, dict) else {}
    return None


@dataclass(frozen=True, slots=True)
class ResolvedContext:
    name: str
    cluster: Obj
    user: Obj
    namespace: str


def resolve_context(cfg: Obj, context: str | None = None) -> ResolvedContext:
    """The cluster and user a context names; ``ValueError`` says what is missing."""
    ctx_name = context or cfg.get("current-context") or ""
    if not ctx_name:
        raise ValueError("kubeconfig has no current-context and no context was named")
    ctx = named(cfg, "contexts", ctx_name)
    if ctx is None:
        raise ValueError(f'context "{ctx_name}" does not exist')
    cluster_name = ctx.get("cluster") or ""
    cluster = named(cfg, "clusters", cluster_name)
    if cluster is None:
        raise ValueError(f'cluster "{cluster_name}" (of context "{ctx_name}") does not exist')
    user_name = ctx.get("user") or ""
    user = named(cfg, "users", user_name) if user_name else {}
    if user is None:
        raise ValueError(f'user "{user_name}" (of context "{ctx_name}") does not exist')
    return ResolvedContext(
        name=ctx_name, cluster=cluster, user=user, namespace=ctx.get("namespace") or "default"
    )
