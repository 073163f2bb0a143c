"""Printers for batch/v1: jobs and cron jobs, with upstream's columns and cell logic.

Job STATUS is the first of Complete, Failed, Terminating (being deleted), Suspended,
FailureTarget that applies, else Running; a condition counts when the first condition of
its type is True. COMPLETIONS is ``succeeded/completions``, or ``succeeded/1`` (``of N``
with parallelism N > 1) when completions is unset. DURATION runs from ``startTime`` to
``completionTime`` or to now, and is empty before the job starts.
"""

from __future__ import annotations

from datetime import datetime

from pyk8s.api.printers import descriptions as d
from pyk8s.api.printers.columns import AGE, NAME, Cell, Printer, column, containers_columns
from pyk8s.api.printers.formatting import (
    Obj,
    format_label_selector,
    get_int,
    get_list,
    get_map,
    get_str,
    human_duration,
    layout_containers,
    parse_time,
    since,
)

__all__ = ["PRINTERS"]


def _name(obj: Obj) -> str:
    return get_str(get_map(obj, "metadata"), "name")


def _age(obj: Obj, now: datetime) -> str:
    return since(get_map(obj, "metadata").get("creationTimestamp"), now)


def _has_condition(status: Obj, type_: str) -> bool:
    for cond in get_list(status, "conditions"):
        if get_str(cond, "type") == type_:
            return get_str(cond, "status") == "True"
    return False


def _job_status(job: Obj) -> str:
    status = get_map(job, "status")
    if _has_condition(status, "Complete"):
        return "Complete"
    if _has_condition(status, "Failed"):
        return "Failed"
    if get_map(job, "metadata").get("deletionTimestamp") is not None:
        return "Terminating"
    if _has_condition(status, "Suspended"):
        return "Suspended"
    if _has_condition(status, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _completions(spec: Obj, status: Obj) -> str:
    succeeded = get_int(status, "succeeded")
    if spec.get("completions") is not None:
        return f"{succeeded}/{get_int(spec, 'completions')}"
    parallelism = get_int(spec, "parallelism")
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def _duration(status: Obj, now: datetime) -> str:
    start = parse_time(status.get("startTime"))
    if start is None:
        return ""
    end = parse_time(status.get("completionTime")) or now
    return human_duration((end - start).total_seconds())


def _job(job: Obj, now: datetime) -> list[Cell]:
    spec, status = get_map(job, "spec"), get_map(job, "status")
    names, images = layout_containers(get_list(get_map(spec, "template", "spec"), "containers"))
    return [
        _name(job),
        _job_status(job),
        _completions(spec, status),
        _duration(status, now),
        _age(job, now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def _bool_ptr(value: object) -> str:
    if value is None:
        return "<unset>"
    return "True" if value is True else "False"


def _cron_job(cj: Obj, now: datetime) -> list[Cell]:
    spec, status = get_map(cj, "spec"), get_map(cj, "status")
    job_spec = get_map(spec, "jobTemplate", "spec")
    names, images = layout_containers(get_list(get_map(job_spec, "template", "spec"), "containers"))
    last = status.get("lastScheduleTime")
    return [
        _name(cj),
        get_str(spec, "schedule"),
        get_str(spec, "timeZone") if spec.get("timeZone") is not None else "<none>",
        _bool_ptr(spec.get("suspend")),
        len(get_list(status, "active")),
        since(last, now) if last is not None else "<none>",
        _age(cj, now),
        names,
        images,
        format_label_selector(job_spec.get("selector")),
    ]


PRINTERS = {
    ("batch", "jobs"): Printer(
        (
            NAME,
            column("Status", "string", "Status of the job."),
            column("Completions", "string", d.JOB_SUCCEEDED),
            column("Duration", "string", "Time required to complete the job."),
            AGE,
            *containers_columns(d.JOB_SELECTOR),
        ),
        _job,
    ),
    ("batch", "cronjobs"): Printer(
        (
            NAME,
            column("Schedule", "string", d.CRONJOB_SCHEDULE),
            column("Timezone", "string", d.CRONJOB_TIME_ZONE),
            column("Suspend", "boolean", d.CRONJOB_SUSPEND),
            column("Active", "integer", d.CRONJOB_ACTIVE),
            column("Last Schedule", "string", d.CRONJOB_LAST_SCHEDULE),
            AGE,
            *containers_columns(d.JOB_SELECTOR),
        ),
        _cron_job,
    ),
}
