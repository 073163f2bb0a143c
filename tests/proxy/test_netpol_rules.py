"""NetworkPolicy semantics (netpol_rules.compute + allowed) and the rendered nftables text."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.proxy import netpol_rules as nr

Obj = dict[str, Any]

NODE = "node-a"
NODE_IPS = ("10.244.1.1", "192.0.2.2")


def pod(
    name: str,
    ip: str,
    *,
    ns: str = "prod",
    labels: dict[str, str] | None = None,
    node: str = NODE,
    ports: tuple[tuple[str, int, str], ...] = (),
    host_network: bool = False,
    phase: str = "Running",
) -> Obj:
    spec: Obj = {
        "nodeName": node,
        "containers": [
            {
                "name": "c",
                "image": "busybox",
                "ports": [
                    {"name": n, "containerPort": p, "protocol": proto} for n, p, proto in ports
                ],
            }
        ],
    }
    if host_network:
        spec["hostNetwork"] = True
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": spec,
        "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}]},
    }


def namespace(name: str, **labels: str) -> Obj:
    return {"metadata": {"name": name, "labels": labels}}


def policy(
    name: str,
    *,
    ns: str = "prod",
    selector: Obj | None = None,
    types: list[str] | None = None,
    ingress: list[Obj] | None = None,
    egress: list[Obj] | None = None,
) -> Obj:
    spec: Obj = {"podSelector": selector if selector is not None else {}}
    if types is not None:
        spec["policyTypes"] = types
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


WEB, CLIENT, DB = "10.244.1.10", "10.244.1.11", "10.244.1.12"
DEVCLIENT, DNS, OTHER_NODE_WEB = "10.244.2.20", "10.244.2.53", "10.244.2.30"
EXTERNAL, IN_EXCEPT, IN_BLOCK = "192.168.5.5", "10.1.2.3", "10.2.3.4"

PODS = [
    pod("web", WEB, labels={"app": "web"}, ports=(("http", 8080, "TCP"), ("stats", 9000, "UDP"))),
    pod("client", CLIENT, labels={"app": "client"}),
    pod("db", DB, labels={"app": "db"}, ports=(("http", 8081, "TCP"),)),
    pod("devclient", DEVCLIENT, ns="dev", labels={"app": "client"}, node="node-b"),
    pod("web-b", OTHER_NODE_WEB, labels={"app": "web"}, node="node-b"),
    pod(
        "coredns",
        DNS,
        ns="kube-system",
        labels={"k8s-app": "kube-dns"},
        node="node-b",
        ports=(("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")),
    ),
    pod("hostnet", "192.0.2.2", labels={"app": "web"}, host_network=True),
    pod("done", "10.244.1.99", labels={"app": "client"}, phase="Succeeded"),
]
NAMESPACES = [
    namespace("prod", team="a"),
    namespace("dev", team="b"),
    namespace("kube-system"),
]

WEB_SEL = {"matchLabels": {"app": "web"}}
CLIENT_SEL = {"matchLabels": {"app": "client"}}
DENY_INGRESS = policy("deny-ingress", types=["Ingress"])
DENY_EGRESS = policy("deny-egress", types=["Egress"])


def ruleset(*policies: Obj) -> nr.Ruleset:
    return nr.compute(policies=policies, pods=PODS, namespaces=NAMESPACES, node_name=NODE)


def allowed(rs: nr.Ruleset, src: str, dst: str, port: int | None, proto: str = "TCP") -> bool:
    return nr.allowed(rs, src=src, dst=dst, port=port, protocol=proto, node_ips=NODE_IPS)


def allow_web_from(*peers: Obj, ports: list[Obj] | None = None) -> Obj:
    rule: Obj = {"from": list(peers)}
    if ports is not None:
        rule["ports"] = ports
    return policy("allow-web", selector=WEB_SEL, ingress=[rule])


def egress_from_client(*rules: Obj) -> Obj:
    return policy("client-out", selector=CLIENT_SEL, types=["Egress"], egress=list(rules))


FROM_CLIENTS = allow_web_from({"podSelector": CLIENT_SEL})
FROM_TEAM_B = allow_web_from({"namespaceSelector": {"matchLabels": {"team": "b"}}})
FROM_BLOCK = allow_web_from({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}})
CLIENTS_ANY_NS = allow_web_from({"namespaceSelector": {}, "podSelector": CLIENT_SEL})
KUBE_DNS = {"podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
KUBE_SYSTEM = {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}
DNS_PORTS = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
TO_KUBE_DNS = egress_from_client(
    {"to": [{"namespaceSelector": KUBE_SYSTEM, **KUBE_DNS}], "ports": DNS_PORTS}
)
ANY_53 = egress_from_client({"ports": [{"port": 53, "protocol": "UDP"}]})
TO_HTTP = egress_from_client({"ports": [{"port": "http"}]})
NOT_PODS = egress_from_client(
    {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.244.0.0/16"]}}]}
)
DEFAULTED = policy("defaulted", selector=CLIENT_SEL, egress=[{"ports": [{"port": 53}]}])
IN_ANY = policy("allow-web-in", selector=WEB_SEL, ingress=[{}])
DENY_DEV = policy("deny-dev", ns="dev", types=["Ingress"])
ALLOW_DEV = policy(
    "allow-dev",
    selector=WEB_SEL,
    ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "b"}}}]}],
)


def ports(*p: Obj) -> Obj:
    return allow_web_from(ports=list(p))


# fmt: off
# (id, policies, src, dst, port, protocol, expected)
TABLE: list[tuple[str, list[Obj], str, str, int | None, str, bool]] = [
    ("no-policy-allows", [], CLIENT, WEB, 8080, "TCP", True),
    ("default-deny-ingress", [DENY_INGRESS], CLIENT, WEB, 8080, "TCP", False),
    ("deny-ingress-other-ns", [DENY_INGRESS], DEVCLIENT, WEB, 8080, "TCP", False),
    ("deny-ingress-keeps-egress", [DENY_INGRESS], WEB, DEVCLIENT, 80, "TCP", True),
    ("pod-reaches-itself", [DENY_INGRESS], WEB, WEB, 8080, "TCP", True),
    ("node-reaches-pod", [DENY_INGRESS], "10.244.1.1", WEB, 8080, "TCP", True),
    ("pod-reaches-node", [DENY_INGRESS], WEB, "192.0.2.2", 10250, "TCP", True),
    ("other-namespace-policy-irrelevant", [DENY_DEV], CLIENT, WEB, 8080, "TCP", True),
    # podSelector peers
    ("podselector-allows", [FROM_CLIENTS], CLIENT, WEB, 8080, "TCP", True),
    ("podselector-other-pod-denied", [FROM_CLIENTS], DB, WEB, 8080, "TCP", False),
    ("podselector-same-namespace-only", [FROM_CLIENTS], DEVCLIENT, WEB, 8080, "TCP", False),
    ("unselected-pod-not-isolated", [FROM_CLIENTS], CLIENT, DB, 5432, "TCP", True),
    ("finished-pod-not-a-peer", [FROM_CLIENTS], "10.244.1.99", WEB, 8080, "TCP", False),
    ("match-expressions", [allow_web_from({"podSelector": {"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["db", "x"]}]}})], DB, WEB, 8080, "TCP", True),
    ("empty-podselector-whole-namespace", [allow_web_from({"podSelector": {}})],
     CLIENT, WEB, 1, "UDP", True),
    # namespaceSelector peers
    ("namespaceselector-allows", [FROM_TEAM_B], DEVCLIENT, WEB, 8080, "TCP", True),
    ("namespaceselector-excludes-own-ns", [FROM_TEAM_B], CLIENT, WEB, 8080, "TCP", False),
    ("empty-namespaceselector-all-namespaces", [allow_web_from({"namespaceSelector": {}})],
     DNS, WEB, 8080, "TCP", True),
    ("namespace-name-label-implicit", [allow_web_from({"namespaceSelector": KUBE_SYSTEM})],
     DNS, WEB, 8080, "TCP", True),
    ("ns-and-pod-selector-match", [CLIENTS_ANY_NS], DEVCLIENT, WEB, 8080, "TCP", True),
    ("ns-and-pod-selector-is-and", [CLIENTS_ANY_NS], DNS, WEB, 8080, "TCP", False),
    ("two-peers-are-or", [allow_web_from({"namespaceSelector": {"matchLabels": {"team": "b"}}},
                                         {"podSelector": {"matchLabels": {"app": "db"}}})],
     DB, WEB, 8080, "TCP", True),
    # ipBlock peers
    ("ipblock-allows", [FROM_BLOCK], IN_BLOCK, WEB, 8080, "TCP", True),
    ("ipblock-except-denies", [FROM_BLOCK], IN_EXCEPT, WEB, 8080, "TCP", False),
    ("ipblock-outside-denied", [FROM_BLOCK], EXTERNAL, WEB, 8080, "TCP", False),
    ("ipblock-matches-pod-ips", [allow_web_from({"ipBlock": {"cidr": "10.244.1.0/24"}})],
     CLIENT, WEB, 8080, "TCP", True),
    # ports
    ("port-defaults-tcp", [ports({"port": 8080})], EXTERNAL, WEB, 8080, "TCP", True),
    ("other-port-denied", [ports({"port": 8080})], EXTERNAL, WEB, 8081, "TCP", False),
    ("other-protocol-denied", [ports({"port": 8080})], EXTERNAL, WEB, 8080, "UDP", False),
    ("icmp-denied-by-port-rule", [ports({"port": 8080})], EXTERNAL, WEB, None, "ICMP", False),
    ("no-ports-allow-icmp", [allow_web_from()], EXTERNAL, WEB, None, "ICMP", True),
    ("protocol-only-all-ports", [ports({"protocol": "UDP"})], EXTERNAL, WEB, 1234, "UDP", True),
    ("protocol-only-other-protocol", [ports({"protocol": "UDP"})], EXTERNAL, WEB, 1234, "TCP",
     False),
    ("sctp", [ports({"protocol": "SCTP", "port": 7777})], EXTERNAL, WEB, 7777, "SCTP", True),
    ("endport-inclusive", [ports({"port": 8000, "endPort": 8100})], EXTERNAL, WEB, 8100, "TCP",
     True),
    ("endport-beyond", [ports({"port": 8000, "endPort": 8100})], EXTERNAL, WEB, 8101, "TCP",
     False),
    ("named-port-ingress", [ports({"port": "http"})], CLIENT, WEB, 8080, "TCP", True),
    ("named-port-is-destination-pods", [ports({"port": "http"})], CLIENT, WEB, 8081, "TCP",
     False),
    ("named-port-udp", [ports({"port": "stats", "protocol": "UDP"})], CLIENT, WEB, 9000, "UDP",
     True),
    ("named-port-protocol-must-match", [ports({"port": "stats"})], CLIENT, WEB, 9000, "TCP",
     False),
    ("unresolved-named-port-matches-nothing", [ports({"port": "nope"})], CLIENT, WEB, 8080,
     "TCP", False),
    # rules and policies combine
    ("union-with-default-deny", [DENY_INGRESS, FROM_CLIENTS], CLIENT, WEB, 8080, "TCP", True),
    ("union-of-policies", [FROM_CLIENTS, ALLOW_DEV], DEVCLIENT, WEB, 8080, "TCP", True),
    ("empty-rule-allows-all", [IN_ANY], EXTERNAL, WEB, 1, "UDP", True),
    ("egress-only-policy-no-ingress-isolation",
     [policy("out", selector=WEB_SEL, types=["Egress"], ingress=[])], CLIENT, WEB, 8080, "TCP",
     True),
    # egress
    ("default-deny-egress", [DENY_EGRESS], CLIENT, WEB, 8080, "TCP", False),
    ("deny-egress-external", [DENY_EGRESS], CLIENT, EXTERNAL, 443, "TCP", False),
    ("egress-to-node-ok", [DENY_EGRESS], CLIENT, "192.0.2.2", 53, "UDP", True),
    ("deny-egress-is-not-ingress", [DENY_EGRESS], DEVCLIENT, WEB, 8080, "TCP", True),
    ("deny-all", [policy("deny-all", types=["Ingress", "Egress"])], CLIENT, WEB, 8080, "TCP",
     False),
    ("both-ends-must-allow", [DENY_EGRESS, IN_ANY], CLIENT, WEB, 8080, "TCP", False),
    ("dns-exception-to-kube-dns-udp", [TO_KUBE_DNS], CLIENT, DNS, 53, "UDP", True),
    ("dns-exception-to-kube-dns-tcp", [TO_KUBE_DNS], CLIENT, DNS, 53, "TCP", True),
    ("dns-exception-only-53", [TO_KUBE_DNS], CLIENT, DNS, 80, "TCP", False),
    ("dns-exception-only-kube-dns", [TO_KUBE_DNS], CLIENT, EXTERNAL, 53, "UDP", False),
    ("dns-exception-any-destination", [ANY_53], CLIENT, EXTERNAL, 53, "UDP", True),
    ("dns-exception-any-destination-port", [ANY_53], CLIENT, EXTERNAL, 5353, "UDP", False),
    ("egress-named-port-destination-pod",
     [egress_from_client({"ports": [{"port": "dns", "protocol": "UDP"}]})],
     CLIENT, DNS, 53, "UDP", True),
    ("egress-named-port-per-destination", [TO_HTTP], CLIENT, DB, 8081, "TCP", True),
    ("egress-named-port-not-other-pods-number", [TO_HTTP], CLIENT, DB, 8080, "TCP", False),
    ("egress-named-port-never-external", [TO_HTTP], CLIENT, EXTERNAL, 8080, "TCP", False),
    ("egress-named-port-within-peers",
     [egress_from_client({"to": [{"podSelector": WEB_SEL}], "ports": [{"port": "http"}]})],
     CLIENT, DB, 8081, "TCP", False),
    ("egress-ipblock", [NOT_PODS], CLIENT, EXTERNAL, 443, "TCP", True),
    ("egress-ipblock-except", [NOT_PODS], CLIENT, WEB, 8080, "TCP", False),
    ("policytypes-defaulted-with-egress", [DEFAULTED], CLIENT, WEB, 8080, "TCP", False),
    ("policytypes-defaulted-includes-ingress", [DEFAULTED], WEB, CLIENT, 8080, "TCP", False),
]
# fmt: on


@pytest.mark.parametrize(
    ("policies", "src", "dst", "port", "proto", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in TABLE],
)
def test_allowed(
    policies: list[Obj], src: str, dst: str, port: int | None, proto: str, expected: bool
) -> None:
    assert allowed(ruleset(*policies), src, dst, port, proto) is expected


def test_only_this_nodes_endpoint_pods_get_chains() -> None:
    rs = ruleset(policy("deny-all", types=["Ingress", "Egress"]))
    # web-b is selected but lives on node-b; hostnet and finished pods are not endpoints
    assert sorted(rs.pods) == [WEB, CLIENT, DB]
    assert {r.pod for r in rs.pods.values()} == {"prod/web", "prod/client", "prod/db"}
    assert all(r.ingress == () and r.egress == () for r in rs.pods.values())


def test_remote_source_is_judged_by_its_own_node() -> None:
    rs = ruleset(policy("deny-egress-b", selector=WEB_SEL, types=["Egress"]))
    # web-b (node-b) is isolated for egress, but node-a only programs its own pods
    assert allowed(rs, OTHER_NODE_WEB, CLIENT, 80) is True
    assert allowed(rs, WEB, CLIENT, 80) is False


def test_bad_selector_skips_the_policy_with_a_warning() -> None:
    bad = policy("bad", selector={"matchExpressions": [{"key": "a", "operator": "Nope"}]})
    rs = ruleset(bad, DENY_EGRESS)
    assert rs.warnings == ('prod/bad: "Nope" is not a valid label selector operator',)
    assert rs.pods[WEB].ingress is None and rs.pods[WEB].egress == ()


def test_named_egress_ports_group_destinations_by_number() -> None:
    pods = [
        *PODS,
        pod("web2", "10.244.1.13", labels={"app": "web"}, ports=(("http", 8080, "TCP"),)),
    ]
    rs = nr.compute(
        policies=[egress_from_client({"ports": [{"port": "http"}, {"port": 443}]})],
        pods=pods,
        namespaces=NAMESPACES,
        node_name=NODE,
    )
    assert rs.pods[CLIENT].egress == (
        nr.Clause(None, (nr.PortRange("tcp", 443, 443),), "prod/client-out"),
        nr.Clause(
            nr.Peers(frozenset({WEB, "10.244.1.13"})),
            (nr.PortRange("tcp", 8080, 8080),),
            "prod/client-out",
        ),
        nr.Clause(nr.Peers(frozenset({DB})), (nr.PortRange("tcp", 8081, 8081),), "prod/client-out"),
    )


# -- rendering -----------------------------------------------------------------------------------

EMPTY = """\
table inet pyk8s-netpol
delete table inet pyk8s-netpol
table inet pyk8s-netpol {
\tmap ingress-pods {
\t\ttype ipv4_addr : verdict
\t}
\tmap egress-pods {
\t\ttype ipv4_addr : verdict
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\tct state established,related accept
\t\tip saddr vmap @egress-pods
\t\tip daddr vmap @ingress-pods
\t}
}
"""


def test_render_without_policies() -> None:
    assert nr.render(ruleset()) == EMPTY


def test_render_default_deny_ingress_for_one_pod() -> None:
    rs = ruleset(policy("deny-web", selector=WEB_SEL, types=["Ingress"]))
    assert (
        nr.render(rs, table="t1")
        == """\
table inet t1
delete table inet t1
table inet t1 {
\tmap ingress-pods {
\t\ttype ipv4_addr : verdict
\t\telements = { 10.244.1.10 : jump ingress-10.244.1.10 }
\t}
\tmap egress-pods {
\t\ttype ipv4_addr : verdict
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\tct state established,related accept
\t\tip saddr vmap @egress-pods
\t\tip daddr vmap @ingress-pods
\t}
\tchain ingress-10.244.1.10 {
\t\tcomment "prod/web"
\t\tip saddr 10.244.1.10 return
\t\tdrop
\t}
}
"""
    )


def chain(text: str, name: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(f"\tchain {name} {{")
    end = lines.index("\t}", start)
    return [line.strip() for line in lines[start + 1 : end]]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        pytest.param({}, ['return comment "prod/allow-web"'], id="allow-all"),
        pytest.param(
            {
                "from": [
                    {"podSelector": CLIENT_SEL},
                    {"podSelector": {"matchLabels": {"app": "db"}}},
                ]
            },
            ['ip saddr { 10.244.1.11, 10.244.1.12 } return comment "prod/allow-web"'],
            id="pod-peers-one-set",
        ),
        pytest.param(
            {
                "from": [
                    {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "10.3.0.0/16"]}}
                ],
                "ports": [
                    {"port": 80},
                    {"port": 8000, "endPort": 8100},
                    {"port": "http"},
                    {"protocol": "UDP"},
                ],
            },
            [
                "ip saddr 10.0.0.0/8 ip saddr != { 10.1.0.0/16, 10.3.0.0/16 } tcp dport "
                '{ 80, 8000-8100 } return comment "prod/allow-web"',
                "ip saddr 10.0.0.0/8 ip saddr != { 10.1.0.0/16, 10.3.0.0/16 } meta l4proto udp "
                'return comment "prod/allow-web"',
            ],
            id="ipblock-except-ports",
        ),
        pytest.param(
            {
                "from": [{"ipBlock": {"cidr": "10.9.0.5/16"}}, {"podSelector": CLIENT_SEL}],
                "ports": [{"port": 9, "protocol": "SCTP"}],
            },
            [
                'ip saddr 10.244.1.11 sctp dport 9 return comment "prod/allow-web"',
                'ip saddr 10.9.0.0/16 sctp dport 9 return comment "prod/allow-web"',
            ],
            id="pods-and-block-sctp",
        ),
        pytest.param(
            {"from": [{"podSelector": {"matchLabels": {"app": "none"}}}]},
            [],
            id="peers-select-nobody",
        ),
        pytest.param({"ports": [{"port": "nope"}]}, [], id="unresolved-named-port"),
    ],
)
def test_render_ingress_rules(rule: Obj, expected: list[str]) -> None:
    text = nr.render(ruleset(policy("allow-web", selector=WEB_SEL, ingress=[rule])))
    assert chain(text, f"ingress-{WEB}") == [
        'comment "prod/web"',
        f"ip saddr {WEB} return",
        *expected,
        "drop",
    ]


def test_render_egress_chain_and_maps() -> None:
    dns_rule = {
        "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
    }
    text = nr.render(ruleset(DENY_EGRESS, egress_from_client(dns_rule)))
    assert (
        "\t\telements = { 10.244.1.10 : jump egress-10.244.1.10, 10.244.1.11 : jump "
        "egress-10.244.1.11, 10.244.1.12 : jump egress-10.244.1.12 }" in text.splitlines()
    )
    assert chain(text, f"egress-{CLIENT}") == [
        'comment "prod/client"',
        f"ip daddr {CLIENT} return",
        f'ip daddr {DNS} tcp dport 53 return comment "prod/client-out"',
        f'ip daddr {DNS} udp dport 53 return comment "prod/client-out"',
        "drop",
    ]
    assert chain(text, f"egress-{WEB}") == ['comment "prod/web"', f"ip daddr {WEB} return", "drop"]
    assert "\tmap ingress-pods {\n\t\ttype ipv4_addr : verdict\n\t}\n" in text
