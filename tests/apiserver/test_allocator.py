from __future__ import annotations

import pytest

from pyk8s.apiserver.allocator import Exhausted, IPAllocator, PortAllocator
from pyk8s.apiserver.services import ServiceAllocations


def test_ip_allocator_never_repeats_and_skips_first() -> None:
    a = IPAllocator("10.96.0.0/29")  # 6 usable, the first reserved for kubernetes
    got = {a.allocate() for _ in range(5)}
    assert len(got) == 5 and a.first not in got
    with pytest.raises(Exhausted):
        a.allocate()
    a.release(next(iter(got)))
    a.allocate()


def test_ip_allocator_specific() -> None:
    a = IPAllocator("10.96.0.0/12")
    assert a.allocate("10.96.0.10") == "10.96.0.10"
    with pytest.raises(ValueError):
        a.allocate("10.96.0.10")


def test_port_allocator_range() -> None:
    p = PortAllocator(30000, 30002)
    assert {p.allocate(), p.allocate(), p.allocate()} == {30000, 30001, 30002}
    with pytest.raises(Exhausted):
        p.allocate()


def _svc(type_: str = "ClusterIP", **spec: object) -> dict[str, object]:
    return {
        "metadata": {"name": "s"},
        "spec": {"type": type_, "ports": [{"port": 80, "protocol": "TCP"}], **spec},
    }


def test_service_nodeport_kept_on_update_and_released_on_type_change() -> None:
    sa = ServiceAllocations(service_cidr="10.96.0.0/24")
    svc = _svc("NodePort")
    sa.on_create(svc)
    np = svc["spec"]["ports"][0]["nodePort"]  # type: ignore[index]
    update = _svc("NodePort")
    taken, release = sa.on_update(update, svc)
    assert update["spec"]["ports"][0]["nodePort"] == np  # type: ignore[index]
    assert taken == [] and release == []
    to_cluster_ip = _svc("ClusterIP")
    taken, release = sa.on_update(to_cluster_ip, update)
    assert release == [("port", np)]
    assert "nodePort" not in to_cluster_ip["spec"]["ports"][0]  # type: ignore[index]


def test_service_cluster_ip_out_of_range_is_invalid() -> None:
    from pyk8s.api.errors import StatusError

    sa = ServiceAllocations(service_cidr="10.96.0.0/24")
    with pytest.raises(StatusError) as exc:
        sa.on_create(_svc(clusterIP="192.168.1.1"))
    assert exc.value.code == 422
    assert "not in the valid range" in exc.value.message
