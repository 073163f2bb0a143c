"""Label and field selectors, as upstream's k8s.io/apimachinery/pkg/labels and pkg/fields.

The apiserver parses ``labelSelector`` and ``fieldSelector`` query parameters here, checks
field labels against what each resource supports, and filters objects (lists, watches and
the watch cache) with ``matches``. Pure functions, no I/O.

Contract (upstream 1.33 is the specification):

- ``parse_label_selector`` accepts upstream's grammar (``a=b``, ``a==b``, ``a!=b``,
  ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``, ``a>1``, ``a<1``, comma separated, blanks
  between tokens) and raises ``SelectorError`` with upstream's message, word for word
  (``unable to parse requirement: …``, ``found ',', expected: …``). Requirements come out
  sorted by key, as upstream's ``labels.Parse`` does. ``""`` selects everything.
- ``from_label_selector_obj`` is metav1.LabelSelectorAsSelector: ``None`` (a null selector)
  matches nothing; ``{}`` (no matchLabels, no matchExpressions) matches everything.
- ``parse_field_selector`` is fields.ParseSelector: terms split on unescaped commas and
  sorted; ``\\``, ``\\,`` and ``\\=`` are the only escapes in values; ``==`` means ``=``.
- ``validate_field_selector`` is the apiserver's field-label conversion (per kind, in
  pkg/apis/*/v1/conversion.go): it raises ``SelectorError`` with upstream's message for a
  label the kind does not support (the server answers 400 BadRequest) and returns the
  selector with legacy labels renamed (pods: ``spec.host`` → ``spec.nodeName``).
- ``field_set`` is the kind's ``ToSelectableFields``: the values field selectors match
  against. A label missing from the set matches as ``""``, as upstream's ``fields.Set.Get``.

This module is the public surface; the code lives in ``label_selectors`` (grammar,
matching, label key/value validation) and ``field_selectors`` (field selectors and the
per-kind field tables).
"""

from __future__ import annotations

from pyk8s.api.field_selectors import (
    FieldRequirement,
    FieldSelector,
    field_set,
    parse_field_selector,
    validate_field_selector,
)
from pyk8s.api.label_selectors import (
    LabelSelector,
    Operator,
    Requirement,
    SelectorError,
    from_label_selector_obj,
    parse_label_selector,
)

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "LabelSelector",
    "Operator",
    "Requirement",
    "SelectorError",
    "field_set",
    "from_label_selector_obj",
    "parse_field_selector",
    "parse_label_selector",
    "validate_field_selector",
]
