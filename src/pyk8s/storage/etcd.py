"""The etcd v3 backend of ``storage.Interface``, over etcd's gRPC API (DESIGN §4).

Keys are the caller's (the apiserver passes ``/registry/<resource>/<ns>/<name>`` as
upstream does) with ``key_prefix`` prepended on the wire and stripped from everything
returned, so several stores (or tests) can share one etcd without seeing each other's keys.
Revisions are etcd's own: one etcd cluster is one revision space, shared by every prefix.

How each operation maps onto etcd, and why:

- ``create`` is a Txn ``create_revision(key) == 0 → put``: atomic "put if absent".
- ``update``/``delete`` with ``expected_revision`` are a Txn ``mod_revision(key) ==
  expected → put/delete``, whose failure branch reads the key in the same transaction, so
  NotFound and Conflict are told apart without a race. ``delete`` asks for ``prev_kv``, so
  the deleted value comes back from the same round trip.
- ``list`` is one Range per page with ``limit + 1``: the extra key is where the next page
  starts (the continue token holds it, relative to the listed prefix, together with the
  revision of the first page, so every page reads the same snapshot).
- ``watch`` opens one Watch stream per call from ``from_revision + 1`` with ``prev_kv``, so
  a DELETED event carries the value the key had. The stream is opened by the first
  ``__anext__``, which is also where a compacted start revision surfaces as ``Compacted``.
  Progress notifications are skipped; a cancel from etcd ends the iterator with an error
  (``Compacted`` when etcd says the history is gone, ``Unavailable`` otherwise) and the
  consumer re-lists and re-watches, as a reflector does.
- etcd reports a compacted or future revision only as an error string; they become
  ``Compacted`` / ``FutureRevision``. Unreachable etcd, deadlines and etcd's own
  "no leader"/"timed out" become ``Unavailable``, with a one-line message.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Final, TypeVar
from urllib.parse import urlsplit

import grpc
import grpc.aio

from pyk8s.storage import errors, interface
from pyk8s.storage.etcd_proto import kv_pb2, rpc_pb2, rpc_pb2_grpc

if TYPE_CHECKING:
    from typing import TypeAlias

    from grpc.aio import StreamStreamCall, StreamStreamMultiCallable, UnaryUnaryMultiCallable

    _WatchCall: TypeAlias = StreamStreamCall[rpc_pb2.WatchRequest, rpc_pb2.WatchResponse]

__all__ = ["EtcdStorage", "grpc_target", "open_store", "prefix_end"]

_Req = TypeVar("_Req")
_Resp = TypeVar("_Resp")

_COMPACTED: Final = "required revision has been compacted"
_FUTURE: Final = "required revision is a future revision"
# etcd server errors that mean "try again later" rather than "your request is wrong".
_TRANSIENT: Final = ("no leader", "leader changed", "timed out", "too many requests", "stopped")
_UNAVAILABLE_CODES: Final = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
)
_CHANNEL_OPTIONS: Final = (
    ("grpc.enable_http_proxy", 0),  # loopback etcd must never be reached through a proxy
    ("grpc.max_receive_message_length", -1),  # a list page of large objects exceeds 4 MiB
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
)
_CMP_EQUAL: Final = rpc_pb2.Compare.CompareResult.EQUAL
_CMP_CREATE: Final = rpc_pb2.Compare.CompareTarget.CREATE
_CMP_MOD: Final = rpc_pb2.Compare.CompareTarget.MOD
_EVENT_DELETE: Final = kv_pb2.Event.EventType.DELETE
# A key nobody writes (outside any prefix): reading it is cheap, a watch on it is silent.
_PROBE_KEY: Final = b"\x00pyk8s/probe"


async def open_store(
    endpoints: list[str],
    *,
    key_prefix: str = "",
    request_timeout: float = 30.0,
    connect_timeout: float = 5.0,
) -> EtcdStorage:
    """Connect to etcd at ``endpoints`` (``http://host:port`` client URLs) and check that it
    answers within ``connect_timeout`` seconds; ``Unavailable`` if it does not."""
    target = grpc_target(endpoints)
    channel = grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
    store = EtcdStorage(
        channel, target=target, key_prefix=key_prefix, request_timeout=request_timeout
    )
    try:
        await store._call(
            store._range, rpc_pb2.RangeRequest(key=_PROBE_KEY), timeout=connect_timeout
        )
    except BaseException:
        await store.close()
        raise
    return store


def grpc_target(endpoints: list[str]) -> str:
    """A gRPC target naming every endpoint: ``host:port`` for one, ``ipv4:a:p,b:q`` (or
    ``ipv6:``) for several, so gRPC fails over between them by itself."""
    if not endpoints:
        raise ValueError("no etcd endpoints given")
    hosts: list[tuple[str, int]] = []
    for endpoint in endpoints:
        url = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        if url.scheme != "http":
            raise ValueError(f"unsupported etcd endpoint {endpoint!r}: only http:// (no TLS)")
        if not url.hostname:
            raise ValueError(f"etcd endpoint {endpoint!r} has no host")
        hosts.append((url.hostname, url.port or 2379))
    if len(hosts) == 1:
        host, port = hosts[0]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        versions = {ipaddress.ip_address(host).version for host, _ in hosts}
    except ValueError:
        raise ValueError("several etcd endpoints must be IP addresses, not host names")
    if versions == {4}:
        return "ipv4:" + ",".join(f"{host}:{port}" for host, port in hosts)
    if versions == {6}:
        return "ipv6:" + ",".join(f"[{host}]:{port}" for host, port in hosts)
    raise ValueError("several etcd endpoints must all be IPv4 or all IPv6")


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with ``prefix`` (etcd's
    ``range_end`` for a prefix); ``b"\\x00"`` (no upper bound) when there is none."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\x00"
    return stripped[:-1] + bytes([stripped[-1] + 1])


class EtcdStorage:
    """``storage.Interface`` over one gRPC channel to an etcd cluster. Build it with
    ``open_store``."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        target: str,
        key_prefix: str = "",
        request_timeout: float = 30.0,
    ) -> None:
        self._channel = channel
        self._target = target
        self._prefix = key_prefix
        self._prefix_bytes = key_prefix.encode()
        self._timeout = request_timeout
        self._closed = False
        # Weak, so a watch its consumer dropped without closing can be collected; gRPC
        # cancels a call that is garbage-collected, which ends etcd's side of it too.
        self._watches: weakref.WeakSet[_Watch] = weakref.WeakSet()
        # The generated stubs are untyped; the annotations below give each method its types.
        kv = rpc_pb2_grpc.KVStub(channel)  # type: ignore[no-untyped-call]
        maintenance = rpc_pb2_grpc.MaintenanceStub(channel)  # type: ignore[no-untyped-call]
        watch = rpc_pb2_grpc.WatchStub(channel)  # type: ignore[no-untyped-call]
        self._range: UnaryUnaryMultiCallable[rpc_pb2.RangeRequest, rpc_pb2.RangeResponse] = kv.Range
        self._delete_range: UnaryUnaryMultiCallable[
            rpc_pb2.DeleteRangeRequest, rpc_pb2.DeleteRangeResponse
        ] = kv.DeleteRange
        self._txn: UnaryUnaryMultiCallable[rpc_pb2.TxnRequest, rpc_pb2.TxnResponse] = kv.Txn
        self._compact: UnaryUnaryMultiCallable[
            rpc_pb2.CompactionRequest, rpc_pb2.CompactionResponse
        ] = kv.Compact
        self._status: UnaryUnaryMultiCallable[rpc_pb2.StatusRequest, rpc_pb2.StatusResponse] = (
            maintenance.Status
        )
        self._defragment: UnaryUnaryMultiCallable[
            rpc_pb2.DefragmentRequest, rpc_pb2.DefragmentResponse
        ] = maintenance.Defragment
        self._watch: StreamStreamMultiCallable[rpc_pb2.WatchRequest, rpc_pb2.WatchResponse] = (
            watch.Watch
        )

    # -- interface.Interface ------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> int:
        wire = self._wire(key)
        response = await self._call(
            self._txn,
            rpc_pb2.TxnRequest(
                compare=[rpc_pb2.Compare(result=_CMP_EQUAL, target=_CMP_CREATE, key=wire)],
                success=[_put(wire, value)],
            ),
        )
        if not response.succeeded:
            raise errors.AlreadyExists(key)
        return response.header.revision

    async def get(self, key: str) -> interface.KeyValue:
        response = await self._call(self._range, rpc_pb2.RangeRequest(key=self._wire(key)))
        if not response.kvs:
            raise errors.NotFound(key)
        return self._key_value(response.kvs[0])

    async def list(
        self,
        prefix: str,
        *,
        revision: int = 0,
        limit: int = 0,
        continue_: str | None = None,
    ) -> interface.ListResult:
        if limit < 0 or revision < 0:
            raise ValueError("limit and revision must not be negative")
        start = prefix
        if continue_ is not None:
            revision, start = interface.decode_continue(continue_, prefix=prefix)
        response = await self._call(
            self._range,
            rpc_pb2.RangeRequest(
                key=self._wire(start) or b"\x00",
                range_end=prefix_end(self._wire(prefix)),
                revision=revision,
                limit=limit + 1 if limit else 0,
            ),
            revision=revision,
        )
        read_at = revision or response.header.revision
        kvs = response.kvs
        if limit and len(kvs) > limit:
            token = interface.encode_continue(
                revision=read_at, start_key=self._unwire(kvs[limit].key), prefix=prefix
            )
            items = [self._key_value(kv) for kv in kvs[:limit]]
            return interface.ListResult(
                items=items, revision=read_at, continue_=token, remaining=response.count - limit
            )
        items = [self._key_value(kv) for kv in kvs]
        return interface.ListResult(items=items, revision=read_at, continue_=None, remaining=0)

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> int:
        wire = self._wire(key)
        if expected_revision <= 0:  # mod_revision == 0 would match an absent key
            raise await self._why_not(key, expected_revision)
        response = await self._call(
            self._txn,
            rpc_pb2.TxnRequest(
                compare=[_mod_equals(wire, expected_revision)],
                success=[_put(wire, value)],
                failure=[_read(wire)],
            ),
        )
        if not response.succeeded:
            raise _cas_error(key, expected_revision, response.responses[0].response_range.kvs)
        return response.header.revision

    async def delete(self, key: str, *, expected_revision: int | None = None) -> interface.KeyValue:
        wire = self._wire(key)
        deleted: rpc_pb2.DeleteRangeResponse
        if expected_revision is None:
            deleted = await self._call(
                self._delete_range, rpc_pb2.DeleteRangeRequest(key=wire, prev_kv=True)
            )
            revision = deleted.header.revision
        else:
            if expected_revision <= 0:
                raise await self._why_not(key, expected_revision)
            response = await self._call(
                self._txn,
                rpc_pb2.TxnRequest(
                    compare=[_mod_equals(wire, expected_revision)],
                    success=[
                        rpc_pb2.RequestOp(
                            request_delete_range=rpc_pb2.DeleteRangeRequest(key=wire, prev_kv=True)
                        )
                    ],
                    failure=[_read(wire)],
                ),
            )
            if not response.succeeded:
                raise _cas_error(key, expected_revision, response.responses[0].response_range.kvs)
            deleted = response.responses[0].response_delete_range
            revision = response.header.revision
        if not deleted.prev_kvs:
            raise errors.NotFound(key)
        last = deleted.prev_kvs[0]
        return interface.KeyValue(
            key=key, value=last.value, mod_revision=revision, create_revision=last.create_revision
        )

    def watch(self, prefix: str, *, from_revision: int) -> AsyncIterator[interface.Event]:
        if from_revision < 0:
            raise ValueError("from_revision must not be negative")
        watch = _Watch(self, prefix, from_revision)
        self._watches.add(watch)
        return watch

    async def current_revision(self) -> int:
        response = await self._call(
            self._range, rpc_pb2.RangeRequest(key=_PROBE_KEY, count_only=True)
        )
        return response.header.revision

    async def compact(self, revision: int) -> None:
        """Compact etcd's history before ``revision`` (for every prefix: etcd has one
        history). Compacting to a revision at or below the last compaction does nothing."""
        try:
            await self._call(
                self._compact,
                rpc_pb2.CompactionRequest(revision=revision, physical=True),
                revision=revision,
                timeout=max(self._timeout, 300.0),
            )
        except errors.Compacted:
            pass

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for watch in list(self._watches):
            watch.cancel()
        await self._channel.close()

    # -- etcd-only operations (benchmarks, operators) -----------------------------------

    async def db_size(self) -> int:
        """Bytes of etcd's database file, as etcd reports it."""
        response = await self._call(self._status, rpc_pb2.StatusRequest())
        return response.dbSize

    async def defragment(self) -> None:
        """Give the space freed by compaction back to the file system (blocks etcd's
        writes while it runs, as upstream's ``etcdctl defrag``)."""
        await self._call(self._defragment, rpc_pb2.DefragmentRequest(), timeout=300.0)

    # -- plumbing -----------------------------------------------------------------------

    def _wire(self, key: str) -> bytes:
        return self._prefix_bytes + key.encode()

    def _unwire(self, key: bytes) -> str:
        return key[len(self._prefix_bytes) :].decode()

    def _key_value(self, kv: kv_pb2.KeyValue) -> interface.KeyValue:
        return interface.KeyValue(
            key=self._unwire(kv.key),
            value=kv.value,
            mod_revision=kv.mod_revision,
            create_revision=kv.create_revision,
        )

    async def _why_not(self, key: str, expected_revision: int) -> errors.StorageError:
        """The error for a compare-and-swap that cannot succeed."""
        response = await self._call(self._range, rpc_pb2.RangeRequest(key=self._wire(key)))
        return _cas_error(key, expected_revision, response.kvs)

    async def _call(
        self,
        method: UnaryUnaryMultiCallable[_Req, _Resp],
        request: _Req,
        *,
        revision: int = 0,
        timeout: float | None = None,
    ) -> _Resp:
        if self._closed:
            raise errors.Unavailable(f"etcd store for {self._target} is closed")
        try:
            return await method(request, timeout=self._timeout if timeout is None else timeout)
        except grpc.aio.AioRpcError as exc:
            details = _one_line(exc.details() or "")
            if _COMPACTED in details:
                raise errors.Compacted(revision, await self._compacted_revision(revision))
            if _FUTURE in details:
                current = await self.current_revision()
                raise errors.FutureRevision(revision, current)
            raise self._translate(exc.code(), details)

    def _translate(self, code: grpc.StatusCode, details: str) -> errors.StorageError:
        if code in _UNAVAILABLE_CODES or any(word in details for word in _TRANSIENT):
            return errors.Unavailable(f"etcd at {self._target} unavailable: {details}")
        return errors.StorageError(f"etcd at {self._target}: {code.name}: {details}")

    async def _compacted_revision(self, fallback: int) -> int:
        """etcd's compaction revision. It is not in any response header; a watch from
        revision 1 of a key nobody writes is cancelled at once with it."""
        call = self._watch(timeout=5.0)
        try:
            await call.write(
                rpc_pb2.WatchRequest(
                    create_request=rpc_pb2.WatchCreateRequest(key=_PROBE_KEY, start_revision=1)
                )
            )
            while True:
                response = await call.read()
                if not isinstance(response, rpc_pb2.WatchResponse):
                    return fallback
                if response.compact_revision:
                    return response.compact_revision
                if response.canceled:
                    return fallback
        except grpc.aio.AioRpcError:
            return fallback
        finally:
            call.cancel()


class _Watch:
    """One etcd Watch stream, as an async iterator of ``interface.Event``. etcd may pack
    several events into one response; they are queued and handed out one by one.

    The stream ends (etcd's watcher is cancelled) when the consumer closes the iterator,
    the store closes, etcd ends it with an error, or the iterator is garbage-collected:
    grpc's own objects keep an idle call alive, so a finalizer cancels it."""

    def __init__(self, store: EtcdStorage, prefix: str, from_revision: int) -> None:
        self._store = store
        self._prefix = prefix
        self._from = from_revision
        self._call: _WatchCall | None = None
        self._cancel_call: weakref.finalize[[_WatchCall], _Watch] | None = None
        self._pending: collections.deque[interface.Event] = collections.deque()
        self._closed = False

    def __aiter__(self) -> _Watch:
        return self

    async def __anext__(self) -> interface.Event:
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            call = self._call or await self._open()
            self._receive(await self._read(call))
        return self._pending.popleft()

    async def aclose(self) -> None:
        self.cancel()

    def cancel(self) -> None:
        """End the watch: a pending or later ``__anext__`` raises StopAsyncIteration."""
        self._closed = True
        self._store._watches.discard(self)
        if self._cancel_call is not None:
            self._cancel_call()

    async def _open(self) -> _WatchCall:
        store = self._store
        call = self._call = store._watch()
        self._cancel_call = weakref.finalize(self, _cancel_quietly, call)
        self._cancel_call.atexit = False
        wire = store._wire(self._prefix)
        request = rpc_pb2.WatchCreateRequest(
            key=wire or b"\x00",
            range_end=prefix_end(wire),
            start_revision=self._from + 1,
            prev_kv=True,
        )
        try:
            await call.write(rpc_pb2.WatchRequest(create_request=request))
        except grpc.aio.AioRpcError as exc:
            self.cancel()
            raise store._translate(exc.code(), _one_line(exc.details() or ""))
        except asyncio.CancelledError:
            self._stop_if_closed()
            raise
        return call

    async def _read(self, call: _WatchCall) -> rpc_pb2.WatchResponse:
        try:
            response = await call.read()
        except grpc.aio.AioRpcError as exc:
            if self._closed:
                raise StopAsyncIteration
            self.cancel()
            raise self._store._translate(exc.code(), _one_line(exc.details() or ""))
        except asyncio.CancelledError:
            self._stop_if_closed()
            raise
        if not isinstance(response, rpc_pb2.WatchResponse):  # grpc.aio.EOF
            if self._closed:
                raise StopAsyncIteration
            self.cancel()
            raise errors.Unavailable(f"etcd at {self._store._target} ended the watch stream")
        return response

    def _stop_if_closed(self) -> None:
        """A cancelled call (``cancel()`` or a closed channel) raises CancelledError in its
        reader: that ends the iteration, unless our own task is being cancelled, which
        must propagate."""
        task = asyncio.current_task()
        if self._closed and (task is None or not task.cancelling()):
            raise StopAsyncIteration
        self.cancel()

    def _receive(self, response: rpc_pb2.WatchResponse) -> None:
        if response.compact_revision:
            self.cancel()
            raise errors.Compacted(self._from, response.compact_revision)
        if response.canceled:
            self.cancel()
            reason = _one_line(response.cancel_reason) or "no reason given"
            raise errors.Unavailable(f"etcd at {self._store._target} cancelled a watch: {reason}")
        unwire = self._store._unwire
        for event in response.events:
            kv = event.kv
            if event.type == _EVENT_DELETE:
                # prev_kv is missing only when its revision was compacted meanwhile.
                prev = event.prev_kv
                self._pending.append(
                    interface.Event(
                        type=interface.EventType.DELETED,
                        key=unwire(kv.key),
                        value=prev.value,
                        revision=kv.mod_revision,
                        create_revision=prev.create_revision,
                    )
                )
            else:
                self._pending.append(
                    interface.Event(
                        type=interface.EventType.ADDED
                        if kv.create_revision == kv.mod_revision
                        else interface.EventType.MODIFIED,
                        key=unwire(kv.key),
                        value=kv.value,
                        revision=kv.mod_revision,
                        create_revision=kv.create_revision,
                    )
                )


def _put(key: bytes, value: bytes) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value))


def _read(key: bytes) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=key))


def _mod_equals(key: bytes, revision: int) -> rpc_pb2.Compare:
    return rpc_pb2.Compare(result=_CMP_EQUAL, target=_CMP_MOD, key=key, mod_revision=revision)


def _cas_error(key: str, expected: int, kvs: Sequence[kv_pb2.KeyValue]) -> errors.StorageError:
    if not kvs:
        return errors.NotFound(key)
    return errors.Conflict(key, expected=expected, actual=kvs[0].mod_revision)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cancel_quietly(call: _WatchCall) -> None:
    with contextlib.suppress(Exception):  # e.g. the loop is already closed
        call.cancel()
