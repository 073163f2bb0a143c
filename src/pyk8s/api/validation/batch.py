"""batch/v1: Job and CronJob (``pkg/apis/batch/validation``, upstream messages).

A Job's selector and the ``controller-uid``/``job-name`` template labels are generated on
create (``prepare.prepare_job_create``) before validation, which then insists they are
there.  CronJob schedules are parsed the way upstream's ``robfig/cron`` ``ParseStandard``
does, for its exact error text, and cross-checked with ``croniter``.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Any, Final

from croniter import croniter  # type: ignore[import-untyped]

from pyk8s.api.validation import field, names, pod
from pyk8s.api.validation.access import Obj, as_obj, as_str
from pyk8s.api.validation.apps import label_selector_error, selector_matches
from pyk8s.api.validation.field import Cause, Path

__all__ = [
    "parse_schedule_error",
    "validate_cron_job",
    "validate_cron_job_update",
    "validate_job",
    "validate_job_update",
]

_SPEC: Final = Path("spec")
_META: Final = Path("metadata")
_LEGACY_UID, _LEGACY_NAME = "controller-uid", "job-name"
_UID, _NAME = "batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name"


def _has_label(labels: Obj, key: str, expected: str, path: Path) -> list[Cause]:
    if key not in labels:
        return [field.required(path.child("labels").key(key), f"must be '{expected}'")]
    if labels[key] != expected:
        return [
            field.invalid(
                path.child("labels").key(key), field.go_str_map(labels), f"must be '{expected}'"
            )
        ]
    return []


def _generated_selector(job: Obj) -> list[Cause]:
    spec = as_obj(job.get("spec"))
    if spec.get("manualSelector") is True or not isinstance(spec.get("selector"), dict):
        return []
    meta = as_obj(job.get("metadata"))
    uid, name = as_str(meta.get("uid")), as_str(meta.get("name"))
    out: list[Cause] = []
    if not uid:
        out.append(field.required(_META.child("uid")))
    tp = _SPEC.child("template", "metadata")
    labels = as_obj(as_obj(as_obj(spec.get("template")).get("metadata")).get("labels"))
    out.extend(_has_label(labels, _LEGACY_UID, uid, tp))
    out.extend(_has_label(labels, _LEGACY_NAME, name, tp))
    out.extend(_has_label(labels, _UID, uid, tp))
    out.extend(_has_label(labels, _NAME, name, tp))
    expected = {_UID: uid, _NAME: name, _LEGACY_UID: uid, _LEGACY_NAME: name}
    sel = spec["selector"]
    if not label_selector_error(sel) and not selector_matches(sel, expected):
        out.append(
            field.invalid(
                _SPEC.child("selector"), field.go_selector(sel), "`selector` not auto-generated"
            )
        )
    return out


def _job_spec_common(spec: Obj, path: Path) -> list[Cause]:
    out: list[Cause] = []
    for key in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
    ):
        v = spec.get(key)
        if isinstance(v, int):
            out.extend(names.validate_nonnegative(v, path.child(key)))
    mfi = spec.get("maxFailedIndexes")
    if isinstance(mfi, int):
        out.extend(names.validate_nonnegative(mfi, path.child("maxFailedIndexes")))
        if spec.get("backoffLimitPerIndex") is None:
            out.append(
                field.required(
                    path.child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"
                )
            )
    managed = spec.get("managedBy")
    if isinstance(managed, str):
        parts = managed.split("/", 1)
        if len(parts) != 2 or not parts[0] or not parts[1]:
            out.append(
                field.invalid(
                    path.child("managedBy"),
                    managed,
                    'must be a domain-prefixed path (such as "acme.io/foo")',
                )
            )
        else:
            out.extend(
                field.invalid(path.child("managedBy"), parts[0], m)
                for m in names.is_dns1123_subdomain(parts[0])
            )
        if len(managed) > 63:
            out.append(field.too_long(path.child("managedBy"), 63))
    mode = spec.get("completionMode")
    indexed = mode == "Indexed"
    if isinstance(mode, str):
        if mode not in ("NonIndexed", "Indexed"):
            out.append(
                field.not_supported(path.child("completionMode"), mode, ("NonIndexed", "Indexed"))
            )
        if indexed:
            if spec.get("completions") is None:
                out.append(
                    field.required(path.child("completions"), "when completion mode is Indexed")
                )
            par = spec.get("parallelism")
            if isinstance(par, int) and par > 100000:
                out.append(
                    field.invalid(
                        path.child("parallelism"),
                        par,
                        "must be less than or equal to 100000 when completion mode is Indexed",
                    )
                )
    if not indexed:
        for key in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if isinstance(spec.get(key), int):
                out.append(
                    field.invalid(path.child(key), spec[key], "requires indexed completion mode")
                )
    if isinstance(spec.get("successPolicy"), dict) and not indexed:
        out.append(
            field.invalid(
                path.child("successPolicy"),
                field.GoRepr("batch.SuccessPolicy{...}"),
                "requires indexed completion mode",
            )
        )
    prp = spec.get("podReplacementPolicy")
    if isinstance(prp, str):
        if isinstance(spec.get("podFailurePolicy"), dict):
            if prp != "Failed":
                out.append(
                    field.not_supported(path.child("podReplacementPolicy"), prp, ("Failed",))
                )
        elif prp not in ("Failed", "TerminatingOrFailed"):
            out.append(
                field.not_supported(
                    path.child("podReplacementPolicy"), prp, ("Failed", "TerminatingOrFailed")
                )
            )
    tp = path.child("template")
    out.extend(pod.validate_pod_template_spec(spec.get("template"), tp))
    restart = as_str(as_obj(as_obj(spec.get("template")).get("spec")).get("restartPolicy"))
    rp = tp.child("spec", "restartPolicy")
    if restart in ("Always", ""):
        out.append(field.required(rp, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        out.append(field.not_supported(rp, restart, ("OnFailure", "Never")))
    elif isinstance(spec.get("podFailurePolicy"), dict) and restart != "Never":
        out.append(
            field.invalid(
                rp, restart, 'only "Never" is supported when podFailurePolicy is specified'
            )
        )
    return out


def _job_spec(spec: Obj) -> list[Cause]:
    out = _job_spec_common(spec, _SPEC)
    sel = spec.get("selector")
    if not isinstance(sel, dict):
        out.append(field.required(_SPEC.child("selector")))
    else:
        out.extend(names.validate_label_selector(sel, _SPEC.child("selector")))
        labels = as_obj(as_obj(spec.get("template")).get("metadata")).get("labels")
        if not label_selector_error(sel) and not selector_matches(sel, labels):
            out.append(
                field.invalid(
                    _SPEC.child("template", "metadata", "labels"),
                    field.go_str_map(labels if isinstance(labels, dict) else None),
                    "`selector` does not match template `labels`",
                )
            )
    return out


def validate_job(job: Obj) -> list[Cause]:
    meta, spec = as_obj(job.get("metadata")), as_obj(job.get("spec"))
    out = names.validate_object_meta(meta, namespaced=True, name_fn=names.name_is_dns_subdomain)
    out.extend(_generated_selector(job))
    out.extend(_job_spec(spec))
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed" and isinstance(completions, int) and completions > 0:
        host = f"{as_str(meta.get('name'))}-{completions - 1}"
        if names.is_dns1123_label(host):
            out.append(
                field.invalid(
                    _META.child("name"),
                    as_str(meta.get("name")),
                    f"will not able to create pod with invalid DNS label: {host}",
                )
            )
    return out


def validate_job_update(new: Obj, old: Obj) -> list[Cause]:
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    ns, os_ = as_obj(new.get("spec")), as_obj(old.get("spec"))
    out.extend(_job_spec(ns))
    out.extend(
        names.validate_immutable(
            ns.get("completions"), os_.get("completions"), _SPEC.child("completions")
        )
    )
    out.extend(
        names.validate_immutable(
            as_obj(ns.get("selector")),
            as_obj(os_.get("selector")),
            _SPEC.child("selector"),
            field.go_selector(as_obj(ns.get("selector"))),
        )
    )
    nt, ot = as_obj(ns.get("template")), as_obj(os_.get("template"))
    suspended_unstarted = ns.get("suspend") is True and not as_obj(old.get("status")).get(
        "startTime"
    )
    if suspended_unstarted:
        nt, ot = _without_scheduling(nt), _without_scheduling(ot)
    if nt != ot:
        out.append(
            field.invalid(
                _SPEC.child("template"),
                field.GoRepr("core.PodTemplateSpec{...}"),
                names.FIELD_IMMUTABLE,
            )
        )
    for key in (
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ):
        if ns.get(key) != os_.get(key):
            v = ns.get(key)
            out.append(
                field.invalid(
                    _SPEC.child(key),
                    v if isinstance(v, str | int) else field.GoRepr("..."),
                    names.FIELD_IMMUTABLE,
                )
            )
    return out


def _without_scheduling(tmpl: Obj) -> Obj:
    t = dict(tmpl)
    t["metadata"] = {
        k: v for k, v in as_obj(t.get("metadata")).items() if k not in ("labels", "annotations")
    }
    spec = dict(as_obj(t.get("spec")))
    for key in ("nodeSelector", "tolerations", "schedulingGates"):
        spec.pop(key, None)
    aff = dict(as_obj(spec.get("affinity")))
    aff.pop("nodeAffinity", None)
    if aff:
        spec["affinity"] = aff
    else:
        spec.pop("affinity", None)
    t["spec"] = spec
    return t


# --- CronJob ---------------------------------------------------------------------------------

_BOUNDS: Final[tuple[tuple[int, int, dict[str, int]], ...]] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (
        1,
        12,
        {
            m: i + 1
            for i, m in enumerate(
                ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
            )
        },
    ),
    (0, 6, {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}),
)
_DESCRIPTORS: Final = (
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
)
_DURATION_RE: Final = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")


def _atoi(expr: str) -> tuple[int | None, str]:
    if re.fullmatch(r"[+-]?[0-9]+", expr):
        n = int(expr)
        if n < 0:
            return None, f"negative number ({n}) not allowed: {expr}"
        return n, ""
    return None, f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax'


def _range_error(expr: str, lo: int, hi: int, names_: dict[str, int]) -> str:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    single = len(low_high) == 1
    if low_high[0] in ("*", "?"):
        start, end = lo, hi
    else:
        start_v = names_.get(low_high[0].lower())
        if start_v is None:
            start_v, err = _atoi(low_high[0])
            if start_v is None:
                return err
        start = start_v
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end_v = names_.get(low_high[1].lower())
            if end_v is None:
                end_v, err = _atoi(low_high[1])
                if end_v is None:
                    return err
            end = end_v
        else:
            return f"too many hyphens: {expr}"
    step = 1
    if len(range_and_step) == 2:
        step_v, err = _atoi(range_and_step[1])
        if step_v is None:
            return err
        step = step_v
        if single:
            end = hi
    elif len(range_and_step) > 2:
        return f"too many slashes: {expr}"
    if start < lo:
        return f"beginning of range ({start}) below minimum ({lo}): {expr}"
    if end > hi:
        return f"end of range ({end}) above maximum ({hi}): {expr}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {expr}"
    if step == 0:
        return f"step of range should be a positive number: {expr}"
    return ""


def parse_schedule_error(schedule: str) -> str:
    """The error ``cron.ParseStandard`` (robfig/cron v3) gives, or "" when it parses."""
    if not schedule:
        return "empty spec string"
    spec = schedule
    if spec.startswith(("TZ=", "CRON_TZ=")):
        eq, sp = spec.find("="), spec.find(" ")
        loc = spec[eq + 1 : sp] if sp > 0 else spec[eq + 1 :]
        try:
            if loc not in ("", "UTC", "Local"):
                zoneinfo.ZoneInfo(loc)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return f"provided bad location {loc}: unknown time zone {loc}"
        spec = spec[sp:].strip() if sp > 0 else ""
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return ""
        if spec.startswith("@every "):
            dur = spec[len("@every ") :]
            return (
                ""
                if _DURATION_RE.match(dur)
                else f'failed to parse duration {spec}: time: invalid duration "{dur}"'
            )
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for text, (lo, hi, names_) in zip(fields, _BOUNDS, strict=True):
        for part in text.split(","):
            err = _range_error(part, lo, hi, names_)
            if err:
                return err
    if not croniter.is_valid(spec):
        return f"invalid schedule: {spec}"
    return ""


def _time_zone(tz: Any, path: Path) -> list[Cause]:
    if not isinstance(tz, str):
        return []
    if not tz:
        return [field.invalid(path, "", "timeZone must be nil or non-empty string")]
    for part in tz.split("/"):
        if (
            part in (".", "..")
            or part.startswith("-")
            or not re.fullmatch(r"[A-Za-z.\-_0-9+]{1,14}", part)
        ):
            return [field.invalid(path, tz, f"unknown time zone {tz}")]
    if tz.lower() == "local":
        return [
            field.invalid(
                path,
                tz,
                "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
            )
        ]
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [field.invalid(path, tz, f"unknown time zone {tz}")]
    return []


def _cron_job_spec(spec: Obj, old_spec: Obj | None) -> list[Cause]:
    out: list[Cause] = []
    schedule = as_str(spec.get("schedule"))
    sp = _SPEC.child("schedule")
    if not schedule:
        out.append(field.required(sp))
    else:
        err = parse_schedule_error(schedule)
        if err:
            out.append(field.invalid(sp, schedule, err))
        allow_tz = old_spec is not None and "TZ" in as_str(old_spec.get("schedule"))
        if allow_tz and "TZ" in schedule and spec.get("timeZone") is not None:
            out.append(
                field.invalid(
                    sp, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"
                )
            )
        elif not allow_tz and "TZ" in schedule:
            out.append(
                field.invalid(
                    sp, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
                )
            )
    sds = spec.get("startingDeadlineSeconds")
    if isinstance(sds, int):
        out.extend(names.validate_nonnegative(sds, _SPEC.child("startingDeadlineSeconds")))
    if old_spec is None or old_spec.get("timeZone") != spec.get("timeZone"):
        out.extend(_time_zone(spec.get("timeZone"), _SPEC.child("timeZone")))
    cp = as_str(spec.get("concurrencyPolicy"))
    if not cp:
        out.append(field.required(_SPEC.child("concurrencyPolicy")))
    elif cp not in ("Allow", "Forbid", "Replace"):
        out.append(
            field.not_supported(
                _SPEC.child("concurrencyPolicy"), cp, ("Allow", "Forbid", "Replace")
            )
        )
    jt = as_obj(spec.get("jobTemplate"))
    jp = _SPEC.child("jobTemplate")
    jspec = as_obj(jt.get("spec"))
    out.extend(_job_spec_common(jspec, jp.child("spec")))
    if jspec.get("selector") is not None:
        out.append(
            field.invalid(
                jp.child("spec", "selector"),
                field.go_selector(as_obj(jspec.get("selector"))),
                "`selector` will be auto-generated",
            )
        )
    if jspec.get("manualSelector") is True:
        out.append(field.not_supported(jp.child("spec", "manualSelector"), True, ("nil", "false")))
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        v = spec.get(key)
        if isinstance(v, int):
            out.extend(names.validate_nonnegative(v, _SPEC.child(key)))
    return out


def validate_cron_job(cj: Obj) -> list[Cause]:
    meta = as_obj(cj.get("metadata"))
    out = names.validate_object_meta(meta, namespaced=True, name_fn=names.name_is_dns_subdomain)
    out.extend(_cron_job_spec(as_obj(cj.get("spec")), None))
    name = as_str(meta.get("name"))
    if len(name) > 52:
        out.append(field.invalid(_META.child("name"), name, "must be no more than 52 characters"))
    return out


def validate_cron_job_update(new: Obj, old: Obj) -> list[Cause]:
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    return out + _cron_job_spec(as_obj(new.get("spec")), as_obj(old.get("spec")))
