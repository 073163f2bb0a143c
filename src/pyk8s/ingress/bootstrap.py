"""The IngressClass this controller answers for, and creating it when it is missing.

``ingress_class()`` is the manifest (pure): ``networking.k8s.io/v1`` IngressClass
``pyk8s`` with controller ``pyk8s.io/ingress-nginx``, marked the cluster default
(``ingressclass.kubernetes.io/is-default-class: "true"``) unless ``default=False``.
``ensure_ingress_class(client)`` creates it at start when it does not exist; an existing
one is left as it is (an administrator may have turned the default off).
"""

from __future__ import annotations

import logging
from typing import Any

from pyk8s.client import errors, paths, rest
from pyk8s.ingress import classes

__all__ = ["INGRESSCLASSES", "ensure_ingress_class", "ingress_class"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

INGRESSCLASSES = paths.resource_for(
    "networking.k8s.io", "v1", "ingressclasses", namespaced=False, kind="IngressClass"
)


def ingress_class(*, name: str = classes.CLASS_NAME, default: bool = True) -> Obj:
    metadata: Obj = {
        "name": name,
        "labels": {
            "app.kubernetes.io/name": "pyk8s-ingress",
            "app.kubernetes.io/component": "controller",
        },
    }
    if default:
        metadata["annotations"] = {classes.DEFAULT_CLASS_ANNOTATION: "true"}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": metadata,
        "spec": {"controller": classes.CONTROLLER},
    }


async def ensure_ingress_class(client: rest.RESTClient, *, default: bool = True) -> bool:
    """Create the IngressClass unless it exists; True when this call created it."""
    manifest = ingress_class(default=default)
    name = manifest["metadata"]["name"]
    try:
        await client.get(INGRESSCLASSES, name)
        return False
    except errors.NotFound:
        pass
    try:
        await client.create(INGRESSCLASSES, manifest)
    except errors.AlreadyExists:
        return False
    log.info("created IngressClass %s (controller %s)", name, classes.CONTROLLER)
    return True
