"""A CRI v1 client: one gRPC channel to a container runtime's unix socket (DESIGN §7).

``CRIClient`` owns a ``grpc.aio`` channel and exposes the two CRI services as typed stubs:
``client.runtime`` (``RuntimeServiceStub``) and ``client.images`` (``ImageServiceStub``).
Callers build the ``api_pb2`` request messages themselves, with upstream's field names::

    cri = CRIClient(socket)
    await cri.wait_ready(timeout=10)
    resp = await cri.call(cri.runtime.RunPodSandbox, api_pb2.RunPodSandboxRequest(config=...))

``call`` (or ``translate`` around a bare ``await stub.Method(...)``) turns gRPC failures into
``CRIError``, which keeps the status code, so the kubelet can tell "gone" (``NOT_FOUND``)
from "runtime down" (``UNAVAILABLE``/``DEADLINE_EXCEEDED``) without knowing grpc.

The channel reconnects by itself when the runtime restarts (containerd restarts leave pods
running and its sockets reappear); the reconnect back-off is kept between 100 ms and 1 s so
a restarted runtime is noticed quickly. Calls issued while the runtime is down fail with
``UNAVAILABLE`` at once unless ``wait_for_ready`` is passed to the stub.

Invariants: the stubs are the generated ones with types added here; nothing in this module
retries a call on its own (CRI calls are not all idempotent); ``close()`` is safe to call
twice.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

import grpc
import grpc.aio

from pyk8s.kubelet.cri import api_pb2, api_pb2_grpc

if TYPE_CHECKING:
    from types import TracebackType

    from grpc.aio import UnaryUnaryMultiCallable as _Unary

__all__ = [
    "CRIClient",
    "CRIError",
    "ImageServiceStub",
    "RuntimeServiceStub",
    "channel_target",
    "translate",
]

_Req = TypeVar("_Req")
_Resp = TypeVar("_Resp")

# CRI responses (ListContainers on a busy node, ExecSync output) can exceed gRPC's 4 MiB
# default; upstream's kubelet allows 16 MiB.
_MAX_MESSAGE = 16 * 1024 * 1024

_CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.enable_http_proxy", 0),  # a unix socket must never go through a proxy
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.max_send_message_length", _MAX_MESSAGE),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]

_UNAVAILABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


class RuntimeServiceStub(Protocol):
    """``runtime.v1.RuntimeService`` with types (the generated stub has none)."""

    Version: _Unary[api_pb2.VersionRequest, api_pb2.VersionResponse]
    RunPodSandbox: _Unary[api_pb2.RunPodSandboxRequest, api_pb2.RunPodSandboxResponse]
    StopPodSandbox: _Unary[api_pb2.StopPodSandboxRequest, api_pb2.StopPodSandboxResponse]
    RemovePodSandbox: _Unary[api_pb2.RemovePodSandboxRequest, api_pb2.RemovePodSandboxResponse]
    PodSandboxStatus: _Unary[api_pb2.PodSandboxStatusRequest, api_pb2.PodSandboxStatusResponse]
    ListPodSandbox: _Unary[api_pb2.ListPodSandboxRequest, api_pb2.ListPodSandboxResponse]
    CreateContainer: _Unary[api_pb2.CreateContainerRequest, api_pb2.CreateContainerResponse]
    StartContainer: _Unary[api_pb2.StartContainerRequest, api_pb2.StartContainerResponse]
    StopContainer: _Unary[api_pb2.StopContainerRequest, api_pb2.StopContainerResponse]
    RemoveContainer: _Unary[api_pb2.RemoveContainerRequest, api_pb2.RemoveContainerResponse]
    ListContainers: _Unary[api_pb2.ListContainersRequest, api_pb2.ListContainersResponse]
    ContainerStatus: _Unary[api_pb2.ContainerStatusRequest, api_pb2.ContainerStatusResponse]
    UpdateContainerResources: _Unary[
        api_pb2.UpdateContainerResourcesRequest, api_pb2.UpdateContainerResourcesResponse
    ]
    ReopenContainerLog: _Unary[
        api_pb2.ReopenContainerLogRequest, api_pb2.ReopenContainerLogResponse
    ]
    ExecSync: _Unary[api_pb2.ExecSyncRequest, api_pb2.ExecSyncResponse]
    Exec: _Unary[api_pb2.ExecRequest, api_pb2.ExecResponse]
    Attach: _Unary[api_pb2.AttachRequest, api_pb2.AttachResponse]
    PortForward: _Unary[api_pb2.PortForwardRequest, api_pb2.PortForwardResponse]
    ContainerStats: _Unary[api_pb2.ContainerStatsRequest, api_pb2.ContainerStatsResponse]
    ListContainerStats: _Unary[
        api_pb2.ListContainerStatsRequest, api_pb2.ListContainerStatsResponse
    ]
    UpdateRuntimeConfig: _Unary[
        api_pb2.UpdateRuntimeConfigRequest, api_pb2.UpdateRuntimeConfigResponse
    ]
    Status: _Unary[api_pb2.StatusRequest, api_pb2.StatusResponse]


class ImageServiceStub(Protocol):
    """``runtime.v1.ImageService`` with types."""

    ListImages: _Unary[api_pb2.ListImagesRequest, api_pb2.ListImagesResponse]
    ImageStatus: _Unary[api_pb2.ImageStatusRequest, api_pb2.ImageStatusResponse]
    PullImage: _Unary[api_pb2.PullImageRequest, api_pb2.PullImageResponse]
    RemoveImage: _Unary[api_pb2.RemoveImageRequest, api_pb2.RemoveImageResponse]
    ImageFsInfo: _Unary[api_pb2.ImageFsInfoRequest, api_pb2.ImageFsInfoResponse]


class CRIError(Exception):
    """A failed CRI call: the gRPC status ``code`` and the runtime's ``details``."""

    def __init__(self, code: grpc.StatusCode, details: str, *, method: str = "") -> None:
        self.code = code
        self.details = details
        self.method = method
        where = f"{method}: " if method else ""
        super().__init__(f"{where}{code.name}: {details}")

    @property
    def not_found(self) -> bool:
        return self.code == grpc.StatusCode.NOT_FOUND

    @property
    def unavailable(self) -> bool:
        """The runtime did not answer (down, restarting, or too slow): worth retrying."""
        return self.code in _UNAVAILABLE


def translate(exc: grpc.aio.AioRpcError, *, method: str = "") -> CRIError:
    """The ``CRIError`` for a gRPC failure; the details are cut to one line."""
    details = " ".join((exc.details() or "").split())
    return CRIError(exc.code(), details, method=method)


def channel_target(socket: Path | str) -> str:
    """The gRPC target for a unix socket path (made absolute: ``unix:`` needs it)."""
    text = str(socket)
    if text.startswith("unix:"):
        return text
    return "unix://" + str(Path(text).absolute())


class CRIClient:
    """One gRPC channel to a CRI runtime. Construct it inside a running event loop."""

    def __init__(self, socket: Path | str, *, timeout: float | None = None) -> None:
        self.socket = Path(str(socket).removeprefix("unix://").removeprefix("unix:"))
        self.timeout = timeout
        self.channel = grpc.aio.insecure_channel(channel_target(socket), options=_CHANNEL_OPTIONS)
        # The generated stubs are untyped; the Protocols above give each method its types.
        self.runtime = cast(
            RuntimeServiceStub,
            api_pb2_grpc.RuntimeServiceStub(self.channel),  # type: ignore[no-untyped-call]
        )
        self.images = cast(
            ImageServiceStub,
            api_pb2_grpc.ImageServiceStub(self.channel),  # type: ignore[no-untyped-call]
        )
        self._closed = False

    async def call(
        self,
        method: _Unary[_Req, _Resp],
        request: _Req,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _Resp:
        """``await method(request)`` with gRPC errors turned into ``CRIError``. ``timeout``
        defaults to the client's."""
        try:
            return await method(
                request,
                timeout=self.timeout if timeout is None else timeout,
                wait_for_ready=wait_for_ready,
            )
        except grpc.aio.AioRpcError as exc:
            raise translate(exc, method=_method_name(method)) from None

    async def wait_ready(self, timeout: float) -> api_pb2.VersionResponse:
        """Wait until the runtime answers ``Version`` (the socket may not exist yet);
        ``CRIError`` (``DEADLINE_EXCEEDED``) after ``timeout`` seconds, or at once for an
        error that waiting will not fix (e.g. ``UNIMPLEMENTED``: no CRI plugin)."""
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CRIError(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"runtime at {self.socket} not ready after {timeout:g}s"
                    + (f" (last error: {last})" if last else ""),
                    method="Version",
                )
            try:
                return await self.call(
                    self.runtime.Version,
                    api_pb2.VersionRequest(version="v1"),
                    timeout=min(remaining, 2.0),
                    wait_for_ready=True,
                )
            except CRIError as exc:
                if not exc.unavailable:
                    raise
                last = exc.details

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.channel.close()

    async def __aenter__(self) -> CRIClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _method_name(method: object) -> str:
    # grpc.aio multi-callables keep the full method path ("/runtime.v1.RuntimeService/X").
    path = getattr(method, "_method", b"")
    if isinstance(path, bytes):
        path = path.decode(errors="replace")
    return str(path).rsplit("/", 1)[-1]
