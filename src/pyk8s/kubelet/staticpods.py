"""Static pods: pods defined by manifest files in ``--pod-manifest-path``, run by the
kubelet without the API, and shown in the API as mirror pods (upstream's
pkg/kubelet/config/file.go and pod/mirror_client.go).

- ``static_pod(raw, node_name=…, source=…)`` (pure): the pod as the kubelet runs it —
  API defaults applied, namespace ``default`` when unset, name ``<name>-<node>``,
  ``spec.nodeName`` set, a uid that is a hash of the manifest, the node and the file (so
  editing the file makes a new pod), annotations ``kubernetes.io/config.hash`` (the uid),
  ``kubernetes.io/config.source: file`` and ``kubernetes.io/config.seen``, a toleration
  of every NoExecute taint, phase Pending.
- ``mirror_pod(static, node_name, node_uid)`` (pure): what the kubelet creates in the API
  for it: the same pod with ``kubernetes.io/config.mirror`` = the config hash, owned by
  the Node, without uid or status.
- ``StaticPods.run(stop)`` rereads the directory every ``period`` seconds (files whose
  names start with a dot are skipped; a file may hold one pod, YAML or JSON) and calls
  ``on_change()`` when the set of pods changed; ``pods`` maps uid → pod, ``synced`` is set
  after the first read. A file that does not parse is logged and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from pyk8s.api.defaults_pod import default_pod
from pyk8s.kubelet.sim.containers import rfc3339

__all__ = [
    "CONFIG_HASH",
    "CONFIG_MIRROR",
    "CONFIG_SOURCE",
    "StaticPods",
    "is_mirror",
    "mirror_pod",
    "static_pod",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
CONFIG_HASH = "kubernetes.io/config.hash"
CONFIG_MIRROR = "kubernetes.io/config.mirror"
CONFIG_SOURCE = "kubernetes.io/config.source"
CONFIG_SEEN = "kubernetes.io/config.seen"


def is_mirror(pod: Mapping[str, Any]) -> bool:
    return CONFIG_MIRROR in ((pod.get("metadata") or {}).get("annotations") or {})


def static_pod(raw: Mapping[str, Any], *, node_name: str, source: str, now: float) -> Obj:
    pod: Obj = copy.deepcopy(dict(raw))
    pod.setdefault("apiVersion", "v1")
    pod.setdefault("kind", "Pod")
    meta = pod.setdefault("metadata", {})
    spec = pod.setdefault("spec", {})
    default_pod(pod)
    digest = hashlib.md5(usedforsecurity=False)
    digest.update(json.dumps(raw, sort_keys=True).encode())
    digest.update(f"host:{node_name}file:{source}".encode())
    uid = meta.get("uid") or digest.hexdigest()
    meta["uid"] = uid
    meta["name"] = f"{meta.get('name', '')}-{node_name}".lower()
    meta["namespace"] = meta.get("namespace") or "default"
    annotations = meta.setdefault("annotations", {})
    annotations[CONFIG_HASH] = uid
    annotations[CONFIG_SOURCE] = "file"
    annotations.setdefault(CONFIG_SEEN, rfc3339(now))
    spec["nodeName"] = node_name
    tolerations = spec.setdefault("tolerations", [])
    if {"operator": "Exists", "effect": "NoExecute"} not in tolerations:
        tolerations.append({"operator": "Exists", "effect": "NoExecute"})
    pod["status"] = {"phase": "Pending"}
    return pod


def mirror_pod(static: Mapping[str, Any], node_name: str, node_uid: str) -> Obj:
    pod: Obj = copy.deepcopy(dict(static))
    meta = pod["metadata"]
    meta.pop("uid", None)
    meta.pop("resourceVersion", None)
    meta["annotations"][CONFIG_MIRROR] = meta["annotations"][CONFIG_HASH]
    if node_uid:
        meta["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "name": node_name,
                "uid": node_uid,
                "controller": True,
            }
        ]
    pod.pop("status", None)
    return pod


def _read_dir(path: Path) -> dict[str, Obj]:
    out: dict[str, Obj] = {}
    if not path.is_dir():
        return out
    for f in sorted(path.iterdir()):
        if f.name.startswith(".") or not f.is_file():
            continue
        try:
            doc = yaml.safe_load(f.read_text())
        except (OSError, yaml.YAMLError) as exc:
            log.warning("static pod manifest %s: %s", f, exc)
            continue
        if not isinstance(doc, dict) or doc.get("kind", "Pod") != "Pod":
            log.warning("static pod manifest %s: not a Pod", f)
            continue
        out[str(f)] = doc
    return out


class StaticPods:
    def __init__(
        self,
        path: Path,
        *,
        node_name: str,
        on_change: Callable[[], None] = lambda: None,
        period: float = 5.0,
        wall: Callable[[], float] | None = None,
    ) -> None:
        self.path = path
        self.node_name = node_name
        self.on_change = on_change
        self.period = period
        self.wall = wall or time.time
        self.pods: dict[str, Obj] = {}
        self.synced = asyncio.Event()
        self._raw: dict[str, Obj] = {}

    def by_name(self, namespace: str, name: str) -> Obj | None:
        for pod in self.pods.values():
            meta = pod["metadata"]
            if meta["namespace"] == namespace and meta["name"] == name:
                return pod
        return None

    async def refresh(self) -> bool:
        raw = await asyncio.to_thread(_read_dir, self.path)
        if raw == self._raw and self.synced.is_set():
            return False
        self._raw = raw
        now = self.wall()
        old = {uid: pod for uid, pod in self.pods.items()}
        pods = {}
        for source, doc in raw.items():
            try:
                pod = static_pod(doc, node_name=self.node_name, source=source, now=now)
            except (TypeError, ValueError, KeyError) as exc:
                log.warning("static pod manifest %s: %s", source, exc)
                continue
            uid = pod["metadata"]["uid"]
            pods[uid] = old.get(uid, pod)
        changed = set(pods) != set(old)
        self.pods = pods
        self.synced.set()
        return changed

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                if await self.refresh():
                    self.on_change()
            except OSError as exc:
                log.warning("reading %s: %s", self.path, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.period)
