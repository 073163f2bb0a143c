"""The files of configMap, secret, downwardAPI and projected volumes, as pure functions.

Each function maps a volume source plus the objects it reads to a payload
``{relative path: FileProjection(bytes, mode)}`` for the ``AtomicWriter``, with upstream's
rules (``pkg/volume/{configmap,secret,downwardapi,projected}``):

- Without ``items`` every key becomes a file named after it (ConfigMap ``data`` and
  ``binaryData``; Secret ``data``, base64-decoded); with ``items`` only the listed keys,
  at their ``path``, with their own ``mode`` if set. A listed key that is missing fails
  (``configmap references non-existent config key: k`` / ``references non-existent
  secret key: k``) unless the source is ``optional``.
- A missing object fails with ``configmap "x" not found`` / ``secret "x" not found``
  unless ``optional``, in which case it contributes nothing.
- ``defaultMode`` (0644 when absent) applies to files without their own mode.
- A projected volume collects every source; errors of several sources are reported
  together (``[e1, e2]``), as upstream's aggregate. A ``serviceAccountToken`` source
  takes its token from ``tokens`` (prepared by the caller, keyed by the source's path).

Objects are passed in as dicts (None = does not exist); nothing here does I/O.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pyk8s.kubelet import fieldpath
from pyk8s.kubelet.volumes.atomic_writer import FileProjection

__all__ = [
    "DEFAULT_MODE",
    "Payload",
    "VolumeSetupError",
    "configmap_payload",
    "downward_api_payload",
    "projected_payload",
    "secret_payload",
    "token_sources",
]

Obj = dict[str, Any]
Payload = dict[str, FileProjection]

DEFAULT_MODE: Final = 0o644


class VolumeSetupError(Exception):
    """A volume cannot be set up; ``str()`` is upstream's reason (the kubelet reports
    ``MountVolume.SetUp failed for volume "<name>" : <reason>`` as a FailedMount event)."""


def _b64(raw: Any) -> bytes:
    try:
        return base64.b64decode(str(raw), validate=False)
    except (binascii.Error, ValueError):
        return str(raw).encode()


def _mode(raw: Any, default: int) -> int:
    return int(raw) if raw is not None else default


def _keyed_payload(
    entries: Mapping[str, bytes],
    items: Sequence[Obj] | None,
    default_mode: int,
    optional: bool,
    missing: str,
) -> Payload:
    payload: Payload = {}
    if not items:
        for key, data in entries.items():
            payload[key] = FileProjection(data, default_mode)
        return payload
    for item in items:
        key = str(item.get("key", ""))
        if key not in entries:
            if optional:
                continue
            raise VolumeSetupError(f"{missing}: {key}")
        payload[str(item.get("path", key))] = FileProjection(
            entries[key], _mode(item.get("mode"), default_mode)
        )
    return payload


def configmap_payload(
    source: Obj, configmap: Obj | None, *, default_mode: int | None = None
) -> Payload:
    """A configMap volume (or projection) over ``configmap`` (None = not found)."""
    optional = bool(source.get("optional"))
    mode = (
        default_mode if default_mode is not None else _mode(source.get("defaultMode"), DEFAULT_MODE)
    )
    if configmap is None:
        if not optional:
            raise VolumeSetupError(f'configmap "{source.get("name", "")}" not found')
        configmap = {}
    entries: dict[str, bytes] = {
        k: str(v).encode() for k, v in (configmap.get("data") or {}).items()
    }
    for k, v in (configmap.get("binaryData") or {}).items():
        entries.setdefault(k, _b64(v))  # keys are unique across the two (validation)
    return _keyed_payload(
        entries,
        source.get("items"),
        mode,
        optional,
        "configmap references non-existent config key",
    )


def secret_payload(source: Obj, secret: Obj | None, *, default_mode: int | None = None) -> Payload:
    """A secret volume (``secretName``) or a projected secret source (``name``)."""
    optional = bool(source.get("optional"))
    name = source.get("secretName") or source.get("name") or ""
    mode = (
        default_mode if default_mode is not None else _mode(source.get("defaultMode"), DEFAULT_MODE)
    )
    if secret is None:
        if not optional:
            raise VolumeSetupError(f'secret "{name}" not found')
        secret = {}
    entries = {k: _b64(v) for k, v in (secret.get("data") or {}).items()}
    return _keyed_payload(
        entries, source.get("items"), mode, optional, "references non-existent secret key"
    )


def downward_api_payload(
    items: Sequence[Obj],
    pod: Obj,
    *,
    default_mode: int = DEFAULT_MODE,
    node_allocatable: Mapping[str, Any] | None = None,
) -> Payload:
    """A downwardAPI volume (or projection): pod metadata fields and container resources."""
    payload: Payload = {}
    errors: list[str] = []
    for item in items:
        path = posixpath.normpath(item.get("path", ""))
        mode = _mode(item.get("mode"), default_mode)
        data = b""
        try:
            if item.get("fieldRef"):
                data = fieldpath.extract_field_path(
                    pod, item["fieldRef"].get("fieldPath", "")
                ).encode()
            elif item.get("resourceFieldRef"):
                ref = item["resourceFieldRef"]
                data = fieldpath.resource_value_for_container(
                    ref, pod, ref.get("containerName", ""), node_allocatable
                ).encode()
        except fieldpath.FieldPathError as e:
            errors.append(str(e))
        payload[path] = FileProjection(data, mode)
    _raise_aggregate(errors)
    return payload


def _raise_aggregate(errors: Sequence[str]) -> None:
    if len(errors) == 1:
        raise VolumeSetupError(errors[0])
    if errors:
        raise VolumeSetupError("[" + ", ".join(errors) + "]")


def token_sources(source: Obj) -> list[Obj]:
    """The ``serviceAccountToken`` projections of a projected volume source."""
    return [
        s["serviceAccountToken"]
        for s in source.get("sources") or []
        if s.get("serviceAccountToken")
    ]


def projected_payload(
    source: Obj,
    pod: Obj,
    *,
    configmaps: Mapping[str, Obj | None],
    secrets: Mapping[str, Obj | None],
    tokens: Mapping[str, str],
    node_allocatable: Mapping[str, Any] | None = None,
) -> Payload:
    """A projected volume. ``configmaps``/``secrets`` map names to objects (None = not
    found); ``tokens`` maps each serviceAccountToken source's path to its token."""
    default_mode = _mode(source.get("defaultMode"), DEFAULT_MODE)
    payload: Payload = {}
    errors: list[str] = []
    for proj in source.get("sources") or []:
        try:
            if proj.get("secret") is not None:
                sec = proj["secret"]
                payload.update(
                    secret_payload(sec, secrets.get(sec.get("name", "")), default_mode=default_mode)
                )
            elif proj.get("configMap") is not None:
                cm = proj["configMap"]
                payload.update(
                    configmap_payload(
                        cm, configmaps.get(cm.get("name", "")), default_mode=default_mode
                    )
                )
            elif proj.get("downwardAPI") is not None:
                payload.update(
                    downward_api_payload(
                        proj["downwardAPI"].get("items") or [],
                        pod,
                        default_mode=default_mode,
                        node_allocatable=node_allocatable,
                    )
                )
            elif proj.get("serviceAccountToken") is not None:
                path = proj["serviceAccountToken"].get("path", "")
                if path not in tokens:
                    raise VolumeSetupError(f"no token for service account token projection {path}")
                payload[path] = FileProjection(tokens[path].encode(), default_mode)
            elif proj.get("clusterTrustBundle") is not None:
                raise VolumeSetupError("clusterTrustBundle projections are not supported")
        except VolumeSetupError as e:
            errors.append(str(e))
    _raise_aggregate(errors)
    return payload
