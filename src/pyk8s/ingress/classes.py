"""Which Ingresses this controller serves (pure).

An Ingress is ours when
- ``spec.ingressClassName`` names one of our classes (``pyk8s`` or ``nginx`` by default);
- else, when the deprecated ``kubernetes.io/ingress.class`` annotation names one of them
  (ingress-nginx still honours it);
- else (no class at all), when our own IngressClass (``pyk8s``, controller
  ``pyk8s.io/ingress-nginx``) exists and is marked the cluster default with the
  annotation ``ingressclass.kubernetes.io/is-default-class: "true"``.

Upstream's DefaultIngressClass admission plugin fills ``ingressClassName`` on creation;
the last rule covers Ingresses created before the default class existed, as
ingress-nginx does for its default class.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

__all__ = [
    "CLASS_NAME",
    "CONTROLLER",
    "DEFAULT_CLASS_ANNOTATION",
    "DEFAULT_CLASS_NAMES",
    "LEGACY_CLASS_ANNOTATION",
    "handles",
    "is_default_class",
]

Obj = Mapping[str, Any]

CONTROLLER = "pyk8s.io/ingress-nginx"
CLASS_NAME = "pyk8s"
DEFAULT_CLASS_NAMES: tuple[str, ...] = (CLASS_NAME, "nginx")
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def is_default_class(ingress_class: Obj | None) -> bool:
    """True for an IngressClass annotated as the cluster default (the value ``true``)."""
    if not ingress_class:
        return False
    annotations = (ingress_class.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true"


def handles(
    ingress: Obj,
    *,
    classes: Mapping[str, Obj],
    names: Collection[str] = DEFAULT_CLASS_NAMES,
    own_class: str = CLASS_NAME,
) -> bool:
    """Whether ``ingress`` is ours; ``classes`` maps IngressClass names to objects."""
    spec = ingress.get("spec") or {}
    class_name = spec.get("ingressClassName")
    if class_name:
        return str(class_name) in names
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    legacy = annotations.get(LEGACY_CLASS_ANNOTATION)
    if legacy:
        return str(legacy) in names
    own = classes.get(own_class)
    if own is None or (own.get("spec") or {}).get("controller") != CONTROLLER:
        return False
    return is_default_class(own)
