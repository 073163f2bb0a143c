"""Printers for networking.k8s.io/v1 (ingresses, ingress classes, network policies) and
discovery.k8s.io/v1 endpoint slices, with upstream's columns and cell logic.

Lists are cut after three items with ``+ N more...``; an ingress's ADDRESS is not clipped
(the server prints wide), its PORTS are ``80`` or ``80, 443`` when it has TLS.
"""

from __future__ import annotations

from datetime import datetime

from pyk8s.api.printers import descriptions as d
from pyk8s.api.printers.columns import AGE, NAME, Cell, Printer, column
from pyk8s.api.printers.formatting import (
    Obj,
    format_label_selector,
    get_list,
    get_map,
    get_str,
    get_strs,
    since,
    text,
)

__all__ = ["PRINTERS"]


def _name(obj: Obj) -> str:
    return get_str(get_map(obj, "metadata"), "name")


def _age(obj: Obj, now: datetime) -> str:
    return since(get_map(obj, "metadata").get("creationTimestamp"), now)


def _with_more(items: list[str], total: int, *, limit: int = 3, empty: str) -> str:
    shown = ",".join(items[:limit])
    if total > limit:
        return f"{shown} + {total - limit} more..."
    return shown or empty


def _hosts(rules: list[Obj]) -> str:
    """Up to three hosts; "N more" counts every rule past the third, hosts or not."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        more = more or len(hosts) == 3
        if not more and get_str(rule, "host"):
            hosts.append(get_str(rule, "host"))
    if not hosts:
        return "*"
    return f"{','.join(hosts)} + {len(rules) - 3} more..." if more else ",".join(hosts)


def _ingress(ing: Obj, now: datetime) -> list[Cell]:
    spec = get_map(ing, "spec")
    found = {
        get_str(i, "ip") or get_str(i, "hostname")
        for i in get_list(get_map(ing, "status", "loadBalancer"), "ingress")
    }
    class_name = spec.get("ingressClassName")
    return [
        _name(ing),
        get_str(spec, "ingressClassName") if class_name is not None else "<none>",
        _hosts(get_list(spec, "rules")),
        ",".join(sorted(found - {""})),
        "80, 443" if get_list(spec, "tls") else "80",
        _age(ing, now),
    ]


def _ingress_class(ic: Obj, now: datetime) -> list[Cell]:
    spec = get_map(ic, "spec")
    parameters = "<none>"
    if spec.get("parameters") is not None:
        params = get_map(spec, "parameters")
        parameters = get_str(params, "kind")
        if params.get("apiGroup") is not None:
            parameters += "." + get_str(params, "apiGroup")
        parameters += "/" + get_str(params, "name")
    return [_name(ic), get_str(spec, "controller"), parameters, _age(ic, now)]


def _endpoint_slice(eps: Obj, now: datetime) -> list[Cell]:
    ports = []
    for port in get_list(eps, "ports"):
        number, name = port.get("port"), port.get("name")
        ports.append(
            text(number) if number is not None else text(name) if name is not None else "*"
        )
    addresses = [a for e in get_list(eps, "endpoints") for a in get_strs(e, "addresses")]
    return [
        _name(eps),
        get_str(eps, "addressType"),
        _with_more(ports, len(ports), empty="<unset>"),
        _with_more(addresses, len(addresses), empty="<unset>"),
        _age(eps, now),
    ]


PRINTERS = {
    ("networking.k8s.io", "ingresses"): Printer(
        (
            NAME,
            column(
                "Class",
                "string",
                "The name of the IngressClass resource that should be used for additional configuration",
            ),
            column(
                "Hosts",
                "string",
                "Hosts that incoming requests are matched against before the ingress rule",
            ),
            column(
                "Address",
                "string",
                "Address is a list containing ingress points for the load-balancer",
            ),
            column("Ports", "string", "Ports of TLS configurations that open"),
            AGE,
        ),
        _ingress,
    ),
    ("networking.k8s.io", "ingressclasses"): Printer(
        (
            NAME,
            column(
                "Controller", "string", "Controller that is responsible for handling this class"
            ),
            column("Parameters", "string", "A reference to a resource with additional parameters"),
            AGE,
        ),
        _ingress_class,
    ),
    ("networking.k8s.io", "networkpolicies"): Printer(
        (NAME, column("Pod-Selector", "string", d.NETPOL_POD_SELECTOR), AGE),
        lambda o, now: [
            _name(o),
            # podSelector is a struct upstream, never null: a missing one selects everything
            format_label_selector(get_map(o, "spec", "podSelector")),
            _age(o, now),
        ],
    ),
    ("discovery.k8s.io", "endpointslices"): Printer(
        (
            NAME,
            column("AddressType", "string", d.EPS_ADDRESS_TYPE),
            column("Ports", "string", d.EPS_PORTS),
            column("Endpoints", "string", d.EPS_ENDPOINTS),
            AGE,
        ),
        _endpoint_slice,
    ),
}
