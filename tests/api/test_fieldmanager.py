"""fieldmanager: server-side apply and managedFields as upstream's field manager keeps them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from pyk8s.api import fieldmanager as fm
from pyk8s.api import schemas
from pyk8s.api.fieldmanager import FieldSet
from pyk8s.api.schemas import Definitions

DEPLOYMENT = schemas.node_for_gvk("apps", "v1", "Deployment")
POD = schemas.node_for_gvk("", "v1", "Pod")
CONFIGMAP = schemas.node_for_gvk("", "v1", "ConfigMap")
T0, T1, T2, T3 = (f"2024-05-01T10:0{i}:00Z" for i in range(4))
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

Obj = dict[str, Any]


# --- helpers ------------------------------------------------------------------------------


def container(name: str, **fields: Any) -> Obj:
    return {"name": name, **fields}


def deployment(*containers: Obj, replicas: int | None = None, **meta: Any) -> Obj:
    spec: Obj = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": list(containers)},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", **meta},
        "spec": spec,
    }


def config(**parts: Any) -> Obj:
    """A minimal apply configuration for the Deployment ``web``."""
    out: Obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
    out.update(parts)
    return out


def pod_spec(*containers: Obj) -> Obj:
    return {"template": {"spec": {"containers": list(containers)}}}


def stored(obj: Obj) -> Obj:
    """What the registry stores: the object with a uid (so it is not a create any more)."""
    out = copy.deepcopy(obj)
    out["metadata"].setdefault("uid", "8d7c6e5f-0000-4000-8000-000000000001")
    return out


def create(obj: Obj, manager: str = "creator", schema: Any = DEPLOYMENT) -> Obj:
    return stored(
        fm.update(None, obj, manager=manager, api_version=_av(obj), time=T0, schema=schema)
    )


def apply(
    live: Obj | None, cfg: Obj, manager: str, *, force: bool = False, time: str = T1, **kw: Any
) -> Obj:
    kw.setdefault("schema", DEPLOYMENT)
    out = fm.apply(live, cfg, manager=manager, api_version=_av(cfg), time=time, force=force, **kw)
    return stored(out)


def update(live: Obj, new: Obj, manager: str, *, time: str = T1, **kw: Any) -> Obj:
    kw.setdefault("schema", DEPLOYMENT)
    return stored(fm.update(live, new, manager=manager, api_version=_av(new), time=time, **kw))


def _av(obj: Obj) -> str:
    return str(obj.get("apiVersion") or "apps/v1")


def entry(obj: Obj, manager: str) -> Obj:
    found = [e for e in obj["metadata"].get("managedFields", []) if e["manager"] == manager]
    assert len(found) == 1, f"{manager}: {obj['metadata'].get('managedFields')}"
    return found[0]


def owned(obj: Obj, manager: str) -> set[str]:
    """The paths ``manager`` owns, in upstream's text form."""
    fields = fm.parse_fields_v1(entry(obj, manager)["fieldsV1"])
    return {fm.path_text(p) for p in fields.paths()}


def managers(obj: Obj) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])]


IMAGE = '.spec.template.spec.containers[name="app"].image'
APP = '.spec.template.spec.containers[name="app"]'


# --- FieldsV1 ------------------------------------------------------------------------------


FIELDS_V1 = {
    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
    "f:spec": {
        "f:containers": {
            'k:{"name":"app"}': {
                ".": {},
                "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:name": {}}},
            }
        },
        "f:finalizers": {"v:1": {}, 'v:"a"': {}, "v:true": {}},
        "f:tuple": {"i:0": {}},
    },
}


def test_fields_v1_round_trips_in_upstream_order() -> None:
    fields = fm.parse_fields_v1(FIELDS_V1)
    assert json.dumps(fm.serialize_fields_v1(fields)) == json.dumps(FIELDS_V1)
    assert [fm.path_text(p) for p in fields.paths()] == [
        ".metadata.labels",
        ".metadata.labels.app",
        '.spec.containers[name="app"]',
        '.spec.containers[name="app"].ports[containerPort=80,protocol="TCP"]',
        '.spec.containers[name="app"].ports[containerPort=80,protocol="TCP"].name',
        ".spec.finalizers[=1]",
        '.spec.finalizers[="a"]',
        ".spec.finalizers[=true]",
        ".spec.tuple[0]",
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {"f:b": {}, "f:a": {}, 'k:{"x":1}': {}, "v:2": {}, "i:3": {}},
            ["f:a", "f:b", 'k:{"x":1}', "v:2", "i:3"],
            id="fields-keys-values-indexes",
        ),
        pytest.param(
            {'v:"b"': {}, "v:10": {}, "v:2": {}, "v:null": {}, "v:false": {}},
            ["v:2", "v:10", 'v:"b"', "v:false", "v:null"],
            id="values-numbers-strings-bools-null",
        ),
        pytest.param(
            {'k:{"protocol":"TCP","containerPort":80}': {}},
            ['k:{"containerPort":80,"protocol":"TCP"}'],
            id="key-fields-sorted",
        ),
        pytest.param({"x:unknown": {}, "f:a": {}}, ["f:a"], id="unknown-kind-skipped"),
    ],
)
def test_fields_v1_normalises_and_orders(raw: Obj, expected: list[str]) -> None:
    assert list(fm.serialize_fields_v1(fm.parse_fields_v1(raw))) == expected


def test_fields_v1_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="missing colon"):
        fm.parse_fields_v1({"metadata": {}})
    with pytest.raises(ValueError):
        fm.parse_fields_v1({"f:a": []})


@pytest.mark.parametrize(
    ("op", "a", "b", "expected"),
    [
        pytest.param("union", ["a", "b.c"], ["b.d"], {".a", ".b.c", ".b.d"}, id="union"),
        pytest.param(
            "intersection", ["a", "b.c", "b.d"], ["b.c", "x"], {".b.c"}, id="intersection"
        ),
        pytest.param(
            "difference", ["a", "a.b", "c"], ["a"], {".a.b", ".c"}, id="difference-member-wise"
        ),
        pytest.param(
            "recursive_difference", ["a", "a.b", "c"], ["a"], {".c"}, id="recursive-difference"
        ),
    ],
)
def test_set_algebra(op: str, a: list[str], b: list[str], expected: set[str]) -> None:
    left, right = FieldSet.of_fields(*a), FieldSet.of_fields(*b)
    result = getattr(left, op)(right)
    assert {fm.path_text(p) for p in result.paths()} == expected
    assert left == FieldSet.of_fields(*a) and right == FieldSet.of_fields(*b)  # untouched


# --- fields_of ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            deployment(container("app", image="x", args=["a"], ports=[{"containerPort": 80}])),
            {
                ".apiVersion",
                ".kind",
                ".metadata.name",
                ".metadata.namespace",
                ".spec.selector",  # LabelSelector is an atomic map
                ".spec.template.metadata.labels.app",
                APP,
                APP + ".name",
                IMAGE,
                APP + ".args",  # args: atomic list
                APP + '.ports[containerPort=80,protocol="TCP"]',  # protocol from its default
                APP + '.ports[containerPort=80,protocol="TCP"].containerPort',
            },
            id="deployment",
        ),
        pytest.param(
            {"spec": {"replicas": None, "strategy": {}, "template": {"spec": {"containers": []}}}},
            {".spec.replicas", ".spec.strategy"},  # null and {} are owned; [] sets nothing
            id="null-empty-map-empty-list",
        ),
    ],
)
def test_fields_of(obj: Obj, expected: set[str]) -> None:
    assert {fm.path_text(p) for p in fm.fields_of(obj, DEPLOYMENT).paths()} == expected


def test_fields_of_deduced_schema_owns_every_map_key() -> None:
    obj = {"spec": {"a": {"b": 1}, "list": [1, 2]}}
    assert {fm.path_text(p) for p in fm.fields_of(obj, None).paths()} == {
        ".spec",
        ".spec.a",
        ".spec.a.b",
        ".spec.list",  # lists are atomic without a schema
    }


# --- update: create, update, patch --------------------------------------------------------


def test_create_owns_everything_set() -> None:
    obj = deployment(container("app", image="nginx", ports=[{"containerPort": 80}]), replicas=1)
    obj["metadata"]["labels"] = {"app": "web"}
    obj["status"] = {}
    out = fm.update(
        None, obj, manager="kubectl-create", api_version="apps/v1", time=T0, schema=DEPLOYMENT
    )
    assert out["metadata"]["managedFields"] == [
        {
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {
                            "f:containers": {
                                'k:{"name":"app"}': {
                                    ".": {},
                                    "f:image": {},
                                    "f:name": {},
                                    "f:ports": {
                                        ".": {},
                                        'k:{"containerPort":80,"protocol":"TCP"}': {
                                            ".": {},
                                            "f:containerPort": {},
                                        },
                                    },
                                }
                            }
                        },
                    },
                },
            },
        }
    ]
    assert obj["metadata"] == {"name": "web", "namespace": "default", "labels": {"app": "web"}}


def test_update_moves_changed_fields_to_the_writer() -> None:
    live = create(deployment(container("app", image="a:1"), replicas=1))
    new = copy.deepcopy(live)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "a:2"
    out = update(live, new, "kubectl-set", time=T2)
    assert owned(out, "kubectl-set") == {IMAGE}
    assert IMAGE not in owned(out, "creator")
    assert entry(out, "kubectl-set")["time"] == T2
    assert entry(out, "creator")["time"] == T0
    assert managers(out) == [("creator", "Update"), ("kubectl-set", "Update")]


def test_update_that_changes_nothing_records_nothing() -> None:
    live = create(deployment(container("app", image="a:1")))
    out = update(live, copy.deepcopy(live), "someone", time=T3)
    assert managers(out) == [("creator", "Update")]
    assert entry(out, "creator")["time"] == T0


def test_update_removing_a_field_drops_it_from_every_owner() -> None:
    live = create(deployment(container("app", image="a:1"), replicas=1))
    new = copy.deepcopy(live)
    del new["spec"]["replicas"]
    out = update(live, new, "scaler", time=T2)
    assert ".spec.replicas" not in owned(out, "creator")
    assert managers(out) == [("creator", "Update")]  # removing owns nothing


def test_update_of_an_untracked_object_stays_untracked() -> None:
    live = stored(deployment(container("app", image="a:1")))
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 4
    assert "managedFields" not in update(live, new, "x")["metadata"]


@pytest.mark.parametrize("reset", [[], [{}]], ids=["empty-list", "one-empty-entry"])
def test_update_can_reset_managed_fields(reset: list[Obj]) -> None:
    live = create(deployment(container("app", image="a:1")))
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = reset
    assert "managedFields" not in update(live, new, "x")["metadata"]


def test_update_honours_managed_fields_in_the_request_but_not_on_subresources() -> None:
    live = create(deployment(container("app", image="a:1"), replicas=1))
    new = copy.deepcopy(live)
    mine = {
        "manager": "handmade",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:replicas": {}}},
    }
    new["metadata"]["managedFields"] = [mine]
    assert managers(update(live, new, "x")) == [("handmade", "Update")]
    kept = update(live, new, "x", subresource="status")
    assert managers(kept) == [("creator", "Update")]


def test_update_of_status_owns_only_status() -> None:
    live = create({**deployment(container("app", image="a:1"), replicas=1), "status": {}})
    new = copy.deepcopy(live)
    new["status"] = {"replicas": 1}
    new["spec"]["replicas"] = 9  # the status strategy will reset it
    out = update(live, new, "kube-controller-manager", subresource="status", time=T2)
    status_entry = entry(out, "kube-controller-manager")
    assert status_entry["subresource"] == "status"
    assert owned(out, "kube-controller-manager") == {".status.replicas"}
    assert ".spec.replicas" in owned(out, "creator")


def test_update_managers_are_capped_at_ten() -> None:
    live = create(deployment(container("app", image="a:0")))
    for i in range(1, 12):
        new = copy.deepcopy(live)
        new["metadata"].setdefault("annotations", {})[f"w{i}"] = "x"
        live = update(live, new, f"writer-{i:02d}", time=f"2024-05-01T11:{i:02d}:00Z")
    names = [m for m, _ in managers(live)]
    assert names == ["ancient-changes", *(f"writer-{i:02d}" for i in range(3, 12))]
    # the creator and the two oldest writers were folded into one entry, which keeps the
    # time of the newest of them
    assert owned(live, "ancient-changes") == {
        APP,
        APP + ".name",
        IMAGE,
        ".spec.selector",
        ".spec.template.metadata.labels",
        ".spec.template.metadata.labels.app",
        ".metadata.annotations",
        ".metadata.annotations.w1",
        ".metadata.annotations.w2",
    }
    assert entry(live, "ancient-changes")["time"] == "2024-05-01T11:02:00Z"


# --- apply ---------------------------------------------------------------------------------


def test_apply_creates_and_owns_exactly_its_configuration() -> None:
    cfg = config(spec={"replicas": 2, **pod_spec(container("app", image="a:1"))})
    out = apply(None, cfg, "ssa")
    assert managers(out) == [("ssa", "Apply")]
    assert owned(out, "ssa") == {".spec.replicas", APP, APP + ".name", IMAGE}
    assert entry(out, "ssa") == {
        "manager": "ssa",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "time": T1,
        "fieldsType": "FieldsV1",
        "fieldsV1": entry(out, "ssa")["fieldsV1"],
    }
    assert out["spec"]["replicas"] == 2


def test_conflict_with_an_updater() -> None:
    live = create(
        deployment(container("app", image="a:1"), replicas=1), "kubectl-client-side-apply"
    )
    with pytest.raises(fm.Conflicts) as caught:
        apply(live, config(spec={"replicas": 3}), "ssa")
    assert str(caught.value) == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1:'
        " .spec.replicas"
    )
    assert fm.conflict_status(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": caught.value.message,
        "reason": "Conflict",
        "details": {
            "causes": [
                {
                    "reason": "FieldManagerConflict",
                    "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
                    "field": ".spec.replicas",
                }
            ]
        },
        "code": 409,
    }


def test_many_conflicts_are_grouped_by_manager() -> None:
    live = apply(None, config(spec={"replicas": 1}), "alpha")
    new = copy.deepcopy(live)
    new["spec"]["paused"] = True
    new["spec"]["minReadySeconds"] = 5
    live = update(live, new, "beta", time=T2)
    cfg = config(spec={"replicas": 2, "paused": False, "minReadySeconds": 6})
    with pytest.raises(fm.Conflicts) as caught:
        apply(live, cfg, "gamma")
    assert caught.value.message == (
        'Apply failed with 3 conflicts: conflicts with "alpha":\n'
        "- .spec.replicas\n"
        'conflicts with "beta" using apps/v1:\n'
        "- .spec.minReadySeconds\n"
        "- .spec.paused"
    )
    assert [c.manager for c in caught.value.conflicts] == ["alpha", "beta", "beta"]


def test_forced_apply_takes_ownership() -> None:
    live = create(deployment(container("app", image="a:1"), replicas=1))
    out = apply(live, config(spec={"replicas": 3}), "ssa", force=True)
    assert out["spec"]["replicas"] == 3
    assert owned(out, "ssa") == {".spec.replicas"}
    assert ".spec.replicas" not in owned(out, "creator")
    assert managers(out) == [("ssa", "Apply"), ("creator", "Update")]


def test_two_appliers_agreeing_share_ownership() -> None:
    live = apply(None, config(spec={"replicas": 2}), "one")
    out = apply(live, config(spec={"replicas": 2}), "two", time=T2)
    assert owned(out, "one") == owned(out, "two") == {".spec.replicas"}
    assert "time" not in entry(out, "two")  # the object did not change


def test_apply_without_changes_keeps_the_time() -> None:
    cfg = config(spec={"replicas": 2})
    live = apply(None, cfg, "one", time=T1)
    again = apply(live, cfg, "one", time=T3)
    assert entry(again, "one")["time"] == T1
    assert again == live


# a chain of applies (manager, configuration) and what the last leaves behind
CHAINS = [
    pytest.param(
        [("one", {"replicas": 2, "paused": True}), ("one", {"replicas": 2})],
        {"replicas": 2},
        {"one": {".spec.replicas"}},
        id="removed-field-sole-owner-goes",
    ),
    pytest.param(
        [
            ("one", {"replicas": 2, "paused": True}),
            ("two", {"paused": True}),
            ("one", {"replicas": 2}),
        ],
        {"replicas": 2, "paused": True},
        {"one": {".spec.replicas"}, "two": {".spec.paused"}},
        id="removed-field-another-applier-owns-stays",
    ),
    pytest.param(
        [
            ("one", pod_spec(container("a", image="a"), container("b", image="b"))),
            ("two", pod_spec(container("c", image="c"))),
            ("one", pod_spec(container("a", image="a"))),
        ],
        pod_spec(container("a", image="a"), container("c", image="c")),
        {
            "one": {
                '.spec.template.spec.containers[name="a"]',
                '.spec.template.spec.containers[name="a"].name',
                '.spec.template.spec.containers[name="a"].image',
            },
            "two": {
                '.spec.template.spec.containers[name="c"]',
                '.spec.template.spec.containers[name="c"].name',
                '.spec.template.spec.containers[name="c"].image',
            },
        },
        id="containers-merged-by-name-and-pruned",
    ),
    pytest.param(
        [
            ("one", pod_spec(container("app", env=[{"name": "A", "value": "1"}]))),
            ("two", pod_spec(container("app", env=[{"name": "B", "value": "2"}]))),
        ],
        pod_spec(container("app", env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])),
        {
            "one": {
                APP,
                APP + ".name",
                APP + '.env[name="A"]',
                APP + '.env[name="A"].name',
                APP + '.env[name="A"].value',
            },
            "two": {
                APP,
                APP + ".name",
                APP + '.env[name="B"]',
                APP + '.env[name="B"].name',
                APP + '.env[name="B"].value',
            },
        },
        id="env-merged-by-name",
    ),
    pytest.param(
        [
            ("one", pod_spec(container("app", ports=[{"containerPort": 80}]))),
            (
                "two",
                pod_spec(
                    container(
                        "app",
                        ports=[
                            {"containerPort": 80, "protocol": "UDP"},
                            {"containerPort": 80, "protocol": "TCP", "name": "http"},
                        ],
                    )
                ),
            ),
        ],
        pod_spec(  # items the configuration names come in its order
            container(
                "app",
                ports=[
                    {"containerPort": 80, "protocol": "UDP"},
                    {"containerPort": 80, "protocol": "TCP", "name": "http"},
                ],
            )
        ),
        {
            "one": {
                APP,
                APP + ".name",
                APP + '.ports[containerPort=80,protocol="TCP"]',
                APP + '.ports[containerPort=80,protocol="TCP"].containerPort',
            },
            "two": {
                APP,
                APP + ".name",
                APP + '.ports[containerPort=80,protocol="TCP"]',
                APP + '.ports[containerPort=80,protocol="TCP"].containerPort',
                APP + '.ports[containerPort=80,protocol="TCP"].protocol',
                APP + '.ports[containerPort=80,protocol="TCP"].name',
                APP + '.ports[containerPort=80,protocol="UDP"]',
                APP + '.ports[containerPort=80,protocol="UDP"].containerPort',
                APP + '.ports[containerPort=80,protocol="UDP"].protocol',
            },
        },
        id="ports-by-container-port-and-protocol",
    ),
    pytest.param(
        [
            ("one", pod_spec(container("app", image="x", args=["a", "b"]))),
            ("one", pod_spec(container("app", image="x", args=["c"]))),
        ],
        pod_spec(container("app", image="x", args=["c"])),
        {"one": {APP, APP + ".name", IMAGE, APP + ".args"}},
        id="atomic-args-replaced-whole",
    ),
]


@pytest.mark.parametrize(("steps", "spec", "expected"), CHAINS)
def test_apply_chains(
    steps: list[tuple[str, Obj]], spec: Obj, expected: dict[str, set[str]]
) -> None:
    live: Obj | None = None
    for i, (manager, part) in enumerate(steps):
        live = apply(live, config(spec=part), manager, time=f"2024-05-01T12:0{i}:00Z")
    assert live is not None
    assert live["spec"] == spec
    assert {m: owned(live, m) for m, _ in managers(live)} == expected


def test_atomic_list_conflicts_as_a_whole_and_force_replaces_it() -> None:
    live = apply(None, config(spec=pod_spec(container("app", args=["a", "b"]))), "one")
    cfg = config(spec=pod_spec(container("app", args=["c"])))
    with pytest.raises(fm.Conflicts) as caught:
        apply(live, cfg, "two")
    assert [c.path for c in caught.value.conflicts] == [APP + ".args"]
    out = apply(live, cfg, "two", force=True)
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "app", "args": ["c"]}]
    assert APP + ".args" not in owned(out, "one")


def test_labels_are_granular() -> None:
    live = apply(None, config(metadata={"name": "web", "labels": {"a": "1"}}), "one")
    live = apply(live, config(metadata={"name": "web", "labels": {"b": "2"}}), "two")
    assert live["metadata"]["labels"] == {"a": "1", "b": "2"}
    assert owned(live, "one") == {".metadata.labels.a"}
    out = apply(live, config(metadata={"name": "web"}), "one", time=T3)
    assert out["metadata"]["labels"] == {"b": "2"}
    assert managers(out) == [("two", "Apply")]  # one owns nothing any more


def test_removed_field_an_updater_also_owns_stays() -> None:
    live = apply(None, config(spec={"replicas": 2, "paused": True}), "one")
    new = copy.deepcopy(live)
    new["spec"]["paused"] = False
    live = update(live, new, "pauser", time=T2)
    out = apply(live, config(spec={"replicas": 2}), "one", time=T3)
    assert out["spec"] == {"replicas": 2, "paused": False}


def test_set_list_of_primitives_merges_by_value() -> None:
    live = apply(None, config(metadata={"name": "web", "finalizers": ["a", "b"]}), "one")
    live = apply(live, config(metadata={"name": "web", "finalizers": ["c"]}), "two")
    assert live["metadata"]["finalizers"] == ["a", "b", "c"]
    assert owned(live, "two") == {'.metadata.finalizers[="c"]'}
    out = apply(live, config(metadata={"name": "web", "finalizers": ["a"]}), "one", time=T3)
    assert out["metadata"]["finalizers"] == ["a", "c"]


def test_int_or_string_is_a_scalar() -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    live = apply(None, config(spec={"strategy": strategy}), "one")
    cfg = config(spec={"strategy": {"rollingUpdate": {"maxSurge": "50%"}}})
    with pytest.raises(fm.Conflicts) as caught:
        apply(live, cfg, "two")
    assert [c.path for c in caught.value.conflicts] == [".spec.strategy.rollingUpdate.maxSurge"]


def test_explicit_null_takes_the_field_and_drops_it() -> None:
    live = create(deployment(container("app", image="a:1"), replicas=3))
    with pytest.raises(fm.Conflicts):
        apply(live, config(spec={"replicas": None}), "ssa")
    out = apply(live, config(spec={"replicas": None}), "ssa", force=True)
    assert "replicas" not in out["spec"]
    assert owned(out, "ssa") == {".spec.replicas"}


def test_status_is_not_owned_through_the_main_resource() -> None:
    out = apply(None, config(spec={"replicas": 1}, status={"replicas": 5}), "ssa")
    assert owned(out, "ssa") == {".spec.replicas"}
    # the merged object still says it: the registry's strategy resets status, as upstream
    assert out["status"] == {"replicas": 5}


def test_apply_to_the_status_subresource_owns_only_status() -> None:
    live = apply(None, config(spec={"replicas": 1}), "ssa")
    out = apply(live, config(status={"replicas": 1}), "ctrl", subresource="status", time=T2)
    assert owned(out, "ctrl") == {".status.replicas"}
    assert entry(out, "ctrl")["subresource"] == "status"
    assert owned(out, "ssa") == {".spec.replicas"}  # not pruned by the status applier


def test_first_apply_to_an_untracked_object_records_before_first_apply() -> None:
    live = stored(deployment(container("app", image="a:1"), replicas=1))
    with pytest.raises(fm.Conflicts) as caught:
        apply(live, config(spec={"replicas": 2}), "ssa")
    assert caught.value.message.endswith(
        'conflict with "before-first-apply" using apps/v1: .spec.replicas'
    )
    out = apply(live, config(spec={"replicas": 2}), "ssa", force=True)
    assert managers(out) == [("ssa", "Apply"), ("before-first-apply", "Update")]
    assert IMAGE in owned(out, "before-first-apply")


def test_apply_version_and_kind_are_not_owned() -> None:
    out = apply(None, config(spec={"replicas": 1}), "ssa")
    assert not any(
        p.startswith((".apiVersion", ".kind", ".metadata.name")) for p in owned(out, "ssa")
    )


def test_entries_are_ordered_apply_first_then_by_time() -> None:
    live = create(deployment(container("app", image="a:1"), replicas=1), "zeta")
    live = apply(live, config(spec={"paused": True}), "beta", time=T3)
    live = apply(live, config(spec={"minReadySeconds": 1}), "alpha", time=T2)
    assert managers(live) == [("alpha", "Apply"), ("beta", "Apply"), ("zeta", "Update")]


def test_apply_without_schema_treats_maps_as_granular_and_lists_as_atomic() -> None:
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    one = {**cr, "spec": {"size": 1, "tags": ["a"]}}
    live = apply(None, one, "one", schema=None)
    live = apply(live, {**cr, "spec": {"color": "red"}}, "two", schema=None)
    assert live["spec"] == {"size": 1, "tags": ["a"], "color": "red"}
    assert owned(live, "two") == {".spec", ".spec.color"}
    with pytest.raises(fm.Conflicts):
        apply(live, {**cr, "spec": {"tags": ["b"]}}, "two", schema=None)


def test_apply_to_a_crd_schema_uses_its_list_types() -> None:
    defs = Definitions(
        {
            "Widget": {
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "properties": {
                            "items": {
                                "type": "array",
                                "x-kubernetes-list-type": "map",
                                "x-kubernetes-list-map-keys": ["id"],
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "integer"},
                                        "v": {"type": "string"},
                                    },
                                },
                            }
                        },
                    },
                },
            }
        }
    )
    node = defs.node("Widget")
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    live = apply(None, {**cr, "spec": {"items": [{"id": 1, "v": "a"}]}}, "one", schema=node)
    live = apply(live, {**cr, "spec": {"items": [{"id": 2, "v": "b"}]}}, "two", schema=node)
    assert live["spec"]["items"] == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
    assert owned(live, "two") == {
        ".spec.items[id=2]",
        ".spec.items[id=2].id",
        ".spec.items[id=2].v",
    }


# --- kubectl client-side apply → server-side apply ---------------------------------------


def _client_side_applied(replicas: int, annotated_replicas: int) -> Obj:
    obj = deployment(container("app", image="a:1"), replicas=replicas)
    last = deployment(container("app", image="a:1"), replicas=annotated_replicas)
    del last["metadata"]["namespace"]
    obj["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(last)}
    return create(obj, "kubectl-client-side-apply")


def test_kubectl_server_side_apply_takes_over_client_side_applied_fields() -> None:
    live = _client_side_applied(replicas=2, annotated_replicas=2)
    cfg = config(spec={"replicas": 3, **pod_spec(container("app", image="a:1"))})
    out = apply(live, cfg, "kubectl")
    assert out["spec"]["replicas"] == 3
    assert owned(out, "kubectl") >= {".spec.replicas", IMAGE}
    assert ".spec.replicas" not in owned(out, "kubectl-client-side-apply")
    assert IMAGE in owned(out, "kubectl-client-side-apply")  # same value: shared
    # the annotation follows the new configuration, as kubectl's client would write it
    assert json.loads(out["metadata"]["annotations"][LAST_APPLIED]) == cfg
    assert out["metadata"]["annotations"][LAST_APPLIED].endswith("\n")


@pytest.mark.parametrize(
    ("manager", "annotated"),
    [
        pytest.param("kubectl-other", 2, id="only-the-kubectl-manager-migrates"),
        pytest.param("kubectl", 5, id="field-changed-since-client-side-apply"),
    ],
)
def test_client_side_apply_conflicts_that_remain(manager: str, annotated: int) -> None:
    live = _client_side_applied(replicas=2, annotated_replicas=annotated)
    with pytest.raises(fm.Conflicts) as caught:
        apply(live, config(spec={"replicas": 3}), manager)
    assert caught.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1:'
        " .spec.replicas"
    )


# --- refused bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cfg", "code", "message"),
    [
        pytest.param(
            {"metadata": {"name": "web"}}, 400, "invalid object type: /, Kind=", id="no-type"
        ),
        pytest.param(
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"}},
            400,
            "invalid object type: apps/v1, Kind=StatefulSet",
            id="wrong-kind",
        ),
        pytest.param(
            {"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "web"}},
            400,
            "invalid object type: apps/v1beta1, Kind=Deployment",
            id="wrong-version",
        ),
        pytest.param(
            config(metadata={"name": "web", "managedFields": []}),
            400,
            "metadata.managedFields must be nil",
            id="managed-fields",
        ),
        pytest.param(
            config(spec=pod_spec({"image": "x"})),
            500,
            "failed to create typed patch object (/web; apps/v1, Kind=Deployment): "
            ".spec.template.spec.containers: element 0: associative list with keys has an "
            'element that omits key field "name" (and doesn\'t have default value)',
            id="item-without-key",
        ),
        pytest.param(
            config(spec=pod_spec(container("a"), container("a"))),
            500,
            "failed to create typed patch object (/web; apps/v1, Kind=Deployment): "
            '.spec.template.spec.containers: duplicate entries for key [name="a"]',
            id="duplicate-key",
        ),
        pytest.param(
            config(spec={"replica": 1}),
            500,
            "failed to create typed patch object (/web; apps/v1, Kind=Deployment): "
            ".spec.replica: field not declared in schema",
            id="undeclared-field",
        ),
    ],
)
def test_refused_configurations(cfg: Obj, code: int, message: str) -> None:
    with pytest.raises(fm.ApplyError) as caught:
        fm.apply(
            None,
            cfg,
            manager="m",
            api_version="apps/v1",
            time=T1,
            force=False,
            schema=DEPLOYMENT,
            kind="Deployment",
        )
    assert (caught.value.code, caught.value.message) == (code, message)


def test_apply_checks_the_name_in_the_url() -> None:
    with pytest.raises(
        fm.ApplyError,
        match=r"the name of the object \(web\) does not match the name on the URL \(api\)",
    ):
        fm.apply(
            None,
            config(),
            manager="m",
            api_version="apps/v1",
            time=T1,
            force=False,
            schema=DEPLOYMENT,
            name="api",
        )


def test_inputs_are_not_modified() -> None:
    live = create(deployment(container("app", image="a:1"), replicas=1))
    cfg = config(spec={"replicas": None, **pod_spec(container("app", image="b"))})
    before = (copy.deepcopy(live), copy.deepcopy(cfg))
    apply(live, cfg, "ssa", force=True)
    assert (live, cfg) == before


def test_conflict_names_the_subresource_an_updater_wrote() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [container("app", image="a")]},
        "status": {},
    }
    live = create(pod, "kubectl", schema=POD)
    new = copy.deepcopy(live)
    new["status"] = {"phase": "Running"}
    live = update(live, new, "kubelet", subresource="status", schema=POD)
    cfg = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "status": {"phase": "Failed"},
    }
    with pytest.raises(fm.Conflicts) as caught:
        apply(live, cfg, "ctrl", subresource="status", schema=POD)
    assert caught.value.message == (
        'Apply failed with 1 conflict: conflict with "kubelet" with subresource "status" using v1:'
        " .status.phase"
    )


def test_reset_fields_override_the_defaults() -> None:
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    applied = {**cr, "spec": {"a": 1}, "status": {"b": 2}}
    out = apply(None, applied, "one", schema=None, reset_fields=FieldSet())
    assert owned(out, "one") == {".spec", ".spec.a", ".status", ".status.b"}
    out = apply(None, applied, "one", schema=None, reset_fields=FieldSet.of_fields("spec"))
    assert owned(out, "one") == {".status", ".status.b"}
