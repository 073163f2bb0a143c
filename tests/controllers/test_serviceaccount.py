"""Pure part of the ServiceAccounts controller: which accounts a namespace lacks."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.controllers import serviceaccount

Obj = dict[str, Any]

ACTIVE: Obj = {"metadata": {"name": "a"}, "status": {"phase": "Active"}}
TERMINATING: Obj = {"metadata": {"name": "a"}, "status": {"phase": "Terminating"}}
DELETING: Obj = {"metadata": {"name": "a", "deletionTimestamp": "2024-01-01T00:00:00Z"}}


@pytest.mark.parametrize(
    ("ns", "existing", "expected"),
    [
        (ACTIVE, set(), ["default"]),
        (ACTIVE, {"default"}, []),
        (ACTIVE, {"other"}, ["default"]),
        (TERMINATING, set(), []),
        (DELETING, set(), []),
        (None, set(), []),
        ({"metadata": {"name": "a"}}, set(), ["default"]),
    ],
)
def test_missing_accounts(ns: Obj | None, existing: set[str], expected: list[str]) -> None:
    assert serviceaccount.missing_accounts(ns, existing, ("default",)) == expected
