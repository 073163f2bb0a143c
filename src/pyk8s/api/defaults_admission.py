"""Defaulting of admissionregistration.k8s.io/v1 Mutating- and
ValidatingWebhookConfigurations, as upstream 1.33's
``pkg/apis/admissionregistration/v1/defaults.go`` does it.

``default_webhook_configuration(obj, mutating=…)`` fills in, in place, for every webhook:
``failurePolicy: Fail``, ``matchPolicy: Equivalent``, ``namespaceSelector: {}``,
``objectSelector: {}``, ``timeoutSeconds: 10``, ``reinvocationPolicy: Never`` (mutating
only), ``scope: "*"`` on every rule and ``port: 443`` on a service reference. Like Go's
nil-pointer checks it fills only absent or ``null`` fields, never overwrites a value the
client set, and is idempotent. ``sideEffects`` and ``admissionReviewVersions`` have no
default in v1 (validation requires them).
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["default_webhook_configuration"]

Obj = dict[str, Any]

_WEBHOOK_DEFAULTS: Final[tuple[tuple[str, Any], ...]] = (
    ("failurePolicy", "Fail"),
    ("matchPolicy", "Equivalent"),
    ("timeoutSeconds", 10),
)


def default_webhook_configuration(obj: Obj, *, mutating: bool) -> None:
    webhooks = obj.get("webhooks")
    for hook in webhooks if isinstance(webhooks, list) else []:
        if isinstance(hook, dict):
            _webhook(hook, mutating=mutating)


def _webhook(hook: Obj, *, mutating: bool) -> None:
    for key, value in _WEBHOOK_DEFAULTS:
        if hook.get(key) is None:
            hook[key] = value
    for key in ("namespaceSelector", "objectSelector"):
        if hook.get(key) is None:
            hook[key] = {}
    if mutating and hook.get("reinvocationPolicy") is None:
        hook["reinvocationPolicy"] = "Never"
    rules = hook.get("rules")
    for rule in rules if isinstance(rules, list) else []:
        if isinstance(rule, dict) and rule.get("scope") is None:
            rule["scope"] = "*"
    cc = hook.get("clientConfig")
    service = cc.get("service") if isinstance(cc, dict) else None
    if isinstance(service, dict) and service.get("port") is None:
        service["port"] = 443
