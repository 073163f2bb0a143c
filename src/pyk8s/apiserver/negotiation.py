"""Content negotiation (pure): what a request body is, and what the response should be.

Responses are JSON (or YAML when asked for it). ``Accept`` may ask for a
``meta.k8s.io`` Table or PartialObjectMetadata(List) instead of the object; protobuf is
accepted in ``Accept`` but answered with JSON (clients that offer it also offer JSON).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["BodyType", "Output", "accepted_patch_types", "body_type", "choose_output"]


class Output(enum.Enum):
    JSON = "json"
    YAML = "yaml"
    TABLE = "table"
    PARTIAL = "partial"  # PartialObjectMetadata / PartialObjectMetadataList


@dataclass(frozen=True, slots=True)
class Choice:
    output: Output
    meta_version: str = "v1"  # of the Table / PartialObjectMetadata


def _params(media: str) -> tuple[str, dict[str, str]]:
    parts = [p.strip() for p in media.split(";")]
    params: dict[str, str] = {}
    for p in parts[1:]:
        if "=" in p:
            k, _, v = p.partition("=")
            params[k.strip().lower()] = v.strip().strip('"')
    return parts[0].lower(), params


def choose_output(accept: str | None) -> Choice | None:
    """The first acceptable media range; None when nothing offered is servable (→ 406)."""
    if not accept:
        return Choice(Output.JSON)
    for media in accept.split(","):
        mtype, params = _params(media)
        as_ = params.get("as")
        if as_:
            if params.get("g") != "meta.k8s.io" or mtype not in ("application/json", "*/*"):
                continue
            version = params.get("v", "v1")
            if version not in ("v1", "v1beta1"):
                continue
            if as_ == "Table":
                return Choice(Output.TABLE, version)
            if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                return Choice(Output.PARTIAL, version)
            continue
        if mtype in ("application/json", "*/*", "application/*", "application/json-patch+json"):
            return Choice(Output.JSON)
        if mtype in ("application/yaml", "text/yaml", "application/x-yaml"):
            return Choice(Output.YAML)
        if mtype == "application/vnd.kubernetes.protobuf":
            continue  # answered in JSON when JSON is also offered
    # a protobuf-only client: upstream would answer protobuf; we answer JSON, which
    # every real client also decodes
    if "application/vnd.kubernetes.protobuf" in accept:
        return Choice(Output.JSON)
    return None


class BodyType(enum.Enum):
    JSON = "application/json"
    YAML = "application/yaml"
    PROTOBUF = "application/vnd.kubernetes.protobuf"
    JSON_PATCH = "application/json-patch+json"
    MERGE_PATCH = "application/merge-patch+json"
    STRATEGIC_PATCH = "application/strategic-merge-patch+json"
    APPLY_YAML = "application/apply-patch+yaml"
    APPLY_CBOR = "application/apply-patch+cbor"


_BODY_TYPES = {b.value: b for b in BodyType}
_BODY_TYPES["text/yaml"] = BodyType.YAML
_BODY_TYPES["application/x-yaml"] = BodyType.YAML


def body_type(content_type: str | None) -> BodyType | None:
    if not content_type:
        return BodyType.JSON
    mtype, _ = _params(content_type)
    return _BODY_TYPES.get(mtype)


def accepted_patch_types() -> list[str]:
    return [
        BodyType.JSON_PATCH.value,
        BodyType.MERGE_PATCH.value,
        BodyType.STRATEGIC_PATCH.value,
        BodyType.APPLY_YAML.value,
    ]
