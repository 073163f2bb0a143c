"""Completion indexes of Indexed Jobs (upstream's indexed_job_utils.go). Pure.

Sets of indexes travel in Job status as compressed strings — ``"1,3-5,7"``, where a run
of exactly two is written ``"3,4"`` — and live here as ``Intervals``: sorted, disjoint,
non-adjacent ``(first, last)`` pairs.

Contract:
- ``parse`` ignores corrupt pieces and anything at or past ``completions`` (a range that
  crosses it is cut); ``to_string`` is its inverse on valid input.
- ``completion_index(pod)``: the ``batch.kubernetes.io/job-completion-index`` annotation
  as a non-negative int, else -1.
- ``first_pending`` returns the lowest ``count`` indexes below ``completions`` not covered
  by the given intervals (succeeded, active, failed, and terminating where the Job only
  replaces failed pods).
- ``duplicates_for_removal`` returns the active pods to delete because their index is
  missing, out of range, or repeated (the most deletable of the repeats go, one stays).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyk8s.controllers.workload_pods import annotations_of, deletion_rank

__all__ = [
    "COMPLETION_INDEX",
    "INDEX_FAILURE_COUNT",
    "INDEX_IGNORED_FAILURE_COUNT",
    "Intervals",
    "completion_index",
    "duplicates_for_removal",
    "failure_count",
    "first_pending",
    "generate_name",
    "has",
    "indexes_of",
    "merge",
    "parse",
    "to_string",
    "total",
    "with_indexes",
]

Obj = dict[str, Any]
Intervals = list[tuple[int, int]]

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
INDEX_IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"
_MAX_GENERATED_NAME = 58


def parse(text: str | None, completions: int) -> Intervals:
    result: Intervals = []
    if not text:
        return result
    for piece in text.split(","):
        limits = piece.split("-")
        try:
            first = int(limits[0])
        except ValueError:
            continue
        if first >= completions:
            break
        last = first
        if len(limits) > 1:
            try:
                last = min(int(limits[1]), completions - 1)
            except ValueError:
                continue
        if result and result[-1][1] == first - 1:
            result[-1] = (result[-1][0], last)
        else:
            result.append((first, last))
    return result


def to_string(intervals: Intervals) -> str:
    parts = []
    for first, last in intervals:
        if last == first:
            parts.append(str(first))
        elif last == first + 1:
            parts.append(f"{first},{last}")
        else:
            parts.append(f"{first}-{last}")
    return ",".join(parts)


def merge(a: Intervals, b: Intervals) -> Intervals:
    result: Intervals = []
    for first, last in sorted([*a, *b]):
        if result and first <= result[-1][1] + 1:
            if last > result[-1][1]:
                result[-1] = (result[-1][0], last)
        else:
            result.append((first, last))
    return result


def with_indexes(intervals: Intervals, indexes: Iterable[int]) -> Intervals:
    return merge(intervals, [(i, i) for i in sorted(set(indexes))])


def total(intervals: Intervals) -> int:
    return sum(last - first + 1 for first, last in intervals)


def has(intervals: Intervals, index: int) -> bool:
    return any(first <= index <= last for first, last in intervals)


def completion_index(pod: Mapping[str, Any]) -> int:
    value = annotations_of(pod).get(COMPLETION_INDEX)
    if value is None:
        return -1
    try:
        index = int(value)
    except ValueError:
        return -1
    return index if index >= 0 else -1


def indexes_of(pods: Iterable[Mapping[str, Any]]) -> set[int]:
    return {i for i in (completion_index(p) for p in pods) if i >= 0}


def first_pending(covered: Intervals, count: int, completions: int) -> list[int]:
    result: list[int] = []
    candidate = 0
    for first, last in covered:
        while candidate < completions and len(result) < count and candidate < first:
            result.append(candidate)
            candidate += 1
        candidate = max(candidate, last + 1)
    while candidate < completions and len(result) < count:
        result.append(candidate)
        candidate += 1
    return result


def duplicates_for_removal(pods: Sequence[Obj], completions: int) -> tuple[list[Obj], list[Obj]]:
    """(pods to remove, pods left)."""
    remove: list[Obj] = []
    left: list[Obj] = []
    by_index: dict[int, list[Obj]] = {}
    for pod in pods:
        index = completion_index(pod)
        if index < 0 or index >= completions:
            remove.append(pod)
        else:
            by_index.setdefault(index, []).append(pod)
    for index in sorted(by_index):
        group = sorted(by_index[index], key=deletion_rank)
        remove += group[:-1]
        left.append(group[-1])
    return remove, left


def generate_name(job_name: str, index: int) -> str:
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > _MAX_GENERATED_NAME:
        prefix = prefix[: _MAX_GENERATED_NAME - len(suffix)] + suffix
    return prefix


def failure_count(pod: Mapping[str, Any], annotation: str = INDEX_FAILURE_COUNT) -> int:
    value = annotations_of(pod).get(annotation)
    try:
        count = int(value) if value is not None else 0
    except ValueError:
        return 0
    return count if 0 <= count <= 2**31 - 1 else 0
