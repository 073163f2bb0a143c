"""Root CA publisher against a real apiserver: every namespace gets kube-root-ca.crt,
edits are reverted and deletions undone."""

from __future__ import annotations

import ctlharness

from cluster import Cluster
from pyk8s.controllers import rootcacert as rc
from pyk8s.controllers.context import Options

PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


def ca(h: ctlharness.Harness, namespace: str) -> tuple[str, str] | None:
    obj = h.get(rc.CONFIGMAPS, namespace, rc.CONFIGMAP_NAME)
    if obj is None:
        return None
    return str(obj["metadata"]["uid"]), str((obj.get("data") or {}).get(rc.DATA_KEY))


async def test_root_ca_published_and_kept(cluster: Cluster, namespace: str) -> None:
    async with ctlharness.running(cluster, rc.new, options=Options(root_ca_pem=PEM)) as h:
        await h.wait(lambda: (ca(h, namespace) or ("", ""))[1] == PEM, message="published")
        obj = h.get(rc.CONFIGMAPS, namespace, rc.CONFIGMAP_NAME)
        assert obj is not None
        assert obj["data"] == {"ca.crt": PEM}
        assert obj["metadata"]["annotations"][rc.DESCRIPTION_ANNOTATION] == rc.DESCRIPTION

        await h.client.update(rc.CONFIGMAPS, {**obj, "data": {"ca.crt": "tampered"}})
        first = ca(h, namespace)
        assert first is not None
        await h.wait(
            lambda: (
                (h.get(rc.CONFIGMAPS, namespace, rc.CONFIGMAP_NAME) or {})
                .get("metadata", {})
                .get("resourceVersion", "")
                != obj["metadata"]["resourceVersion"]
                and ca(h, namespace) == (first[0], PEM)
            ),
            message="edit reverted",
        )
        await h.client.delete(rc.CONFIGMAPS, rc.CONFIGMAP_NAME, namespace=namespace)

        def recreated() -> bool:
            now = ca(h, namespace)
            return now is not None and now[0] != first[0] and now[1] == PEM

        await h.wait(recreated, message="recreated")


async def test_no_root_ca_means_idle(cluster: Cluster, namespace: str) -> None:
    async with ctlharness.running(cluster, rc.new, watch=(rc.CONFIGMAPS,)) as h:
        await h.wait_synced()
        controller = h.controller
        assert isinstance(controller, rc.RootCACertPublisher)
        h.check_alive()
        assert controller.queue.waiting == 0
        assert h.get(rc.CONFIGMAPS, namespace, rc.CONFIGMAP_NAME) is None
