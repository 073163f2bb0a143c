"""The volume manager: prepares a pod's volumes on the host and tears them down.

Layout (upstream's): ``<pods_dir>/<uid>/volumes/kubernetes.io~<plugin>/<volume>`` for
volumes the kubelet materialises — ``configmap``, ``secret``, ``downward-api``,
``projected`` (files written by the ``AtomicWriter``) and ``empty-dir``;
``<pods_dir>/<uid>/etc-hosts`` for the managed hosts file;
``<pods_dir>/<uid>/containers/<container>/<id>`` for termination-message files.
hostPath volumes and PersistentVolumeClaims (bound to a ``hostPath`` or ``local`` PV)
resolve to their path on the host.

Secret and projected volumes live on a tmpfs (upstream wraps them in a memory-backed
emptyDir) unless ``secrets_in_memory=False``.

Contract:
- ``setup(pod, …)`` is idempotent (a kubelet restart calls it again for running pods) and
  returns volume name → host path. Every volume is attempted; failures are raised together
  as ``VolumeMountError`` (one ``MountVolume.SetUp failed for volume "<name>" : <reason>``
  message per volume, upstream's ``FailedMount`` events).
- ``refresh(pod, …)`` rewrites configMap/secret/downwardAPI/projected volumes whose content
  changed (atomically, ``..data`` swap) and says whether anything changed.
- ``teardown(uid)`` unmounts everything below the pod directory and removes it.
- ``prepare_container(pod, container, …)`` writes the hosts file, creates the
  termination-message file and subpaths, and returns the container's ``Mount``s.
Calls for one pod are serialised by a per-pod lock; file work runs in a thread.
Lookups are async: ``get_configmap(ns, name)``, ``get_secret(ns, name)``,
``get_pvc(ns, name)`` → object or None; ``get_pv(name)`` → object or None;
``token_for(pod, audience, expiration_seconds)`` → a service account token (called at
every setup/refresh: the caller caches and renews).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pyk8s.kubelet import podnetconf
from pyk8s.kubelet.envvars import ContainerConfigError
from pyk8s.kubelet.volumes import emptydir, hostpath, payloads
from pyk8s.kubelet.volumes.atomic_writer import AtomicWriter, PayloadError
from pyk8s.kubelet.volumes.mounts import (
    DEFAULT_TERMINATION_MESSAGE_PATH,
    Mount,
    container_mounts,
)

__all__ = ["Mount", "VolumeManager", "VolumeMountError", "container_mounts", "plugin_of"]

Obj = dict[str, Any]
NsLookup = Callable[[str, str], Awaitable[Obj | None]]
NameLookup = Callable[[str], Awaitable[Obj | None]]
TokenFor = Callable[[Obj, str, int], Awaitable[str]]

_PLUGINS = {
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
    "emptyDir": "kubernetes.io~empty-dir",
}
_WRITTEN = ("configMap", "secret", "downwardAPI", "projected")


class VolumeMountError(Exception):
    """Some volumes could not be set up; ``failures`` maps volume name → reason."""

    def __init__(self, failures: Mapping[str, str], *, changed: bool = False) -> None:
        self.failures = dict(failures)
        self.changed = changed
        super().__init__("; ".join(self.messages()))

    def messages(self) -> list[str]:
        """One FailedMount event message per volume, as upstream words them."""
        return [
            f'MountVolume.SetUp failed for volume "{name}" : {reason}'
            for name, reason in self.failures.items()
        ]


def plugin_of(volume: Obj) -> str | None:
    """The volume's source field (``configMap``, ``hostPath`` …)."""
    for key in (*_PLUGINS, "hostPath", "persistentVolumeClaim", "ephemeral"):
        if volume.get(key) is not None:
            return key
    return None


async def _fetch_all(
    lookup: NsLookup, namespace: str, names: Iterable[str]
) -> dict[str, Obj | None]:
    unique = sorted(set(names))
    found = await asyncio.gather(*(lookup(namespace, n) for n in unique))
    return dict(zip(unique, found, strict=True))


class VolumeManager:
    """Pod volumes under ``pods_dir`` (see the module docstring).

    ``node_allocatable`` is the Node's ``status.allocatable`` or a callable returning it
    (read at each setup/refresh)."""

    def __init__(
        self,
        pods_dir: Path,
        *,
        node_allocatable: Mapping[str, Any] | Callable[[], Mapping[str, Any] | None] | None = None,
        secrets_in_memory: bool = True,
    ) -> None:
        self.pods_dir = Path(pods_dir)
        self._node_allocatable = node_allocatable
        self.secrets_in_memory = secrets_in_memory
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def node_allocatable(self) -> Mapping[str, Any] | None:
        """The Node's ``status.allocatable`` (limits for the downward API, tmpfs sizes)."""
        source = self._node_allocatable
        return source() if callable(source) else source

    # --- paths ----------------------------------------------------------------------------

    def pod_dir(self, uid: str) -> Path:
        return self.pods_dir / uid

    def volume_dir(self, uid: str, volume: Obj) -> Path | None:
        """Where the kubelet materialises ``volume`` (None for host-path-like volumes)."""
        plugin = plugin_of(volume)
        if plugin not in _PLUGINS:
            return None
        return self.pod_dir(uid) / "volumes" / _PLUGINS[plugin] / str(volume["name"])

    def hosts_file_path(self, uid: str) -> Path:
        return self.pod_dir(uid) / "etc-hosts"

    def pod_uids_on_disk(self) -> list[str]:
        """UIDs with a pod directory (to find orphans after a restart)."""
        if not self.pods_dir.is_dir():
            return []
        return sorted(p.name for p in self.pods_dir.iterdir() if p.is_dir())

    def _lock(self, uid: str) -> asyncio.Lock:
        return self._locks.setdefault(uid, asyncio.Lock())

    # --- setup / refresh ------------------------------------------------------------------

    async def setup(
        self,
        pod: Obj,
        *,
        get_configmap: NsLookup,
        get_secret: NsLookup,
        get_pvc: NsLookup,
        get_pv: NameLookup,
        token_for: TokenFor,
    ) -> dict[str, str]:
        """Prepare every volume of ``pod``; volume name → host path."""
        uid = pod["metadata"]["uid"]
        async with self._lock(uid):
            base = self.pod_dir(uid)
            await asyncio.to_thread(_make_pod_dirs, base)
            paths: dict[str, str] = {}
            failures: dict[str, str] = {}
            for volume in (pod.get("spec") or {}).get("volumes") or []:
                name = volume.get("name", "")
                try:
                    paths[name] = await self._setup_one(
                        pod,
                        volume,
                        get_configmap=get_configmap,
                        get_secret=get_secret,
                        get_pvc=get_pvc,
                        get_pv=get_pv,
                        token_for=token_for,
                    )
                except (payloads.VolumeSetupError, PayloadError, OSError) as e:
                    failures[name] = str(e)
            if failures:
                raise VolumeMountError(failures)
            return paths

    async def _setup_one(
        self,
        pod: Obj,
        volume: Obj,
        *,
        get_configmap: NsLookup,
        get_secret: NsLookup,
        get_pvc: NsLookup,
        get_pv: NameLookup,
        token_for: TokenFor,
    ) -> str:
        plugin = plugin_of(volume)
        uid = pod["metadata"]["uid"]
        if plugin == "hostPath":
            src = volume["hostPath"]
            await asyncio.to_thread(hostpath.check_host_path, src.get("path", ""), src.get("type"))
            return str(src.get("path", ""))
        if plugin in ("persistentVolumeClaim", "ephemeral"):
            return await self._claim_path(pod, volume, get_pvc=get_pvc, get_pv=get_pv)
        target = self.volume_dir(uid, volume)
        if target is None:
            raise payloads.VolumeSetupError(
                f'volume "{volume.get("name")}" has an unsupported type'
            )
        if plugin == "emptyDir":
            await asyncio.to_thread(
                emptydir.setup_empty_dir, target, pod, volume, self.node_allocatable
            )
            return str(target)
        payload = await self._payload(
            pod, volume, get_configmap=get_configmap, get_secret=get_secret, token_for=token_for
        )
        in_memory = self.secrets_in_memory and plugin in ("secret", "projected")
        await asyncio.to_thread(
            _write_volume, target, payload, in_memory, pod, volume, self.node_allocatable
        )
        return str(target)

    async def _payload(
        self,
        pod: Obj,
        volume: Obj,
        *,
        get_configmap: NsLookup,
        get_secret: NsLookup,
        token_for: TokenFor,
    ) -> payloads.Payload:
        ns = pod["metadata"].get("namespace", "")
        if volume.get("configMap") is not None:
            src = volume["configMap"]
            return payloads.configmap_payload(src, await get_configmap(ns, src.get("name", "")))
        if volume.get("secret") is not None:
            src = volume["secret"]
            return payloads.secret_payload(src, await get_secret(ns, src.get("secretName", "")))
        if volume.get("downwardAPI") is not None:
            src = volume["downwardAPI"]
            return payloads.downward_api_payload(
                src.get("items") or [],
                pod,
                default_mode=int(src.get("defaultMode", payloads.DEFAULT_MODE)),
                node_allocatable=self.node_allocatable,
            )
        src = volume["projected"]
        sources = src.get("sources") or []
        cms = [s["configMap"].get("name", "") for s in sources if s.get("configMap") is not None]
        secs = [s["secret"].get("name", "") for s in sources if s.get("secret") is not None]
        tokens: dict[str, str] = {}
        errors: list[str] = []
        for tp in payloads.token_sources(src):
            try:
                tokens[tp.get("path", "")] = await token_for(
                    pod, str(tp.get("audience") or ""), int(tp.get("expirationSeconds") or 3600)
                )
            except Exception as e:  # the token request's error is the volume's reason
                errors.append(str(e))
        if errors:
            raise payloads.VolumeSetupError(
                errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]"
            )
        return payloads.projected_payload(
            src,
            pod,
            configmaps=await _fetch_all(get_configmap, ns, cms),
            secrets=await _fetch_all(get_secret, ns, secs),
            tokens=tokens,
            node_allocatable=self.node_allocatable,
        )

    async def _claim_path(
        self, pod: Obj, volume: Obj, *, get_pvc: NsLookup, get_pv: NameLookup
    ) -> str:
        meta = pod["metadata"]
        ns = meta.get("namespace", "")
        if volume.get("ephemeral") is not None:
            claim = f"{meta.get('name', '')}-{volume.get('name', '')}"
        else:
            claim = volume["persistentVolumeClaim"].get("claimName", "")
        prefix = f"error processing PVC {ns}/{claim}: "
        pvc = await get_pvc(ns, claim)
        if pvc is None:
            raise payloads.VolumeSetupError(
                f'{prefix}failed to fetch PVC from API server: persistentvolumeclaims "{claim}" not found'
            )
        if volume.get("ephemeral") is not None:
            owners = (pvc.get("metadata") or {}).get("ownerReferences") or []
            if not any(o.get("controller") and o.get("uid") == meta.get("uid") for o in owners):
                raise payloads.VolumeSetupError(
                    f"PVC {ns}/{claim} was not created for pod {ns}/{meta.get('name', '')} (pod is not owner)"
                )
        if (pvc.get("metadata") or {}).get("deletionTimestamp"):
            raise payloads.VolumeSetupError(prefix + "PVC is being deleted")
        pv_name = (pvc.get("spec") or {}).get("volumeName") or ""
        if (pvc.get("status") or {}).get("phase") != "Bound" or not pv_name:
            raise payloads.VolumeSetupError(prefix + "PVC is not bound")
        pv = await get_pv(pv_name)
        if pv is None:
            raise payloads.VolumeSetupError(
                f'{prefix}failed to fetch PV {pv_name} from API server: persistentvolumes "{pv_name}" not found'
            )
        claim_ref = (pv.get("spec") or {}).get("claimRef")
        pvc_uid = (pvc.get("metadata") or {}).get("uid", "")
        if not claim_ref:
            raise payloads.VolumeSetupError(
                f"{prefix}found PV object {pv_name} but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim"
            )
        if claim_ref.get("uid") != pvc_uid:
            raise payloads.VolumeSetupError(
                f"{prefix}found PV object {pv_name} but its pv.Spec.ClaimRef.UID {claim_ref.get('uid', '')} does not point to claim.UID {pvc_uid}"
            )
        spec = pv.get("spec") or {}
        if spec.get("hostPath") is not None:
            src = spec["hostPath"]
            await asyncio.to_thread(hostpath.check_host_path, src.get("path", ""), src.get("type"))
            return str(src.get("path", ""))
        if spec.get("local") is not None:
            path = str(spec["local"].get("path", ""))
            if not await asyncio.to_thread(os.path.exists, path):
                raise payloads.VolumeSetupError(f"path {path!r} does not exist")
            return path
        raise payloads.VolumeSetupError(
            f"PersistentVolume {pv_name} has a volume source this node cannot mount"
        )

    async def refresh(
        self, pod: Obj, *, get_configmap: NsLookup, get_secret: NsLookup, token_for: TokenFor
    ) -> bool:
        """Rewrite changed configMap/secret/downwardAPI/projected volumes; True if any changed.

        Volumes not set up yet are skipped. Failures keep the old content and raise
        ``VolumeMountError`` (with ``changed`` telling about the other volumes)."""
        uid = pod["metadata"]["uid"]
        changed = False
        failures: dict[str, str] = {}
        async with self._lock(uid):
            for volume in (pod.get("spec") or {}).get("volumes") or []:
                if plugin_of(volume) not in _WRITTEN:
                    continue
                target = self.volume_dir(uid, volume)
                if target is None or not (target / "..data").is_symlink():
                    continue
                try:
                    payload = await self._payload(
                        pod,
                        volume,
                        get_configmap=get_configmap,
                        get_secret=get_secret,
                        token_for=token_for,
                    )
                    if await asyncio.to_thread(AtomicWriter(target).write, payload):
                        changed = True
                except (payloads.VolumeSetupError, PayloadError, OSError) as e:
                    failures[volume.get("name", "")] = str(e)
        if failures:
            raise VolumeMountError(failures, changed=changed)
        return changed

    # --- containers -----------------------------------------------------------------------

    async def prepare_container(
        self,
        pod: Obj,
        container: Obj,
        volume_paths: Mapping[str, str],
        *,
        env: Sequence[tuple[str, str]] = (),
        pod_ips: Sequence[str] = (),
        cluster_domain: str = "cluster.local",
        node_hosts: str = "",
    ) -> list[Mount]:
        """Write the hosts file, create the termination-message file and subpaths, and
        return the container's mounts (``ContainerConfigError`` on bad mounts)."""
        uid = pod["metadata"]["uid"]
        spec = pod.get("spec") or {}
        hosts: str | None = None
        if pod_ips or spec.get("hostNetwork"):
            text = podnetconf.hosts_file(
                pod, pod_ips, cluster_domain=cluster_domain, node_hosts=node_hosts
            )
            hosts = str(self.hosts_file_path(uid))
            await asyncio.to_thread(_write_file, Path(hosts), text.encode(), 0o644)
        log: str | None = None
        if container.get("terminationMessagePath", DEFAULT_TERMINATION_MESSAGE_PATH):
            path = self.pod_dir(uid) / "containers" / container["name"] / secrets.token_hex(4)
            await asyncio.to_thread(_create_termination_log, path)
            log = str(path)
        mounts = container_mounts(
            pod, container, volume_paths, env=env, hosts_file=hosts, termination_log=log
        )
        return await asyncio.to_thread(_resolve_subpaths, mounts, container.get("name", ""))

    # --- teardown -------------------------------------------------------------------------

    async def teardown(self, pod_uid: str) -> None:
        """Unmount and remove everything of the pod on the host (idempotent)."""
        async with self._lock(pod_uid):
            await asyncio.to_thread(_remove_pod_dir, self.pod_dir(pod_uid))
        self._locks.pop(pod_uid, None)


# --- blocking helpers (run in a thread) ------------------------------------------------


def _make_pod_dirs(base: Path) -> None:
    for sub in ("", "volumes", "plugins"):
        (base / sub).mkdir(mode=0o750, parents=True, exist_ok=True)


def _write_volume(
    target: Path,
    payload: payloads.Payload,
    in_memory: bool,
    pod: Obj,
    volume: Obj,
    allocatable: Mapping[str, Any] | None,
) -> bool:
    emptydir.setup_dir(target)
    if in_memory:
        wrapper = {"name": volume.get("name"), "emptyDir": {"medium": "Memory"}}
        emptydir.mount_tmpfs(target, emptydir.memory_size(pod, wrapper, allocatable))
    return AtomicWriter(target).write(payload)


def _write_file(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _create_termination_log(path: Path) -> None:
    path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    path.touch()
    os.chmod(path, 0o666)


def _resolve_subpaths(mounts: list[Mount], container: str) -> list[Mount]:
    out: list[Mount] = []
    for m in mounts:
        if m.subpath_of is None:
            out.append(m)
            continue
        root = Path(m.subpath_of).resolve()
        target = Path(m.host_path)
        if not os.path.lexists(target):
            try:
                mode = root.stat().st_mode & 0o7777
                target.mkdir(mode=mode, parents=True, exist_ok=True)
                os.chmod(target, mode)
            except OSError:
                raise _subpath_error("create", m, container) from None
        real = target.resolve()
        if real != root and root not in real.parents:
            raise _subpath_error("prepare", m, container)
        out.append(
            Mount(m.name, m.container_path, str(real), m.readonly, m.propagation, m.subpath_of)
        )
    return out


def _subpath_error(what: str, m: Mount, container: str) -> Exception:
    noun = "create subPath directory" if what == "create" else "prepare subPath"
    return ContainerConfigError(
        f'failed to {noun} for volumeMount "{m.name}" of container "{container}"'
    )


def _remove_pod_dir(base: Path) -> None:
    if not base.exists():
        return
    emptydir.unmount_all_under(base)
    left = emptydir.mounts_under(base)
    if left:
        raise OSError(f"mounts remain under {base}: {[str(p) for p, _ in left]}")
    shutil.rmtree(base)
