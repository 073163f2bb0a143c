"""Admission webhooks: upstream's MutatingAdmissionWebhook and ValidatingAdmissionWebhook
plugins (k8s.io/apiserver/pkg/admission/plugin/webhook/{generic,mutating,validating}) as
one ``admission.Chain``.

Contract (upstream 1.33 is the specification):

- ``configurations()`` is read on every request and returns the current
  (MutatingWebhookConfigurations, ValidatingWebhookConfigurations) as decoded objects.
  Webhooks run in the order of their configuration's name, then their order within it.
  Which webhooks a request calls is ``matching.should_call``; requests on the webhook
  and admission-policy configuration kinds never call any (``matching.is_exempt``).
- ``mutate`` calls the matching mutating webhooks one after another; each sees the object
  as the previous one left it (a JSONPatch answer is applied at once). If a webhook
  changes the object, every webhook called before it with ``reinvocationPolicy:
  IfNeeded`` is called once more, in a second round, after the first round ends (a
  webhook never runs for the first time in that round). A webhook under
  ``matchPolicy: Equivalent`` that matched another version of the resource gets the
  object converted to that version and its patch applied there.
- ``validate`` calls the matching validating webhooks concurrently; all must allow. When
  several deny, the first in webhook order is reported (upstream: the first to answer).
  For DELETE (``obj`` is ``None``) the mutating webhooks run first, as upstream's delete
  handler calls mutating admission with a null object: they may deny or warn, and a patch
  is an error.
- Denials keep the webhook's status (``admission webhook "<name>" denied the request:
  <message>``, code at least 400). A call that fails (connection, TLS, timeout, an
  unreadable or malformed answer) is skipped under ``failurePolicy: Ignore`` and is
  ``500 Internal error occurred: failed calling webhook "<name>": <reason>`` under
  ``Fail`` (the default). A dry-run request on a webhook whose ``sideEffects`` is not
  ``None``/``NoneOnDryRun`` is a 400 whatever the policy; so is a patch that does not apply
  (500).
- Warnings from answers (allowed or not) are appended to ``attrs.warnings`` in call
  order, each once; empty ones and ones with control characters are dropped, as upstream's
  warning recorder does.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from pyk8s.api import errors, resources
from pyk8s.api.resources import Resource
from pyk8s.api.validation.field import go_quote
from pyk8s.apiserver import conversion
from pyk8s.apiserver.admission import Attributes, client, matching, review
from pyk8s.apiserver.admission.matching import Invocation

__all__ = ["Hook", "WebhookAdmission", "load_hooks"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Configurations = Callable[[], tuple[list[Obj], list[Obj]]]
NamespaceLabels = Callable[[str], dict[str, str] | None]


@dataclass(frozen=True, slots=True)
class Hook:
    """One webhook of one configuration, with upstream's defaults filled in."""

    uid: str  # <configuration>/<webhook>/<n>: identity across reinvocation rounds
    configuration: str
    name: str
    spec: Mapping[str, Any]
    client_config: Mapping[str, Any]
    ignore_failures: bool
    timeout: int
    reinvoke_if_needed: bool
    side_effects: str | None
    review_version: str | None


def _timeout(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 30 else 10


def load_hooks(configurations: Iterable[Mapping[str, Any]]) -> list[Hook]:
    """Webhooks in calling order: configurations by name, webhooks in their order."""

    def name_of(c: Mapping[str, Any]) -> str:
        meta = c.get("metadata")
        return str(meta.get("name") or "") if isinstance(meta, Mapping) else ""

    out: list[Hook] = []
    for config in sorted(configurations, key=name_of):
        seen: dict[str, int] = {}
        webhooks = config.get("webhooks")
        for spec in webhooks if isinstance(webhooks, list) else []:
            if not isinstance(spec, Mapping):
                continue
            name = str(spec.get("name") or "")
            n = seen[name] = seen.get(name, -1) + 1
            cc = spec.get("clientConfig")
            side = spec.get("sideEffects")
            out.append(
                Hook(
                    uid=f"{name_of(config)}/{name}/{n}",
                    configuration=name_of(config),
                    name=name,
                    spec=spec,
                    client_config=cc if isinstance(cc, Mapping) else {},
                    ignore_failures=spec.get("failurePolicy") == "Ignore",
                    timeout=_timeout(spec.get("timeoutSeconds")),
                    reinvoke_if_needed=spec.get("reinvocationPolicy") == "IfNeeded",
                    side_effects=side if isinstance(side, str) else None,
                    review_version=review.review_version(spec.get("admissionReviewVersions")),
                )
            )
    return out


@functools.cache
def _equivalents(res: Resource) -> tuple[Resource, ...]:
    """The resources serving the same stored objects in other group-versions."""
    target = conversion.storage_resource(res)
    same = tuple(r for r in resources.BUILTIN if conversion.storage_resource(r) == target)
    return same or (res,)


def _convert(obj: Obj | None, src: Resource, dst: Resource, subresource: str) -> Obj | None:
    if obj is None or src == dst or subresource not in ("", "status"):
        return obj
    return conversion.from_storage(dst, conversion.to_storage(src, obj))


def _add_warnings(attrs: Attributes, warnings: Iterable[str]) -> None:
    for w in warnings:
        if not w or w in attrs.warnings or any(unicodedata.category(c) == "Cc" for c in w):
            continue
        attrs.warnings.append(w)


class _CallFailed(Exception):
    """Upstream's ``ErrCallingWebhook``: subject to the webhook's failure policy."""


@dataclass(slots=True)
class _Reinvocation:
    """Upstream's ``webhookReinvokeContext`` for one request."""

    invoked: set[str] = field(default_factory=set)  # IfNeeded webhooks called so far
    reinvoke: set[str] = field(default_factory=set)  # to call again in round two
    needed: bool = False

    def changed(self) -> None:
        self.reinvoke |= self.invoked
        self.invoked = set()
        self.needed = True


class WebhookAdmission:
    """The webhook admission plugins; implements ``admission.Chain``."""

    def __init__(
        self,
        configurations: Configurations,
        namespace_labels: NamespaceLabels,
        service_ip: client.ServiceIP,
        *,
        transport: client.Transport | None = None,
    ) -> None:
        self._configurations = configurations
        self._namespace_labels = namespace_labels
        self._transport = transport or client.HTTPSTransport(service_ip)

    async def aclose(self) -> None:
        close = getattr(self._transport, "aclose", None)
        if close is not None:
            await close()

    # --- Chain ----------------------------------------------------------------------

    async def mutate(self, attrs: Attributes, obj: Obj, old: Obj | None) -> Obj:
        if matching.is_exempt(attrs):
            return obj
        hooks = load_hooks(self._configurations()[0])
        if not hooks:
            return obj
        state = _Reinvocation()
        out = await self._mutating_round(attrs, obj, old, hooks, state, again=False)
        if state.needed:
            out = await self._mutating_round(attrs, out, old, hooks, state, again=True)
        assert out is not None
        return out

    async def validate(self, attrs: Attributes, obj: Obj | None, old: Obj | None) -> None:
        if matching.is_exempt(attrs):
            return
        mutating, validating = self._configurations()
        if attrs.operation == "DELETE" and obj is None and mutating:
            state = _Reinvocation()
            await self._mutating_round(attrs, None, old, load_hooks(mutating), state, again=False)
        calls = [
            (hook, inv)
            for hook in load_hooks(validating)
            if (inv := self._should_call(hook, attrs, obj, old)) is not None
        ]
        if not calls:
            return
        outcomes = await asyncio.gather(
            *(self._validating_call(hook, inv, attrs, obj, old) for hook, inv in calls)
        )
        for warnings, _ in outcomes:
            _add_warnings(attrs, warnings)
        for _, err in outcomes:
            if err is not None:
                raise err

    # --- dispatch -------------------------------------------------------------------

    def _should_call(
        self, hook: Hook, attrs: Attributes, obj: Obj | None, old: Obj | None
    ) -> Invocation | None:
        return matching.should_call(
            hook.spec,
            attrs,
            obj,
            old,
            namespace_labels=self._namespace_labels,
            equivalents=_equivalents(attrs.resource),
        )

    async def _mutating_round(
        self,
        attrs: Attributes,
        obj: Obj | None,
        old: Obj | None,
        hooks: list[Hook],
        state: _Reinvocation,
        *,
        again: bool,
    ) -> Obj | None:
        for hook in hooks:
            inv = self._should_call(hook, attrs, obj, old)
            if inv is None or (again and hook.uid not in state.reinvoke):
                continue
            try:
                obj, changed = await self._mutating_call(hook, inv, attrs, obj, old)
            except _CallFailed as e:
                if hook.reinvoke_if_needed:
                    state.invoked.add(hook.uid)
                if not hook.ignore_failures:
                    raise review.calling_failed(hook.name, str(e)) from None
                log.warning("Failed calling webhook, failing open %s: %s", hook.name, e)
                continue
            if changed:
                state.changed()
            if hook.reinvoke_if_needed:
                state.invoked.add(hook.uid)
        return obj

    async def _mutating_call(
        self, hook: Hook, inv: Invocation, attrs: Attributes, obj: Obj | None, old: Obj | None
    ) -> tuple[Obj | None, bool]:
        """Call one mutating webhook: (the object to continue with, whether it changed)."""
        src, sub = attrs.resource, inv.subresource
        seen = _convert(obj, src, inv.resource, sub)
        resp = await self._call(
            hook, inv, attrs, seen, _convert(old, src, inv.resource, sub), mutating=True
        )
        _add_warnings(attrs, resp.warnings)
        if not resp.allowed:
            raise review.denied(hook.name, resp.result)
        if not resp.patch:
            return obj, False
        try:
            ops = review.decode_patch(resp.patch)
        except review.UndecodableResponse as e:
            raise _CallFailed(f"received undecodable patch in webhook response: {e}") from None
        if not ops:
            return obj, False
        if seen is None:
            raise errors.internal_error(
                f"admission webhook {go_quote(hook.name)} attempted to modify the object, "
                "which is not supported for this operation"
            )
        if resp.patch_type != "JSONPatch":
            raise _CallFailed(f"unsupported patch type {go_quote(resp.patch_type)}")
        patched = review.apply_patch(seen, ops)
        return _convert(patched, inv.resource, src, sub), patched != seen

    async def _validating_call(
        self, hook: Hook, inv: Invocation, attrs: Attributes, obj: Obj | None, old: Obj | None
    ) -> tuple[tuple[str, ...], errors.StatusError | None]:
        """Call one validating webhook: (its warnings, the error it fails the request with)."""
        src, sub = attrs.resource, inv.subresource
        try:
            resp = await self._call(
                hook,
                inv,
                attrs,
                _convert(obj, src, inv.resource, sub),
                _convert(old, src, inv.resource, sub),
                mutating=False,
            )
        except _CallFailed as e:
            if hook.ignore_failures:
                log.warning("Failed calling webhook, failing open %s: %s", hook.name, e)
                return (), None
            return (), review.calling_failed(hook.name, str(e))
        except errors.StatusError as e:
            return (), e
        except Exception as e:  # upstream recovers a panicking call the same way
            log.exception("validating webhook %s failed", hook.name)
            if hook.ignore_failures:
                return (), None
            return (), errors.internal_error(
                f"ValidatingAdmissionWebhook/{hook.name} has panicked: {e}"
            )
        if resp.allowed:
            return resp.warnings, None
        return resp.warnings, review.denied(hook.name, resp.result)

    async def _call(
        self,
        hook: Hook,
        inv: Invocation,
        attrs: Attributes,
        obj: Obj | None,
        old: Obj | None,
        *,
        mutating: bool,
    ) -> review.Response:
        """Send the AdmissionReview and read the answer (upstream's ``callHook``)."""
        if attrs.dry_run:
            if hook.side_effects is None:
                raise _CallFailed("Webhook SideEffects is nil")
            if hook.side_effects not in ("None", "NoneOnDryRun"):
                raise review.dry_run_unsupported(hook.name)
        version = hook.review_version
        if version is None:
            raise _CallFailed(
                "could not create admission objects: webhook does not accept known "
                "AdmissionReview versions (v1, v1beta1)"
            )
        uid = str(uuid.uuid4())
        body = review.build_review(
            version=version, uid=uid, attrs=attrs, invocation=inv, obj=obj, old=old
        )
        try:
            answer = await self._transport.post(
                hook.client_config, orjson.dumps(body), timeout=hook.timeout
            )
        except client.CallError as e:
            raise _CallFailed(str(e)) from None
        try:
            return review.read_response(answer, uid=uid, version=version, mutating=mutating)
        except review.UndecodableResponse as e:
            raise _CallFailed(f"failed to call webhook: {e}") from None
        except review.InvalidResponse as e:
            raise _CallFailed(f"received invalid webhook response: {e}") from None
