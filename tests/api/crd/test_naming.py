"""crd.naming: accepted names and the NamesAccepted / Established conditions."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from pyk8s.api.crd import naming

from .crd_examples import CRONTAB

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
LATER = datetime(2024, 5, 2, 12, 0, 0, tzinfo=UTC)
NONE = naming.NameClaims()


def test_fresh_crd_is_accepted_and_established() -> None:
    status = naming.crd_status(CRONTAB, conflicts=NONE, now=NOW)
    assert status["acceptedNames"] == {
        "plural": "crontabs",
        "singular": "crontab",
        "shortNames": ["ct"],
        "kind": "CronTab",
        "categories": ["all"],
    }
    assert status["conditions"] == [
        {
            "type": "NamesAccepted",
            "status": "True",
            "lastTransitionTime": "2024-05-01T12:00:00Z",
            "reason": "NoConflicts",
            "message": "no conflicts found",
        },
        {
            "type": "Established",
            "status": "True",
            "lastTransitionTime": "2024-05-01T12:00:00Z",
            "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted",
        },
    ]


def test_conflicting_plural() -> None:
    claims = naming.NameClaims(resources=frozenset({"crontabs"}))
    names, reason, message = naming.accepted_names(CRONTAB, conflicts=claims)
    assert (reason, message) == ("PluralConflict", '"crontabs" is already in use')
    assert "crontabs" not in names.values()
    conditions = naming.crd_status_conditions(CRONTAB, conflicts=claims, now=NOW)
    assert [(c["type"], c["status"], c["reason"]) for c in conditions] == [
        ("NamesAccepted", "False", "PluralConflict"),
        ("Established", "False", "NotAccepted"),
    ]


def test_short_name_and_kind_conflicts() -> None:
    claims = naming.NameClaims(resources=frozenset({"ct"}), kinds=frozenset({"CronTab"}))
    names, reason, message = naming.accepted_names(CRONTAB, conflicts=claims)
    assert (reason, message) == ("KindConflict", '"CronTab" is already in use')
    assert "shortNames" not in names and names["kind"] == ""


def test_established_stays_and_times_only_move_on_change() -> None:
    crd = copy.deepcopy(CRONTAB)
    crd["status"] = naming.crd_status(crd, conflicts=NONE, now=NOW)
    again = naming.crd_status_conditions(crd, conflicts=NONE, now=LATER)
    assert again == crd["status"]["conditions"]
    # a later conflict on a name already accepted does not un-establish
    claims = naming.NameClaims(resources=frozenset({"crontabs"}))
    conditions = naming.crd_status_conditions(crd, conflicts=claims, now=LATER)
    assert [(c["type"], c["status"]) for c in conditions] == [
        ("NamesAccepted", "True"),
        ("Established", "True"),
    ]


def test_claims_of_other_crds_in_the_group() -> None:
    other = copy.deepcopy(CRONTAB)
    other["metadata"]["name"] = "others.stable.example.com"
    other["status"] = {
        "acceptedNames": {
            "plural": "others",
            "kind": "Other",
            "listKind": "OtherList",
            "shortNames": ["ot"],
        }
    }
    mine = copy.deepcopy(CRONTAB)
    mine["status"] = naming.crd_status(mine, conflicts=NONE, now=NOW)
    claims = naming.claims_of(
        [other, mine], group="stable.example.com", exclude="crontabs.stable.example.com"
    )
    assert claims == naming.NameClaims(
        frozenset({"others", "ot"}), frozenset({"Other", "OtherList"})
    )
