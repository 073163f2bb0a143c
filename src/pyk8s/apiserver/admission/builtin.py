"""Built-in admission plugins that upstream enables by default and that change what gets
stored, run before the webhooks:

- Priority: resolves ``spec.priorityClassName`` (or the global default PriorityClass) into
  ``spec.priority`` and ``spec.preemptionPolicy``; an unknown class is refused (403).
- DefaultStorageClass: a PersistentVolumeClaim without a class gets the default one.
- DefaultTolerationSeconds: pods tolerate ``node.kubernetes.io/not-ready`` and
  ``node.kubernetes.io/unreachable`` (NoExecute) for 300 s unless they say otherwise.

``Sequence`` runs several chains in order (mutations first, then validations).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pyk8s.api import errors
from pyk8s.apiserver.admission import Attributes, Chain

__all__ = ["SYSTEM_PRIORITY_CLASSES", "BuiltinAdmission", "ChainSequence"]

Obj = dict[str, Any]

DEFAULT_TOLERATION_SECONDS = 300
_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")

# the two classes upstream's apiserver creates at start
SYSTEM_PRIORITY_CLASSES: tuple[Obj, ...] = (
    {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "system-node-critical"},
        "value": 2000001000,
        "description": "Used for system critical pods that must not be moved from their current node.",
    },
    {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "system-cluster-critical"},
        "value": 2000000000,
        "description": "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    },
)


def add_default_tolerations(pod: Obj) -> None:
    spec = pod.setdefault("spec", {})
    tolerations: list[Obj] = list(spec.get("tolerations") or [])
    for key in _TAINTS:
        if any(
            (t.get("key") == key or (not t.get("key") and t.get("operator") == "Exists"))
            and t.get("effect") in (None, "", "NoExecute")
            for t in tolerations
        ):
            continue
        tolerations.append(
            {
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }
        )
    spec["tolerations"] = tolerations


class BuiltinAdmission:
    def __init__(
        self,
        *,
        priority_classes: Callable[[], list[Obj]],
        storage_classes: Callable[[], list[Obj]] = list,
    ) -> None:
        self.priority_classes = priority_classes
        self.storage_classes = storage_classes

    async def mutate(self, attrs: Attributes, obj: Obj, old: Obj | None) -> Obj:
        res = attrs.resource
        if (
            res.key == ("", "persistentvolumeclaims")
            and attrs.operation == "CREATE"
            and attrs.subresource is None
        ):
            self._default_storage_class(obj)
            return obj
        if res.key != ("", "pods") or attrs.subresource is not None:
            return obj
        if attrs.operation == "CREATE":
            self._priority(attrs, obj)
            add_default_tolerations(obj)
        return obj

    def _default_storage_class(self, claim: Obj) -> None:
        """DefaultStorageClass: a claim that names no class (absent, not "") gets the
        default one, the newest if several are marked default."""
        spec = claim.setdefault("spec", {})
        if spec.get("storageClassName") is not None:
            return
        defaults = [
            c
            for c in self.storage_classes()
            if ((c.get("metadata") or {}).get("annotations") or {}).get(
                "storageclass.kubernetes.io/is-default-class"
            )
            == "true"
        ]
        if defaults:
            newest = max(defaults, key=lambda c: c["metadata"].get("creationTimestamp") or "")
            spec["storageClassName"] = newest["metadata"]["name"]

    def _priority(self, attrs: Attributes, pod: Obj) -> None:
        spec = pod.setdefault("spec", {})
        name = spec.get("priorityClassName")
        classes = self.priority_classes()
        chosen: Obj | None = None
        if name:
            chosen = next((c for c in classes if c["metadata"]["name"] == name), None)
            if chosen is None:
                raise errors.forbidden(
                    f'pods "{attrs.name}" is forbidden: no PriorityClass with name {name} was found',
                    {"name": attrs.name, "kind": "pods"},
                )
        else:
            chosen = next((c for c in classes if c.get("globalDefault")), None)
            if chosen is not None:
                spec["priorityClassName"] = chosen["metadata"]["name"]
        value = int(chosen.get("value", 0)) if chosen else 0
        if "priority" in spec and spec["priority"] != value and chosen is not None:
            raise errors.forbidden(
                f'pods "{attrs.name}" is forbidden: the integer value of priority ({spec["priority"]}) '
                f"must not be provided in pod spec; priority admission controller computed "
                f"{value} from the given PriorityClass name",
                {"name": attrs.name, "kind": "pods"},
            )
        spec["priority"] = value
        policy = (chosen or {}).get("preemptionPolicy")
        if policy:
            spec["preemptionPolicy"] = policy
        else:
            spec.setdefault("preemptionPolicy", "PreemptLowerPriority")

    async def validate(self, attrs: Attributes, obj: Obj | None, old: Obj | None) -> None:
        return None


class ChainSequence:
    def __init__(self, chains: Sequence[Chain]) -> None:
        self.chains = list(chains)

    async def mutate(self, attrs: Attributes, obj: Obj, old: Obj | None) -> Obj:
        for c in self.chains:
            obj = await c.mutate(attrs, obj, old)
        return obj

    async def validate(self, attrs: Attributes, obj: Obj | None, old: Obj | None) -> None:
        for c in self.chains:
            await c.validate(attrs, obj, old)
