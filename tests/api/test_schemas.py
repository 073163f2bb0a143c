"""schemas: upstream's 1.33 definitions, GVK lookup, and the SchemaNode navigator."""

from __future__ import annotations

import pytest

from pyk8s.api import resources, schemas

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"


def test_builtin_loads_upstream_133_definitions() -> None:
    defs = schemas.builtin()
    assert len(defs.schemas) == 707
    assert schemas.builtin() is defs  # loaded once
    with_gvk = [n for n, s in defs.schemas.items() if "x-kubernetes-group-version-kind" in s]
    assert len(with_gvk) == 179


@pytest.mark.parametrize(
    ("gvk", "name"),
    [
        pytest.param(("apps", "v1", "Deployment"), DEPLOYMENT, id="deployment"),
        pytest.param(("", "v1", "Pod"), "io.k8s.api.core.v1.Pod", id="core-pod"),
        pytest.param(("", "v1", "PodList"), "io.k8s.api.core.v1.PodList", id="list-kind"),
        pytest.param(
            ("autoscaling", "v2", "HorizontalPodAutoscaler"),
            "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
            id="hpa-v2",
        ),
        pytest.param(("autoscaling", "v1", "Scale"), "io.k8s.api.autoscaling.v1.Scale", id="scale"),
        pytest.param(
            ("events.k8s.io", "v1", "Event"), "io.k8s.api.events.v1.Event", id="events-group"
        ),
        pytest.param(
            ("apps", "v1", "DeleteOptions"),
            "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
            id="shared-meta-type",
        ),
        pytest.param(("example.com", "v1", "Widget"), None, id="unknown-kind"),
        pytest.param(("apps", "v2", "Deployment"), None, id="unknown-version"),
    ],
)
def test_definition_for_gvk(gvk: tuple[str, str, str], name: str | None) -> None:
    assert schemas.definition_for_gvk(*gvk) == name


@pytest.mark.parametrize("resource", resources.BUILTIN, ids=lambda r: f"{r.api_version}/{r.kind}")
def test_every_builtin_resource_has_a_definition(resource: resources.Resource) -> None:
    node = schemas.node_for_gvk(resource.group, resource.version, resource.kind)
    assert node is not None
    assert schemas.GVK(resource.group, resource.version, resource.kind) in node.gvks


def test_schema_returns_the_raw_json_schema() -> None:
    raw = schemas.schema(DEPLOYMENT)
    assert raw["properties"]["spec"]["$ref"] == "#/$defs/io.k8s.api.apps.v1.DeploymentSpec"
    with pytest.raises(KeyError):
        schemas.schema("io.k8s.api.apps.v1.Nope")


@pytest.mark.parametrize(
    ("kind", "path", "strategies", "merge_key", "list_type", "map_keys"),
    [
        pytest.param(
            ("apps", "v1", "Deployment"),
            ("spec", "template", "spec", "containers"),
            ("merge",),
            "name",
            "map",
            ("name",),
            id="containers",
        ),
        pytest.param(
            ("", "v1", "Pod"),
            ("spec", "containers", "[]", "env"),
            ("merge",),
            "name",
            "map",
            ("name",),
            id="env",
        ),
        pytest.param(
            ("", "v1", "Pod"),
            ("spec", "containers", "[]", "ports"),
            ("merge",),
            "containerPort",
            "map",
            ("containerPort", "protocol"),
            id="container-ports",
        ),
        pytest.param(
            ("", "v1", "Pod"),
            ("spec", "containers", "[]", "volumeMounts"),
            ("merge",),
            "mountPath",
            "map",
            ("mountPath",),
            id="volume-mounts",
        ),
        pytest.param(
            ("", "v1", "Pod"),
            ("spec", "volumes"),
            ("merge", "retainKeys"),
            "name",
            "map",
            ("name",),
            id="volumes",
        ),
        pytest.param(
            ("", "v1", "Pod"), ("spec", "tolerations"), (), "", "atomic", (), id="tolerations"
        ),
        pytest.param(
            ("", "v1", "Pod"), ("spec", "containers", "[]", "args"), (), "", "atomic", (), id="args"
        ),
        pytest.param(
            ("", "v1", "Pod"),
            ("metadata", "finalizers"),
            ("merge",),
            "",
            "set",
            (),
            id="finalizers",
        ),
        pytest.param(
            ("", "v1", "Pod"),
            ("metadata", "ownerReferences"),
            ("merge",),
            "uid",
            "map",
            ("uid",),
            id="owner-references",
        ),
        pytest.param(
            ("", "v1", "Service"),
            ("spec", "ports"),
            ("merge",),
            "port",
            "map",
            ("port", "protocol"),
            id="service-ports",
        ),
        pytest.param(
            ("apps", "v1", "Deployment"),
            ("spec", "strategy"),
            ("retainKeys",),
            "",
            "",
            (),
            id="deployment-strategy",
        ),
        pytest.param(
            ("policy", "v1", "PodDisruptionBudget"),
            ("spec", "selector"),
            ("replace",),
            "",
            "",
            (),
            id="pdb-selector",
        ),
        pytest.param(("", "v1", "Pod"), ("metadata", "labels"), (), "", "", (), id="labels"),
    ],
)
def test_patch_metadata(
    kind: tuple[str, str, str],
    path: tuple[str, ...],
    strategies: tuple[str, ...],
    merge_key: str,
    list_type: str,
    map_keys: tuple[str, ...],
) -> None:
    root = schemas.node_for_gvk(*kind)
    assert root is not None
    node = root.walk(*path)
    assert node is not None
    assert node.meta == schemas.PatchMeta(strategies, merge_key, list_type, map_keys)


@pytest.mark.parametrize(
    ("strategies", "strategy", "retain_keys"),
    [
        pytest.param((), "", False, id="none"),
        pytest.param(("merge",), "merge", False, id="merge"),
        pytest.param(("replace",), "replace", False, id="replace"),
        pytest.param(("retainKeys",), "", True, id="retain-keys"),
        pytest.param(("merge", "retainKeys"), "merge", True, id="merge-retain-keys"),
    ],
)
def test_patch_meta_strategy_split(
    strategies: tuple[str, ...], strategy: str, retain_keys: bool
) -> None:
    meta = schemas.PatchMeta(strategies=strategies)
    assert (meta.strategy, meta.retain_keys) == (strategy, retain_keys)


@pytest.mark.parametrize(
    ("path", "name", "type_", "nullable", "int_or_string", "is_map", "is_open"),
    [
        pytest.param((), DEPLOYMENT, "object", True, False, False, False, id="root"),
        pytest.param(
            ("spec",), "io.k8s.api.apps.v1.DeploymentSpec", "object", True, False, False, False,
            id="ref-resolved",
        ),
        pytest.param(("spec", "replicas"), None, "integer", True, False, False, False, id="int"),
        pytest.param(
            ("spec", "template", "spec", "containers"), None, "array", False, False, False, False,
            id="required-array",
        ),
        pytest.param(
            ("spec", "strategy", "rollingUpdate", "maxSurge"),
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
            None, False, True, False, False,
            id="int-or-string",
        ),
        pytest.param(
            ("metadata", "labels"), None, "object", True, False, True, False, id="string-map"
        ),
        pytest.param(
            ("metadata", "labels", "anything"), None, "string", True, False, False, False,
            id="map-value",
        ),
        pytest.param(
            ("metadata", "managedFields", "[]", "fieldsV1"),
            "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
            "object", True, False, False, True,
            id="open-object",
        ),
        pytest.param(
            ("metadata", "creationTimestamp"),
            "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
            "string", True, False, False, False,
            id="time",
        ),
    ],
)  # fmt: skip
def test_node_properties(
    path: tuple[str, ...],
    name: str | None,
    type_: str | None,
    nullable: bool,
    int_or_string: bool,
    is_map: bool,
    is_open: bool,
) -> None:
    node = schemas.node(DEPLOYMENT).walk(*path)
    assert node is not None
    assert node.name == name
    assert node.type == type_
    assert node.nullable is nullable
    assert node.int_or_string is int_or_string
    assert node.is_map is is_map
    assert node.is_open is is_open


def test_walk_and_field_misses() -> None:
    root = schemas.node(DEPLOYMENT)
    assert root.field("nope") is None
    assert root.walk("spec", "nope", "deeper") is None
    assert root.walk("spec", "replicas").items() is None  # type: ignore[union-attr]
    assert root.has_field("spec") and not root.has_field("nope")
    assert root.walk("metadata", "labels").has_field("any")  # type: ignore[union-attr]


def test_children_are_memoised() -> None:
    root = schemas.node(DEPLOYMENT)
    assert schemas.node(DEPLOYMENT) is root
    first = root.walk("spec", "template", "spec", "containers", "[]")
    assert first is root.walk("spec", "template", "spec", "containers", "[]")


def test_description_prefers_the_site() -> None:
    node = schemas.node(DEPLOYMENT).walk("spec", "template", "spec", "containers", "[]")
    assert node is not None and node.name == "io.k8s.api.core.v1.Container"
    assert node.description.startswith("A single application container")
    spec = schemas.node(DEPLOYMENT).field("spec")
    assert spec is not None
    assert spec.description == "Specification of the desired behavior of the Deployment."


def test_iter_fields_lists_properties() -> None:
    names = [name for name, _ in schemas.node("io.k8s.api.core.v1.EnvVar").iter_fields()]
    assert names == ["name", "value", "valueFrom"]


def test_custom_registry_resolves_openapi_refs() -> None:
    defs = schemas.Definitions(
        {
            "item": {
                "type": "object",
                "properties": {
                    "children": {
                        "type": "array",
                        "items": {"allOf": [{"$ref": "#/components/schemas/item"}]},
                        "x-kubernetes-patch-strategy": "merge",
                        "x-kubernetes-patch-merge-key": "name",
                    },
                    "name": {"type": "string"},
                },
            }
        }
    )
    child = defs.node("item").walk("children", "[]", "children")
    assert child is not None
    assert child.meta.merge_key == "name"
    assert child.items() is not None and child.items().name == "item"  # type: ignore[union-attr]


def test_unresolvable_ref_is_a_key_error() -> None:
    defs = schemas.Definitions({"a": {"properties": {"b": {"$ref": "#/$defs/missing"}}}})
    with pytest.raises(KeyError, match="unable to resolve #/\\$defs/missing"):
        defs.node("a").field("b")
