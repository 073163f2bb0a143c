"""The status manager: writes pod statuses to the API, only when they say something new,
and deletes pods whose termination is complete (upstream's pkg/kubelet/status).

- ``set_status(pod, desired, now)``: ``status.merge_status`` with the status the pod shows,
  then a strategic merge patch of ``pods/status`` — conditions merge by type, container
  status lists are replaced whole, ``metadata.uid`` guards against a new pod under the same
  name. Nothing is written when the API (or, while the informer's copy is older than our
  last write, that write) already says the same, times of unchanged conditions aside.
- ``delete(pod)``: ``DELETE`` with ``gracePeriodSeconds=0`` and the pod's uid as a
  precondition, once the kubelet has stopped everything of a pod that is being deleted;
  a 404 or a 409 (gone, or a new pod with the name) is fine.
- ``forget(uid)`` drops the memory of a pod.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from pyk8s.api import resources
from pyk8s.client import errors, paths, rest
from pyk8s.kubelet import status as status_mod

__all__ = ["PODS", "StatusManager", "status_patch"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
PODS = resources.find("", "v1", "pods") or resources.Resource(
    group="", version="v1", kind="Pod", plural="pods", namespaced=True
)
_LISTS = ("containerStatuses", "initContainerStatuses", "hostIPs", "podIPs")


def status_patch(uid: str, desired: Mapping[str, Any]) -> Obj:
    """The strategic merge patch that makes a pod's status say ``desired``."""
    status: Obj = {}
    for key, value in desired.items():
        if key == "conditions":
            status[key] = [{"reason": None, "message": None, **c} for c in value]
        elif key in _LISTS:
            status[key] = [{"$patch": "replace"}, *value]
        else:
            status[key] = value
    return {"metadata": {"uid": uid}, "status": status}


def _rv(obj: Mapping[str, Any]) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


@dataclass(slots=True)
class _Written:
    status: Obj
    rv: int


class StatusManager:
    def __init__(self, client: rest.RESTClient) -> None:
        self.client = client
        self._written: dict[str, _Written] = {}
        self.writes = 0

    def last_written(self, uid: str) -> Obj | None:
        w = self._written.get(uid)
        return w.status if w is not None else None

    def _current(self, pod: Mapping[str, Any]) -> Mapping[str, Any]:
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        w = self._written.get(uid)
        if w is not None and _rv(pod) < w.rv:
            return w.status  # the informer has not caught up with our write
        return pod.get("status") or {}

    async def set_status(self, pod: Obj, desired: Obj, now: float) -> bool:
        """Write ``desired`` if it says something new; True when a write happened."""
        meta = pod.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        current = self._current(pod)
        merged = status_mod.merge_status(current, desired, now)
        if not status_mod.status_differs(current, merged):
            return False
        try:
            updated = await self.client.patch(
                PODS,
                meta["name"],
                status_patch(uid, merged),
                namespace=meta.get("namespace"),
                patch_type=rest.PatchType.STRATEGIC,
                subresource="status",
            )
        except (errors.NotFound, errors.Conflict, errors.Invalid) as exc:
            log.info(
                "pod %s/%s: status not written: %s", meta.get("namespace"), meta.get("name"), exc
            )
            return False
        self.writes += 1
        written = updated.get("status") or merged
        self._written[uid] = _Written(orjson.loads(orjson.dumps(written)), _rv(updated))
        return True

    async def delete(self, pod: Mapping[str, Any]) -> bool:
        meta = pod.get("metadata") or {}
        try:
            await self.client.delete(
                PODS,
                meta["name"],
                namespace=meta.get("namespace"),
                grace_period_seconds=0,
                preconditions=paths.Preconditions(uid=meta.get("uid")),
            )
        except (errors.NotFound, errors.Conflict):
            return False
        log.info("pod %s/%s deleted", meta.get("namespace"), meta.get("name"))
        return True

    def forget(self, uid: str) -> None:
        self._written.pop(uid, None)
