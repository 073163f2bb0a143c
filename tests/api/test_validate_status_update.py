"""``pods/status`` writes are validated as upstream's status strategy does: object
metadata (including what the write may change — annotations), not the whole pod."""

from __future__ import annotations

import copy
from typing import Any

from pyk8s.api import validation

POD: dict[str, Any] = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u", "resourceVersion": "5"},
    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    "status": {"phase": "Running"},
}


def test_status_write_checks_metadata() -> None:
    new = copy.deepcopy(POD)
    new["metadata"]["annotations"] = {"bad key!": "x"}
    causes = validation.validate_status_update(("", "pods"), new, POD)
    assert [c.field for c in causes] == ["metadata.annotations"]


def test_status_write_does_not_revalidate_the_stored_spec() -> None:
    old = copy.deepcopy(POD)
    old["spec"]["containers"][0]["image"] = " spaced "  # stored before a rule existed
    new = copy.deepcopy(old)
    new["status"]["phase"] = "Succeeded"
    assert validation.validate_status_update(("", "pods"), new, old) == []
    assert validation.validate_update(("", "pods"), new, old) != []


def test_other_kinds_keep_full_update_validation() -> None:
    key = ("apps", "deployments")
    obj = {"metadata": {"name": "d", "namespace": "ns"}, "spec": {}}
    assert validation.validate_status_update(key, obj, obj) == validation.validate_update(
        key, obj, obj
    )
