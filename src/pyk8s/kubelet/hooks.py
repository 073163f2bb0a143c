"""Container lifecycle hooks: postStart and preStop handlers (``pkg/kubelet/lifecycle``).

``run_handler`` runs one ``LifecycleHandler``:
- ``exec``: the command in the container through ``exec_fn`` (no timeout: ``0``); a
  non-zero exit fails with ``command '<cmd>' exited with <code>: <stderr>``;
- ``httpGet``: a GET to ``host`` (default: the pod IP) — any HTTP response counts as
  success, only a request that gets no answer fails; an HTTPS request answered in plain
  HTTP is retried over HTTP (without ``Authorization``) and reported with a
  ``LifecycleHTTPFallback`` warning;
- ``sleep``: waits ``seconds`` on the clock (cancelling the call cancels the sleep).
Failure messages are upstream's: ``Exec lifecycle hook ([cmd]) for Container "c" in Pod
"name_ns(uid)" failed - error: …, message: "…"``, ``HTTP lifecycle hook (/path) …``.

``post_start`` and ``pre_stop`` wrap that with the kubelet's reporting: a failed hook is a
Warning event ``FailedPostStartHook`` / ``FailedPreStopHook`` whose message is only
``PostStartHook failed`` / ``PreStopHook failed`` (the details, which may hold secrets,
stay in ``HookResult.message``; after a failed postStart the kubelet kills the container
and shows the message with reason ``PostStartHookError``). ``pre_stop`` gives the hook at
most the grace period and tells how long it took.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyk8s.client.clock import REAL_CLOCK, Clock
from pyk8s.kubelet import probe_transports as transports
from pyk8s.kubelet.envvars import join_host_port
from pyk8s.kubelet.fieldpath import go_quote
from pyk8s.kubelet.probe_transports import ExecFn
from pyk8s.kubelet.probes import PortError, resolve_port

__all__ = ["HookResult", "format_pod", "post_start", "pre_stop", "run_handler"]

Obj = dict[str, Any]
Event = tuple[str, str, str]  # (type, reason, message)


@dataclass
class HookResult:
    """The outcome of a hook: ``ok``; ``message`` (upstream's detailed text) on failure;
    ``events`` to record on the pod; ``elapsed`` seconds (preStop)."""

    ok: bool
    message: str = ""
    events: list[Event] = field(default_factory=list)
    elapsed: float = 0.0


def format_pod(pod: Obj) -> str:
    """``name_namespace(uid)``, as the kubelet names pods in messages."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def _go_list(items: Sequence[str]) -> str:
    return "[" + " ".join(items) + "]"


async def _exec(handler: Obj, exec_fn: ExecFn) -> tuple[str | None, str]:
    """(error, output) of an exec handler."""
    command = [str(c) for c in handler.get("command") or []]
    try:
        out = await exec_fn(command, 0)
    except Exception as e:
        return str(e) or type(e).__name__, ""
    code = out[0]
    stdout = out[1]
    stderr = out[2] if len(out) == 3 else b""
    output = (stdout + stderr).decode("utf-8", errors="replace")
    if code != 0:
        err = f"command '{' '.join(command)}' exited with {code}: {stderr.decode('utf-8', errors='replace')}"
        return err, output
    return None, output


async def _http(
    handler: Obj, container: Obj, pod_ip: str, timeout: float | None, events: list[Event]
) -> str | None:
    host = handler.get("host") or pod_ip
    if not host:
        return "failed to find networking container: no pod IP"
    try:
        port = resolve_port(handler.get("port"), container.get("ports") or [])
    except PortError as e:
        return str(e)
    url = transports.probe_url(
        str(handler.get("scheme") or "HTTP"), host, port, str(handler.get("path") or "")
    )
    headers = handler.get("httpHeaders") or []
    try:
        await transports.fetch(
            url, headers=headers, timeout=timeout, purpose="lifecycle", any_host_redirects=True
        )
        return None
    except transports.FetchError as e:
        err = str(e)
    if url.startswith("https://") and "server gave HTTP response to HTTPS client" in err:
        plain = "http://" + url[len("https://") :]
        try:
            await transports.fetch(
                plain,
                headers=headers,
                timeout=timeout,
                purpose="lifecycle",
                any_host_redirects=True,
                drop_headers=("Authorization",),
            )
        except transports.FetchError:
            return err
        events.append(
            (
                "Warning",
                "LifecycleHTTPFallback",
                f"request to HTTPS lifecycle hook {join_host_port(host, port)} "
                "got HTTP response, retry with HTTP succeeded",
            )
        )
        return None
    return err


async def run_handler(
    handler: Obj,
    *,
    pod: Obj,
    container: Obj,
    pod_ip: str,
    exec_fn: ExecFn,
    http_timeout: float | None = None,
    clock: Clock = REAL_CLOCK,
) -> HookResult:
    """Run one lifecycle handler (``handlerRunner.Run``)."""
    events: list[Event] = []
    where = f'for Container "{container.get("name", "")}" in Pod "{format_pod(pod)}"'
    if handler.get("exec") is not None:
        err, output = await _exec(handler["exec"], exec_fn)
        if err is None:
            return HookResult(True)
        command = [str(c) for c in handler["exec"].get("command") or []]
        msg = (
            f"Exec lifecycle hook ({_go_list(command)}) {where} failed - error: {err}, "
            f"message: {go_quote(output)}"
        )
        return HookResult(False, msg)
    if handler.get("httpGet") is not None:
        get = handler["httpGet"]
        err = await _http(get, container, pod_ip, http_timeout, events)
        if err is None:
            return HookResult(True, events=events)
        msg = f"HTTP lifecycle hook ({get.get('path', '')}) {where} failed - error: {err}"
        return HookResult(False, msg, events)
    if handler.get("sleep") is not None:
        seconds = int(handler["sleep"].get("seconds") or 0)
        await clock.sleep(seconds)  # cancellation propagates (the caller is stopping it)
        return HookResult(True)
    return HookResult(False, f"Cannot run handler: invalid handler: {handler}")


async def post_start(
    pod: Obj, container: Obj, *, pod_ip: str, exec_fn: ExecFn, clock: Clock = REAL_CLOCK
) -> HookResult:
    """Run the container's postStart hook (ok when there is none)."""
    handler = (container.get("lifecycle") or {}).get("postStart")
    if not handler:
        return HookResult(True)
    result = await run_handler(
        handler, pod=pod, container=container, pod_ip=pod_ip, exec_fn=exec_fn, clock=clock
    )
    if not result.ok:
        result.events.append(("Warning", "FailedPostStartHook", "PostStartHook failed"))
    return result


async def pre_stop(
    pod: Obj,
    container: Obj,
    *,
    pod_ip: str,
    exec_fn: ExecFn,
    grace_period: float,
    clock: Clock = REAL_CLOCK,
) -> HookResult:
    """Run the preStop hook for at most ``grace_period`` seconds (``executePreStopHook``).

    A hook still running when the grace period ends is cancelled; that is not a failure
    (upstream logs it and goes on to stop the container)."""
    handler = (container.get("lifecycle") or {}).get("preStop")
    if not handler:
        return HookResult(True)
    start = clock.now()
    task = asyncio.ensure_future(
        run_handler(
            handler, pod=pod, container=container, pod_ip=pod_ip, exec_fn=exec_fn, clock=clock
        )
    )
    timer = asyncio.ensure_future(clock.sleep(max(0.0, grace_period)))
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    if not task.done():
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        return HookResult(True, elapsed=clock.now() - start)
    result = task.result()
    result.elapsed = clock.now() - start
    if not result.ok:
        result.events.append(("Warning", "FailedPreStopHook", "PreStopHook failed"))
    return result
