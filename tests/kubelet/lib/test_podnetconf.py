"""resolv.conf per dnsPolicy, with dnsConfig merging and limits; the managed hosts file."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.kubelet import podnetconf

Obj = dict[str, Any]

HOST = "nameserver 192.168.1.1\nnameserver 192.168.1.2\nsearch corp.example. lab.example\noptions timeout:2 rotate\n# comment\n"


def pod(
    policy: str | None = None, *, host_network: bool = False, dns_config: Obj | None = None
) -> Obj:
    spec: Obj = {}
    if policy:
        spec["dnsPolicy"] = policy
    if host_network:
        spec["hostNetwork"] = True
    if dns_config is not None:
        spec["dnsConfig"] = dns_config
    return {"metadata": {"name": "p", "namespace": "team", "uid": "u1"}, "spec": spec}


CLUSTER_SEARCH = ["team.svc.cluster.local", "svc.cluster.local", "cluster.local"]


@pytest.mark.parametrize(
    ("the_pod", "servers", "searches", "options"),
    [
        pytest.param(
            pod("ClusterFirst"),
            ["10.96.0.10"],
            [*CLUSTER_SEARCH, "corp.example", "lab.example"],
            ["ndots:5"],
            id="cluster-first",
        ),
        pytest.param(
            pod(None),
            ["10.96.0.10"],
            [*CLUSTER_SEARCH, "corp.example", "lab.example"],
            ["ndots:5"],
            id="default-policy-is-cluster-first",
        ),
        pytest.param(
            pod("ClusterFirst", host_network=True),
            ["192.168.1.1", "192.168.1.2"],
            ["corp.example", "lab.example"],
            ["timeout:2", "rotate"],
            id="cluster-first-on-host-network-falls-back",
        ),
        pytest.param(
            pod("ClusterFirstWithHostNet", host_network=True),
            ["10.96.0.10"],
            [*CLUSTER_SEARCH, "corp.example", "lab.example"],
            ["ndots:5"],
            id="cluster-first-with-host-net",
        ),
        pytest.param(
            pod("Default"),
            ["192.168.1.1", "192.168.1.2"],
            ["corp.example", "lab.example"],
            ["timeout:2", "rotate"],
            id="default",
        ),
        pytest.param(
            pod(
                "None",
                dns_config={
                    "nameservers": ["1.1.1.1"],
                    "searches": ["a.example"],
                    "options": [{"name": "ndots", "value": "2"}],
                },
            ),
            ["1.1.1.1"],
            ["a.example"],
            ["ndots:2"],
            id="none-with-dns-config",
        ),
        pytest.param(
            pod(
                "ClusterFirst",
                dns_config={
                    "nameservers": ["10.96.0.10", "1.1.1.1"],
                    "searches": ["svc.cluster.local", "extra.example"],
                    "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
                },
            ),
            ["10.96.0.10", "1.1.1.1"],
            [*CLUSTER_SEARCH, "corp.example", "lab.example", "extra.example"],
            ["ndots:2", "edns0"],
            id="cluster-first-merges-dns-config",
        ),
    ],
)
def test_resolv_conf_by_policy(
    the_pod: Obj, servers: list[str], searches: list[str], options: list[str]
) -> None:
    conf = podnetconf.resolv_conf(
        the_pod, cluster_dns=["10.96.0.10"], cluster_domain="cluster.local", host_resolv=HOST
    )
    assert (conf.servers, conf.searches, conf.options, conf.warnings) == (
        servers,
        searches,
        options,
        [],
    )


def test_default_without_resolv_conf_uses_localhost() -> None:
    conf = podnetconf.resolv_conf(
        pod("Default"), cluster_dns=[], cluster_domain="cluster.local", host_resolv=""
    )
    assert (conf.servers, conf.searches) == (["127.0.0.1"], ["."])
    conf = podnetconf.resolv_conf(
        pod("Default"), cluster_dns=[], cluster_domain="x", host_resolv="", node_ips=["fd00::1"]
    )
    assert conf.servers == ["::1"]


def test_cluster_first_without_cluster_dns_falls_back_with_warning() -> None:
    conf = podnetconf.resolv_conf(
        pod("ClusterFirst"), cluster_dns=[], cluster_domain="cluster.local", host_resolv=HOST
    )
    assert conf.servers == ["192.168.1.1", "192.168.1.2"]
    assert conf.warnings == [
        (
            "MissingClusterDNS",
            'pod: "p_team(u1)". kubelet does not have ClusterDNS IP configured and cannot create Pod '
            'using "ClusterFirst" policy. Falling back to "Default" policy.',
        )
    ]


def test_nameserver_limit() -> None:
    the_pod = pod("None", dns_config={"nameservers": ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"]})
    conf = podnetconf.resolv_conf(the_pod, cluster_dns=[], cluster_domain="c", host_resolv="")
    assert conf.servers == ["1.1.1.1", "2.2.2.2", "3.3.3.3"]
    assert conf.warnings == [
        (
            "DNSConfigForming",
            "Nameserver limits were exceeded, some nameservers have been omitted, "
            "the applied nameserver line is: 1.1.1.1 2.2.2.2 3.3.3.3",
        )
    ]


def test_search_count_limit() -> None:
    searches = [f"d{i}.example" for i in range(40)]
    conf = podnetconf.resolv_conf(
        pod("None", dns_config={"searches": searches}),
        cluster_dns=[],
        cluster_domain="c",
        host_resolv="",
    )
    assert conf.searches == searches[:32]
    assert conf.warnings[0][0] == "DNSConfigForming"
    assert conf.warnings[0][1].endswith("the applied search line is: " + " ".join(searches[:32]))


def test_search_length_limit_drops_from_the_end() -> None:
    long = ["a" * 200 + f".x{i}" for i in range(12)]  # 204 chars each → line of 2459
    conf = podnetconf.resolv_conf(
        pod("None", dns_config={"searches": long}),
        cluster_dns=[],
        cluster_domain="c",
        host_resolv="",
    )
    assert len(" ".join(conf.searches)) <= 2048
    assert conf.searches == long[:10]
    assert conf.warnings and conf.warnings[0][0] == "DNSConfigForming"


def test_over_long_domains_are_dropped() -> None:
    searches = ["ok.example", "b" * 254, "fine.example"]
    conf = podnetconf.resolv_conf(
        pod("None", dns_config={"searches": searches}),
        cluster_dns=[],
        cluster_domain="c",
        host_resolv="",
    )
    assert conf.searches == ["ok.example", "fine.example"]
    assert conf.warnings


def test_parse_and_format_roundtrip() -> None:
    conf = podnetconf.parse_resolv_conf(
        "search a b\nsearch c.\nnameserver 1.2.3.4\noptions x\nnameserver\n"
    )
    assert (conf.servers, conf.searches, conf.options) == (["1.2.3.4"], ["c"], ["x"])
    assert podnetconf.format_resolv_conf(conf) == "nameserver 1.2.3.4\nsearch c\noptions x\n"


# --- hosts file ------------------------------------------------------------------------

LOCAL = (
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)


def test_hosts_file_plain() -> None:
    text = podnetconf.hosts_file(pod(), ["10.244.0.5"], cluster_domain="cluster.local")
    assert text == LOCAL + "10.244.0.5\tp\n"


def test_hosts_file_with_subdomain_aliases_and_two_ips() -> None:
    the_pod = pod()
    the_pod["spec"].update(
        hostname="web-0",
        subdomain="web",
        hostAliases=[
            {"ip": "10.1.1.1", "hostnames": ["foo.local", "bar.local"]},
            {"ip": "10.1.1.2", "hostnames": ["baz"]},
        ],
    )
    text = podnetconf.hosts_file(the_pod, ["10.244.0.5", "fd00::5"], cluster_domain="cluster.local")
    assert text == (
        LOCAL
        + "10.244.0.5\tweb-0.web.team.svc.cluster.local\tweb-0\n"
        + "fd00::5\tweb-0.web.team.svc.cluster.local\tweb-0\n"
        + "\n# Entries added by HostAliases.\n"
        + "10.1.1.1\tfoo.local\tbar.local\n"
        + "10.1.1.2\tbaz\n"
    )


def test_hosts_file_host_network() -> None:
    the_pod = pod(host_network=True)
    the_pod["spec"]["hostAliases"] = [{"ip": "10.1.1.1", "hostnames": ["foo"]}]
    text = podnetconf.hosts_file(
        the_pod, [], cluster_domain="cluster.local", node_hosts="127.0.0.1 localhost\n"
    )
    assert text == (
        "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n"
        "\n# Entries added by HostAliases.\n10.1.1.1\tfoo\n"
    )


def test_hostname_truncation() -> None:
    the_pod = {"metadata": {"name": "a" * 60 + "-.-b", "namespace": "n"}, "spec": {}}
    assert podnetconf.pod_hostname_and_domain(the_pod, "c") == ("a" * 60, "")
