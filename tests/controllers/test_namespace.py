"""Namespace deletion conditions: upstream's types, reasons and messages, and merging them
into the namespace's status without churning timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

from pyk8s.controllers import namespace

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def by_type(conds: list[dict[str, str]]) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in conds}


def test_all_clear() -> None:
    got = by_type(namespace.content_conditions(namespace.ContentResult(), NOW))
    assert got == {
        "NamespaceDeletionDiscoveryFailure": (
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered",
        ),
        "NamespaceDeletionGroupVersionParsingFailure": (
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed",
        ),
        "NamespaceDeletionContentFailure": (
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization",
        ),
        "NamespaceContentRemaining": (
            "False",
            "ContentRemoved",
            "All content successfully removed",
        ),
        "NamespaceFinalizersRemaining": (
            "False",
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished",
        ),
    }


def test_remaining_content_and_finalizers() -> None:
    result = namespace.ContentResult(
        estimate=30,
        remaining={"pods.": 2, "configmaps.": 1},
        finalizers={"example.com/hold": 1},
    )
    got = by_type(namespace.content_conditions(result, NOW))
    assert got["NamespaceContentRemaining"] == (
        "True",
        "SomeResourcesRemain",
        "Some resources are remaining: configmaps. has 1 resource instances, pods. has 2 resource instances",
    )
    assert got["NamespaceFinalizersRemaining"] == (
        "True",
        "SomeFinalizersRemain",
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances",
    )
    assert not result.done


def test_merge_keeps_unchanged_conditions_and_their_times() -> None:
    first = namespace.content_conditions(namespace.ContentResult(), NOW)
    later = namespace.content_conditions(
        namespace.ContentResult(), datetime(2025, 1, 1, tzinfo=UTC)
    )
    assert namespace.merge_conditions(first, later) is None
    changed = namespace.content_conditions(
        namespace.ContentResult(remaining={"pods.": 1}, estimate=30),
        datetime(2025, 1, 1, tzinfo=UTC),
    )
    merged = namespace.merge_conditions(first, changed)
    assert merged is not None
    times = {c["type"]: c["lastTransitionTime"] for c in merged}
    assert times["NamespaceContentRemaining"] == "2025-01-01T00:00:00Z"
    assert times["NamespaceDeletionDiscoveryFailure"] == "2024-05-01T12:00:00Z"
