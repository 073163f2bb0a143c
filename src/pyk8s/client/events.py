"""Recording core/v1 Events about objects, aggregated like client-go's EventCorrelator.

``EventRecorder.record(obj, reason=…, message=…)`` is fire-and-forget (it never blocks a
controller): events go to a bounded queue and ``run(stop)`` writes them. ``emit`` is the
awaitable form, for callers that want the written Event (and for tests).

Contract:
- An event names its object the upstream way: ``involvedObject`` carries the object's
  kind, namespace, name, uid, apiVersion and resourceVersion; the Event lives in the
  object's namespace (``default`` for cluster-scoped objects) and is called
  ``<object name>.<unix nanos in hex>``; ``source`` is ``{component, host}`` and
  ``reportingComponent``/``reportingInstance`` repeat them.
- **Aggregation** (the pure ``Correlator``): an event equal to one already written — same
  source, involvedObject (kind, namespace, name, uid, apiVersion, fieldPath), type,
  reason and message — whose last occurrence was at most ``window`` (10 min) ago is not
  created again: the existing Event is PATCHed with ``count + 1`` and the new
  ``lastTimestamp``. Otherwise a new Event starts at count 1. The correlator remembers
  at most ``max_entries`` (4096) keys, least recently used out first.
- If the Event to patch is gone (expired by its TTL, deleted), it is created again under
  its old name with the running count, as upstream does. Other write failures are logged
  and dropped: events are best-effort. A full queue drops the event (logged).
"""

from __future__ import annotations

import asyncio
import collections
import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, paths, rest

__all__ = [
    "EVENTS",
    "Correlation",
    "Correlator",
    "EventRecorder",
    "EventType",
    "aggregation_key",
    "format_time",
    "make_event",
    "reference",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

EVENTS = paths.resource_for("", "v1", "events", kind="Event")


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


def format_time(t: datetime) -> str:
    """metav1.Time: RFC 3339 in UTC, whole seconds."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unix_nanos(t: datetime) -> int:
    delta = t.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def reference(obj: Mapping[str, Any], *, field_path: str = "") -> Obj:
    """An ObjectReference to ``obj`` (for ``involvedObject``)."""
    meta = obj.get("metadata") or {}
    ref: Obj = {
        "kind": obj.get("kind") or "",
        "namespace": meta.get("namespace") or "",
        "name": meta.get("name") or "",
        "uid": meta.get("uid") or "",
        "apiVersion": obj.get("apiVersion") or "",
        "resourceVersion": meta.get("resourceVersion") or "",
    }
    if field_path:
        ref["fieldPath"] = field_path
    return {k: v for k, v in ref.items() if v}


def make_event(
    involved: Mapping[str, Any],
    *,
    event_type: str,
    reason: str,
    message: str,
    component: str,
    host: str,
    now: datetime,
) -> Obj:
    """A new Event (count 1) about the object ``involved`` references."""
    ts = format_time(now)
    source: Obj = {"component": component}
    if host:
        source["host"] = host
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{involved.get('name', '')}.{_unix_nanos(now):x}",
            "namespace": involved.get("namespace") or "default",
        },
        "involvedObject": dict(involved),
        "reason": reason,
        "message": message,
        "type": event_type,
        "source": source,
        "firstTimestamp": ts,
        "lastTimestamp": ts,
        "count": 1,
        "reportingComponent": component,
        "reportingInstance": host,
    }


AggregationKey = tuple[str, ...]


def aggregation_key(event: Mapping[str, Any]) -> AggregationKey:
    """What makes two events "the same" (upstream's getEventKey)."""
    src = event.get("source") or {}
    io = event.get("involvedObject") or {}
    return (
        src.get("component") or "",
        src.get("host") or "",
        io.get("kind") or "",
        io.get("namespace") or "",
        io.get("name") or "",
        io.get("fieldPath") or "",
        io.get("uid") or "",
        io.get("apiVersion") or "",
        event.get("type") or "",
        event.get("reason") or "",
        event.get("message") or "",
    )


@dataclass(frozen=True, slots=True)
class Correlation:
    """What to write: ``event`` as it should end up, and ``patch`` if it is a repeat."""

    event: Obj
    patch: Obj | None

    @property
    def is_repeat(self) -> bool:
        return self.patch is not None


@dataclass(slots=True)
class _Seen:
    name: str
    namespace: str
    count: int
    first_timestamp: str
    resource_version: str
    last_seen: datetime


class Correlator:
    def __init__(self, *, window: float = 600.0, max_entries: int = 4096) -> None:
        self.window = timedelta(seconds=window)
        self.max_entries = max_entries
        self._seen: collections.OrderedDict[AggregationKey, _Seen] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def correlate(self, event: Obj, now: datetime) -> Correlation:
        key = aggregation_key(event)
        seen = self._seen.get(key)
        if seen is None or now - seen.last_seen > self.window:
            return Correlation(event=event, patch=None)
        repeat = copy.deepcopy(event)
        repeat["metadata"] = {
            **repeat.get("metadata", {}),
            "name": seen.name,
            "namespace": seen.namespace,
        }
        if seen.resource_version:
            repeat["metadata"]["resourceVersion"] = seen.resource_version
        repeat["count"] = seen.count + 1
        repeat["firstTimestamp"] = seen.first_timestamp
        patch = {
            "count": repeat["count"],
            "lastTimestamp": repeat.get("lastTimestamp"),
            "message": repeat.get("message"),
        }
        return Correlation(event=repeat, patch=patch)

    def update_state(self, written: Mapping[str, Any], now: datetime) -> None:
        """Remember the Event as the server stored it (name, count, resourceVersion)."""
        key = aggregation_key(written)
        meta = written.get("metadata") or {}
        self._seen[key] = _Seen(
            name=meta.get("name") or "",
            namespace=meta.get("namespace") or "",
            count=int(written.get("count") or 1),
            first_timestamp=written.get("firstTimestamp") or "",
            resource_version=meta.get("resourceVersion") or "",
            last_seen=now,
        )
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)


class EventRecorder:
    def __init__(
        self,
        client: rest.RESTClient,
        *,
        component: str,
        host: str = "",
        window: float = 600.0,
        max_queue: int = 1000,
        wall: clock_mod.Wall = clock_mod.utc_now,
    ) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.correlator = Correlator(window=window)
        self._wall = wall
        self._queue: asyncio.Queue[Obj] = asyncio.Queue(max_queue)
        self._lock = asyncio.Lock()

    def _build(self, obj: Mapping[str, Any], event_type: str, reason: str, message: str) -> Obj:
        involved = reference(obj) if "metadata" in obj else dict(obj)
        return make_event(
            involved,
            event_type=event_type,
            reason=reason,
            message=message,
            component=self.component,
            host=self.host,
            now=self._wall(),
        )

    def record(
        self,
        obj: Mapping[str, Any],
        *,
        reason: str,
        message: str,
        event_type: str = EventType.NORMAL,
    ) -> None:
        """Queue an event about ``obj`` (an object, or an ObjectReference dict)."""
        event = self._build(obj, event_type, reason, message)
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            log.warning(
                "event queue full; dropping %s %s: %s",
                event["involvedObject"].get("name"),
                reason,
                message,
            )

    async def emit(
        self,
        obj: Mapping[str, Any],
        *,
        reason: str,
        message: str,
        event_type: str = EventType.NORMAL,
    ) -> Obj | None:
        """Write an event now; the Event as stored, or None if writing failed."""
        return await self._write(self._build(obj, event_type, reason, message))

    async def run(self, stop: asyncio.Event) -> None:
        await clock_mod.run_until_stopped(self._drain(), stop)

    async def _drain(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._write(event)
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        """Wait until every queued event has been written (needs ``run`` going)."""
        await self._queue.join()

    async def _write(self, event: Obj) -> Obj | None:
        async with self._lock:  # correlation state must see writes one at a time
            now = self._wall()
            corr = self.correlator.correlate(event, now)
            target = corr.event
            written: Obj | None = None
            try:
                if corr.patch is not None:
                    try:
                        written = await self.client.patch(
                            EVENTS,
                            target["metadata"]["name"],
                            corr.patch,
                            namespace=target["metadata"]["namespace"],
                        )
                    except errors.NotFound:
                        written = None
                if written is None:
                    target["metadata"].pop("resourceVersion", None)
                    written = await self.client.create(EVENTS, target)
            except (errors.ApiError, errors.TransportError) as exc:
                io = target.get("involvedObject") or {}
                log.warning(
                    "could not write event %s on %s/%s: %s",
                    target.get("reason"),
                    io.get("namespace", ""),
                    io.get("name", ""),
                    exc,
                )
                return None
            self.correlator.update_state(written, now)
            return written
