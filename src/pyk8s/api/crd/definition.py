"""CustomResourceDefinitions (apiextensions.k8s.io/v1): defaulting, strategy and validation.

The apiserver's pipeline for a CRD write, as upstream's registry runs it:
``defaults_crd`` (while decoding) → ``prepare_for_create`` / ``prepare_for_update`` (the
strategy: status reset or kept, generation, ``status.storedVersions``) →
``validate_crd`` / ``validate_crd_update`` → store; then the naming/establishing step
(``crd_status_conditions`` / ``crd_status``, from ``naming``) writes the status, and
``resources_for`` (from ``versions``) gives the ``Resource`` rows to serve.

Validation returns upstream's ``field.ErrorList`` as ``Cause``s, in upstream's order.
Upstream validates the *internal* form, into which a v1 CRD converts by moving the
schema, subresources and printer columns to the top level when every version has the
same (deep-equal) value — so errors in a schema shared by all versions (the usual case)
are reported under ``spec.validation.openAPIV3Schema…``, ``spec.subresources…`` and
``spec.additionalPrinterColumns[i]…``, and per-version ones under ``spec.versions[i]…``.
Values Go prints as structs (the version list in ``spec.versions`` errors) are rendered
with placeholder pointers where upstream shows addresses.

Not covered: CEL rules are not compiled, ``selectableFields`` are not validated, webhook
conversion is validated for shape only (URLs and services are not checked), and the
update-time relaxations for CRDs persisted by older servers (non-structural schemas,
unpruned defaults …) are not applied — pyk8s never stores such CRDs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pyk8s.api.crd import crdfields, structural
from pyk8s.api.crd.naming import NameClaims, claims_of, crd_status, crd_status_conditions
from pyk8s.api.crd.versions import resources_for, sort_versions, storage_version
from pyk8s.api.validation import field, names
from pyk8s.api.validation.access import as_list, as_obj, as_str
from pyk8s.api.validation.field import Cause, GoRepr, Path

__all__ = [
    "NameClaims",
    "claims_of",
    "crd_status",
    "crd_status_conditions",
    "defaults_crd",
    "prepare_for_create",
    "prepare_for_status_update",
    "prepare_for_update",
    "resources_for",
    "sort_versions",
    "validate_crd",
    "validate_crd_status_update",
    "validate_crd_update",
]

Obj = dict[str, Any]

# --- defaulting and strategy ---------------------------------------------------------------


def defaults_crd(crd: Obj) -> None:
    """``SetDefaults_CustomResourceDefinition`` (v1), in place."""
    spec = crd.setdefault("spec", {})
    names_ = spec.setdefault("names", {})
    kind = as_str(names_.get("kind"))
    if not names_.get("singular"):
        names_["singular"] = kind.lower()
    if not names_.get("listKind") and kind:
        names_["listKind"] = kind + "List"
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}
    service = as_obj(as_obj(as_obj(spec.get("conversion")).get("webhook")).get("clientConfig")).get(
        "service"
    )
    if isinstance(service, dict) and service.get("port") is None:
        service["port"] = 443
    status = crd.get("status")
    stored = storage_version(crd)
    if stored and not as_list(as_obj(status).get("storedVersions")):
        crd["status"] = {**as_obj(status), "storedVersions": [stored]}


def _add_stored_version(crd: Obj) -> None:
    stored = storage_version(crd)
    status = crd.setdefault("status", {})
    if stored and stored not in as_list(status.get("storedVersions")):
        status["storedVersions"] = [*as_list(status.get("storedVersions")), stored]


def prepare_for_create(crd: Obj) -> None:
    """Status starts empty (but for the storage version), generation 1."""
    crd["status"] = {"acceptedNames": {"plural": "", "kind": ""}}
    crd.setdefault("metadata", {})["generation"] = 1
    _add_stored_version(crd)


def prepare_for_update(new: Obj, old: Mapping[str, Any]) -> None:
    """Status is kept from ``old``; a spec change bumps the generation."""
    new["status"] = copy.deepcopy(as_obj(old.get("status")))
    meta = new.setdefault("metadata", {})
    generation = as_obj(old.get("metadata")).get("generation") or 0
    meta["generation"] = generation + 1 if new.get("spec") != old.get("spec") else generation
    _add_stored_version(new)


def prepare_for_status_update(new: Obj, old: Mapping[str, Any]) -> None:
    """``/status`` writes keep ``old``'s spec."""
    new["spec"] = copy.deepcopy(as_obj(old.get("spec")))


# --- validation ------------------------------------------------------------------------------


def validate_crd(crd: Mapping[str, Any]) -> list[Cause]:
    """``ValidateCustomResourceDefinition``."""
    spec = as_obj(crd.get("spec"))
    names_ = as_obj(spec.get("names"))
    required_name = f"{as_str(names_.get('plural'))}.{as_str(spec.get('group'))}"

    def name_fn(name: str, prefix: bool) -> list[str]:
        errs = names.name_is_dns_subdomain(name, prefix)
        if name != required_name:
            errs.append('must be spec.names.plural+"."+spec.group')
        return errs

    out = names.validate_object_meta(
        kube_finalizers=False, meta=crd.get("metadata"), namespaced=False, name_fn=name_fn
    )
    return (
        out
        + _validate_spec(spec)
        + crdfields.validate_status(crd)
        + crdfields.validate_approval(crd, None)
        + crdfields.validate_preserve_unknown_fields(crd, None)
    )


def validate_crd_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """``ValidateCustomResourceDefinitionUpdate``."""
    spec, old_spec = as_obj(new.get("spec")), as_obj(old.get("spec"))
    out = names.validate_object_meta_update(
        new.get("metadata"), old.get("metadata"), kube_finalizers=False
    )
    out += _validate_spec(spec)
    path = Path("spec")
    if _established(old):
        out += names.validate_immutable(
            spec.get("scope"), old_spec.get("scope"), path.child("scope")
        )
        out += names.validate_immutable(
            as_obj(spec.get("names")).get("kind"),
            as_obj(old_spec.get("names")).get("kind"),
            path.child("names", "kind"),
        )
    out += names.validate_immutable(spec.get("group"), old_spec.get("group"), path.child("group"))
    out += names.validate_immutable(
        as_obj(spec.get("names")).get("plural"),
        as_obj(old_spec.get("names")).get("plural"),
        path.child("names", "plural"),
    )
    return (
        out
        + crdfields.validate_status(new)
        + crdfields.validate_approval(new, old)
        + crdfields.validate_preserve_unknown_fields(new, old)
    )


def validate_crd_status_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """``ValidateUpdateCustomResourceDefinitionStatus``."""
    out = names.validate_object_meta_update(
        new.get("metadata"), old.get("metadata"), kube_finalizers=False
    )
    accepted = as_obj(as_obj(new.get("status")).get("acceptedNames"))
    return out + crdfields.validate_names(accepted, Path("status", "acceptedNames"))


def _established(crd: Mapping[str, Any]) -> bool:
    conditions = as_list(as_obj(crd.get("status")).get("conditions"))
    return any(
        as_obj(c).get("type") == "Established" and as_obj(c).get("status") == "True"
        for c in conditions
    )


class _Internal:
    """The parts of upstream's internal spec that conversion from v1 moves around."""

    def __init__(self, spec: Obj) -> None:
        self.versions = [as_obj(v) for v in as_list(spec.get("versions"))]
        self.versions_raw = spec.get("versions")

        def shared(key: str, empty: Any) -> tuple[bool, Any]:
            values = [v.get(key, empty) if v.get(key) is not None else empty for v in self.versions]
            same = bool(values) and all(x == values[0] for x in values)
            return same, values[0] if same else empty

        self.schema_shared, self.schema = shared("schema", None)
        self.subs_shared, self.subresources = shared("subresources", None)
        self.cols_shared, self.columns = shared("additionalPrinterColumns", [])

    def version_subresources(self, v: Obj) -> Any:
        return self.subresources if self.subs_shared else v.get("subresources")

    def any_status(self) -> bool:
        subs = (
            [self.subresources]
            if self.subs_shared
            else [v.get("subresources") for v in self.versions]
        )
        return any(isinstance(s, Mapping) and s.get("status") is not None for s in subs)

    def go_versions(self) -> GoRepr:
        if self.versions_raw is None:
            return GoRepr("[]apiextensions.CustomResourceDefinitionVersion(nil)")
        items = []
        for v in self.versions:
            warning = (
                "(*string)(nil)"
                if v.get("deprecationWarning") is None
                else "(*string)(0xc000000000)"
            )
            schema = _go_pointer(
                "CustomResourceValidation", None if self.schema_shared else v.get("schema")
            )
            subs = _go_pointer(
                "CustomResourceSubresources", None if self.subs_shared else v.get("subresources")
            )
            cols = None if self.cols_shared else v.get("additionalPrinterColumns")
            cols_text = (
                "[]apiextensions.CustomResourceColumnDefinition(nil)"
                if not cols
                else "[]apiextensions.CustomResourceColumnDefinition{...}"
            )
            sel = v.get("selectableFields")
            sel_text = (
                "[]apiextensions.SelectableField(nil)"
                if not sel
                else "[]apiextensions.SelectableField{...}"
            )
            items.append(
                "apiextensions.CustomResourceDefinitionVersion{"
                f"Name:{field.go_quote(as_str(v.get('name')))}, Served:{_go_bool(v.get('served'))}, "
                f"Storage:{_go_bool(v.get('storage'))}, Deprecated:{_go_bool(v.get('deprecated'))}, "
                f"DeprecationWarning:{warning}, Schema:{schema}, Subresources:{subs}, "
                f"AdditionalPrinterColumns:{cols_text}, SelectableFields:{sel_text}}}"
            )
        return GoRepr("[]apiextensions.CustomResourceDefinitionVersion{" + ", ".join(items) + "}")


def _go_bool(v: Any) -> str:
    return "true" if v is True else "false"


def _go_pointer(type_name: str, value: Any) -> str:
    address = "nil" if value is None else "0xc000000000"
    return f"(*apiextensions.{type_name})({address})"


def _validate_spec(spec: Obj) -> list[Cause]:
    path = Path("spec")
    out: list[Cause] = []
    group = as_str(spec.get("group"))
    if not group:
        out.append(field.required(path.child("group")))
    elif errs := names.is_dns1123_subdomain(group):
        out.append(field.invalid(path.child("group"), group, ",".join(errs)))
    elif len(group.split(".")) < 2:
        out.append(
            field.invalid(path.child("group"), group, "should be a domain with at least one dot")
        )
    out += crdfields.required_enum(
        path.child("scope"), as_str(spec.get("scope")), ("Cluster", "Namespaced")
    )
    internal = _Internal(spec)
    top_schema = as_obj(internal.schema).get("openAPIV3Schema") if internal.schema_shared else None
    if not isinstance(top_schema, Mapping):
        for i, v in enumerate(internal.versions):
            if not isinstance(as_obj(v.get("schema")).get("openAPIV3Schema"), Mapping):
                out.append(
                    field.required(
                        path.child("versions").index(i).child("schema", "openAPIV3Schema"),
                        "schemas are required",
                    )
                )
    if spec.get("preserveUnknownFields") is True and _has_defaults(internal):
        out.append(
            field.invalid(
                path.child("preserveUnknownFields"),
                True,
                "must be false in order to use defaults in the schema",
            )
        )
    seen: set[str] = set()
    unique, storage = True, 0
    for i, v in enumerate(internal.versions):
        vpath = path.child("versions").index(i)
        name = as_str(v.get("name"))
        storage += v.get("storage") is True
        unique = unique and name not in seen
        seen.add(name)
        out += crdfields.dns1035(name, vpath.child("name"))
        out += _version(v, vpath, internal)
    if not unique:
        out.append(
            field.invalid(
                path.child("versions"), internal.go_versions(), "must contain unique version names"
            )
        )
    if storage != 1:
        out.append(
            field.invalid(
                path.child("versions"),
                internal.go_versions(),
                "must have exactly one version marked as storage version",
            )
        )
    if internal.versions:
        out += crdfields.dns1035(as_str(internal.versions[0].get("name")), path.child("version"))
    names_ = as_obj(spec.get("names"))
    for key in ("plural", "singular", "kind", "listKind"):
        if not names_.get(key):
            out.append(field.required(path.child("names", key)))
    out += crdfields.validate_names(names_, path.child("names"))
    if isinstance(top_schema, Mapping):
        out += structural.validate_schema(
            top_schema,
            path.child("validation", "openAPIV3Schema"),
            status_enabled=internal.any_status(),
        )
    if internal.subs_shared:
        out += crdfields.validate_subresources(internal.subresources, path.child("subresources"))
    if internal.cols_shared:
        for i, col in enumerate(as_list(internal.columns)):
            out += crdfields.validate_column(
                as_obj(col), path.child("additionalPrinterColumns").index(i)
            )
    conversion = spec.get("conversion")
    if isinstance(conversion, Mapping):
        strategy = as_str(conversion.get("strategy"))
        if strategy != "None" and spec.get("preserveUnknownFields") is True:
            out.append(
                field.invalid(
                    path.child("conversion", "strategy"),
                    strategy,
                    "must be None if spec.preserveUnknownFields is true",
                )
            )
        out += crdfields.validate_conversion(conversion, path.child("conversion"))
    return out


def _has_defaults(internal: _Internal) -> bool:
    def walk(node: Any) -> bool:
        if not isinstance(node, Mapping):
            return False
        if node.get("default") is not None:
            return True
        children = [*as_obj(node.get("properties")).values(), node.get("items"), node.get("not")]
        children.append(node.get("additionalProperties"))
        for key in ("allOf", "anyOf", "oneOf"):
            children.extend(as_list(node.get(key)))
        return any(walk(c) for c in children)

    return any(walk(as_obj(v.get("schema")).get("openAPIV3Schema")) for v in internal.versions)


def _version(v: Obj, path: Path, internal: _Internal) -> list[Cause]:
    out: list[Cause] = []
    warning = v.get("deprecationWarning")
    if warning is not None:
        out += [
            field.invalid(path.child("deprecationWarning"), warning, e)
            for e in crdfields.deprecation_errors(v, as_str(warning))
        ]
    subs = internal.version_subresources(v)
    status_enabled = isinstance(subs, Mapping) and subs.get("status") is not None
    schema = as_obj(v.get("schema")).get("openAPIV3Schema")
    if not internal.schema_shared and isinstance(schema, Mapping):
        out += structural.validate_schema(
            schema, path.child("schema", "openAPIV3Schema"), status_enabled=status_enabled
        )
    if not internal.subs_shared:
        out += crdfields.validate_subresources(v.get("subresources"), path.child("subresources"))
    if not internal.cols_shared:
        for i, col in enumerate(as_list(v.get("additionalPrinterColumns"))):
            out += crdfields.validate_column(
                as_obj(col), path.child("additionalPrinterColumns").index(i)
            )
    return out
