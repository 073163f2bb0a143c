"""A pod as the scheduler sees it: the JSON object plus everything parsed once.

``PodInfo.of(pod)`` reads the fields the plugins consult on every cycle — requests (and
their non-zero variant for scoring), priority, host ports, tolerations, inter-pod
affinity terms with label selectors compiled — so that filtering 5,000 nodes never
re-parses a quantity or a selector. A ``PodInfo`` is immutable; an update to the pod
makes a new one.

``AffinityTerm`` is upstream's ``framework.AffinityTerm``: a term matches a pod when the
pod's namespace is one of ``namespaces`` (by default the namespace of the pod that owns
the term) or its namespace's labels match ``namespace_selector``, and its labels match
``selector``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyk8s.api.label_selectors import LabelSelector, SelectorError, from_label_selector_obj
from pyk8s.scheduler import resources

__all__ = [
    "NOTHING",
    "AffinityTerm",
    "HostPort",
    "PodInfo",
    "WeightedAffinityTerm",
    "parse_selector",
    "pod_key",
    "pod_priority",
]

Obj = dict[str, Any]
NOTHING = LabelSelector(nothing=True)


def pod_key(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or ''}"


def pod_priority(pod: Mapping[str, Any]) -> int:
    p = (pod.get("spec") or {}).get("priority")
    return int(p) if isinstance(p, int) else 0


def parse_selector(raw: Mapping[str, Any] | None) -> LabelSelector:
    try:
        return from_label_selector_obj(raw)
    except SelectorError:
        return NOTHING


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    namespaces: frozenset[str]
    selector: LabelSelector
    topology_key: str
    namespace_selector: LabelSelector = NOTHING

    @classmethod
    def of(cls, owner_namespace: str, raw: Mapping[str, Any]) -> AffinityTerm:
        namespaces = frozenset(raw.get("namespaces") or ())
        ns_sel_raw = raw.get("namespaceSelector")
        ns_sel = parse_selector(ns_sel_raw) if ns_sel_raw is not None else NOTHING
        if not namespaces and ns_sel_raw is None:
            namespaces = frozenset((owner_namespace,))
        return cls(
            namespaces=namespaces,
            selector=parse_selector(raw.get("labelSelector")),
            topology_key=str(raw.get("topologyKey") or ""),
            namespace_selector=ns_sel,
        )

    def matches(self, pod: PodInfo, ns_labels: Mapping[str, str] | None) -> bool:
        if pod.namespace in self.namespaces or (
            ns_labels is not None and self.namespace_selector.matches(ns_labels)
        ):
            return self.selector.matches(pod.labels)
        return False

    def with_namespaces(self, namespaces: frozenset[str]) -> AffinityTerm:
        """The term with its namespaceSelector resolved into a namespace list."""
        return AffinityTerm(self.namespaces | namespaces, self.selector, self.topology_key)


@dataclass(frozen=True, slots=True)
class WeightedAffinityTerm:
    term: AffinityTerm
    weight: int


@dataclass(frozen=True, slots=True)
class HostPort:
    ip: str
    protocol: str
    port: int


def _host_ports(spec: Mapping[str, Any]) -> tuple[HostPort, ...]:
    out: list[HostPort] = []
    for c in spec.get("containers") or ():
        for p in c.get("ports") or ():
            hp = p.get("hostPort") or 0
            if isinstance(hp, int) and hp > 0:
                out.append(
                    HostPort(str(p.get("hostIP") or "0.0.0.0"), str(p.get("protocol") or "TCP"), hp)
                )
    return tuple(out)


def _terms(ns: str, raw: Sequence[Any] | None) -> tuple[AffinityTerm, ...]:
    return tuple(AffinityTerm.of(ns, t) for t in raw or () if isinstance(t, Mapping))


def _weighted(ns: str, raw: Sequence[Any] | None) -> tuple[WeightedAffinityTerm, ...]:
    out = []
    for t in raw or ():
        if isinstance(t, Mapping) and isinstance(t.get("podAffinityTerm"), Mapping):
            w = t.get("weight")
            out.append(
                WeightedAffinityTerm(
                    AffinityTerm.of(ns, t["podAffinityTerm"]), w if isinstance(w, int) else 0
                )
            )
    return tuple(out)


@dataclass(frozen=True, slots=True, eq=False)
class PodInfo:
    pod: Obj
    key: str
    uid: str
    namespace: str
    name: str
    labels: Mapping[str, str]
    node_name: str
    priority: int
    requests: Mapping[str, int]
    non_zero_cpu: int
    non_zero_memory: int
    host_ports: tuple[HostPort, ...]
    tolerations: tuple[Mapping[str, Any], ...]
    terminating: bool
    required_affinity: tuple[AffinityTerm, ...] = ()
    required_anti_affinity: tuple[AffinityTerm, ...] = ()
    preferred_affinity: tuple[WeightedAffinityTerm, ...] = ()
    preferred_anti_affinity: tuple[WeightedAffinityTerm, ...] = ()
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, pod: Obj) -> PodInfo:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        ns = str(meta.get("namespace") or "default")
        name = str(meta.get("name") or "")
        reqs = resources.pod_requests(spec)
        non_zero = resources.pod_requests(spec, non_missing=resources.NON_ZERO_DEFAULTS)
        aff = spec.get("affinity") or {}
        pa = aff.get("podAffinity") or {}
        paa = aff.get("podAntiAffinity") or {}
        return cls(
            pod=pod,
            key=f"{ns}/{name}",
            uid=str(meta.get("uid") or f"{ns}/{name}"),
            namespace=ns,
            name=name,
            labels=meta.get("labels") or {},
            node_name=str(spec.get("nodeName") or ""),
            priority=pod_priority(pod),
            requests=reqs,
            non_zero_cpu=non_zero.get(resources.CPU, 0),
            non_zero_memory=non_zero.get(resources.MEMORY, 0),
            host_ports=_host_ports(spec),
            tolerations=tuple(t for t in spec.get("tolerations") or () if isinstance(t, Mapping)),
            terminating=bool(meta.get("deletionTimestamp")),
            required_affinity=_terms(ns, pa.get("requiredDuringSchedulingIgnoredDuringExecution")),
            required_anti_affinity=_terms(
                ns, paa.get("requiredDuringSchedulingIgnoredDuringExecution")
            ),
            preferred_affinity=_weighted(
                ns, pa.get("preferredDuringSchedulingIgnoredDuringExecution")
            ),
            preferred_anti_affinity=_weighted(
                ns, paa.get("preferredDuringSchedulingIgnoredDuringExecution")
            ),
        )

    @property
    def spec(self) -> Obj:
        spec: Obj = self.pod.get("spec") or {}
        return spec

    @property
    def has_affinity(self) -> bool:
        return bool(
            self.required_affinity
            or self.required_anti_affinity
            or self.preferred_affinity
            or self.preferred_anti_affinity
        )

    def start_time(self) -> str:
        status = self.pod.get("status") or {}
        meta = self.pod.get("metadata") or {}
        return str(status.get("startTime") or meta.get("creationTimestamp") or "")

    def on_node(self, node_name: str) -> PodInfo:
        """This pod as assumed onto ``node_name`` (spec.nodeName set)."""
        pod = {**self.pod, "spec": {**self.spec, "nodeName": node_name}}
        return dataclasses.replace(self, pod=pod, node_name=node_name, extra={})
