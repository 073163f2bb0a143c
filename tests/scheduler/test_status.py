from __future__ import annotations

import pytest

from pyk8s.scheduler.status import Code, Diagnosis, FitError, Status, fit_message


def test_success_is_a_status_not_none() -> None:
    st = Status.success()
    assert st.is_success and st.code is Code.SUCCESS and not st.is_rejected


@pytest.mark.parametrize(
    ("statuses", "n", "pre", "post", "expected"),
    [
        pytest.param(
            {
                "cp": Status.unresolvable(
                    "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
                ),
                "a": Status.unschedulable("Insufficient cpu"),
                "b": Status.unschedulable("Insufficient cpu"),
            },
            3,
            "",
            "",
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.",
            id="histogram-sorted-as-strings",
        ),
        pytest.param(
            {"a": Status.unschedulable("Insufficient cpu", "Insufficient memory")},
            1,
            "",
            "",
            "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.",
            id="every-reason-of-a-node-counts",
        ),
        pytest.param(
            {},
            4,
            "pod has unbound immediate PersistentVolumeClaims",
            "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.",
            "0/4 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling..",
            id="prefilter-message-replaces-histogram",
        ),
        pytest.param(
            {str(i): Status.unschedulable("Too many pods") for i in range(10)}
            | {"x": Status.unschedulable("Insufficient cpu")},
            11,
            "",
            "",
            "0/11 nodes are available: 1 Insufficient cpu, 10 Too many pods.",
            id="string-sort-puts-1-before-10",
        ),
    ],
)
def test_fit_message(
    statuses: dict[str, Status], n: int, pre: str, post: str, expected: str
) -> None:
    d = Diagnosis(node_to_status=statuses, pre_filter_msg=pre, post_filter_msg=post)
    assert FitError(pod=None, num_all_nodes=n, diagnosis=d).message == expected


def test_absent_nodes_take_the_absent_status() -> None:
    msg = fit_message(
        3,
        {"a": Status.unresolvable("No preemption victims found for incoming pod")},
        absent=Status.unresolvable("Preemption is not helpful for scheduling"),
    )
    assert msg == (
        "0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling."
    )
