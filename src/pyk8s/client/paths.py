"""What a request looks like on the wire: resource URLs, query parameters and
``DeleteOptions`` — pure functions the REST client is built on, testable without I/O.

Contract:
- ``resource_path`` follows the apiserver's routes: ``/api/v1`` for the core group,
  ``/apis/<group>/<version>`` otherwise; ``/namespaces/<ns>`` only for namespaced
  resources (a namespace given for a cluster-scoped one is ignored; none given for a
  namespaced one means all namespaces); a subresource needs a name.
- ``resource_for`` returns the built-in ``Resource`` when the table knows the
  group/version/plural, else an ad-hoc one (custom resources), so every helper can be
  keyed by ``Resource``.
- Query parameters are ``(name, value)`` pairs in a fixed order; options left at their
  defaults are omitted, as client-go does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyk8s.api import resources

__all__ = [
    "Params",
    "Preconditions",
    "delete_options",
    "resource_for",
    "resource_path",
    "selector_params",
    "write_params",
]

Obj = dict[str, Any]
Params = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Preconditions:
    """DeleteOptions.preconditions: delete only this uid / this resourceVersion."""

    uid: str | None = None
    resource_version: str | None = None


def resource_for(
    group: str, version: str, plural: str, *, namespaced: bool = True, kind: str = ""
) -> resources.Resource:
    """The built-in ``Resource`` for a group/version/plural, or an ad-hoc one (CRDs)."""
    found = resources.find(group, version, plural)
    if found is not None:
        return found
    return resources.Resource(
        group=group, version=version, kind=kind, plural=plural, namespaced=namespaced
    )


def resource_path(
    resource: resources.Resource,
    *,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """``/api/v1/namespaces/ns/pods/name/status`` and friends."""
    if resource.group:
        base = f"/apis/{resource.group}/{resource.version}"
    else:
        base = f"/api/{resource.version}"
    if resource.namespaced and namespace:
        base += f"/namespaces/{namespace}"
    path = f"{base}/{resource.plural}"
    if name is not None:
        if not name:
            raise ValueError(f"{resource.plural}: a resource name may not be empty")
        path += f"/{name}"
        if subresource:
            path += f"/{subresource}"
    elif subresource:
        raise ValueError("a subresource needs a name")
    return path


def selector_params(
    label_selector: str | None, field_selector: str | None
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if label_selector:
        out.append(("labelSelector", label_selector))
    if field_selector:
        out.append(("fieldSelector", field_selector))
    return out


def write_params(dry_run: bool, field_manager: str | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if dry_run:
        out.append(("dryRun", "All"))
    if field_manager:
        out.append(("fieldManager", field_manager))
    return out


def delete_options(
    *,
    propagation_policy: str | None = None,
    grace_period_seconds: int | None = None,
    preconditions: Preconditions | None = None,
    dry_run: bool = False,
) -> Obj:
    body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if propagation_policy:
        body["propagationPolicy"] = propagation_policy
    if grace_period_seconds is not None:
        body["gracePeriodSeconds"] = grace_period_seconds
    if preconditions is not None:
        pre: Obj = {}
        if preconditions.uid is not None:
            pre["uid"] = preconditions.uid
        if preconditions.resource_version is not None:
            pre["resourceVersion"] = preconditions.resource_version
        body["preconditions"] = pre
    if dry_run:
        body["dryRun"] = ["All"]
    return body
