"""CustomResourceDefinitions (apiextensions.k8s.io/v1) and the custom resources they define.

Pure logic, no I/O; modules are imported as modules (``from pyk8s.api.crd import prune``).

CRDs: ``definition`` (defaulting, strategy, validation; re-exports ``resources_for`` and
the status helpers), ``versions`` (per-version views, ``Resource`` rows, version
priority), ``naming`` (accepted names, NamesAccepted/Established), ``structural`` +
``schema_rules`` + ``crdfields`` (the checks ``definition`` strings together).

Custom resources, in the order the apiserver applies them to a request body:
``prune.prune`` (unknown fields → Warn/Strict), ``default.drop_nulls``,
``default.apply_defaults``, the strategy's status/generation handling (the caller's),
``validate.validate_object`` / ``validate_object_update`` / ``validate_status_update``;
``scale`` maps objects to ``autoscaling/v1`` Scale, ``printing`` builds Tables and
``openapi`` the ``/openapi/v3`` group-version documents. ``schema`` holds the structural
schema every one of them walks; ``valuecheck``, ``jsonpath`` and ``gofmt`` are helpers.
"""
