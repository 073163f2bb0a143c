"""Pure part of the root CA publisher: the ConfigMap it wants and the update it makes."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.controllers import rootcacert

Obj = dict[str, Any]


def test_desired_configmap() -> None:
    cm = rootcacert.desired_configmap("ns", "PEM")
    assert cm["metadata"]["name"] == "kube-root-ca.crt"
    assert cm["metadata"]["namespace"] == "ns"
    assert cm["data"] == {"ca.crt": "PEM"}
    assert cm["metadata"]["annotations"] == {
        rootcacert.DESCRIPTION_ANNOTATION: rootcacert.DESCRIPTION
    }


@pytest.mark.parametrize(
    ("current", "changed"),
    [
        (rootcacert.desired_configmap("ns", "PEM"), False),
        (rootcacert.desired_configmap("ns", "OLD"), True),
        ({**rootcacert.desired_configmap("ns", "PEM"), "data": {"ca.crt": "PEM", "x": "y"}}, True),
        ({"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": "PEM"}}, True),
    ],
)
def test_configmap_update(current: Obj, changed: bool) -> None:
    update = rootcacert.configmap_update(current, "PEM")
    assert (update is not None) is changed
    if update is not None:
        assert update["data"] == {"ca.crt": "PEM"}
        assert (
            update["metadata"]["annotations"][rootcacert.DESCRIPTION_ANNOTATION]
            == rootcacert.DESCRIPTION
        )


def test_configmap_update_keeps_other_metadata() -> None:
    current: Obj = {
        "metadata": {
            "name": "kube-root-ca.crt",
            "resourceVersion": "7",
            "labels": {"a": "b"},
            "annotations": {"keep": "me"},
        },
        "data": {"ca.crt": "OLD"},
        "binaryData": {"x": "eA=="},
    }
    update = rootcacert.configmap_update(current, "PEM")
    assert update is not None
    assert update["metadata"]["resourceVersion"] == "7"
    assert update["metadata"]["labels"] == {"a": "b"}
    assert update["metadata"]["annotations"]["keep"] == "me"
    assert "binaryData" not in update
