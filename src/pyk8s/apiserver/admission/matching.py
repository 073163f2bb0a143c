"""Which admission webhooks a request calls (pure): upstream's rule, namespace-selector and
object-selector predicates (k8s.io/apiserver/pkg/admission/plugin/webhook/predicates) and
``generic.Webhook.ShouldCallHook``.

Contract (upstream 1.33 is the specification):

- ``should_call`` returns the ``Invocation`` to make (the resource and kind the webhook
  is called with) or ``None``. Order of checks as upstream: namespace selector, object
  selector, then the rules; a rule must match the requested resource, or — with
  ``matchPolicy: Equivalent`` (the default) — one of ``equivalents`` (the same objects
  served in another group-version), in which case the invocation names that resource.
  Errors found by the selectors (a selector that does not parse: 500; a namespace that
  does not exist: 404) are raised only when a rule matches, so webhooks that do not apply
  to a request never fail it.
- A rule matches when scope, operation, group, version and resource all match: ``*``
  matches anything; ``pods/status`` names a subresource, ``pods/*`` every subresource of
  pods, ``*/status`` the status of everything, ``*/*`` everything; plain ``pods`` never
  matches a subresource. Scope ``Namespaced`` matches namespaced requests, ``Cluster``
  cluster-scoped ones; the Namespace object itself counts as cluster-scoped.
- The namespace selector applies to namespaced requests and to Namespace objects: a
  Namespace being created or updated is judged by its own labels, any other request by
  the labels of its namespace (``namespace_labels``; ``None`` = no such namespace).
  Cluster-scoped requests always pass. The object selector passes if the new or the old
  object carries matching labels (a missing object never does); ``{}`` selects all.
- ``is_exempt``: requests on the admission configuration kinds themselves never go to
  webhooks, so a broken webhook cannot lock its own configuration.
- Selectors absent from a webhook are treated as ``{}`` (their default). ``matchConditions``
  (CEL) are not evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from pyk8s.api import errors
from pyk8s.api.resources import Resource
from pyk8s.api.selectors import LabelSelector, SelectorError, from_label_selector_obj
from pyk8s.apiserver.admission import Attributes

__all__ = [
    "Invocation",
    "Kind",
    "NamespaceLabels",
    "effective_namespace",
    "is_exempt",
    "kind_for",
    "namespace_selected",
    "object_selected",
    "rule_matches",
    "should_call",
]

Obj = dict[str, Any]
NamespaceLabels = Callable[[str], Mapping[str, str] | None]

ADMISSION_GROUP: Final = "admissionregistration.k8s.io"
_EXEMPT_KINDS: Final = frozenset(
    {
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
    }
)


class Kind(NamedTuple):
    group: str
    version: str
    kind: str


# The kind a subresource request carries (upstream's storage for each subresource);
# subresources not listed (status, ephemeralcontainers, resize, finalize …) carry the
# parent's kind.
_SUBRESOURCE_KINDS: Final[dict[tuple[str, str], Kind]] = {
    ("*", "scale"): Kind("autoscaling", "v1", "Scale"),
    ("pods", "binding"): Kind("", "v1", "Binding"),
    ("pods", "eviction"): Kind("policy", "v1", "Eviction"),
    ("pods", "exec"): Kind("", "v1", "PodExecOptions"),
    ("pods", "attach"): Kind("", "v1", "PodAttachOptions"),
    ("pods", "portforward"): Kind("", "v1", "PodPortForwardOptions"),
    ("pods", "proxy"): Kind("", "v1", "PodProxyOptions"),
    ("services", "proxy"): Kind("", "v1", "ServiceProxyOptions"),
    ("nodes", "proxy"): Kind("", "v1", "NodeProxyOptions"),
    ("serviceaccounts", "token"): Kind("authentication.k8s.io", "v1", "TokenRequest"),
}


@dataclass(frozen=True, slots=True)
class Invocation:
    """A webhook call to make: the resource, subresource and kind the webhook sees."""

    resource: Resource
    subresource: str
    kind: Kind


def kind_for(resource: Resource, subresource: str | None) -> Kind:
    if subresource:
        sub = _SUBRESOURCE_KINDS.get((resource.plural, subresource)) or _SUBRESOURCE_KINDS.get(
            ("*", subresource)
        )
        if sub is not None:
            return sub
    return Kind(resource.group, resource.version, resource.kind)


def is_exempt(attrs: Attributes) -> bool:
    """Upstream's ``IsExemptAdmissionConfigurationResource``."""
    kind = kind_for(attrs.resource, attrs.subresource)
    return kind.group == ADMISSION_GROUP and kind.kind in _EXEMPT_KINDS


def _is_namespace_object(resource: Resource) -> bool:
    return (resource.group, resource.version, resource.plural) == ("", "v1", "namespaces")


def effective_namespace(attrs: Attributes) -> str:
    """``attr.GetNamespace()``: for requests on an existing Namespace object (its URL is
    ``/api/v1/namespaces/<name>``) that is the namespace's own name."""
    if attrs.namespace:
        return attrs.namespace
    if attrs.resource.plural == "namespaces" and attrs.operation != "CREATE":
        return attrs.name
    return ""


def _exact_or_wildcard(items: Any, requested: str) -> bool:
    return isinstance(items, list) and any(i == "*" or i == requested for i in items)


def rule_matches(
    rule: Mapping[str, Any],
    *,
    resource: Resource,
    subresource: str,
    namespace: str,
    operation: str,
) -> bool:
    """One ``RuleWithOperations`` against a request (upstream's ``rules.Matcher``)."""
    scope = rule.get("scope")
    if scope == "Namespaced":
        if _is_namespace_object(resource) or not namespace:
            return False
    elif scope == "Cluster":
        if not (_is_namespace_object(resource) or not namespace):
            return False
    elif scope not in (None, "*"):
        return False
    ops = rule.get("operations")
    if not (isinstance(ops, list) and any(op == "*" or op == operation for op in ops)):
        return False
    if not _exact_or_wildcard(rule.get("apiGroups"), resource.group):
        return False
    if not _exact_or_wildcard(rule.get("apiVersions"), resource.version):
        return False
    resources = rule.get("resources")
    for entry in resources if isinstance(resources, list) else []:
        if not isinstance(entry, str):
            continue
        res, _, sub = entry.partition("/")
        if (res == "*" or res == resource.plural) and (sub == "*" or sub == subresource):
            return True
    return False


def _selector(webhook: Mapping[str, Any], key: str) -> LabelSelector:
    raw = webhook.get(key)
    try:
        return from_label_selector_obj(raw if isinstance(raw, Mapping) else {})
    except SelectorError as e:
        raise errors.internal_error(str(e)) from None


def _labels(obj: Obj | None) -> Mapping[str, str] | None:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(meta, dict):
        return None
    labels = meta.get("labels")
    return labels if isinstance(labels, dict) else {}


def namespace_selected(
    webhook: Mapping[str, Any],
    attrs: Attributes,
    obj: Obj | None,
    namespace_labels: NamespaceLabels,
) -> bool:
    """Upstream's ``namespace.Matcher.MatchNamespaceSelector``; raises ``StatusError``."""
    namespace = effective_namespace(attrs)
    is_namespace = attrs.resource.plural == "namespaces"
    if not namespace and not is_namespace:
        return True
    selector = _selector(webhook, "namespaceSelector")
    if selector.empty:
        return True
    labels: Mapping[str, str] | None
    if is_namespace and not attrs.subresource and attrs.operation in ("CREATE", "UPDATE"):
        labels = _labels(obj) or {}
    else:
        labels = namespace_labels(namespace)
        if labels is None:
            raise errors.not_found("", "namespaces", namespace)
    return selector.matches(labels)


def object_selected(webhook: Mapping[str, Any], obj: Obj | None, old: Obj | None) -> bool:
    """Upstream's ``object.Matcher.MatchObjectSelector``; raises ``StatusError``."""
    selector = _selector(webhook, "objectSelector")
    if selector.empty:
        return True
    return any(
        labels is not None and selector.matches(labels) for labels in (_labels(obj), _labels(old))
    )


def should_call(
    webhook: Mapping[str, Any],
    attrs: Attributes,
    obj: Obj | None,
    old: Obj | None,
    *,
    namespace_labels: NamespaceLabels,
    equivalents: Sequence[Resource] = (),
) -> Invocation | None:
    """Upstream's ``ShouldCallHook`` (without match conditions)."""
    deferred: errors.StatusError | None = None
    try:
        if not namespace_selected(webhook, attrs, obj, namespace_labels):
            return None
    except errors.StatusError as e:
        deferred = e
    try:
        if not object_selected(webhook, obj, old):
            return None
    except errors.StatusError as e:
        deferred = deferred or e

    rules = [r for r in webhook.get("rules") or [] if isinstance(r, Mapping)]
    subresource = attrs.subresource or ""
    namespace = effective_namespace(attrs)
    invocation: Invocation | None = None
    for rule in rules:
        if rule_matches(
            rule,
            resource=attrs.resource,
            subresource=subresource,
            namespace=namespace,
            operation=attrs.operation,
        ):
            invocation = Invocation(
                attrs.resource, subresource, kind_for(attrs.resource, subresource)
            )
            break
    if invocation is None and webhook.get("matchPolicy", "Equivalent") == "Equivalent":
        invocation = _equivalent(rules, attrs, subresource, namespace, equivalents)
    if invocation is None:
        return None
    if deferred is not None:
        raise deferred
    return invocation


def _equivalent(
    rules: list[Mapping[str, Any]],
    attrs: Attributes,
    subresource: str,
    namespace: str,
    equivalents: Sequence[Resource],
) -> Invocation | None:
    # earlier rules win over earlier equivalents, as upstream's OuterLoop does
    for rule in rules:
        for other in equivalents:
            if other == attrs.resource:
                continue
            if rule_matches(
                rule,
                resource=other,
                subresource=subresource,
                namespace=namespace,
                operation=attrs.operation,
            ):
                return Invocation(other, subresource, kind_for(other, subresource))
    return None
