"""Containers of a PodSpec (core ``validateContainers``, ``validateInitContainers``,
``validateContainerCommon``): names, images, ports, env, probes, lifecycle hooks, resource
requests and limits, resize policy and security context, with upstream's messages.

Sidecar containers (init containers with ``restartPolicy: Always``) may carry probes and
lifecycle hooks; other init containers may not.
"""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api.validation import field, names, scheduling, volumes
from pyk8s.api.validation.access import Obj, as_int, as_list, as_obj, as_str
from pyk8s.api.validation.field import Cause, Path
from pyk8s.api.validation.quantity import QuantityError, parse_quantity

__all__ = [
    "container_common",
    "validate_containers",
    "validate_init_containers",
    "validate_resource_name",
    "validate_resource_requirements",
]

_PROTOCOLS: Final = ("SCTP", "TCP", "UDP")
_PULL_POLICIES: Final = ("Always", "IfNotPresent", "Never")
_STANDARD_RESOURCES: Final = frozenset(
    {
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
        "quotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "persistentvolumeclaims",
        "configmaps",
        "storage",
        "requests.storage",
        "services.nodeports",
        "services.loadbalancers",
    }
)
_INTEGER_RESOURCES: Final = frozenset(
    {
        "pods",
        "quotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    }
)


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_extended(name: str) -> bool:
    if _is_native(name) or name.startswith("requests."):
        return False
    return not names.is_qualified_name("requests." + name)


def _is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def validate_resource_name(name: str, path: Path) -> list[Cause]:
    out = [field.invalid(path, name, m) for m in names.is_qualified_name(name)]
    if out:
        return out
    if (
        "/" not in name
        and name not in _STANDARD_RESOURCES
        and not name.startswith(("hugepages-", "requests.hugepages-"))
    ):
        out.append(field.invalid(path, name, "must be a standard resource type or fully qualified"))
    return out


def _container_resource_name(name: str, path: Path) -> list[Cause]:
    out = validate_resource_name(name, path)
    if "/" not in name:
        if name not in ("cpu", "memory", "ephemeral-storage") and not _is_hugepages(name):
            out.append(field.invalid(path, name, "must be a standard resource for containers"))
    elif not _is_native(name) and not _is_extended(name):
        out.append(field.invalid(path, name, "doesn't follow extended resource name standard"))
    return out


def _quantity_value(name: str, raw: Any, path: Path) -> list[Cause]:
    try:
        q = parse_quantity(raw)
    except QuantityError:
        return []  # a decoding error, reported before validation (see decode_error)
    out = []
    if q.value < 0:
        out.append(field.invalid(path, str(q), names.IS_NEGATIVE))
    if (name in _INTEGER_RESOURCES or _is_extended(name)) and q.milli_value() % 1000 != 0:
        out.append(
            field.invalid(path, field.GoRepr(f"resource.Quantity{{{q}}}"), "must be an integer")
        )
    return out


def validate_resource_requirements(req: Any, path: Path) -> list[Cause]:
    req = as_obj(req)
    limits, requests = as_obj(req.get("limits")), as_obj(req.get("requests"))
    lim_path, req_path = path.child("limits"), path.child("requests")
    out: list[Cause] = []
    has_compute = has_huge = False
    for name in sorted(limits):
        kp = lim_path.key(name)
        out.extend(_container_resource_name(name, kp))
        out.extend(_quantity_value(name, limits[name], kp))
        has_huge |= _is_hugepages(name)
        has_compute |= name in ("cpu", "memory")
    for name in sorted(requests):
        kp = req_path.key(name)
        out.extend(_container_resource_name(name, kp))
        out.extend(_quantity_value(name, requests[name], kp))
        overcommit = _is_native(name) and not _is_hugepages(name)
        if name in limits:
            try:
                r, lim = parse_quantity(requests[name]), parse_quantity(limits[name])
            except QuantityError:
                continue
            if r.value != lim.value and not overcommit:
                out.append(
                    field.invalid(req_path, str(r), f"must be equal to {name} limit of {lim}")
                )
            elif r.value > lim.value:
                out.append(
                    field.invalid(
                        req_path, str(r), f"must be less than or equal to {name} limit of {lim}"
                    )
                )
        elif not overcommit:
            out.append(
                field.required(lim_path, "Limit must be set for non overcommitable resources")
            )
        has_huge |= _is_hugepages(name)
        has_compute |= name in ("cpu", "memory")
    if has_huge and not has_compute:
        out.append(field.forbidden(path, "HugePages require cpu or memory"))
    return out


def _ports(ports: Any, path: Path) -> list[Cause]:
    out: list[Cause] = []
    seen: set[str] = set()
    for i, p in enumerate(as_list(ports)):
        p = as_obj(p)
        ip = path.index(i)
        name = as_str(p.get("name"))
        if name:
            msgs = names.is_valid_port_name(name)
            if msgs:
                out.extend(field.invalid(ip.child("name"), name, m) for m in msgs)
            elif name in seen:
                out.append(field.duplicate(ip.child("name"), name))
            else:
                seen.add(name)
        cp = as_int(p.get("containerPort"))
        if cp == 0:
            out.append(field.required(ip.child("containerPort")))
        else:
            out.extend(
                field.invalid(ip.child("containerPort"), cp, m) for m in names.is_valid_port_num(cp)
            )
        hp = as_int(p.get("hostPort"))
        if hp != 0:
            out.extend(
                field.invalid(ip.child("hostPort"), hp, m) for m in names.is_valid_port_num(hp)
            )
        proto = as_str(p.get("protocol"))
        if not proto:
            out.append(field.required(ip.child("protocol")))
        elif proto not in _PROTOCOLS:
            out.append(field.not_supported(ip.child("protocol"), proto, _PROTOCOLS))
    return out


def _env(env: Any, path: Path) -> list[Cause]:
    out: list[Cause] = []
    for i, ev in enumerate(as_list(env)):
        ev = as_obj(ev)
        ip = path.index(i)
        name = as_str(ev.get("name"))
        if not name:
            out.append(field.required(ip.child("name")))
        else:
            out.extend(
                field.invalid(ip.child("name"), name, m)
                for m in names.is_relaxed_env_var_name(name)
            )
        vf = ev.get("valueFrom")
        if not isinstance(vf, dict):
            continue
        vp = ip.child("valueFrom")
        n = 0
        if isinstance(vf.get("fieldRef"), dict):
            n += 1
            out.extend(
                volumes.validate_object_field_selector(
                    vf["fieldRef"], volumes.ENV_FIELD_PATHS, vp.child("fieldRef")
                )
            )
        if isinstance(vf.get("resourceFieldRef"), dict):
            n += 1
            out.extend(
                volumes.resource_field_selector(
                    vf["resourceFieldRef"], vp.child("resourceFieldRef"), volume=False
                )
            )
        for kind in ("configMapKeyRef", "secretKeyRef"):
            if isinstance(vf.get(kind), dict):
                n += 1
                ref, rp = vf[kind], vp.child(kind)
                rname = as_str(ref.get("name"))
                out.extend(
                    field.invalid(rp.child("name"), rname, m)
                    for m in names.is_dns1123_subdomain(rname)
                )
                key = as_str(ref.get("key"))
                if not key:
                    out.append(field.required(rp.child("key")))
                else:
                    out.extend(
                        field.invalid(rp.child("key"), key, m) for m in names.is_config_map_key(key)
                    )
        if n == 0:
            out.append(
                field.invalid(
                    vp,
                    "",
                    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                )
            )
        elif as_str(ev.get("value")):
            out.append(field.invalid(vp, "", "may not be specified when `value` is not empty"))
        elif n > 1:
            out.append(
                field.invalid(vp, "", "may not have more than one field specified at a time")
            )
    return out


def _env_from(env_from: Any, path: Path) -> list[Cause]:
    out: list[Cause] = []
    for i, ef in enumerate(as_list(env_from)):
        ef = as_obj(ef)
        ip = path.index(i)
        prefix = as_str(ef.get("prefix"))
        if prefix:
            out.extend(
                field.invalid(ip.child("prefix"), prefix, m)
                for m in names.is_relaxed_env_var_name(prefix)
            )
        n = 0
        for kind in ("configMapRef", "secretRef"):
            if isinstance(ef.get(kind), dict):
                n += 1
                rname = as_str(ef[kind].get("name"))
                rp = ip.child(kind, "name")
                if not rname:
                    out.append(field.required(rp))
                else:
                    out.extend(
                        field.invalid(rp, rname, m)
                        for m in names.name_is_dns_subdomain(rname, True)
                    )
        if n == 0:
            out.append(
                field.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`")
            )
        elif n > 1:
            out.append(
                field.invalid(path, "", "may not have more than one field specified at a time")
            )
    return out


def _port_num_or_name(port: Any, path: Path) -> list[Cause]:
    if isinstance(port, int) and not isinstance(port, bool):
        return [field.invalid(path, port, m) for m in names.is_valid_port_num(port)]
    name = as_str(port)
    return [field.invalid(path, name, m) for m in names.is_valid_port_name(name)]


def _handler(h: Obj, grace: int, path: Path, *, probe: bool) -> list[Cause]:
    kinds = (
        ("exec", "httpGet", "tcpSocket", "grpc")
        if probe
        else ("exec", "httpGet", "tcpSocket", "sleep")
    )
    out: list[Cause] = []
    n = 0
    for kind in kinds:
        action = h.get(kind)
        if not isinstance(action, dict):
            continue
        ap = path.child(kind)
        if n > 0:
            out.append(field.forbidden(ap, "may not specify more than 1 handler type"))
            continue
        n += 1
        if kind == "exec":
            if not as_list(action.get("command")):
                out.append(field.required(ap.child("command")))
        elif kind == "httpGet":
            if not as_str(action.get("path")):
                out.append(field.required(ap.child("path")))
            out.extend(_port_num_or_name(action.get("port"), ap.child("port")))
            scheme = as_str(action.get("scheme"))
            if scheme not in ("HTTP", "HTTPS"):
                out.append(field.not_supported(ap.child("scheme"), scheme, ("HTTP", "HTTPS")))
            for hdr in as_list(action.get("httpHeaders")):
                hname = as_str(as_obj(hdr).get("name"))
                out.extend(
                    field.invalid(ap.child("httpHeaders"), hname, m)
                    for m in names.is_http_header_name(hname)
                )
        elif kind == "tcpSocket":
            out.extend(_port_num_or_name(action.get("port"), ap.child("port")))
        elif kind == "grpc":
            out.extend(_port_num_or_name(as_int(action.get("port")), ap.child("port")))
        else:
            secs = as_int(action.get("seconds"))
            if secs < 0 or secs > grace:
                out.append(
                    field.invalid(
                        ap,
                        secs,
                        f"must be non-negative and less than terminationGracePeriodSeconds ({grace})",
                    )
                )
    if n == 0:
        out.append(field.required(path, "must specify a handler type"))
    return out


def _probe(probe: Any, grace: int, path: Path, kind: str) -> list[Cause]:
    if not isinstance(probe, dict):
        return []
    out = _handler(probe, grace, path, probe=True)
    for key in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        out.extend(names.validate_nonnegative(as_int(probe.get(key)), path.child(key)))
    tgps = probe.get("terminationGracePeriodSeconds")
    if isinstance(tgps, int) and tgps <= 0:
        out.append(
            field.invalid(
                path.child("terminationGracePeriodSeconds"), tgps, "must be greater than 0"
            )
        )
    if kind in ("liveness", "startup") and as_int(probe.get("successThreshold")) != 1:
        out.append(
            field.invalid(
                path.child("successThreshold"), as_int(probe.get("successThreshold")), "must be 1"
            )
        )
    if kind == "readiness" and tgps is not None:
        out.append(
            field.invalid(
                path.child("terminationGracePeriodSeconds"),
                tgps,
                "must not be set for readinessProbes",
            )
        )
    return out


def _lifecycle_and_probes(c: Obj, grace: int, path: Path) -> list[Cause]:
    out: list[Cause] = []
    lc = c.get("lifecycle")
    if isinstance(lc, dict):
        for hook in ("postStart", "preStop"):
            if isinstance(lc.get(hook), dict):
                out.extend(_handler(lc[hook], grace, path.child("lifecycle", hook), probe=False))
    out.extend(_probe(c.get("livenessProbe"), grace, path.child("livenessProbe"), "liveness"))
    out.extend(_probe(c.get("readinessProbe"), grace, path.child("readinessProbe"), "readiness"))
    out.extend(_probe(c.get("startupProbe"), grace, path.child("startupProbe"), "startup"))
    return out


def container_common(
    c: Obj, vols: dict[str, Obj], path: Path, restart_policy: str, host_users: bool
) -> list[Cause]:
    out: list[Cause] = []
    name = as_str(c.get("name"))
    if not name:
        out.append(field.required(path.child("name")))
    else:
        out.extend(names.validate_dns1123_label(name, path.child("name")))
    if not as_str(c.get("image")):
        out.append(field.required(path.child("image")))
    tmp = as_str(c.get("terminationMessagePolicy"))
    if not tmp:
        out.append(field.required(path.child("terminationMessagePolicy")))
    elif tmp not in ("File", "FallbackToLogsOnError"):
        out.append(
            field.not_supported(
                path.child("terminationMessagePolicy"), tmp, ("File", "FallbackToLogsOnError")
            )
        )
    mounts = {
        as_str(as_obj(m).get("name")): as_str(as_obj(m).get("mountPath"))
        for m in as_list(c.get("volumeMounts"))
    }
    devices = {
        as_str(as_obj(d).get("name")): as_str(as_obj(d).get("devicePath"))
        for d in as_list(c.get("volumeDevices"))
    }
    out.extend(_ports(c.get("ports"), path.child("ports")))
    out.extend(_env(c.get("env"), path.child("env")))
    out.extend(_env_from(c.get("envFrom"), path.child("envFrom")))
    out.extend(
        volumes.validate_volume_mounts(
            c.get("volumeMounts"), devices, vols, c, path.child("volumeMounts")
        )
    )
    out.extend(
        volumes.validate_volume_devices(
            c.get("volumeDevices"), mounts, vols, path.child("volumeDevices")
        )
    )
    ipp = as_str(c.get("imagePullPolicy"))
    if not ipp:
        out.append(field.required(path.child("imagePullPolicy")))
    elif ipp not in _PULL_POLICIES:
        out.append(field.not_supported(path.child("imagePullPolicy"), ipp, _PULL_POLICIES))
    out.extend(validate_resource_requirements(c.get("resources"), path.child("resources")))
    rp_path = path.child("resizePolicy")
    seen: set[str] = set()
    for i, rp in enumerate(as_list(c.get("resizePolicy"))):
        rp = as_obj(rp)
        rname, policy = as_str(rp.get("resourceName")), as_str(rp.get("restartPolicy"))
        if rname in seen:
            out.append(field.duplicate(rp_path.index(i), rname))
        seen.add(rname)
        if not rname:
            out.append(field.required(rp_path))
        elif rname not in ("cpu", "memory"):
            out.append(field.not_supported(rp_path, rname, ("cpu", "memory")))
        if not policy:
            out.append(field.required(rp_path))
        elif policy not in ("NotRequired", "RestartContainer"):
            out.append(field.not_supported(rp_path, policy, ("NotRequired", "RestartContainer")))
        if restart_policy == "Never" and policy != "NotRequired":
            out.append(
                field.invalid(
                    rp_path, policy, "must be 'NotRequired' when `restartPolicy` is 'Never'"
                )
            )
    out.extend(
        scheduling.validate_security_context(
            c.get("securityContext"), path.child("securityContext"), host_users=host_users
        )
    )
    return out


def _host_port_conflicts(containers: list[Obj], path: Path) -> list[Cause]:
    out: list[Cause] = []
    seen: set[str] = set()
    for ci, c in enumerate(containers):
        for pi, p in enumerate(as_list(c.get("ports"))):
            p = as_obj(p)
            hp = as_int(p.get("hostPort"))
            if hp == 0:
                continue
            key = f"{as_str(p.get('protocol'))}/{as_str(p.get('hostIP'))}/{hp}"
            if key in seen:
                out.append(
                    field.duplicate(path.index(ci).child("ports").index(pi).child("hostPort"), key)
                )
            seen.add(key)
    return out


def validate_containers(
    spec: Obj, vols: dict[str, Obj], path: Path, grace: int, host_users: bool
) -> list[Cause]:
    containers = [as_obj(c) for c in as_list(spec.get("containers"))]
    cpath = path.child("containers")
    if not containers:
        return [field.required(cpath)]
    restart = as_str(spec.get("restartPolicy"))
    out: list[Cause] = []
    seen: set[str] = set()
    for i, c in enumerate(containers):
        ip = cpath.index(i)
        out.extend(container_common(c, vols, ip, restart, host_users))
        name = as_str(c.get("name"))
        if name in seen:
            out.append(field.duplicate(ip.child("name"), name))
        seen.add(name)
        out.extend(_lifecycle_and_probes(c, grace, ip))
        if c.get("restartPolicy") is not None:
            out.append(
                field.forbidden(ip.child("restartPolicy"), "may not be set for non-init containers")
            )
    return out + _host_port_conflicts(containers, cpath)


def validate_init_containers(
    spec: Obj, vols: dict[str, Obj], path: Path, grace: int, host_users: bool
) -> list[Cause]:
    ipath = path.child("initContainers")
    restart = as_str(spec.get("restartPolicy"))
    seen = {as_str(as_obj(c).get("name")) for c in as_list(spec.get("containers"))}
    out: list[Cause] = []
    not_sidecar = "may not be set for init containers without restartPolicy=Always"
    for i, c in enumerate(as_list(spec.get("initContainers"))):
        c = as_obj(c)
        ip = ipath.index(i)
        out.extend(container_common(c, vols, ip, restart, host_users))
        rp = c.get("restartPolicy")
        if rp is not None and rp != "Always":
            out.append(field.not_supported(ip.child("restartPolicy"), as_str(rp), ("Always",)))
        name = as_str(c.get("name"))
        if name in seen:
            out.append(field.duplicate(ip.child("name"), name))
        elif name:
            seen.add(name)
        out.extend(_host_port_conflicts([c], ipath))
        if rp == "Always":
            out.extend(_lifecycle_and_probes(c, grace, ip))
        else:
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if c.get(key) is not None:
                    out.append(field.forbidden(ip.child(key), not_sidecar))
    return out
