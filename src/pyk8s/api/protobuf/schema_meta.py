"""Protobuf schema table: apimachinery messages (meta/v1 object metadata, label
selectors, conditions, delete options) reachable from ``schema_kinds.KINDS``.

Facts from upstream ``generated.proto`` (numbers, types, repeated/map) and
``types.go`` tags (JSON names, pointers, omitempty, inlining), extracted by an
offline script kept out of the repository; ``schema_kinds`` documents the
entries.
"""

from __future__ import annotations

from typing import Final

from pyk8s.api.protobuf.schema_kinds import Field

MESSAGES: Final[dict[str, dict[int, Field]]] = {
    "meta.v1.Condition": {
        1: ("type", "string", "keep", None),
        2: ("status", "string", "keep", None),
        3: ("observedGeneration", "int64", "omit", None),
        4: ("lastTransitionTime", "time", "keep", None),
        5: ("reason", "string", "keep", None),
        6: ("message", "string", "keep", None),
    },
    "meta.v1.DeleteOptions": {
        1: ("gracePeriodSeconds", "int64", "opt", None),
        2: ("preconditions", "message", "opt", "meta.v1.Preconditions"),
        3: ("orphanDependents", "bool", "opt", None),
        4: ("propagationPolicy", "string", "opt", None),
        5: ("dryRun", "string", "rep", None),
        6: ("ignoreStoreReadErrorWithClusterBreakingPotential", "bool", "opt", None),
    },
    "meta.v1.FieldSelectorRequirement": {
        1: ("key", "string", "keep", None),
        2: ("operator", "string", "keep", None),
        3: ("values", "string", "rep", None),
    },
    "meta.v1.LabelSelector": {
        1: ("matchLabels", "string", "map", None),
        2: ("matchExpressions", "message", "rep", "meta.v1.LabelSelectorRequirement"),
    },
    "meta.v1.LabelSelectorRequirement": {
        1: ("key", "string", "keep", None),
        2: ("operator", "string", "keep", None),
        3: ("values", "string", "rep", None),
    },
    "meta.v1.ManagedFieldsEntry": {
        1: ("manager", "string", "omit", None),
        2: ("operation", "string", "omit", None),
        3: ("apiVersion", "string", "omit", None),
        4: ("time", "time", "opt", None),
        6: ("fieldsType", "string", "omit", None),
        7: ("fieldsV1", "fieldsv1", "opt", None),
        8: ("subresource", "string", "omit", None),
    },
    "meta.v1.ObjectMeta": {
        1: ("name", "string", "omit", None),
        2: ("generateName", "string", "omit", None),
        3: ("namespace", "string", "omit", None),
        4: ("selfLink", "string", "omit", None),
        5: ("uid", "string", "omit", None),
        6: ("resourceVersion", "string", "omit", None),
        7: ("generation", "int64", "omit", None),
        8: ("creationTimestamp", "time", "keep", None),
        9: ("deletionTimestamp", "time", "opt", None),
        10: ("deletionGracePeriodSeconds", "int64", "opt", None),
        11: ("labels", "string", "map", None),
        12: ("annotations", "string", "map", None),
        13: ("ownerReferences", "message", "rep", "meta.v1.OwnerReference"),
        14: ("finalizers", "string", "rep", None),
        17: ("managedFields", "message", "rep", "meta.v1.ManagedFieldsEntry"),
    },
    "meta.v1.OwnerReference": {
        1: ("kind", "string", "keep", None),
        3: ("name", "string", "keep", None),
        4: ("uid", "string", "keep", None),
        5: ("apiVersion", "string", "keep", None),
        6: ("controller", "bool", "opt", None),
        7: ("blockOwnerDeletion", "bool", "opt", None),
    },
    "meta.v1.Preconditions": {
        1: ("uid", "string", "opt", None),
        2: ("resourceVersion", "string", "opt", None),
    },
}
