"""Per-version views of a CustomResourceDefinition and the ``Resource``s it adds.

A v1 CRD lists ``spec.versions``; each carries its own ``schema``, ``subresources`` and
``additionalPrinterColumns``. The helpers here read one version (``schema_for``,
``subresources_for``, ``columns_for``) and turn a CRD into the ``Resource`` rows the
apiserver dispatches on (``resources_for``): one per *served* version, sharing the etcd
prefix ``<group>/<plural>`` (keys ``/registry/<group>/<plural>/[<ns>/]<name>``, as
upstream) and the storage version, with ``preferred`` on the first served version in
upstream's version priority (``sort_versions``: GA before beta before alpha, higher major
then higher minor first, then non-Kubernetes-looking names alphabetically:
``v2, v1, v1beta2, v1beta1, v1alpha1, foo1, foo10``).

The CRD is the decoded, defaulted JSON object; nothing here validates it or mutates it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from pyk8s.api import resources
from pyk8s.api.crd.schema import SchemaError, Structural, from_openapi
from pyk8s.api.validation.access import as_list, as_obj, as_str

__all__ = [
    "columns_for",
    "compare_versions",
    "resources_for",
    "schema_for",
    "served_versions",
    "sort_versions",
    "storage_version",
    "subresources_for",
    "version_entry",
]

Obj = Mapping[str, Any]

_KUBE_VERSION: Final = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
_TYPE_RANK: Final = {"alpha": 0, "beta": 1, "": 2}


def _parse(v: str) -> tuple[int, int, int] | None:
    m = _KUBE_VERSION.fullmatch(v)
    if m is None:
        return None
    kind = m.group(2) or ""
    return _TYPE_RANK[kind], int(m.group(1)), int(m.group(3) or 0)


def compare_versions(a: str, b: str) -> int:
    """``CompareKubeAwareVersionStrings``: > 0 when ``a`` has the higher priority."""
    if a == b:
        return 0
    pa, pb = _parse(a), _parse(b)
    if pa is None and pb is None:
        return (b > a) - (b < a)
    if pa is None:
        return -1
    if pb is None:
        return 1
    return (pa > pb) - (pa < pb)


def sort_versions(names: Iterable[str]) -> list[str]:
    """Highest priority first."""
    return sorted(names, key=functools.cmp_to_key(compare_versions), reverse=True)


def _versions(crd: Obj) -> list[Obj]:
    return [as_obj(v) for v in as_list(as_obj(crd.get("spec")).get("versions"))]


def version_entry(crd: Obj, version: str) -> Obj | None:
    """The ``spec.versions`` item named ``version``."""
    return next((v for v in _versions(crd) if v.get("name") == version), None)


def served_versions(crd: Obj) -> list[str]:
    """Served version names, in ``spec.versions`` order."""
    return [as_str(v.get("name")) for v in _versions(crd) if v.get("served") is True]


def storage_version(crd: Obj) -> str:
    """The version marked ``storage: true`` (``""`` if none)."""
    return next((as_str(v.get("name")) for v in _versions(crd) if v.get("storage") is True), "")


def schema_for(crd: Obj, version: str) -> Structural | None:
    """The structural schema of ``version``; ``None`` when it has none (or cannot be built)."""
    raw = as_obj(as_obj(version_entry(crd, version)).get("schema")).get("openAPIV3Schema")
    if not isinstance(raw, Mapping):
        return None
    try:
        return from_openapi(raw)
    except SchemaError:
        return None


def subresources_for(crd: Obj, version: str) -> Obj:
    """``subresources`` of ``version`` (``{}`` when none): keys ``status`` and ``scale``."""
    return as_obj(as_obj(version_entry(crd, version)).get("subresources"))


def columns_for(crd: Obj, version: str) -> list[Obj]:
    """``additionalPrinterColumns`` of ``version`` (not defaulted; see ``printing``)."""
    return [
        as_obj(c)
        for c in as_list(as_obj(version_entry(crd, version)).get("additionalPrinterColumns"))
    ]


def resources_for(crd: Obj) -> list[resources.Resource]:
    """One ``Resource`` per served version, in ``spec.versions`` order."""
    spec = as_obj(crd.get("spec"))
    names = as_obj(spec.get("names"))
    group = as_str(spec.get("group"))
    plural = as_str(names.get("plural"))
    served = served_versions(crd)
    preferred = sort_versions(served)[0] if served else ""
    out: list[resources.Resource] = []
    for version in served:
        subs = subresources_for(crd, version)
        out.append(
            resources.Resource(
                group=group,
                version=version,
                kind=as_str(names.get("kind")),
                plural=plural,
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(as_str(s) for s in as_list(names.get("shortNames"))),
                categories=tuple(as_str(c) for c in as_list(names.get("categories"))),
                subresources=tuple(s for s in ("status", "scale") if s in subs),
                storage_prefix=f"{group}/{plural}",
                storage_version=storage_version(crd),
                preferred=version == preferred,
            )
        )
    return out
