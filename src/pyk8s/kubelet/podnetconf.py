"""A pod's name resolution: its resolv.conf (CRI ``DNSConfig``) and its /etc/hosts.

Pure functions with upstream's rules (``pkg/kubelet/network/dns``, ``kubelet_pods.go``):

- ``resolv_conf`` by ``dnsPolicy``: ``ClusterFirst`` (and ``ClusterFirstWithHostNet``) use
  the cluster DNS servers only, search ``<ns>.svc.<domain> svc.<domain> <domain>`` then the
  host's searches (duplicates dropped), options ``ndots:5``; ``ClusterFirst`` on the host
  network falls back to ``Default``; ``Default`` copies the host's resolv.conf (an empty
  one means ``nameserver 127.0.0.1`` and ``search .``, as a kubelet without
  ``--resolv-conf``); ``None`` starts empty. ``dnsConfig`` is then merged in (servers and
  searches appended without duplicates, options overriding by name). Limits: 3 servers,
  32 search domains, 2048 characters of search line, no domain over 253 characters —
  what is cut is reported in ``DnsConfig.warnings`` (upstream's ``DNSConfigForming``
  events). ClusterFirst without cluster DNS servers falls back to ``Default`` with a
  ``MissingClusterDNS`` warning.
- ``hosts_file`` — the managed hosts file: header, localhost lines, the pod's own line(s)
  (``ip  hostname.subdomain.ns.svc.<domain>  hostname`` with a subdomain), then a
  ``# Entries added by HostAliases.`` section. Host-network pods get the node's hosts file
  under a ``(host network)`` header, plus their aliases.
- ``pod_hostname_and_domain`` — ``spec.hostname`` (else the pod name) truncated to 63
  characters, and ``<subdomain>.<ns>.svc.<domain>`` when ``spec.subdomain`` is set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "MAX_NAMESERVERS",
    "MAX_SEARCH_CHARS",
    "MAX_SEARCH_PATHS",
    "DnsConfig",
    "format_resolv_conf",
    "hosts_file",
    "parse_resolv_conf",
    "pod_hostname_and_domain",
    "resolv_conf",
]

Obj = dict[str, Any]

MAX_NAMESERVERS: Final = 3
MAX_SEARCH_PATHS: Final = 32
MAX_SEARCH_CHARS: Final = 2048
_MAX_DOMAIN: Final = 253
DEFAULT_OPTIONS: Final = ("ndots:5",)
HOSTS_HEADER: Final = "# Kubernetes-managed hosts file.\n"
HOSTS_HEADER_HOST_NETWORK: Final = "# Kubernetes-managed hosts file (host network).\n"


@dataclass
class DnsConfig:
    """What goes into the sandbox's resolv.conf; ``warnings`` are (reason, message) pairs
    for Warning events on the pod."""

    servers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)


def parse_resolv_conf(text: str) -> DnsConfig:
    """Nameservers accumulate; the last ``search`` and ``options`` lines win; a trailing
    dot on a search domain is dropped."""
    conf = DnsConfig()
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        fields = stripped.split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) >= 2:
            conf.servers.append(fields[1])
        elif fields[0] == "search":
            conf.searches = [s.removesuffix(".") for s in fields[1:]]
        elif fields[0] == "options":
            conf.options = fields[1:]
    return conf


def format_resolv_conf(conf: DnsConfig) -> str:
    """The file a runtime writes from a ``DnsConfig`` (for host-side tools and tests)."""
    lines = [f"nameserver {s}" for s in conf.servers]
    if conf.searches:
        lines.append("search " + " ".join(conf.searches))
    if conf.options:
        lines.append("options " + " ".join(conf.options))
    return "".join(line + "\n" for line in lines)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _merge_options(existing: Sequence[str], extra: Sequence[Obj]) -> list[str]:
    merged: dict[str, str] = {}
    for op in existing:
        name, _, value = op.partition(":")
        merged[name] = value
    for option in extra:
        merged[str(option.get("name", ""))] = str(option.get("value") or "")
    return [f"{k}:{v}" if v else k for k, v in merged.items()]


def _fit_searches(searches: list[str]) -> tuple[list[str], bool]:
    cut = False
    if len(searches) > MAX_SEARCH_PATHS:
        searches, cut = searches[:MAX_SEARCH_PATHS], True
    kept = [s for s in searches if len(s) <= _MAX_DOMAIN]
    cut = cut or len(kept) != len(searches)
    line_len = len(" ".join(kept))
    if line_len > MAX_SEARCH_CHARS:
        drop = 0
        removed = 0
        for s in reversed(kept):
            removed += len(s) + 1
            drop += 1
            if line_len - removed <= MAX_SEARCH_CHARS:
                break
        kept, cut = kept[: len(kept) - drop], True
    return kept, cut


def _dns_type(pod: Obj) -> str:
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "None":
        return "none"
    if policy == "ClusterFirstWithHostNet":
        return "cluster"
    if policy == "ClusterFirst":
        return "host" if spec.get("hostNetwork") else "cluster"
    if policy == "Default":
        return "host"
    return "cluster"  # invalid policies are rejected by the API; upstream falls back too


def resolv_conf(
    pod: Obj,
    *,
    cluster_dns: Sequence[str],
    cluster_domain: str,
    host_resolv: str,
    node_ips: Sequence[str] = (),
) -> DnsConfig:
    """The pod's DNS configuration (``Configurer.GetPodDNS``).

    ``host_resolv`` is the text of the node's resolv.conf (``--resolv-conf``); an empty
    string stands for "no resolv.conf", as upstream's empty flag does.
    """
    conf = parse_resolv_conf(host_resolv)
    warnings: list[tuple[str, str]] = []
    kind = _dns_type(pod)
    if kind == "none":
        conf = DnsConfig()
    elif kind == "cluster" and cluster_dns:
        conf.servers = list(cluster_dns)
        if cluster_domain:
            ns = (pod.get("metadata") or {}).get("namespace", "")
            own = [f"{ns}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain]
            conf.searches = _unique(own + conf.searches)
        conf.options = list(DEFAULT_OPTIONS)
    else:
        if kind == "cluster":
            msg = (
                "kubelet does not have ClusterDNS IP configured and cannot create Pod using "
                '"ClusterFirst" policy. Falling back to "Default" policy.'
            )
            meta = pod.get("metadata") or {}
            warnings.append(
                (
                    "MissingClusterDNS",
                    f'pod: "{meta.get("name", "")}_{meta.get("namespace", "")}'
                    f'({meta.get("uid", "")})". {msg}',
                )
            )
        if not host_resolv.strip():
            servers = ["::1" if ":" in ip else "127.0.0.1" for ip in node_ips]
            conf.servers = servers or ["127.0.0.1"]
            conf.searches = ["."]

    extra = (pod.get("spec") or {}).get("dnsConfig")
    if extra:
        conf.servers = _unique([*conf.servers, *(extra.get("nameservers") or [])])
        conf.searches = _unique([*conf.searches, *(extra.get("searches") or [])])
        conf.options = _merge_options(conf.options, extra.get("options") or [])

    if len(conf.servers) > MAX_NAMESERVERS:
        conf.servers = conf.servers[:MAX_NAMESERVERS]
        warnings.append(
            (
                "DNSConfigForming",
                "Nameserver limits were exceeded, some nameservers have been omitted, "
                f"the applied nameserver line is: {' '.join(conf.servers)}",
            )
        )
    conf.searches, cut = _fit_searches(conf.searches)
    if cut:
        warnings.append(
            (
                "DNSConfigForming",
                "Search Line limits were exceeded, some search paths have been omitted, "
                f"the applied search line is: {' '.join(conf.searches)}",
            )
        )
    conf.warnings = warnings
    return conf


def pod_hostname_and_domain(pod: Obj, cluster_domain: str) -> tuple[str, str]:
    """(hostname, host domain) as ``GeneratePodHostNameAndDomain`` gives them."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    hostname = str(spec.get("hostname") or meta.get("name", ""))
    if len(hostname) > 63:
        hostname = hostname[:63].rstrip("-.")
    domain = ""
    if spec.get("subdomain"):
        domain = f"{spec['subdomain']}.{meta.get('namespace', '')}.svc.{cluster_domain}"
    return hostname, domain


def _alias_lines(aliases: Sequence[Obj]) -> str:
    if not aliases:
        return ""
    lines = ["\n# Entries added by HostAliases.\n"]
    for alias in aliases:
        lines.append(f"{alias.get('ip', '')}\t{chr(9).join(alias.get('hostnames') or [])}\n")
    return "".join(lines)


def hosts_file(
    pod: Obj, pod_ips: Sequence[str], *, cluster_domain: str, node_hosts: str = ""
) -> str:
    """The pod's /etc/hosts. ``node_hosts`` is the node's hosts file, used for host-network
    pods only."""
    spec = pod.get("spec") or {}
    aliases = spec.get("hostAliases") or []
    if spec.get("hostNetwork"):
        return HOSTS_HEADER_HOST_NETWORK + node_hosts + _alias_lines(aliases)
    hostname, domain = pod_hostname_and_domain(pod, cluster_domain)
    out = [
        HOSTS_HEADER,
        "127.0.0.1\tlocalhost\n",
        "::1\tlocalhost ip6-localhost ip6-loopback\n",
        "fe00::0\tip6-localnet\n",
        "fe00::0\tip6-mcastprefix\n",
        "fe00::1\tip6-allnodes\n",
        "fe00::2\tip6-allrouters\n",
    ]
    for ip in pod_ips:
        out.append(f"{ip}\t{hostname}.{domain}\t{hostname}\n" if domain else f"{ip}\t{hostname}\n")
    out.append(_alias_lines(aliases))
    return "".join(out)
