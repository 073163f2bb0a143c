"""Patch application for the apiserver's PATCH verb: pure functions over decoded JSON.

* ``json_patch.apply_json_patch`` — RFC 6902 (``application/json-patch+json``).
* ``merge_patch.apply_merge_patch`` — RFC 7386 (``application/merge-patch+json``).
* ``strategic_merge.apply_strategic_merge`` — upstream's strategic merge patch
  (``application/strategic-merge-patch+json``), driven by ``schemas.SchemaNode``.

Inputs are never mutated; results share no structure with them. Every failure is a
``PatchError`` whose ``code`` is the HTTP status upstream answers with (400 BadRequest for
a malformed patch, 422 for a patch that does not apply, 413 for too many operations); the
HTTP layer turns it into a ``Status``.
"""

from __future__ import annotations

from pyk8s.api.patch.errors import PatchError

__all__ = ["PatchError"]
