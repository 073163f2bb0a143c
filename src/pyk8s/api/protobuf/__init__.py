"""Decoding of Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``).

kubectl's typed commands (``create deployment|configmap|secret|service|job|…``,
``create token``, ``drain``'s evictions) send their object as protobuf and fail if the
server answers 415, so the apiserver must read it. ``decode(body)`` turns such a body
into the JSON dict the rest of the apiserver works with — the same dict the object's Go
JSON encoding shows (``decoder`` states the rules) — or raises ``DecodeError`` (a
``ValueError``) naming the field where a malformed body, or an apiVersion/kind outside
``supported_kinds()``, stopped it. Decoding is table-driven: ``schema_*`` modules hold
upstream's message layouts; ``wire`` reads the bytes.
"""

from __future__ import annotations

from pyk8s.api.protobuf.decoder import MAGIC, decode, decode_object, supported_kinds
from pyk8s.api.protobuf.wire import DecodeError

__all__ = ["CONTENT_TYPE", "MAGIC", "DecodeError", "decode", "decode_object", "supported_kinds"]

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
