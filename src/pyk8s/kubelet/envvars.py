"""A container's environment, as the kubelet builds it (``makeEnvironmentVariables``).

Pure functions; the caller supplies the cluster's state through lookups:

- ``service_env(services, namespace=…, enable_service_links=…)`` — the Docker-link style
  variables for Services (``<NAME>_SERVICE_HOST``, ``<NAME>_SERVICE_PORT[_<PORT NAME>]``,
  ``<NAME>_PORT``, ``<NAME>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]``). The ``kubernetes``
  Service of the master namespace is always included; the pod's own namespace's Services
  only with ``enableServiceLinks`` (a same-named Service of the pod's namespace wins).
  Services without a ClusterIP (headless, ``None``, ExternalName) give nothing.
- ``container_env(pod, container, …)`` — ``envFrom`` first (later sources override earlier
  ones, ``prefix`` prepended; keys are passed through as the 1.33 kubelet does), then
  ``env`` in order: ``value`` with ``$(VAR)`` expanded against the variables declared so
  far and the service variables, or ``valueFrom`` (fieldRef, resourceFieldRef,
  configMapKeyRef, secretKeyRef, with ``optional``). Service variables not otherwise set
  come last. Failures raise ``ContainerConfigError`` whose text is upstream's
  (``configmap "x" not found``, ``couldn't find key k in ConfigMap ns/x``): the pod worker
  reports them as ``CreateContainerConfigError``.
- ``expand(text, lookup)`` — upstream's ``$(VAR)`` expansion: ``$$`` is a literal ``$``,
  an unknown or unterminated reference is kept verbatim, any other ``$x`` is kept.
- ``expand_command`` / ``expand_subpath_expr`` — the same expansion over command/args and
  ``subPathExpr`` (where a missing or empty variable is an error).

Lookups: ``get_configmap(namespace, name)`` / ``get_secret(namespace, name)`` return the
object or None when it does not exist. ``referenced_objects`` tells which ones a container
needs, so an async caller can fetch them first. Secret values (base64 in the API) are
decoded as UTF-8 (invalid bytes replaced: CRI carries environment values as strings).
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pyk8s.kubelet import fieldpath

__all__ = [
    "MASTER_SERVICES",
    "ContainerConfigError",
    "EnvPairs",
    "Lookup",
    "container_env",
    "expand",
    "expand_command",
    "expand_subpath_expr",
    "join_host_port",
    "referenced_objects",
    "service_env",
    "sort_pod_ips",
]

Obj = dict[str, Any]
Lookup = Callable[[str, str], Obj | None]
EnvPairs = list[tuple[str, str]]

MASTER_SERVICES = frozenset({"kubernetes"})


class ContainerConfigError(Exception):
    """The container cannot be configured (``CreateContainerConfigError``); ``str()`` is
    the message upstream shows in the container's waiting state and ``Failed`` event."""


# --- expansion ---------------------------------------------------------------------------


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Expand ``$(NAME)`` references (``third_party/forked/golang/expansion``).

    ``lookup`` returns None for unknown names, which stay as ``$(NAME)``.
    """
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    n = len(text)
    while cursor < n:
        if text[cursor] == "$" and cursor + 1 < n:
            out.append(text[checkpoint:cursor])
            nxt = text[cursor + 1]
            advance = 1
            if nxt == "$":
                out.append("$")
            elif nxt == "(":
                close = text.find(")", cursor + 2)
                if close == -1:
                    out.append("$(")
                else:
                    name = text[cursor + 2 : close]
                    value = lookup(name)
                    out.append(f"$({name})" if value is None else value)
                    advance = close - cursor
            else:
                out.append("$" + nxt)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def _chain(*maps: Mapping[str, str]) -> Callable[[str], str | None]:
    def lookup(name: str) -> str | None:
        for m in maps:
            if name in m:
                return m[name]
        return None

    return lookup


def expand_command(
    command: Sequence[str] | None, args: Sequence[str] | None, env: Iterable[tuple[str, str]]
) -> tuple[list[str], list[str]]:
    """``ExpandContainerCommandAndArgs``: ``$(VAR)`` in command and args from the final
    environment (the last value of a repeated name wins)."""
    lookup = _chain(dict(env))
    return [expand(c, lookup) for c in command or []], [expand(a, lookup) for a in args or []]


def expand_subpath_expr(expr: str, env: Iterable[tuple[str, str]]) -> str:
    """``subPathExpr`` expansion: every referenced variable must exist and be non-empty."""
    values = dict(env)
    missing: set[str] = set()

    def lookup(name: str) -> str | None:
        value = values.get(name, "")
        if not value:
            missing.add(name)
        return value

    expanded = expand(expr, lookup)
    if missing:
        raise ContainerConfigError(f"missing value for {', '.join(sorted(missing))}")
    return expanded


# --- services ----------------------------------------------------------------------------


def join_host_port(host: str, port: int | str) -> str:
    """Go's ``net.JoinHostPort``: IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _has_cluster_ip(service: Obj) -> bool:
    ip = (service.get("spec") or {}).get("clusterIP") or ""
    return ip not in ("", "None")


def _env_name(name: str) -> str:
    return name.replace("-", "_").upper()


def _service_vars(service: Obj) -> EnvPairs:
    spec = service.get("spec") or {}
    ports = spec.get("ports") or []
    if not ports:
        return []
    ip = str(spec["clusterIP"])
    prefix = _env_name(service["metadata"]["name"])
    out: EnvPairs = [(f"{prefix}_SERVICE_HOST", ip)]
    out.append((f"{prefix}_SERVICE_PORT", str(ports[0].get("port"))))
    for p in ports:
        if p.get("name"):
            out.append((f"{prefix}_SERVICE_PORT_{_env_name(p['name'])}", str(p.get("port"))))
    for i, p in enumerate(ports):
        proto = str(p.get("protocol") or "TCP")
        url = f"{proto.lower()}://{join_host_port(ip, p.get('port'))}"
        if i == 0:
            out.append((f"{prefix}_PORT", url))
        port_prefix = f"{prefix}_PORT_{p.get('port')}_{proto.upper()}"
        out += [
            (port_prefix, url),
            (f"{port_prefix}_PROTO", proto.lower()),
            (f"{port_prefix}_PORT", str(p.get("port"))),
            (f"{port_prefix}_ADDR", ip),
        ]
    return out


def service_env(
    services: Iterable[Obj],
    *,
    namespace: str,
    enable_service_links: bool,
    master_service_namespace: str = "default",
) -> dict[str, str]:
    """The service variables a pod in ``namespace`` sees (``getServiceEnvVarMap``)."""
    chosen: dict[str, Obj] = {}
    for svc in services:
        if not _has_cluster_ip(svc):
            continue
        meta = svc.get("metadata") or {}
        name, ns = meta.get("name", ""), meta.get("namespace", "")
        if ns == master_service_namespace and name in MASTER_SERVICES:
            if name not in chosen:
                chosen[name] = svc
        elif ns == namespace and enable_service_links:
            chosen[name] = svc  # a same-named Service of the pod's namespace wins
    result: dict[str, str] = {}
    for name in sorted(chosen):
        result.update(_service_vars(chosen[name]))
    return result


# --- container environment ---------------------------------------------------------------


def referenced_objects(container: Obj) -> tuple[set[str], set[str]]:
    """Names of the ConfigMaps and Secrets the container's env/envFrom read."""
    configmaps: set[str] = set()
    secrets: set[str] = set()
    for source in container.get("envFrom") or []:
        if source.get("configMapRef"):
            configmaps.add(source["configMapRef"].get("name", ""))
        elif source.get("secretRef"):
            secrets.add(source["secretRef"].get("name", ""))
    for var in container.get("env") or []:
        ref = var.get("valueFrom") or {}
        if ref.get("configMapKeyRef"):
            configmaps.add(ref["configMapKeyRef"].get("name", ""))
        elif ref.get("secretKeyRef"):
            secrets.add(ref["secretKeyRef"].get("name", ""))
    return configmaps, secrets


def _decode_secret(raw: Any) -> str:
    try:
        data = base64.b64decode(str(raw), validate=False)
    except (ValueError, TypeError):
        return str(raw)
    return data.decode("utf-8", errors="replace")


class _Sources:
    """ConfigMaps and Secrets fetched once per container, as upstream caches them."""

    def __init__(self, namespace: str, get_configmap: Lookup, get_secret: Lookup) -> None:
        self.namespace = namespace
        self._get = {"configmap": get_configmap, "secret": get_secret}
        self._seen: dict[tuple[str, str], Obj | None] = {}

    def fetch(self, kind: str, name: str, *, optional: bool) -> Obj | None:
        """The object, or None when it is missing and optional; raises when required."""
        key = (kind, name)
        if key not in self._seen:
            self._seen[key] = self._get[kind](self.namespace, name)
        obj = self._seen[key]
        if obj is None and not optional:
            raise ContainerConfigError(f'{kind} "{name}" not found')
        return obj


def _field_value(
    ref: Obj, pod: Obj, *, node_name: str, host_ips: Sequence[str], pod_ips: Sequence[str]
) -> str:
    try:
        path = fieldpath.convert_field_label(str(ref.get("apiVersion") or "v1"), ref["fieldPath"])
        spec = pod.get("spec") or {}
        if path == "spec.nodeName":
            return str(spec.get("nodeName") or node_name)
        if path == "spec.serviceAccountName":
            return str(spec.get("serviceAccountName", ""))
        if path in ("status.hostIP", "status.hostIPs"):
            if not host_ips:
                raise ContainerConfigError("failed to get host IPs: no host IP known")
            return host_ips[0] if path == "status.hostIP" else ",".join(host_ips)
        if path == "status.podIP":
            return pod_ips[0] if pod_ips else ""
        if path == "status.podIPs":
            return ",".join(pod_ips)
        return fieldpath.extract_field_path(pod, path)
    except fieldpath.FieldPathError as e:
        raise ContainerConfigError(str(e)) from None


def _resource_value(
    ref: Obj, pod: Obj, container: Obj, allocatable: Mapping[str, Any] | None
) -> str:
    try:
        target = ref.get("containerName") or ""
        if not target:
            return fieldpath.resource_value(ref, fieldpath.merge_limits(container, allocatable))
        return fieldpath.resource_value_for_container(ref, pod, target, allocatable)
    except fieldpath.FieldPathError as e:
        raise ContainerConfigError(str(e)) from None


def sort_pod_ips(pod_ips: Sequence[str], host_ips: Sequence[str]) -> list[str]:
    """Pod IPs with the node's primary IP family first (``sortPodIPs``)."""
    if not host_ips or len(pod_ips) < 2:
        return list(pod_ips)
    want_v6 = ipaddress.ip_address(host_ips[0]).version == 6
    first = [ip for ip in pod_ips if (ipaddress.ip_address(ip).version == 6) == want_v6]
    return first[:1] + [ip for ip in pod_ips if ip not in first[:1]]


def container_env(
    pod: Obj,
    container: Obj,
    *,
    service_env: Mapping[str, str],
    get_configmap: Lookup,
    get_secret: Lookup,
    node_name: str = "",
    host_ip: str = "",
    host_ips: Sequence[str] = (),
    pod_ips: Sequence[str] = (),
    node_allocatable: Mapping[str, Any] | None = None,
) -> EnvPairs:
    """The container's environment as (name, value) pairs, each name once.

    ``service_env`` comes from ``service_env()``; ``host_ips`` are the node's addresses
    (primary first; ``host_ip`` alone will do), ``pod_ips`` the pod's; ``node_name``
    stands in for an empty ``spec.nodeName``; ``node_allocatable`` is the Node's
    ``status.allocatable`` for ``resourceFieldRef`` limits the container leaves unset.
    """
    if not host_ips and host_ip:
        host_ips = [host_ip]
    namespace = (pod.get("metadata") or {}).get("namespace", "")
    sources = _Sources(namespace, get_configmap, get_secret)
    pod_ips = sort_pod_ips(pod_ips, host_ips)
    env: dict[str, str] = {}

    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        if source.get("configMapRef"):
            ref = source["configMapRef"]
            cm = sources.fetch("configmap", ref.get("name", ""), optional=bool(ref.get("optional")))
            if cm is not None:
                for k, v in (cm.get("data") or {}).items():
                    env[prefix + k] = str(v)
        elif source.get("secretRef"):
            ref = source["secretRef"]
            secret = sources.fetch(
                "secret", ref.get("name", ""), optional=bool(ref.get("optional"))
            )
            if secret is not None:
                for k, v in (secret.get("data") or {}).items():
                    env[prefix + k] = _decode_secret(v)

    for var in container.get("env") or []:
        name = var["name"]
        value = var.get("value") or ""
        value_from = var.get("valueFrom")
        if value:
            value = expand(value, _chain(env, service_env))
        elif value_from:
            resolved = _value_from(
                value_from,
                pod=pod,
                container=container,
                sources=sources,
                node_name=node_name,
                host_ips=host_ips,
                pod_ips=pod_ips,
                allocatable=node_allocatable,
            )
            if resolved is None:
                continue
            value = resolved
        env[name] = value

    result = list(env.items())
    result += [(k, v) for k, v in service_env.items() if k not in env]
    return result


def _value_from(
    value_from: Obj,
    *,
    pod: Obj,
    container: Obj,
    sources: _Sources,
    node_name: str,
    host_ips: Sequence[str],
    pod_ips: Sequence[str],
    allocatable: Mapping[str, Any] | None,
) -> str | None:
    """One ``valueFrom``; None means "skip the variable" (an optional thing is missing)."""
    if value_from.get("fieldRef"):
        return _field_value(
            value_from["fieldRef"], pod, node_name=node_name, host_ips=host_ips, pod_ips=pod_ips
        )
    if value_from.get("resourceFieldRef"):
        return _resource_value(value_from["resourceFieldRef"], pod, container, allocatable)
    for field, kind, label in (
        ("configMapKeyRef", "configmap", "ConfigMap"),
        ("secretKeyRef", "secret", "Secret"),
    ):
        ref = value_from.get(field)
        if not ref:
            continue
        name, key = ref.get("name", ""), ref.get("key", "")
        optional = bool(ref.get("optional"))
        obj = sources.fetch(kind, name, optional=optional)
        if obj is None:
            return None
        data = obj.get("data") or {}
        if key not in data:
            if optional:
                return None
            raise ContainerConfigError(
                f"couldn't find key {key} in {label} {sources.namespace}/{name}"
            )
        return _decode_secret(data[key]) if kind == "secret" else str(data[key])
    return ""
