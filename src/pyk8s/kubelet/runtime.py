"""Carrying out a pod's ``PodActions`` through CRI — the only module that changes
what runs (upstream's kuberuntime ``SyncPod``, ``startContainer``, ``killContainer``,
``killPodWithSyncResult`` and the container GC).

``PodRuntime.sync(pod, state, actions, reasons)`` applies the actions in upstream's
order: kill the pod (when the sandbox must go) or the listed containers; create the
sandbox (log directory first; ``SandboxChanged`` when it replaces one); start the next
init container (one at a time: a failure stops there); start the containers. Each start
pulls the image (``pulling.ImagePuller``), builds the config (environment, mounts,
command/args ``$(VAR)``-expanded, ``criconfig.container_config``), creates, starts, and
runs the postStart hook (a failing hook kills the container: ``PostStartHookError``).
Failures are recorded in ``reasons`` (container name → (reason, message)) — what the
status shows while the container waits: ``ErrImagePull``/``ImagePullBackOff``/…,
``CreateContainerConfigError``, ``CreateContainerError``, ``RunContainerError``,
``PostStartHookError``, ``CrashLoopBackOff``; a success clears the container's entry.
Every restart bumps the container's back-off (``Backoff.next``).

Killing: ``kill_container`` records ``Killing`` (before the preStop hook, as upstream),
runs preStop within the grace period, then ``StopContainer`` with what is left (at least
2 s unless the caller overrides it: containerd sends the image's STOPSIGNAL, SIGTERM by
default, and SIGKILL after the timeout). ``kill_pod`` stops the regular containers
together, then the sidecars, then every sandbox. ``remove_pod`` removes sandboxes
(containers with them), log files and the pod's cgroup directories in every hierarchy
(containerd leaves them). ``gc_pod`` removes dead containers but the newest two of each
name (so ``logs --previous`` works) and dead sandboxes but the newest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pyk8s.kubelet import criconfig, envvars, hostcleanup
from pyk8s.kubelet.backoff import Backoff
from pyk8s.kubelet.cri import api_pb2
from pyk8s.kubelet.cri.client import CRIClient, CRIError
from pyk8s.kubelet.podstate import ContainerState, PodRuntimeState
from pyk8s.kubelet.pulling import ImageError, ImagePuller
from pyk8s.kubelet.sync import KillInfo, PodActions, StartInfo, backoff_key, format_pod

__all__ = [
    "CGROUP_FS",
    "ContainerSources",
    "EventSink",
    "Hooks",
    "PodRuntime",
    "RuntimeSettings",
    "remove_pod_cgroups",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Reasons = dict[str, tuple[str, str]]
MIN_GRACE = 2
CGROUP_FS = hostcleanup.CGROUP_FS


class ContainerSources(Protocol):
    """What a container needs from the rest of the kubelet (API objects, volumes)."""

    async def environment(
        self, pod: Obj, container: Obj, pod_ips: Sequence[str]
    ) -> list[tuple[str, str]]: ...

    async def mounts(
        self, pod: Obj, container: Obj, env: Sequence[tuple[str, str]], pod_ips: Sequence[str]
    ) -> list[api_pb2.Mount]: ...

    async def pull_secrets(self, pod: Obj) -> list[Obj]: ...

    def sandbox_dns(
        self, pod: Obj, *, record: bool
    ) -> tuple[list[str], list[str], list[str]] | None:
        """(servers, searches, options); ``record``: report DNS warnings as events."""
        ...

    def hostname(self, pod: Obj) -> str: ...


class Hooks(Protocol):
    """Lifecycle hooks; the adapter records their events itself."""

    async def post_start(self, pod: Obj, container: Obj, container_id: str) -> str | None:
        """Run postStart; None when it succeeded (or there is none), else the message."""
        ...

    async def pre_stop(
        self, pod: Obj, container: Obj, container_id: str, grace_period: float
    ) -> float:
        """Run preStop within the grace period; the seconds it took."""
        ...


class EventSink(Protocol):
    def __call__(
        self, pod: Obj, container: str | None, event_type: str, reason: str, message: str
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    logs_dir: Path
    cgroup_root: str = "/kubepods"
    memory_capacity: int = 0
    runtime_handler: str = ""


def remove_pod_cgroups(root: str, uid: str, fs: Path = CGROUP_FS) -> None:
    """rmdir the pod's cgroup directory (deepest first) in every hierarchy, under
    whichever QoS class it was created."""
    if not uid:
        return
    base = root.strip("/")
    for rel in (f"{base}/pod{uid}", f"{base}/burstable/pod{uid}", f"{base}/besteffort/pod{uid}"):
        hostcleanup.remove_cgroup_tree(rel, fs)


def _container_spec(pod: Mapping[str, Any], name: str) -> tuple[Obj | None, bool]:
    spec = pod.get("spec") or {}
    for c in spec.get("containers") or []:
        if c.get("name") == name:
            return c, False
    for c in spec.get("initContainers") or []:
        if c.get("name") == name:
            return c, True
    return None, False


def _restart_count_from_logs(log_dir: Path) -> int:
    try:
        names = [p.name for p in log_dir.iterdir()]
    except OSError:
        return 0
    counts = [int(n[:-4]) for n in names if n.endswith(".log") and n[:-4].isdigit()]
    return max(counts) + 1 if counts else 0


class PodRuntime:
    def __init__(
        self,
        *,
        cri: CRIClient,
        puller: ImagePuller,
        sources: ContainerSources,
        hooks: Hooks | None,
        events: EventSink,
        backoff: Backoff,
        settings: RuntimeSettings,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.cri = cri
        self.puller = puller
        self.sources = sources
        self.hooks = hooks
        self.events = events
        self.backoff = backoff
        self.settings = settings
        self.wall = wall

    # ------------------------------------------------------------------ configs

    def log_dir(self, pod: Mapping[str, Any]) -> Path:
        return Path(criconfig.log_directory(str(self.settings.logs_dir), pod))

    def sandbox_config(
        self, pod: Obj, attempt: int, *, creating: bool = False
    ) -> api_pb2.PodSandboxConfig:
        return criconfig.sandbox_config(
            pod,
            attempt=attempt,
            log_dir=str(self.log_dir(pod)),
            dns=self.sources.sandbox_dns(pod, record=creating),
            hostname=self.sources.hostname(pod),
            cgroup_root=self.settings.cgroup_root,
        )

    # ------------------------------------------------------------------ sync

    async def sync(
        self, pod: Obj, state: PodRuntimeState, actions: PodActions, reasons: Reasons
    ) -> None:
        if actions.kill_pod:
            await self.kill_pod(pod, state, None)
        else:
            await asyncio.gather(*(self._kill_listed(pod, state, k) for k in actions.to_kill))
        sandbox_id = actions.sandbox_id
        attempt = actions.attempt
        if actions.create_sandbox:
            if attempt:
                self.events(
                    pod,
                    None,
                    "Normal",
                    "SandboxChanged",
                    "Pod sandbox changed, it will be killed and re-created.",
                )
            created = await self._run_sandbox(pod, attempt)
            if created is None:
                return
            sandbox_id = created
        elif not (actions.init_to_start or actions.to_start):
            self._note_backoff(pod, actions, reasons)
            return
        sandbox = self.sandbox_config(pod, attempt)
        pod_ips = await self._sandbox_ips(pod, sandbox_id)
        for start in actions.init_to_start:
            ok = await self._start(pod, start, state, sandbox_id, sandbox, pod_ips, reasons)
            if not ok:
                break
        for start in actions.to_start:
            await self._start(pod, start, state, sandbox_id, sandbox, pod_ips, reasons)
        self._note_backoff(pod, actions, reasons)

    def _note_backoff(self, pod: Obj, actions: PodActions, reasons: Reasons) -> None:
        for wait in actions.waiting:
            reasons[wait.name] = ("CrashLoopBackOff", wait.message)
            self.events(
                pod,
                wait.name,
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {wait.name} in pod {format_pod(pod)}",
            )

    async def _run_sandbox(self, pod: Obj, attempt: int) -> str | None:
        config = self.sandbox_config(pod, attempt, creating=True)
        await asyncio.to_thread(Path(config.log_directory).mkdir, parents=True, exist_ok=True)
        try:
            resp = await self.cri.call(
                self.cri.runtime.RunPodSandbox,
                api_pb2.RunPodSandboxRequest(
                    config=config, runtime_handler=self.settings.runtime_handler
                ),
                timeout=240,
            )
        except CRIError as exc:
            self.events(
                pod,
                None,
                "Warning",
                "FailedCreatePodSandBox",
                f"Failed to create pod sandbox: {exc.details}",
            )
            log.warning("pod %s: RunPodSandbox failed: %s", _key(pod), exc)
            return None
        return resp.pod_sandbox_id

    async def _sandbox_ips(self, pod: Obj, sandbox_id: str) -> list[str]:
        if not sandbox_id:
            return []
        try:
            resp = await self.cri.call(
                self.cri.runtime.PodSandboxStatus,
                api_pb2.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id),
            )
        except CRIError:
            return []
        network = resp.status.network
        return [ip for ip in [network.ip, *(p.ip for p in network.additional_ips)] if ip]

    # ------------------------------------------------------------------ starting

    async def _start(
        self,
        pod: Obj,
        start: StartInfo,
        state: PodRuntimeState,
        sandbox_id: str,
        sandbox: api_pb2.PodSandboxConfig,
        pod_ips: list[str],
        reasons: Reasons,
    ) -> bool:
        container = start.spec(pod)
        name = start.name
        latest = state.latest(name)
        if latest is not None:
            restart_count = latest.restart_count + 1
        else:
            restart_count = await asyncio.to_thread(
                _restart_count_from_logs, self.log_dir(pod) / name
            )
        if state.latest_exited(name) is not None:
            self.backoff.next(backoff_key(pod, container), self.wall())

        def record(event_type: str, reason: str, message: str) -> None:
            self.events(pod, name, event_type, reason, message)

        try:
            secrets = await self.sources.pull_secrets(pod)
            image_ref = await self.puller.ensure(
                pod, container, secrets=secrets, sandbox=sandbox, record=record
            )
        except ImageError as exc:
            reasons[name] = (exc.reason, exc.message)
            record("Warning", "Failed", f"Error: {exc.reason}")
            return False
        try:
            env = await self.sources.environment(pod, container, pod_ips)
            mounts = await self.sources.mounts(pod, container, env, pod_ips)
            command, args = envvars.expand_command(
                container.get("command") or [], container.get("args") or [], env
            )
        except envvars.ContainerConfigError as exc:
            reasons[name] = ("CreateContainerConfigError", str(exc))
            record("Warning", "Failed", f"Error: {exc}")
            return False
        config = criconfig.container_config(
            pod,
            container,
            restart_count=restart_count,
            image_ref=image_ref,
            command=command,
            args=args,
            env=env,
            mounts=mounts,
            memory_capacity=self.settings.memory_capacity,
            init=start.init,
        )
        await asyncio.to_thread((self.log_dir(pod) / name).mkdir, parents=True, exist_ok=True)
        try:
            created = await self.cri.call(
                self.cri.runtime.CreateContainer,
                api_pb2.CreateContainerRequest(
                    pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox
                ),
                timeout=120,
            )
        except CRIError as exc:
            reasons[name] = ("CreateContainerError", exc.details)
            record("Warning", "Failed", f"Error: {exc.details}")
            return False
        cid = created.container_id
        record("Normal", "Created", f"Created container: {name}")
        try:
            await self.cri.call(
                self.cri.runtime.StartContainer,
                api_pb2.StartContainerRequest(container_id=cid),
                timeout=120,
            )
        except CRIError as exc:
            reasons[name] = ("RunContainerError", exc.details)
            record("Warning", "Failed", f"Error: {exc.details}")
            return False
        record("Normal", "Started", f"Started container {name}")
        reasons.pop(name, None)
        post_start = (container.get("lifecycle") or {}).get("postStart")
        if post_start and self.hooks is not None:
            failure = await self.hooks.post_start(pod, container, cid)
            if failure is not None:
                await self.kill_container(pod, cid, name, message="FailedPostStartHook")
                reasons[name] = ("PostStartHookError", failure)
                return False
        return True

    # ------------------------------------------------------------------ killing

    async def _kill_listed(self, pod: Obj, state: PodRuntimeState, k: KillInfo) -> None:
        await self.kill_container(pod, k.container_id, k.name, message=k.message)

    def _grace(self, pod: Mapping[str, Any]) -> int:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        if meta.get("deletionGracePeriodSeconds") is not None:
            return int(meta["deletionGracePeriodSeconds"])
        if spec.get("terminationGracePeriodSeconds") is not None:
            return int(spec["terminationGracePeriodSeconds"])
        return MIN_GRACE

    async def kill_container(
        self,
        pod: Obj,
        container_id: str,
        name: str,
        *,
        message: str = "",
        grace_override: int | None = None,
        prestop: Obj | None = None,
    ) -> None:
        spec, _ = _container_spec(pod, name)
        grace = grace_override if grace_override is not None else self._grace(pod)
        self.events(pod, name, "Normal", "Killing", message or f"Stopping container {name}")
        if spec is None and prestop:
            spec = {"name": name, "lifecycle": {"preStop": prestop}}
        handler = ((spec or {}).get("lifecycle") or {}).get("preStop")
        if handler and self.hooks is not None and spec is not None and grace > 0:
            elapsed = await self.hooks.pre_stop(pod, spec, container_id, grace)
            grace -= int(elapsed)
        grace = max(grace, MIN_GRACE if grace_override is None else 1)
        try:
            await self.cri.call(
                self.cri.runtime.StopContainer,
                api_pb2.StopContainerRequest(container_id=container_id, timeout=grace),
                timeout=grace + 30,
            )
        except CRIError as exc:
            if not exc.not_found:
                raise

    async def kill_pod(self, pod: Obj, state: PodRuntimeState, grace: int | None) -> None:
        """Stop every live container (regular ones first, then sidecars) and sandbox."""
        live = state.running_containers()
        sidecars = [c for c in live if c.container_type == "init"]
        regular = [c for c in live if c.container_type != "init"]
        for group in (regular, sidecars):
            await asyncio.gather(*(self._kill_one(pod, c, grace) for c in group))
        for sb in state.sandboxes:
            if not sb.ready:
                continue
            try:
                await self.cri.call(
                    self.cri.runtime.StopPodSandbox,
                    api_pb2.StopPodSandboxRequest(pod_sandbox_id=sb.id),
                    timeout=120,
                )
            except CRIError as exc:
                if not exc.not_found:
                    raise

    async def _kill_one(self, pod: Obj, c: ContainerState, grace: int | None) -> None:
        await self.kill_container(pod, c.id, c.name, grace_override=grace, prestop=c.prestop())

    # ------------------------------------------------------------------ removal

    async def _remove_container(self, c: ContainerState) -> None:
        try:
            await self.cri.call(
                self.cri.runtime.RemoveContainer,
                api_pb2.RemoveContainerRequest(container_id=c.id),
            )
        except CRIError as exc:
            if not exc.not_found:
                raise
        if c.log_path:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(os.unlink, c.log_path)

    async def _remove_sandbox(self, sandbox_id: str) -> None:
        try:
            await self.cri.call(
                self.cri.runtime.StopPodSandbox,
                api_pb2.StopPodSandboxRequest(pod_sandbox_id=sandbox_id),
                timeout=120,
            )
            await self.cri.call(
                self.cri.runtime.RemovePodSandbox,
                api_pb2.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id),
                timeout=120,
            )
        except CRIError as exc:
            if not exc.not_found:
                raise

    async def gc_pod(self, state: PodRuntimeState) -> None:
        """Remove dead containers but the newest two of each name, and dead sandboxes but
        the newest (once they hold no container)."""
        seen: dict[str, int] = {}
        for c in state.containers:  # newest first
            seen[c.name] = seen.get(c.name, 0) + 1
            if seen[c.name] > 2 and c.state in ("exited", "created"):
                await self._remove_container(c)
        kept = {c.sandbox_id for c in state.containers if seen.get(c.name, 0) <= 2}
        for sb in state.sandboxes[1:]:
            if not sb.ready and sb.id not in kept:
                await self._remove_sandbox(sb.id)

    async def remove_pod(self, pod: Mapping[str, Any], state: PodRuntimeState) -> None:
        """Remove everything of a finished pod from the runtime and the host."""
        for c in state.containers:
            await self._remove_container(c)
        for sb in state.sandboxes:
            await self._remove_sandbox(sb.id)
        await asyncio.to_thread(shutil.rmtree, self.log_dir(pod), True)
        uid = str((pod.get("metadata") or {}).get("uid") or state.uid)
        await asyncio.to_thread(remove_pod_cgroups, self.settings.cgroup_root, uid)


def _key(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"
