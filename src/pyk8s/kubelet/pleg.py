"""The pod lifecycle event generator: what runs on the node, by relisting the runtime
(containerd 1.6 has no container events).

- ``relist()`` (every ``period``, 1 s): ``ListPodSandbox`` and ``ListContainers`` once
  each, grouped by the pod uid label (things without it are not the kubelet's and are
  ignored). A pod whose sandboxes or containers changed state since the last relist — or
  appeared, or vanished — is reported through ``on_change(uid)``; the first relist reports
  every pod found.
- ``pod_state(uid)``: a fresh ``PodRuntimeState`` for one pod (label-filtered lists), as
  the pod worker reads it before every sync — a sync never acts on a stale cache.
- ``ContainerStatus``/``PodSandboxStatus`` are asked only for things new or changed since
  they were last asked (exit codes, times, IPs, network mode); the answers are cached by
  ID and state. For an exited container the termination message is read from the file
  mounted at its ``terminationMessagePath`` (at most 4 KiB), or — with
  ``FallbackToLogsOnError``, a non-zero exit and no message — from the last 80 lines
  (2 KiB) of its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import Callable, Iterable, Mapping

from pyk8s.kubelet import podstate
from pyk8s.kubelet.cri import api_pb2
from pyk8s.kubelet.cri.client import CRIClient, CRIError
from pyk8s.kubelet.podstate import ContainerState, PodRuntimeState, SandboxState

__all__ = ["PLEG", "read_termination_message", "tail_log_message"]

log = logging.getLogger(__name__)

MAX_MESSAGE = 4096
FALLBACK_LINES = 80
FALLBACK_BYTES = 2048


def tail_log_message(path: str, lines: int = FALLBACK_LINES, limit: int = FALLBACK_BYTES) -> str:
    """The last ``lines`` lines of a CRI-format log (``<time> <stream> <P|F> <text>``),
    joined, cut to the last ``limit`` bytes."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read()
    except OSError:
        return ""
    out: list[str] = []
    partial = ""
    for raw in data.decode(errors="replace").splitlines():
        parts = raw.split(" ", 3)
        if len(parts) < 3:
            continue
        text = parts[3] if len(parts) == 4 else ""
        if parts[2] == "P":
            partial += text
            continue
        out.append(partial + text)
        partial = ""
    text = "\n".join(out[-lines:])
    if out:
        text += "\n"
    encoded = text.encode()
    return encoded[-limit:].decode(errors="replace")


def read_termination_message(
    status: api_pb2.ContainerStatus, annotations: Mapping[str, str]
) -> str:
    path = annotations.get(podstate.TERMINATION_MESSAGE_PATH, "")
    message = ""
    if path:
        for mount in status.mounts:
            if mount.container_path == path:
                try:
                    with open(mount.host_path, "rb") as f:
                        message = f.read(MAX_MESSAGE).decode(errors="replace")
                except FileNotFoundError:
                    message = ""  # the pod's directory is gone: nothing to tell
                except OSError as exc:
                    message = f"Error on reading termination message from logs: {exc}"
                break
    policy = annotations.get(podstate.TERMINATION_MESSAGE_POLICY, "File")
    if not message and policy == "FallbackToLogsOnError" and status.exit_code != 0:
        message = tail_log_message(status.log_path)
    return message


class PLEG:
    def __init__(
        self,
        cri: CRIClient,
        *,
        on_change: Callable[[str], None] = lambda uid: None,
        period: float = 1.0,
    ) -> None:
        self.cri = cri
        self.on_change = on_change
        self.period = period
        self._containers: dict[str, tuple[int, ContainerState]] = {}
        self._sandboxes: dict[str, tuple[int, SandboxState]] = {}
        self._signatures: dict[str, frozenset[tuple[str, int]]] = {}
        self._states: dict[str, PodRuntimeState] = {}
        self.relisted = asyncio.Event()
        self.healthy = True
        self.relists = 0

    # ------------------------------------------------------------------ reads

    def uids(self) -> list[str]:
        return list(self._states)

    def cached(self, uid: str) -> PodRuntimeState | None:
        return self._states.get(uid)

    def forget(self, uid: str) -> None:
        """Drop a pod whose things were just removed (the next relist confirms it)."""
        self._states.pop(uid, None)
        self._signatures.pop(uid, None)

    def all_states(self) -> list[PodRuntimeState]:
        return list(self._states.values())

    async def pod_state(self, uid: str) -> PodRuntimeState:
        selector = {podstate.POD_UID: uid}
        sbs = await self.cri.call(
            self.cri.runtime.ListPodSandbox,
            api_pb2.ListPodSandboxRequest(filter=api_pb2.PodSandboxFilter(label_selector=selector)),
        )
        cs = await self.cri.call(
            self.cri.runtime.ListContainers,
            api_pb2.ListContainersRequest(filter=api_pb2.ContainerFilter(label_selector=selector)),
        )
        state = await self._build(uid, sbs.items, cs.containers)
        if state.empty:
            self.forget(uid)
        else:
            self._states[uid] = state
        return state

    # ------------------------------------------------------------------ relisting

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.relist()
                self.healthy = True
            except CRIError as exc:
                self.healthy = False
                log.warning("relist failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.period)

    async def relist(self) -> None:
        sbs = await self.cri.call(self.cri.runtime.ListPodSandbox, api_pb2.ListPodSandboxRequest())
        cs = await self.cri.call(self.cri.runtime.ListContainers, api_pb2.ListContainersRequest())
        by_uid_sb: dict[str, list[api_pb2.PodSandbox]] = {}
        by_uid_c: dict[str, list[api_pb2.Container]] = {}
        for sb in sbs.items:
            uid = sb.labels.get(podstate.POD_UID)
            if uid:
                by_uid_sb.setdefault(uid, []).append(sb)
        for c in cs.containers:
            uid = c.labels.get(podstate.POD_UID)
            if uid:
                by_uid_c.setdefault(uid, []).append(c)
        seen = set(by_uid_sb) | set(by_uid_c)
        changed: list[str] = []
        for uid in seen:
            sig = _signature(by_uid_sb.get(uid, ()), by_uid_c.get(uid, ()))
            if self._signatures.get(uid) == sig and uid in self._states:
                continue
            self._signatures[uid] = sig
            self._states[uid] = await self._build(
                uid, by_uid_sb.get(uid, ()), by_uid_c.get(uid, ())
            )
            changed.append(uid)
        for uid in set(self._states) - seen:
            self._states.pop(uid, None)
            self._signatures.pop(uid, None)
            changed.append(uid)
        self._forget_unseen({sb.id for sb in sbs.items}, {c.id for c in cs.containers})
        self.relists += 1
        self.relisted.set()
        for uid in changed:
            self.on_change(uid)

    def _forget_unseen(self, sandbox_ids: set[str], container_ids: set[str]) -> None:
        for cid in set(self._containers) - container_ids:
            del self._containers[cid]
        for sid in set(self._sandboxes) - sandbox_ids:
            del self._sandboxes[sid]

    async def _build(
        self,
        uid: str,
        sandboxes: Iterable[api_pb2.PodSandbox],
        containers: Iterable[api_pb2.Container],
    ) -> PodRuntimeState:
        sbs = [await self._sandbox(sb) for sb in sandboxes]
        cs = [await self._container(c) for c in containers]
        return podstate.from_cri(uid, [s for s in sbs if s], [c for c in cs if c])

    async def _sandbox(self, sb: api_pb2.PodSandbox) -> SandboxState | None:
        cached = self._sandboxes.get(sb.id)
        if cached is not None and cached[0] == sb.state:
            return cached[1]
        try:
            resp = await self.cri.call(
                self.cri.runtime.PodSandboxStatus,
                api_pb2.PodSandboxStatusRequest(pod_sandbox_id=sb.id),
            )
            state = podstate.sandbox_from_cri(sb, resp.status)
        except CRIError as exc:
            if not exc.not_found:
                raise
            return None
        self._sandboxes[sb.id] = (sb.state, state)
        return state

    async def _container(self, c: api_pb2.Container) -> ContainerState | None:
        cached = self._containers.get(c.id)
        if cached is not None and cached[0] == c.state:
            return cached[1]
        try:
            resp = await self.cri.call(
                self.cri.runtime.ContainerStatus,
                api_pb2.ContainerStatusRequest(container_id=c.id),
            )
        except CRIError as exc:
            if not exc.not_found:
                raise
            return None
        state = podstate.container_from_cri(c, resp.status)
        if state.exited:
            message = await asyncio.to_thread(
                read_termination_message, resp.status, state.annotations
            )
            if message:
                state = _with_message(state, message)
        elif state.state == "running" and state.reason == "OOMKilled":
            state = _with_message(state, state.message, reason="")
        self._containers[c.id] = (resp.status.state, state)
        return state


def _with_message(
    state: ContainerState, message: str, *, reason: str | None = None
) -> ContainerState:
    if reason is None:
        return dataclasses.replace(state, message=message)
    return dataclasses.replace(state, message=message, reason=reason)


def _signature(
    sandboxes: Iterable[api_pb2.PodSandbox], containers: Iterable[api_pb2.Container]
) -> frozenset[tuple[str, int]]:
    return frozenset(
        [(s.id, int(s.state)) for s in sandboxes] + [(c.id, int(c.state)) for c in containers]
    )
