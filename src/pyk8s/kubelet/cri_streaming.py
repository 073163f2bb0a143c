"""``StreamingRuntime`` over CRI: the runtime's one-shot streaming URLs (``Exec``,
``Attach``, ``PortForward``) and whether a container runs (``ContainerStatus``).

CRI failures become Status errors here, at the layer boundary: NOT_FOUND → 404, anything
else → 500 with the runtime's message (upstream's kubelet answers the same way).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyk8s.api import errors
from pyk8s.kubelet.cri import api_pb2
from pyk8s.kubelet.cri.client import CRIClient, CRIError
from pyk8s.kubelet.remotecommand import ExecOptions

__all__ = ["CRIStreamingRuntime"]


def _status(exc: CRIError) -> errors.StatusError:
    if exc.not_found:
        return errors.StatusError(404, "NotFound", exc.details)
    return errors.internal_error(exc.details)


class CRIStreamingRuntime:
    def __init__(self, cri: CRIClient) -> None:
        self.cri = cri

    async def exec_url(self, container_id: str, opts: ExecOptions) -> str:
        request = api_pb2.ExecRequest(
            container_id=container_id,
            cmd=list(opts.command),
            tty=opts.tty,
            stdin=opts.stdin,
            stdout=opts.stdout,
            stderr=opts.stderr,
        )
        try:
            return (await self.cri.call(self.cri.runtime.Exec, request)).url
        except CRIError as exc:
            raise _status(exc)

    async def attach_url(self, container_id: str, opts: ExecOptions) -> str:
        request = api_pb2.AttachRequest(
            container_id=container_id,
            tty=opts.tty,
            stdin=opts.stdin,
            stdout=opts.stdout,
            stderr=opts.stderr,
        )
        try:
            return (await self.cri.call(self.cri.runtime.Attach, request)).url
        except CRIError as exc:
            raise _status(exc)

    async def port_forward_url(self, sandbox_id: str, ports: Sequence[int]) -> str:
        request = api_pb2.PortForwardRequest(pod_sandbox_id=sandbox_id, port=list(ports))
        try:
            return (await self.cri.call(self.cri.runtime.PortForward, request)).url
        except CRIError as exc:
            raise _status(exc)

    async def container_running(self, container_id: str) -> bool:
        request = api_pb2.ContainerStatusRequest(container_id=container_id)
        try:
            resp = await self.cri.call(self.cri.runtime.ContainerStatus, request)
        except CRIError as exc:
            if exc.not_found:
                return False
            raise _status(exc)
        return bool(resp.status.state == api_pb2.CONTAINER_RUNNING)
