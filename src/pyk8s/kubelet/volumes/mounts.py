"""Which host paths a container gets, and where (the pure half of upstream's ``makeMounts``).

``container_mounts(pod, container, volume_paths, …)`` turns the container's
``volumeMounts`` into ``Mount``s (container path, host path, read-only, propagation):

- ``subPath`` (or ``subPathExpr``, expanded with the container's environment; a missing or
  empty variable is an error) points the mount at that path inside the volume. It must be
  relative and must not contain ``..``. The I/O step (``VolumeManager.prepare_container``)
  creates a missing subpath and resolves it to a real path inside the volume, so a subPath
  into a configMap/secret volume pins the file it saw at start and does not follow
  updates — as upstream.
- configMap, secret, downwardAPI and projected volumes are always read-only, so is a
  ``persistentVolumeClaim`` with ``readOnly``; otherwise ``readOnly`` of the mount decides.
- ``mountPropagation``: None/absent → private, ``HostToContainer``, ``Bidirectional``.
- The pod's managed hosts file is mounted at /etc/hosts (unless a volume is mounted
  there), and the termination-message file at ``terminationMessagePath``.

Errors raise ``ContainerConfigError`` with upstream's messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pyk8s.kubelet.envvars import ContainerConfigError, expand_subpath_expr

__all__ = [
    "DEFAULT_TERMINATION_MESSAGE_PATH",
    "ETC_HOSTS",
    "Mount",
    "container_mounts",
    "forced_read_only",
]

Obj = dict[str, Any]

ETC_HOSTS: Final = "/etc/hosts"
DEFAULT_TERMINATION_MESSAGE_PATH: Final = "/dev/termination-log"
_PROPAGATION: Final = {
    None: "PROPAGATION_PRIVATE",
    "None": "PROPAGATION_PRIVATE",
    "HostToContainer": "PROPAGATION_HOST_TO_CONTAINER",
    "Bidirectional": "PROPAGATION_BIDIRECTIONAL",
}
_ALWAYS_READ_ONLY: Final = ("configMap", "secret", "downwardAPI", "projected")


@dataclass(frozen=True)
class Mount:
    """One bind mount for CRI. ``propagation`` is the CRI enum name
    (``PROPAGATION_PRIVATE``, ``PROPAGATION_HOST_TO_CONTAINER``,
    ``PROPAGATION_BIDIRECTIONAL``). ``subpath_of`` is the volume's root for subPath mounts
    (the host path must stay inside it), else None."""

    name: str
    container_path: str
    host_path: str
    readonly: bool = False
    propagation: str = "PROPAGATION_PRIVATE"
    subpath_of: str | None = None


def forced_read_only(volume: Obj) -> bool:
    """Volumes mounted read-only whatever the mount says."""
    if any(volume.get(kind) is not None for kind in _ALWAYS_READ_ONLY):
        return True
    return bool((volume.get("persistentVolumeClaim") or {}).get("readOnly"))


def _absolute(path: str) -> str:
    return path if path.startswith("/") else "/" + path


def _subpath(mount: Obj, env: Iterable[tuple[str, str]]) -> str:
    sub = str(mount.get("subPath") or "")
    if mount.get("subPathExpr"):
        sub = expand_subpath_expr(str(mount["subPathExpr"]), env)
    if not sub:
        return ""
    if sub.startswith("/"):
        raise ContainerConfigError(f"error SubPath `{sub}` must not be an absolute path")
    if ".." in sub.split("/"):
        raise ContainerConfigError(f"unable to provision SubPath `{sub}`: must not contain '..'")
    return sub


def container_mounts(
    pod: Obj,
    container: Obj,
    volume_paths: Mapping[str, str],
    *,
    env: Iterable[tuple[str, str]] = (),
    hosts_file: str | None = None,
    termination_log: str | None = None,
) -> list[Mount]:
    """The container's mounts.

    ``volume_paths``: volume name → host path (from ``VolumeManager.setup``); ``env``: the
    container's environment for ``subPathExpr``; ``hosts_file``: host path of the pod's
    managed hosts file, or None not to mount one; ``termination_log``: host path of this
    container instance's termination-message file, or None.
    """
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    env = list(env)
    cname = container.get("name", "")
    mounts: list[Mount] = []
    mount_hosts = hosts_file is not None
    for vm in container.get("volumeMounts") or []:
        name = vm.get("name", "")
        container_path = _absolute(str(vm.get("mountPath", "")))
        if container_path == ETC_HOSTS:
            mount_hosts = False
        if name not in volume_paths:
            raise ContainerConfigError(
                f'cannot find volume "{name}" to mount into container "{cname}"'
            )
        sub = _subpath(vm, env)
        root = str(volume_paths[name]).rstrip("/") or "/"
        host_path = f"{root}/{sub}" if sub else root
        propagation = vm.get("mountPropagation")
        if propagation not in _PROPAGATION:
            raise ContainerConfigError(f'invalid MountPropagation mode: "{propagation}"')
        if vm.get("recursiveReadOnly") == "Enabled":
            raise ContainerConfigError(
                "failed to resolve recursive read-only mode: "
                f'volume "{name}" requested recursive read-only mode, '
                "but it is not supported by the runtime"
            )
        mounts.append(
            Mount(
                name=name,
                container_path=container_path,
                host_path=host_path,
                readonly=bool(vm.get("readOnly")) or forced_read_only(volumes.get(name) or {}),
                propagation=_PROPAGATION[propagation],
                subpath_of=root if sub else None,
            )
        )
    if mount_hosts and hosts_file is not None:
        mounts.append(
            Mount(name="k8s-managed-etc-hosts", container_path=ETC_HOSTS, host_path=hosts_file)
        )
    message_path = container.get("terminationMessagePath", DEFAULT_TERMINATION_MESSAGE_PATH)
    if termination_log is not None and message_path:
        mounts.append(
            Mount(
                name="termination-log",
                container_path=_absolute(str(message_path)),
                host_path=termination_log,
            )
        )
    return mounts
