"""Encoding responses (pure): objects, lists spliced from cached bytes, meta.k8s.io Tables
and PartialObjectMetadata(List), YAML, and watch event lines in each of those forms."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import orjson
import yaml

from pyk8s.api.resources import Resource
from pyk8s.apiserver import strategy
from pyk8s.apiserver.negotiation import Choice, Output
from pyk8s.apiserver.watchcache import Entry

__all__ = [
    "encode_list",
    "encode_object",
    "partial",
    "table",
    "watch_line",
]

Obj = dict[str, Any]

_META_KEYS_DROP = ()


def partial(obj: Obj, version: str = "v1") -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": obj.get("metadata") or {},
    }


def _row_object(obj: Obj, include: str, version: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return partial(obj, version)


def table(
    res: Resource,
    objs: Sequence[Obj],
    *,
    version: str = "v1",
    include: str = "Metadata",
    list_meta: Obj | None = None,
    now: datetime.datetime | None = None,
) -> Obj:
    when = now or datetime.datetime.now(datetime.UTC)
    strat = strategy.for_resource(res)
    rows = []
    for o in objs:
        row: Obj = {"cells": strat.cells(o, when)}
        ro = _row_object(o, include, version)
        if ro is not None:
            row["object"] = ro
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": list_meta or {},
        "columnDefinitions": strat.columns(),
        "rows": rows,
    }


def to_yaml(obj: Any) -> bytes:
    return yaml.dump(obj, Dumper=_Dumper, default_flow_style=False, sort_keys=False).encode()


class _Dumper(yaml.SafeDumper):
    pass


def _list_meta(revision: int, cont: str | None, remaining: int | None) -> Obj:
    meta: Obj = {"resourceVersion": str(revision)}
    if cont:
        meta["continue"] = cont
    if remaining is not None:
        meta["remainingItemCount"] = remaining
    return meta


def encode_list(
    res: Resource,
    entries: Sequence[Entry],
    *,
    revision: int,
    cont: str | None,
    remaining: int | None,
    choice: Choice,
    include: str = "Metadata",
) -> tuple[bytes, str]:
    """(body, content type) for a list response."""
    meta = _list_meta(revision, cont, remaining)
    if choice.output is Output.JSON:
        head = orjson.dumps(
            {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta}
        )[:-1]
        parts = [head, b',"items":[']
        for i, e in enumerate(entries):
            if i:
                parts.append(b",")
            parts.append(e.raw)
        parts.append(b"]}")
        return b"".join(parts), "application/json"
    objs = [e.decode() for e in entries]
    if choice.output is Output.TABLE:
        return orjson.dumps(
            table(res, objs, version=choice.meta_version, include=include, list_meta=meta)
        ), "application/json"
    if choice.output is Output.PARTIAL:
        return orjson.dumps(
            {
                "kind": "PartialObjectMetadataList",
                "apiVersion": f"meta.k8s.io/{choice.meta_version}",
                "metadata": meta,
                "items": [partial(o, choice.meta_version) for o in objs],
            }
        ), "application/json"
    doc = {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta, "items": objs}
    return to_yaml(doc), "application/yaml"


def encode_object(
    res: Resource, obj: Obj, choice: Choice, *, include: str = "Metadata"
) -> tuple[bytes, str]:
    if choice.output is Output.TABLE and obj.get("kind") not in ("Status", "Scale"):
        meta = {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
        return orjson.dumps(
            table(res, [obj], version=choice.meta_version, include=include, list_meta=meta)
        ), "application/json"
    if choice.output is Output.PARTIAL and obj.get("kind") != "Status":
        return orjson.dumps(partial(obj, choice.meta_version)), "application/json"
    if choice.output is Output.YAML:
        return to_yaml(obj), "application/yaml"
    return orjson.dumps(obj), "application/json"


def watch_line(
    res: Resource, type_: str, line: bytes, choice: Choice, include: str = "Metadata"
) -> bytes:
    """Re-encode a cached JSON event line for a Table/partial watcher."""
    if choice.output is Output.JSON:
        return line
    ev = orjson.loads(line)
    obj = ev["object"]
    if choice.output is Output.TABLE:
        meta = {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
        if type_ == "BOOKMARK":
            converted = obj
        else:
            converted = table(
                res, [obj], version=choice.meta_version, include=include, list_meta=meta
            )
    elif choice.output is Output.PARTIAL:
        converted = partial(obj, choice.meta_version)
    else:
        converted = obj
    return orjson.dumps({"type": type_, "object": converted}) + b"\n"
