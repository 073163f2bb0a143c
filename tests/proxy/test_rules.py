"""rules.render / rules.build: the nftables text for each Service feature, checked as exact
lines of the rendered script (and, at the end, every case through ``nft --check``)."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from proxy_objects import endpoint, endpoint_slice, node, service

from pyk8s.proxy import model, rules
from pyk8s.proxy.config import ProxyConfig

T = "ip pyk8s-proxy"
CFG = ProxyConfig()
NODE = node("node-a", ip="192.0.2.10")


def name(svc: str, port: str = "http", proto: str = "TCP", ns: str = "ns") -> str:
    return rules.chain_base(model.ServicePortName(ns, svc, port, proto))


def ep_chain(svc: str, ip: str, port: int = 8080, pname: str = "http", proto: str = "TCP") -> str:
    spn = model.ServicePortName("ns", svc, pname, proto)
    return "endpoint-" + rules.endpoint_chain_base(spn, model.Endpoint(ip, port))


def lines(
    services: list[dict[str, Any]],
    slices: list[dict[str, Any]],
    cfg: ProxyConfig = CFG,
    n: dict[str, Any] | None = NODE,
) -> list[str]:
    return rules.render(services, slices, n, cfg).splitlines()


def test_chain_names_match_kube_proxy() -> None:
    spn = model.ServicePortName("ns1", "svc1", "p80", "TCP")
    assert rules.chain_base(spn) == "ULMVA6XW-ns1/svc1/tcp/p80"
    assert (
        rules.endpoint_chain_base(spn, model.Endpoint("10.180.0.1", 80))
        == "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
    )


def test_skeleton() -> None:
    out = lines([], [])
    assert out[:3] == [
        f"add table {T}",
        f"delete table {T}",
        f'add table {T} {{ comment "rules for pyk8s proxy" ; }}',
    ]
    for expected in [
        f"add chain {T} nat-prerouting {{ type nat hook prerouting priority -100 ; policy accept ; }}",
        f"add chain {T} nat-output {{ type nat hook output priority -100 ; policy accept ; }}",
        f"add chain {T} nat-postrouting {{ type nat hook postrouting priority 100 ; policy accept ; }}",
        f"add chain {T} filter-forward {{ type filter hook forward priority -110 ; policy accept ; }}",
        f"add chain {T} filter-output-post-dnat {{ type filter hook output priority -90 ; policy accept ; }}",
        f"add rule {T} nat-prerouting jump services",
        f"add rule {T} nat-output jump services",
        f"add rule {T} nat-postrouting jump masquerading",
        f"add rule {T} filter-input ct state new jump nodeport-endpoints-check",
        f"add rule {T} filter-forward ct state new jump service-endpoints-check",
        f"add rule {T} filter-output ct state new jump service-endpoints-check",
        f"add rule {T} mark-for-masquerade mark set mark or 0x004000",
        f"add rule {T} masquerading mark and 0x004000 == 0 return",
        f"add rule {T} masquerading mark set mark xor 0x004000",
        f"add rule {T} masquerading masquerade fully-random",
        f"add rule {T} reject-chain reject",
        f"add rule {T} services ip daddr . meta l4proto . th dport vmap @service-ips",
        f"add rule {T} cluster-ips-check ip daddr @cluster-ips reject "
        'comment "Reject traffic to invalid ports of ClusterIPs"',
        f"add rule {T} cluster-ips-check ip daddr {{ 10.96.0.0/12 }} drop "
        'comment "Drop traffic to unallocated ClusterIPs"',
        f"add map {T} service-ips {{ type ipv4_addr . inet_proto . inet_service : verdict ; "
        'comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }',
    ]:
        assert expected in out


def test_cluster_ip_with_ready_endpoints() -> None:
    svc = service("web", "10.96.0.10")
    es = endpoint_slice("web", [endpoint("10.244.1.3"), endpoint("10.244.1.2", node="node-b")])
    out = lines([svc], [es])
    chain = f"service-{name('web')}"
    ep2, ep3 = ep_chain("web", "10.244.1.2"), ep_chain("web", "10.244.1.3")
    for expected in [
        f"add element {T} service-ips {{ 10.96.0.10 . tcp . 80 : goto {chain} }}",
        f"add element {T} cluster-ips {{ 10.96.0.10 }}",
        f"add rule {T} {chain} ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 "
        "jump mark-for-masquerade",
        f"add rule {T} {chain} numgen random mod 2 vmap {{ 0 : goto {ep2}, 1 : goto {ep3} }}",
        f"add rule {T} {ep2} ip saddr 10.244.1.2 jump mark-for-masquerade",
        f"add rule {T} {ep2} meta l4proto tcp dnat to 10.244.1.2:8080",
        f"add rule {T} {ep3} meta l4proto tcp dnat to 10.244.1.3:8080",
    ]:
        assert expected in out
    assert not any(line.startswith(f"add element {T} no-endpoint-services") for line in out)
    assert not any(line.startswith(f"add chain {T} external-") for line in out)


@pytest.mark.parametrize(
    ("eps", "chosen"),
    [
        pytest.param(
            [endpoint("10.244.1.2"), endpoint("10.244.1.3", ready=False)],
            ["10.244.1.2"],
            id="not-ready-left-out",
        ),
        pytest.param(
            [
                endpoint("10.244.1.2", ready=False, serving=True, terminating=True),
                endpoint("10.244.1.3", ready=False, serving=False, terminating=True),
                endpoint("10.244.1.4", ready=False),
            ],
            ["10.244.1.2"],
            id="serving-terminating-fallback",
        ),
        pytest.param(
            [
                endpoint("10.244.1.2", ready=False, serving=True, terminating=True),
                endpoint("10.244.1.3"),
            ],
            ["10.244.1.3"],
            id="ready-beats-terminating",
        ),
        pytest.param(
            [endpoint("10.244.1.2", ready=None)], ["10.244.1.2"], id="unset-ready-means-ready"
        ),
        pytest.param(
            [endpoint("8.8.8.8"), endpoint("10.244.1.2")], ["10.244.1.2"], id="off-machine-skipped"
        ),
        pytest.param([endpoint("192.0.2.10")], ["192.0.2.10"], id="node-address-allowed"),
    ],
)
def test_endpoint_selection(eps: list[dict[str, Any]], chosen: list[str]) -> None:
    out = lines([service("web", "10.96.0.10")], [endpoint_slice("web", eps)])
    picks = [line for line in out if "numgen random" in line]
    assert len(picks) == 1
    targets = ", ".join(f"{i} : goto {ep_chain('web', ip)}" for i, ip in enumerate(chosen))
    assert picks[0].endswith(f"numgen random mod {len(chosen)} vmap {{ {targets} }}")
    dnats = sorted(line.rsplit(" ", 1)[1] for line in out if " dnat to " in line)
    assert dnats == sorted(f"{ip}:8080" for ip in chosen)


def test_allow_any_endpoint_when_endpoint_cidrs_empty() -> None:
    cfg = ProxyConfig(endpoint_cidrs=())
    out = lines([service("web", "10.96.0.10")], [endpoint_slice("web", [endpoint("8.8.8.8")])], cfg)
    assert f"add rule {T} {ep_chain('web', '8.8.8.8')} meta l4proto tcp dnat to 8.8.8.8:8080" in out


@pytest.mark.parametrize(
    "eps",
    [
        pytest.param([], id="no-slice-endpoints"),
        pytest.param([endpoint("10.244.1.2", ready=False)], id="only-not-ready"),
    ],
)
def test_no_endpoints_rejects(eps: list[dict[str, Any]]) -> None:
    svc = service("web", "10.96.0.10", type="NodePort", externalIPs=["192.0.2.50"])
    svc["spec"]["ports"][0]["nodePort"] = 30080
    out = lines([svc], [endpoint_slice("web", eps)])
    assert (
        f'add element {T} no-endpoint-services {{ 10.96.0.10 . tcp . 80 comment "ns/web:http" '
        ': goto reject-chain, 192.0.2.50 . tcp . 80 comment "ns/web:http" : goto reject-chain }'
    ) in out
    assert (
        f'add element {T} no-endpoint-nodeports {{ tcp . 30080 comment "ns/web:http" '
        ": goto reject-chain }"
    ) in out
    assert not any("service-ips {" in line and "add element" in line for line in out)
    assert not any(line.startswith(f"add chain {T} service-{name('web')}") for line in out)


def test_nodeport_and_external_ips_masquerade() -> None:
    svc = service("web", "10.96.0.10", type="NodePort", externalIPs=["192.0.2.50"])
    svc["spec"]["ports"][0]["nodePort"] = 30080
    out = lines([svc], [endpoint_slice("web", [endpoint("10.244.1.2")])])
    ext, cluster = f"external-{name('web')}", f"service-{name('web')}"
    for expected in [
        f"add element {T} service-nodeports {{ tcp . 30080 : goto {ext} }}",
        f"add element {T} service-ips {{ 10.96.0.10 . tcp . 80 : goto {cluster}, "
        f"192.0.2.50 . tcp . 80 : goto {ext} }}",
        f"add rule {T} {ext} jump mark-for-masquerade",
        f"add rule {T} {ext} goto {cluster}",
        f"add rule {T} services fib daddr type local meta l4proto . th dport vmap @service-nodeports",
        f"add rule {T} nodeport-endpoints-check meta l4proto . th dport vmap @no-endpoint-nodeports",
    ]:
        assert expected in out


def test_localhost_nodeports() -> None:
    on = lines([], [], ProxyConfig(localhost_nodeports=True))
    off = lines([], [], ProxyConfig(localhost_nodeports=False))
    guard = (
        f"add rule {T} filter-input ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 "
        'ct status & dnat == 0 drop comment "block incoming localnet connections"'
    )
    assert guard in on
    assert guard not in off
    assert (
        f"add rule {T} services fib daddr type local ip daddr != 127.0.0.0/8 "
        "meta l4proto . th dport vmap @service-nodeports"
    ) in off
    assert (
        f"add rule {T} nodeport-endpoints-check ip daddr != 127.0.0.0/8 "
        "meta l4proto . th dport vmap @no-endpoint-nodeports"
    ) in off


def test_nodeport_addresses_limit_nodeports() -> None:
    cfg = ProxyConfig(node_port_addresses=("192.0.2.0/24", "127.0.0.0/8"))
    out = lines([], [], cfg)
    assert f"add element {T} nodeport-ips {{ 192.0.2.10, 127.0.0.1 }}" in out
    assert (
        f"add rule {T} services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports"
    ) in out


def test_load_balancer_vip_and_source_ranges() -> None:
    status = {
        "loadBalancer": {
            "ingress": [
                {"ip": "192.0.2.10", "ipMode": "VIP"},
                {"ip": "192.0.2.11", "ipMode": "Proxy"},
            ]
        }
    }
    svc = service(
        "lb",
        "10.96.0.20",
        type="LoadBalancer",
        status=status,
        loadBalancerSourceRanges=["10.0.0.0/8"],
    )
    svc["spec"]["ports"][0]["nodePort"] = 30081
    out = lines([svc], [endpoint_slice("lb", [endpoint("10.244.1.2")])])
    ext, fw = f"external-{name('lb')}", f"firewall-{name('lb')}"
    assert (
        f"add element {T} service-ips {{ 10.96.0.20 . tcp . 80 : goto service-{name('lb')}, "
        f"192.0.2.10 . tcp . 80 : goto {ext} }}"
    ) in out
    assert f"add rule {T} {fw} ip saddr != {{ 10.0.0.0/8 }} drop" in out
    assert (
        f'add element {T} firewall-ips {{ 192.0.2.10 . tcp . 80 comment "ns/lb:http" : goto {fw} }}'
    ) in out
    assert not any("192.0.2.11" in line for line in out)


def test_session_affinity() -> None:
    svc = service(
        "sticky",
        "10.96.0.30",
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}},
    )
    out = lines([svc], [endpoint_slice("sticky", [endpoint("10.244.1.2"), endpoint("10.244.1.3")])])
    ep2 = ep_chain("sticky", "10.244.1.2")
    aff2 = "affinity-" + ep2.removeprefix("endpoint-") + "/600"
    chain = f"service-{name('sticky')}"
    rule_lines = [line for line in out if line.startswith(f"add rule {T} {chain} ")]
    assert rule_lines[1] == f"add rule {T} {chain} ip saddr @{aff2} goto {ep2}"
    assert rule_lines[-1].startswith(f"add rule {T} {chain} numgen random mod 2 vmap")
    assert (
        f"add set {T} {aff2} {{ type ipv4_addr ; flags dynamic,timeout ; timeout 600s ; }}" in out
    )
    ep_rules = [line for line in out if line.startswith(f"add rule {T} {ep2} ")]
    assert ep_rules == [
        f"add rule {T} {ep2} ip saddr 10.244.1.2 jump mark-for-masquerade",
        f"add rule {T} {ep2} update @{aff2} {{ ip saddr }}",
        f"add rule {T} {ep2} meta l4proto tcp dnat to 10.244.1.2:8080",
    ]


def test_session_affinity_default_timeout() -> None:
    svc = service("sticky", "10.96.0.30", sessionAffinity="ClientIP")
    out = lines([svc], [endpoint_slice("sticky", [endpoint("10.244.1.2")])])
    assert any(line.endswith("timeout 10800s ; }") for line in out)


def test_internal_traffic_policy_local() -> None:
    svc = service("itp", "10.96.0.40", internalTrafficPolicy="Local")
    es = endpoint_slice("itp", [endpoint("10.244.1.2"), endpoint("10.244.2.2", node="node-b")])
    out = lines([svc], [es])
    local = f"local-{name('itp')}"
    assert f"add element {T} service-ips {{ 10.96.0.40 . tcp . 80 : goto {local} }}" in out
    assert (
        f"add rule {T} {local} numgen random mod 1 vmap "
        f"{{ 0 : goto {ep_chain('itp', '10.244.1.2')} }}"
    ) in out
    assert not any("10.244.2.2:8080" in line for line in out)

    remote_only = endpoint_slice("itp", [endpoint("10.244.2.2", node="node-b")])
    out = lines([svc], [remote_only])
    assert (
        f'add element {T} no-endpoint-services {{ 10.96.0.40 . tcp . 80 comment "ns/itp:http" : drop }}'
    ) in out


def test_external_traffic_policy_local() -> None:
    svc = service("etp", "10.96.0.50", type="NodePort", externalTrafficPolicy="Local")
    svc["spec"]["ports"][0]["nodePort"] = 30090
    es = endpoint_slice("etp", [endpoint("10.244.1.2"), endpoint("10.244.2.2", node="node-b")])
    out = lines([svc], [es])
    ext, local, cluster = (f"{p}-{name('etp')}" for p in ("external", "local", "service"))
    ext_rules = [line for line in out if line.startswith(f"add rule {T} {ext} ")]
    assert ext_rules == [
        f'add rule {T} {ext} ip saddr 10.244.0.0/16 goto {cluster} comment "short-circuit pod traffic"',
        f'add rule {T} {ext} fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"',
        f'add rule {T} {ext} fib saddr type local goto {cluster} comment "short-circuit local traffic"',
        f"add rule {T} {ext} goto {local}",
    ]
    assert (
        f"add rule {T} {local} numgen random mod 1 vmap {{ 0 : goto {ep_chain('etp', '10.244.1.2')} }}"
    ) in out
    assert any(line.startswith(f"add rule {T} {cluster} numgen random mod 2 vmap") for line in out)

    remote_only = endpoint_slice("etp", [endpoint("10.244.2.2", node="node-b")])
    out = lines([svc], [remote_only])
    assert (
        f'add element {T} no-endpoint-nodeports {{ tcp . 30090 comment "ns/etp:http" : drop }}'
    ) in out
    assert f"add element {T} service-nodeports {{ tcp . 30090 : goto {ext} }}" in out
    assert f"add rule {T} {ext} goto {local}" not in out


def test_drop_of_unallocated_cluster_ips_can_be_left_out() -> None:
    out = lines([], [], ProxyConfig(drop_unallocated_cluster_ips=False))
    assert not any("Drop traffic to unallocated ClusterIPs" in line for line in out)


@pytest.mark.parametrize(
    ("name", "selector"),
    [
        pytest.param(
            "",
            "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless",
            id="kube-proxy",
        ),
        pytest.param(
            "mine",
            "service.kubernetes.io/service-proxy-name=mine,!service.kubernetes.io/headless",
            id="alternative-proxy",
        ),
    ],
)
def test_label_selector(name: str, selector: str) -> None:
    assert ProxyConfig(service_proxy_name=name).label_selector == selector


def test_masquerade_all() -> None:
    out = lines(
        [service("web", "10.96.0.10")],
        [endpoint_slice("web", [endpoint("10.244.1.2")])],
        ProxyConfig(masquerade_all=True),
    )
    assert (
        f"add rule {T} service-{name('web')} ip daddr 10.96.0.10 tcp dport 80 jump mark-for-masquerade"
    ) in out


@pytest.mark.parametrize(
    "svc",
    [
        pytest.param(service("hl", "None"), id="headless"),
        pytest.param(
            {"metadata": {"namespace": "ns", "name": "x"}, "spec": {"type": "ExternalName"}},
            id="external-name",
        ),
    ],
)
def test_unproxied_services(svc: dict[str, Any]) -> None:
    assert lines([svc], []) == lines([], [])


def test_zone_hints() -> None:
    svc = service("z", "10.96.0.60")
    es = endpoint_slice(
        "z",
        [
            endpoint("10.244.1.2", zones=["zone-a"]),
            endpoint("10.244.2.2", node="node-b", zones=["zone-b"]),
        ],
    )
    out = lines([svc], [es], n=node("node-a", zone="zone-a"))
    assert (
        f"add rule {T} service-{name('z')} numgen random mod 1 vmap "
        f"{{ 0 : goto {ep_chain('z', '10.244.1.2')} }}"
    ) in out
    unhinted = lines([svc], [es], n=node("node-a"))
    assert any("numgen random mod 2" in line for line in unhinted)


def test_udp_and_several_ports() -> None:
    ports = [
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
    ]
    svc = service("dns", "10.96.0.10", ports=ports)
    es = endpoint_slice(
        "dns",
        [endpoint("10.244.1.2")],
        ports=[
            {"name": "dns", "port": 5353, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 5353, "protocol": "TCP"},
        ],
    )
    out = lines([svc], [es])
    udp_ep = ep_chain("dns", "10.244.1.2", 5353, "dns", "UDP")
    assert f"add rule {T} {udp_ep} meta l4proto udp dnat to 10.244.1.2:5353" in out
    assert any(
        line.startswith(f"add element {T} service-ips {{")
        and f"10.96.0.10 . udp . 53 : goto service-{name('dns', 'dns', 'UDP')}" in line
        and f"10.96.0.10 . tcp . 53 : goto service-{name('dns', 'dns-tcp')}" in line
        for line in out
    )


def test_ipv6_family() -> None:
    cfg = ProxyConfig(
        family="ip6", cluster_cidr="fd00:10:244::/56", service_cidr="fd00:10:96::/112"
    )
    svc = service("v6", "fd00:10:96::10")
    es = endpoint_slice("v6", [endpoint("fd00:10:244::2")], address_type="IPv6")
    out = lines([svc], [es], cfg, node("node-a", ip="fd00::10"))
    chain = f"service-{name('v6')}"
    ep = ep_chain("v6", "fd00:10:244::2")
    assert out[0] == "add table ip6 pyk8s-proxy"
    assert ep.endswith("__fd00.10.244..2/8080")
    for expected in [
        f"add element ip6 pyk8s-proxy service-ips {{ fd00:10:96::10 . tcp . 80 : goto {chain} }}",
        f"add rule ip6 pyk8s-proxy {ep} meta l4proto tcp dnat to [fd00:10:244::2]:8080",
        f"add rule ip6 pyk8s-proxy {chain} ip6 daddr fd00:10:96::10 tcp dport 80 "
        "ip6 saddr != fd00:10:244::/56 jump mark-for-masquerade",
        "add rule ip6 pyk8s-proxy services fib daddr type local meta l4proto . th dport "
        "vmap @service-nodeports",
    ]:
        assert expected in out
    assert not any("127.0.0.0/8" in line for line in out)


def test_output_is_deterministic() -> None:
    svcs = [service("a", "10.96.0.1"), service("b", "10.96.0.2")]
    slices = [
        endpoint_slice("a", [endpoint("10.244.1.2"), endpoint("10.244.1.3")]),
        endpoint_slice("b", [endpoint("10.244.1.4")]),
    ]
    assert rules.render(svcs, slices, NODE, CFG) == rules.render(
        svcs[::-1], slices[::-1], NODE, CFG
    )


def test_duplicate_keys_keep_the_first() -> None:
    # two Services claiming one externalIP:port must not break the whole transaction
    a = service("a", "10.96.0.1", externalIPs=["192.0.2.50"])
    b = service("b", "10.96.0.2", externalIPs=["192.0.2.50"])
    slices = [endpoint_slice(n, [endpoint("10.244.1.2")]) for n in ("a", "b")]
    out = rules.render([a, b], slices, NODE, CFG)
    assert out.count("192.0.2.50 . tcp . 80 :") == 1


ALL_FEATURES = [
    service("web", "10.96.0.10", type="NodePort", externalIPs=["192.0.2.50"]),
    service(
        "lb",
        "10.96.0.20",
        type="LoadBalancer",
        externalTrafficPolicy="Local",
        loadBalancerSourceRanges=["10.0.0.0/8"],
        status={"loadBalancer": {"ingress": [{"ip": "192.0.2.10", "ipMode": "VIP"}]}},
    ),
    service("sticky", "10.96.0.30", sessionAffinity="ClientIP"),
    service("itp", "10.96.0.40", internalTrafficPolicy="Local"),
    service("empty", "10.96.0.50"),
]
ALL_SLICES = [
    endpoint_slice("web", [endpoint("10.244.1.2"), endpoint("10.244.2.2", node="node-b")]),
    endpoint_slice("lb", [endpoint("10.244.1.3")]),
    endpoint_slice("sticky", [endpoint("10.244.1.4"), endpoint("10.244.1.5")]),
    endpoint_slice("itp", [endpoint("10.244.2.9", node="node-b")]),
]


@pytest.mark.parametrize(
    "cfg",
    [
        pytest.param(ProxyConfig(table="pyk8s-proxy-check"), id="default"),
        pytest.param(
            ProxyConfig(table="pyk8s-proxy-check", localhost_nodeports=False, masquerade_all=True),
            id="no-localhost-masquerade-all",
        ),
        pytest.param(
            ProxyConfig(table="pyk8s-proxy-check", node_port_addresses=("192.0.2.0/24",)),
            id="nodeport-addresses",
        ),
    ],
)
def test_rendered_scripts_pass_nft_check(cfg: ProxyConfig) -> None:
    ALL_FEATURES[0]["spec"]["ports"][0]["nodePort"] = 30080
    ALL_FEATURES[1]["spec"]["ports"][0]["nodePort"] = 30081
    rs = rules.build(ALL_FEATURES, ALL_SLICES, NODE, cfg)
    for script in (rs.replace_script(), rs.update_script(None)):
        # --check runs the transaction through the kernel and aborts it: nothing changes
        cp = subprocess.run(
            ["nft", "--check", "-f", "-"], input=script, capture_output=True, text=True
        )
        assert cp.returncode == 0, cp.stderr
