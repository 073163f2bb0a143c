"""Changing a Service's type drops what only the old type needed (upstream's
dropTypeDependentFields): LoadBalancer → ClusterIP by a merge patch releases the
nodePorts and the external traffic policy; a nodePort the client sets itself stays and
validation judges it."""

from __future__ import annotations

import json

from cluster import Cluster


def test_load_balancer_to_cluster_ip(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("-n", namespace, "create", "service", "loadbalancer", "lb", "--tcp=80:8080")
    svc = json.loads(cluster.kubectl("-n", namespace, "get", "svc", "lb", "-o", "json").stdout)
    node_port = svc["spec"]["ports"][0]["nodePort"]
    assert svc["spec"]["externalTrafficPolicy"] == "Cluster"

    cluster.kubectl(
        "-n", namespace, "patch", "svc", "lb", "--type=merge", "-p", '{"spec":{"type":"ClusterIP"}}'
    )
    svc = json.loads(cluster.kubectl("-n", namespace, "get", "svc", "lb", "-o", "json").stdout)
    assert svc["spec"]["type"] == "ClusterIP"
    assert "nodePort" not in svc["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in svc["spec"]
    assert "allocateLoadBalancerNodePorts" not in svc["spec"]

    # the released port can be taken again
    cluster.kubectl(
        "-n", namespace, "create", "service", "nodeport", "np", "--tcp=80:8080",
        f"--node-port={node_port}",
    )  # fmt: skip

    refused = cluster.kubectl(
        "-n",
        namespace,
        "patch",
        "svc",
        "np",
        "--type=merge",
        "-p",
        '{"spec":{"type":"ClusterIP","ports":[{"port":80,"targetPort":8080,"nodePort":31999}]}}',
        check=False,
    )
    assert refused.returncode != 0
    assert "may not be used when `type` is 'ClusterIP'" in refused.stderr
