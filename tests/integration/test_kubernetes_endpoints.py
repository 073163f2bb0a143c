"""The ``kubernetes`` Service points at this apiserver: its Endpoints and EndpointSlice
carry the advertise address (here, this host's address) and the serving port."""

from __future__ import annotations

from cluster import Cluster
from pyk8s.client.hostaddr import detect_host_ip


def test_kubernetes_service_has_this_apiserver_as_endpoint(cluster: Cluster) -> None:
    status, body, _ = cluster.request(
        "GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes"
    )
    assert status == 200
    es = body
    assert es["endpoints"][0]["addresses"] == [detect_host_ip()]
    assert es["ports"][0]["port"] == cluster.port
    assert es["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"
    status, body, _ = cluster.request("GET", "/api/v1/namespaces/default/endpoints/kubernetes")
    assert status == 200
    subset = body["subsets"][0]
    assert subset["addresses"] == [{"ip": detect_host_ip()}]
    assert subset["ports"][0]["port"] == cluster.port
