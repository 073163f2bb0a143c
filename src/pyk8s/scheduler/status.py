"""Status: the one result type of every plugin call, and the FitError built from many.

The code tells the caller what to do next, exactly as upstream's ``framework.Code``:
``SUCCESS`` go on; ``ERROR`` an internal failure (retry with back-off);
``UNSCHEDULABLE`` this node does not fit now but preemption might help;
``UNSCHEDULABLE_AND_UNRESOLVABLE`` neither will preemption; ``WAIT`` (Permit) hold the
pod; ``SKIP`` the plugin has nothing to do for this pod; ``PENDING`` wait for something
outside the scheduler. Success is ``Status.success()``, never ``None``.

``FitError`` renders upstream's message: ``0/N nodes are available:`` then either the
PreFilter message or the histogram of per-node reasons (``"<count> <reason>"`` sorted as
strings, joined by ``", "``), then the PostFilter (preemption) message, each followed by
a full stop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar

__all__ = ["Code", "Diagnosis", "FitError", "Status", "fit_message", "reason_histogram"]


class Code(IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5
    PENDING = 6


@dataclass(frozen=True, slots=True)
class Status:
    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    _SUCCESS: ClassVar[Status]

    @staticmethod
    def success() -> Status:
        return Status._SUCCESS

    @staticmethod
    def skip() -> Status:
        return Status(Code.SKIP)

    @staticmethod
    def error(message: str, *, plugin: str = "") -> Status:
        return Status(Code.ERROR, (message,), plugin)

    @staticmethod
    def unschedulable(*reasons: str, plugin: str = "") -> Status:
        return Status(Code.UNSCHEDULABLE, reasons, plugin)

    @staticmethod
    def unresolvable(*reasons: str, plugin: str = "") -> Status:
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, plugin)

    @staticmethod
    def wait(*reasons: str, plugin: str = "") -> Status:
        return Status(Code.WAIT, reasons, plugin)

    @staticmethod
    def pending(*reasons: str, plugin: str = "") -> Status:
        return Status(Code.PENDING, reasons, plugin)

    @property
    def is_success(self) -> bool:
        return self.code is Code.SUCCESS

    @property
    def is_skip(self) -> bool:
        return self.code is Code.SKIP

    @property
    def is_rejected(self) -> bool:
        """Unschedulable, UnschedulableAndUnresolvable or Pending: the pod waits."""
        return self.code in (
            Code.UNSCHEDULABLE,
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            Code.PENDING,
        )

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        if self.plugin == plugin:
            return self
        return Status(self.code, self.reasons, plugin)

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}" if self.reasons else self.code.name


Status._SUCCESS = Status(Code.SUCCESS)


@dataclass
class Diagnosis:
    """Why a pod did not fit: per-node statuses, the plugins that rejected it, and the
    messages of a failed PreFilter or of PostFilter."""

    node_to_status: dict[str, Status] = field(default_factory=dict)
    absent_status: Status = field(
        default_factory=lambda: Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
    )
    unschedulable_plugins: set[str] = field(default_factory=set)
    pending_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def status_of(self, node_name: str) -> Status:
        return self.node_to_status.get(node_name, self.absent_status)

    def record(self, node_name: str, status: Status) -> None:
        self.node_to_status[node_name] = status
        if status.plugin:
            if status.code is Code.PENDING:
                self.pending_plugins.add(status.plugin)
            else:
                self.unschedulable_plugins.add(status.plugin)


def reason_histogram(
    node_to_status: Mapping[str, Status], num_all_nodes: int, absent: Status
) -> list[str]:
    counts: Counter[str] = Counter()
    for st in node_to_status.values():
        counts.update(st.reasons)
    missing = num_all_nodes - len(node_to_status)
    if missing > 0:
        for reason in absent.reasons:
            counts[reason] += missing
    return sorted(f"{n} {reason}" for reason, n in counts.items())


def fit_message(
    num_all_nodes: int,
    node_to_status: Mapping[str, Status],
    *,
    absent: Status,
    pre_filter_msg: str = "",
    post_filter_msg: str = "",
) -> str:
    msg = f"0/{num_all_nodes} nodes are available:"
    if pre_filter_msg:
        msg += f" {pre_filter_msg}."
    else:
        hist = reason_histogram(node_to_status, num_all_nodes, absent)
        if hist:
            msg += f" {', '.join(hist)}."
    if post_filter_msg:
        msg += f" {post_filter_msg}."
    return msg


@dataclass
class FitError:
    """The pod fits no node. ``nominated_node`` / ``victims`` carry a preemption decision
    (PostFilter) for the caller to carry out."""

    pod: Any
    num_all_nodes: int
    diagnosis: Diagnosis
    nominated_node: str | None = None
    victims: list[Any] = field(default_factory=list)

    @property
    def message(self) -> str:
        d = self.diagnosis
        return fit_message(
            self.num_all_nodes,
            d.node_to_status,
            absent=d.absent_status,
            pre_filter_msg=d.pre_filter_msg,
            post_filter_msg=d.post_filter_msg,
        )

    def __str__(self) -> str:
        return self.message
