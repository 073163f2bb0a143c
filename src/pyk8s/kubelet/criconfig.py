"""The CRI configurations of a pod's sandbox and containers, as pure functions of the pod
(upstream's kuberuntime_sandbox.go, kuberuntime_container_linux.go, security_context.go
and pkg/kubelet/qos).

- **Sandbox** (``sandbox_config``): metadata (name, uid, namespace, attempt), hostname
  (none for hostNetwork: the host's is kept), the pod's log directory, DNS, hostPort
  mappings, labels (the pod's plus ``io.kubernetes.pod.name/namespace/uid``), the pod's
  annotations, and the Linux part: cgroup parent by QoS class (``<root>/pod<uid>``,
  ``<root>/burstable/pod<uid>``, ``<root>/besteffort/pod<uid>``), sysctls, namespace modes
  (hostNetwork/hostPID/hostIPC/shareProcessNamespace), runAsUser/Group, supplemental
  groups (fsGroup first), privileged when any container is, seccomp RuntimeDefault.
- **Container** (``container_config``): metadata with the restart count as attempt, the
  image (by the ID the image service resolved), command/args/env/mounts already expanded
  by the caller, working dir, stdin/tty, ``<name>/<restartCount>.log``, the labels and
  annotations ``podstate`` reads back, and Linux resources: cpu shares from the request
  (or the limit when only that is set; at least 2), a CFS quota from the limit over a
  100 ms period (at least 1 ms), the memory limit, and the OOM score by QoS class
  (Guaranteed -997, BestEffort 1000, Burstable ``1000 - 1000 * request / capacity`` kept
  within 3…999); the security context (user, group, capabilities, privileged,
  read-only root, no_new_privs, seccomp, masked and read-only /proc paths).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.api.validation.prepare import pod_qos_class
from pyk8s.api.validation.quantity import QuantityError, parse_quantity
from pyk8s.kubelet import podstate
from pyk8s.kubelet.cri import api_pb2

__all__ = [
    "DEFAULT_MASKED_PATHS",
    "DEFAULT_READONLY_PATHS",
    "cgroup_parent",
    "container_config",
    "container_resources",
    "log_directory",
    "oom_score_adj",
    "sandbox_config",
]

Obj = dict[str, Any]

MIN_SHARES = 2
MAX_SHARES = 262144
QUOTA_PERIOD = 100_000
MIN_QUOTA = 1000

DEFAULT_MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
DEFAULT_READONLY_PATHS = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)
_PROTOCOLS = {"TCP": api_pb2.TCP, "UDP": api_pb2.UDP, "SCTP": api_pb2.SCTP}
_SECCOMP = {
    "RuntimeDefault": api_pb2.SecurityProfile.RuntimeDefault,
    "Unconfined": api_pb2.SecurityProfile.Unconfined,
    "Localhost": api_pb2.SecurityProfile.Localhost,
}


def _meta(pod: Mapping[str, Any]) -> Obj:
    return dict(pod.get("metadata") or {})


def _spec(pod: Mapping[str, Any]) -> Obj:
    return dict(pod.get("spec") or {})


def log_directory(logs_root: str, pod: Mapping[str, Any]) -> str:
    """``<logs root>/<namespace>_<name>_<uid>``, as /var/log/pods."""
    m = _meta(pod)
    return (
        f"{logs_root.rstrip('/')}/{m.get('namespace', '')}_{m.get('name', '')}_{m.get('uid', '')}"
    )


def cgroup_parent(pod: Mapping[str, Any], root: str = "/kubepods") -> str:
    uid = _meta(pod).get("uid", "")
    qos = pod_qos_class(dict(pod))
    root = "/" + root.strip("/")
    if qos == "Guaranteed":
        return f"{root}/pod{uid}"
    return f"{root}/{qos.lower()}/pod{uid}"


def _quantity(raw: Any, *, milli: bool = False) -> int:
    if raw is None:
        return 0
    try:
        q = parse_quantity(raw)
    except QuantityError:
        return 0
    return q.milli_value() if milli else int(q.round_up(0).value)


def _resource(container: Mapping[str, Any], kind: str, name: str, *, milli: bool = False) -> int:
    bag = (container.get("resources") or {}).get(kind) or {}
    return _quantity(bag.get(name), milli=milli)


def milli_cpu_to_shares(milli: int) -> int:
    if milli == 0:
        return MIN_SHARES
    shares = milli * 1024 // 1000
    return max(MIN_SHARES, min(shares, MAX_SHARES))


def milli_cpu_to_quota(milli: int, period: int = QUOTA_PERIOD) -> int:
    if milli == 0:
        return 0
    return max(MIN_QUOTA, milli * period // 1000)


def oom_score_adj(
    pod: Mapping[str, Any], container: Mapping[str, Any], memory_capacity: int
) -> int:
    qos = pod_qos_class(dict(pod))
    if qos == "Guaranteed":
        return -997
    if qos == "BestEffort":
        return 1000
    request = _resource(container, "requests", "memory")
    if memory_capacity <= 0:
        return 999
    score = 1000 - (1000 * request) // memory_capacity
    if score < 3:
        return 3
    if score == 1000:
        return 999
    return int(score)


def container_resources(
    pod: Mapping[str, Any], container: Mapping[str, Any], *, memory_capacity: int
) -> api_pb2.LinuxContainerResources:
    cpu_request = _resource(container, "requests", "cpu", milli=True)
    cpu_limit = _resource(container, "limits", "cpu", milli=True)
    memory_limit = _resource(container, "limits", "memory")
    shares = milli_cpu_to_shares(cpu_limit if cpu_request == 0 and cpu_limit else cpu_request)
    res = api_pb2.LinuxContainerResources(
        cpu_shares=shares,
        cpu_period=QUOTA_PERIOD,
        cpu_quota=milli_cpu_to_quota(cpu_limit),
        oom_score_adj=oom_score_adj(pod, container, memory_capacity),
    )
    if memory_limit:
        res.memory_limit_in_bytes = memory_limit
    return res


def _namespace_options(pod: Mapping[str, Any]) -> api_pb2.NamespaceOption:
    spec = _spec(pod)
    pid = api_pb2.CONTAINER
    if spec.get("hostPID"):
        pid = api_pb2.NODE
    elif spec.get("shareProcessNamespace"):
        pid = api_pb2.POD
    return api_pb2.NamespaceOption(
        network=api_pb2.NODE if spec.get("hostNetwork") else api_pb2.POD,
        pid=pid,
        ipc=api_pb2.NODE if spec.get("hostIPC") else api_pb2.POD,
    )


def _all_containers(pod: Mapping[str, Any]) -> list[Obj]:
    spec = _spec(pod)
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def _privileged(container: Mapping[str, Any]) -> bool:
    return bool((container.get("securityContext") or {}).get("privileged"))


def _supplemental_groups(pod_sc: Mapping[str, Any]) -> list[int]:
    groups: list[int] = []
    if pod_sc.get("fsGroup") is not None:
        groups.append(int(pod_sc["fsGroup"]))
    groups += [int(g) for g in pod_sc.get("supplementalGroups") or []]
    return groups


def sandbox_config(
    pod: Mapping[str, Any],
    *,
    attempt: int,
    log_dir: str,
    dns: tuple[Sequence[str], Sequence[str], Sequence[str]] | None,
    hostname: str,
    cgroup_root: str = "/kubepods",
) -> api_pb2.PodSandboxConfig:
    """``dns`` is (servers, searches, options); ``hostname`` the pod's (ignored on the
    host network)."""
    meta = _meta(pod)
    spec = _spec(pod)
    labels = dict(meta.get("labels") or {})
    labels.update(
        {
            podstate.POD_NAME: meta.get("name", ""),
            podstate.POD_NAMESPACE: meta.get("namespace", ""),
            podstate.POD_UID: meta.get("uid", ""),
        }
    )
    config = api_pb2.PodSandboxConfig(
        metadata=api_pb2.PodSandboxMetadata(
            name=meta.get("name", ""),
            uid=meta.get("uid", ""),
            namespace=meta.get("namespace", ""),
            attempt=attempt,
        ),
        log_directory=log_dir,
        labels=labels,
        annotations={k: str(v) for k, v in (meta.get("annotations") or {}).items()},
    )
    if not spec.get("hostNetwork"):
        config.hostname = hostname
    if dns is not None:
        servers, searches, options = dns
        config.dns_config.CopyFrom(
            api_pb2.DNSConfig(servers=servers, searches=searches, options=options)
        )
    for c in spec.get("containers") or []:
        for port in c.get("ports") or []:
            if not port.get("hostPort"):
                continue
            config.port_mappings.append(
                api_pb2.PortMapping(
                    protocol=_PROTOCOLS.get(port.get("protocol") or "TCP", api_pb2.TCP),
                    container_port=int(port.get("containerPort") or 0),
                    host_port=int(port["hostPort"]),
                    host_ip=port.get("hostIP") or "",
                )
            )
    pod_sc = spec.get("securityContext") or {}
    sc = api_pb2.LinuxSandboxSecurityContext(
        namespace_options=_namespace_options(pod),
        privileged=any(_privileged(c) for c in _all_containers(pod)),
        seccomp=api_pb2.SecurityProfile(profile_type=api_pb2.SecurityProfile.RuntimeDefault),
        supplemental_groups=_supplemental_groups(pod_sc),
    )
    if pod_sc.get("runAsUser") is not None:
        sc.run_as_user.value = int(pod_sc["runAsUser"])
    if pod_sc.get("runAsGroup") is not None:
        sc.run_as_group.value = int(pod_sc["runAsGroup"])
    config.linux.cgroup_parent = cgroup_parent(pod, cgroup_root)
    config.linux.security_context.CopyFrom(sc)
    for sysctl in pod_sc.get("sysctls") or []:
        config.linux.sysctls[sysctl.get("name", "")] = str(sysctl.get("value", ""))
    return config


def _seccomp(profile: Mapping[str, Any] | None) -> api_pb2.SecurityProfile:
    if not profile:
        return api_pb2.SecurityProfile(profile_type=api_pb2.SecurityProfile.Unconfined)
    kind = _SECCOMP.get(profile.get("type") or "", api_pb2.SecurityProfile.Unconfined)
    ref = profile.get("localhostProfile") or ""
    return api_pb2.SecurityProfile(profile_type=kind, localhost_ref=ref)


def container_security(
    pod: Mapping[str, Any], container: Mapping[str, Any]
) -> api_pb2.LinuxContainerSecurityContext:
    """The effective security context: the container's settings over the pod's."""
    pod_sc = _spec(pod).get("securityContext") or {}
    c_sc = container.get("securityContext") or {}

    def pick(key: str) -> Any:
        return c_sc[key] if c_sc.get(key) is not None else pod_sc.get(key)

    privileged = bool(c_sc.get("privileged"))
    sc = api_pb2.LinuxContainerSecurityContext(
        privileged=privileged,
        namespace_options=_namespace_options(pod),
        readonly_rootfs=bool(c_sc.get("readOnlyRootFilesystem")),
        supplemental_groups=_supplemental_groups(pod_sc),
        no_new_privs=c_sc.get("allowPrivilegeEscalation") is False,
        seccomp=_seccomp(pick("seccompProfile")),
    )
    caps = c_sc.get("capabilities") or {}
    if caps:
        sc.capabilities.CopyFrom(
            api_pb2.Capability(
                add_capabilities=[str(c) for c in caps.get("add") or []],
                drop_capabilities=[str(c) for c in caps.get("drop") or []],
            )
        )
    if pick("runAsUser") is not None:
        sc.run_as_user.value = int(pick("runAsUser"))
    if pick("runAsGroup") is not None:
        sc.run_as_group.value = int(pick("runAsGroup"))
    if not privileged and c_sc.get("procMount") != "Unmasked":
        sc.masked_paths.extend(DEFAULT_MASKED_PATHS)
        sc.readonly_paths.extend(DEFAULT_READONLY_PATHS)
    return sc


def container_annotations(
    pod: Mapping[str, Any], container: Mapping[str, Any], *, restart_count: int, init: bool
) -> dict[str, str]:
    meta = _meta(pod)
    spec = _spec(pod)
    out = {
        podstate.CONTAINER_HASH: podstate.container_hash(container),
        podstate.RESTART_COUNT: str(restart_count),
        podstate.TERMINATION_MESSAGE_PATH: str(
            container.get("terminationMessagePath") or "/dev/termination-log"
        ),
        podstate.TERMINATION_MESSAGE_POLICY: str(
            container.get("terminationMessagePolicy") or "File"
        ),
        podstate.CONTAINER_TYPE: "init" if init else "container",
    }
    if meta.get("deletionGracePeriodSeconds") is not None:
        out[podstate.DELETION_GRACE] = str(meta["deletionGracePeriodSeconds"])
    if spec.get("terminationGracePeriodSeconds") is not None:
        out[podstate.TERMINATION_GRACE] = str(spec["terminationGracePeriodSeconds"])
    prestop = (container.get("lifecycle") or {}).get("preStop")
    if prestop:
        out[podstate.PRESTOP_HANDLER] = json.dumps(prestop, separators=(",", ":"))
    if container.get("ports"):
        out[podstate.CONTAINER_PORTS] = json.dumps(container["ports"], separators=(",", ":"))
    return out


def container_config(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    restart_count: int,
    image_ref: str,
    command: Sequence[str],
    args: Sequence[str],
    env: Sequence[tuple[str, str]],
    mounts: Sequence[api_pb2.Mount],
    memory_capacity: int,
    init: bool = False,
) -> api_pb2.ContainerConfig:
    meta = _meta(pod)
    name = str(container.get("name") or "")
    return api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name=name, attempt=restart_count),
        image=api_pb2.ImageSpec(
            image=image_ref or str(container.get("image") or ""),
            user_specified_image=str(container.get("image") or ""),
        ),
        command=list(command),
        args=list(args),
        working_dir=str(container.get("workingDir") or ""),
        envs=[api_pb2.KeyValue(key=k, value=v) for k, v in env],
        mounts=list(mounts),
        labels={
            podstate.POD_NAME: meta.get("name", ""),
            podstate.POD_NAMESPACE: meta.get("namespace", ""),
            podstate.POD_UID: meta.get("uid", ""),
            podstate.CONTAINER_NAME: name,
        },
        annotations=container_annotations(pod, container, restart_count=restart_count, init=init),
        log_path=f"{name}/{restart_count}.log",
        stdin=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdinOnce")),
        tty=bool(container.get("tty")),
        linux=api_pb2.LinuxContainerConfig(
            resources=container_resources(pod, container, memory_capacity=memory_capacity),
            security_context=container_security(pod, container),
        ),
    )
