"""The generic registry: create, read, update, delete of any resource over storage and the
watch cache (upstream's genericregistry.Store).

Reads come from the watch cache: resourceVersion "" waits until the cache has applied the
store's current revision (consistent reads, as upstream's ConsistentListFromCache), "0"
reads whatever the cache holds, an exact revision waits for the cache to reach it.
Writes go to storage with compare-and-swap on the revision that was read, and retry on a
conflict when the caller gave no resourceVersion precondition (upstream's
GuaranteedUpdate). Per-kind rules come from ``strategy``; Service addresses from
``services``. Errors leave as ``api.errors.StatusError``.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pyk8s.api import errors, fieldmanager, schemas, validation
from pyk8s.api.resources import Resource
from pyk8s.api.validation import names
from pyk8s.apiserver import admission, objectmeta, strategy
from pyk8s.apiserver.services import ServiceAllocations
from pyk8s.apiserver.watchcache import CacheSet, Entry, Filter, ResourceCache, make_entry
from pyk8s.storage import errors as storage_errors
from pyk8s.storage import interface as storage

__all__ = ["DeleteOptions", "ListPage", "Registry", "WriteContext"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Mutate = Callable[[Obj], Awaitable[Obj]]

_RETRIES = 8
_NAMESPACES = ("", "namespaces")
_SERVICES = ("", "services")
_PODS = ("", "pods")


_SERVER_USER = admission.UserInfo("system:apiserver", groups=("system:masters",))


@dataclass(frozen=True, slots=True)
class WriteContext:
    manager: str = "unknown"
    dry_run: bool = False
    user: admission.UserInfo = _SERVER_USER
    warnings: list[str] = field(default_factory=list)  # for the client's Warning headers
    apply: bool = False  # a server-side apply: managedFields come from fieldmanager.apply


@dataclass(frozen=True, slots=True)
class DeleteOptions:
    grace_period: int | None = None
    propagation: str | None = None  # Orphan | Background | Foreground
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False
    user: admission.UserInfo = _SERVER_USER


@dataclass(slots=True)
class ListPage:
    entries: list[Entry]
    revision: int
    continue_: str | None = None
    remaining: int | None = None


@dataclass
class Registry:
    store: storage.Interface
    caches: CacheSet
    services: ServiceAllocations
    admission: admission.Chain = field(default_factory=admission.NoAdmission)
    _now: Callable[[], datetime.datetime] = field(
        default=lambda: datetime.datetime.now(datetime.UTC)
    )

    # ---------------------------------------------------------------- reads

    def cache_for(self, res: Resource) -> ResourceCache:
        return self.caches.add(res.storage_key(None))

    async def _at(self, rv: str | None) -> None:
        """Make the cache fresh enough for a read at resourceVersion ``rv``."""
        if rv is None or rv == "":
            await self.caches.consistent()
        elif rv == "0":
            return
        else:
            target = _parse_rv(rv)
            if not await self.caches.wait_for(target):
                raise errors.too_large_rv(target)

    async def get(self, res: Resource, ns: str | None, name: str, *, rv: str | None = "") -> Entry:
        cache = self.cache_for(res)
        key = res.storage_key(ns, name)
        entry = cache.objects.get(key)
        if entry is None or rv == "" or rv is None:
            await self._at(rv)
            entry = cache.objects.get(key)
        if entry is None:
            raise errors.not_found(res.group, res.plural, name)
        return entry

    async def list(
        self,
        res: Resource,
        flt: Filter,
        *,
        rv: str | None = "",
        rv_match: str | None = None,
        limit: int = 0,
        continue_: str | None = None,
    ) -> ListPage:
        cache = self.cache_for(res)
        prefix = res.storage_key(flt.namespace)
        if continue_:
            try:
                rev, start = storage.decode_continue(continue_, prefix=prefix)
            except ValueError as exc:
                raise errors.bad_request(str(exc))
            if rev == self.caches.revision:
                return self._page(cache, flt, rev, limit, start, prefix)
            return await self._list_storage(res, flt, rev, limit, continue_)
        if rv_match == "Exact" and rv not in (None, "", "0"):
            return await self._list_storage(res, flt, _parse_rv(rv), limit, None)
        await self._at(rv)
        return self._page(cache, flt, self.caches.revision, limit, "", prefix)

    def _page(
        self, cache: ResourceCache, flt: Filter, rev: int, limit: int, start: str, prefix: str
    ) -> ListPage:
        it = cache.scan(flt, start=start)
        if limit <= 0:
            return ListPage(list(it), rev)
        out: list[Entry] = []
        for e in it:
            if len(out) == limit:
                remaining = None
                if flt.everything and not flt.namespace:
                    remaining = len(cache.objects) - cache.sorted_keys().index(e.key)
                token = storage.encode_continue(revision=rev, start_key=e.key, prefix=prefix)
                return ListPage(out, rev, token, remaining)
            out.append(e)
        return ListPage(out, rev)

    async def _list_storage(
        self, res: Resource, flt: Filter, rev: int, limit: int, cont: str | None
    ) -> ListPage:
        prefix = res.storage_key(flt.namespace)
        out: list[Entry] = []
        while True:
            try:
                page = await self.store.list(
                    prefix, revision=rev, limit=max(limit, 500) if limit else 0, continue_=cont
                )
            except storage_errors.Compacted:
                if cont:
                    raise errors.gone(
                        "The provided continue parameter is too old to display a consistent "
                        "list result. You can start a new list without the continue "
                        "parameter, or use the continue token in this response to retrieve "
                        "the remainder of the results. Continuing with the provided token "
                        "results in an inconsistent list - objects that were created, "
                        "modified, or deleted between the time the first chunk was returned "
                        "and now may show up in the list."
                    )
                raise errors.gone(f"too old resource version: {rev}")
            except storage_errors.FutureRevision:
                raise errors.too_large_rv(rev)
            for kv in page.items:
                e = make_entry(kv.key, kv.value, kv.mod_revision, res.storage_key(None))
                if flt.matches(e):
                    if limit and len(out) == limit:
                        token = storage.encode_continue(
                            revision=page.revision, start_key=kv.key, prefix=prefix
                        )
                        return ListPage(out, page.revision, token)
                    out.append(e)
            cont = page.continue_
            rev = page.revision
            if cont is None:
                return ListPage(out, rev)

    # ---------------------------------------------------------------- create

    async def _check_namespace(self, res: Resource, ns: str | None, name: str) -> None:
        """Upstream's NamespaceLifecycle admission: no new content in a missing or
        terminating namespace."""
        if not res.namespaced or ns is None:
            return
        nres = _namespaces_resource()
        key = nres.storage_key(None, ns)
        cache = self.cache_for(nres)
        entry = cache.objects.get(key)
        if entry is None:
            await self.caches.consistent()
            entry = cache.objects.get(key)
        if entry is None:
            raise errors.not_found("", "namespaces", ns)
        if b'"deletionTimestamp"' in entry.raw:
            qualified = errors.qualified_resource(res.group, res.plural)
            raise errors.forbidden(
                f'{qualified} "{name}" is forbidden: unable to create new content in '
                f"namespace {ns} because it is being terminated",
                {
                    "name": name,
                    "kind": res.plural,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {ns} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    async def create(self, res: Resource, ns: str | None, obj: Obj, ctx: WriteContext) -> Obj:
        strat = strategy.for_resource(res)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        if res.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and ns and body_ns != ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        generated = False
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = names.generate_name(meta["generateName"])
            generated = True
        await self._check_namespace(res, ns, meta.get("name") or "")
        now = objectmeta.now_rfc3339(self._now())
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(k, None)
        strat.check_decode(obj)
        strat.default(obj)
        meta["uid"] = objectmeta.new_uid()
        meta["creationTimestamp"] = now
        strat.prepare_create(obj)
        taken: list[tuple[str, Any]] = []
        if res.key == _SERVICES:
            # addresses are allocated before validation, as upstream's service storage
            # does; a dry run gives them back at once
            taken = self.services.on_create(obj)
            if ctx.dry_run:
                self.services.release(taken)
                taken = []
        attrs = admission.Attributes(
            resource=res,
            subresource=None,
            namespace=ns,
            name=meta.get("name") or "",
            operation="CREATE",
            user=ctx.user,
            dry_run=ctx.dry_run,
            options={
                "kind": "CreateOptions",
                "apiVersion": "meta.k8s.io/v1",
                "fieldManager": ctx.manager,
            },
        )
        try:
            mutated = await self.admission.mutate(attrs, obj, None)
            if mutated is not obj:  # a webhook patched it: default what it added
                obj = mutated
                strat.default(obj)
            meta = obj["metadata"]
            causes = strat.validate_create(obj)
            if causes:
                raise _invalid(res, meta.get("name") or "", causes)
            await self.admission.validate(attrs, obj, None)
        except BaseException:
            self.services.release(taken)
            raise
        finally:
            ctx.warnings.extend(attrs.warnings)
        if not ctx.apply:
            obj = fieldmanager.update(
                None,
                obj,
                manager=ctx.manager,
                api_version=res.api_version,
                time=now,
                schema=_schema(res),
            )
            meta = obj["metadata"]
        if not meta.get("managedFields"):
            meta.pop("managedFields", None)
        if ctx.dry_run:
            return obj
        key = res.storage_key(ns, meta["name"])
        try:
            rev = await self.store.create(key, _encode(obj))
        except storage_errors.AlreadyExists:
            self.services.release(taken)
            if generated:
                raise errors.StatusError(
                    409,
                    "AlreadyExists",
                    f'{errors.qualified_resource(res.group, res.plural)} "{meta["name"]}" '
                    "already exists, the server was not able to generate a unique name for "
                    "the object",
                )
            raise errors.already_exists(res.group, res.plural, meta["name"])
        except BaseException:
            self.services.release(taken)
            raise
        meta["resourceVersion"] = str(rev)
        return obj

    # ---------------------------------------------------------------- update

    async def update(
        self,
        res: Resource,
        ns: str | None,
        name: str,
        mutate: Mutate,
        ctx: WriteContext,
        *,
        subresource: str | None = None,
    ) -> Obj:
        """Read the current object, ``mutate`` it (may raise), apply the kind's rules and
        write with compare-and-swap; on a lost race read again and retry. ``mutate``
        raising a Conflict (a stale resourceVersion precondition) is not retried."""
        strat = strategy.for_resource(res)
        key = res.storage_key(ns, name)
        for attempt in range(_RETRIES):
            entry = await self.get(res, ns, name, rv="" if attempt else None)
            old = entry.decode()
            new = await mutate(orjson.loads(entry.raw))
            if not isinstance(new, dict):
                raise errors.bad_request("the object must be a JSON object")
            meta = new.get("metadata")
            if not isinstance(meta, dict):
                meta = new["metadata"] = {}
            if meta.get("name") and meta["name"] != name:
                raise errors.bad_request(
                    f"the name of the object ({meta['name']}) does not match the name on the "
                    f"URL ({name})"
                )
            if res.namespaced and meta.get("namespace") and meta["namespace"] != ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            body_uid = meta.get("uid")
            if body_uid and body_uid != old["metadata"].get("uid"):
                # a uid in the body is a precondition, as upstream's update handler treats it
                raise errors.conflict(
                    res.group,
                    res.plural,
                    name,
                    f"Precondition failed: UID in precondition: {body_uid}, "
                    f"UID in object meta: {old['metadata'].get('uid')}",
                )
            body_rv = meta.get("resourceVersion")
            if body_rv and body_rv != str(entry.revision):
                raise errors.conflict(res.group, res.plural, name, errors.MODIFIED)
            old_meta = old["metadata"]
            meta["name"] = name
            if res.namespaced:
                meta["namespace"] = ns
            for k in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ):
                if k in old_meta:
                    meta[k] = old_meta[k]
                else:
                    meta.pop(k, None)
            meta.pop("selfLink", None)
            meta["resourceVersion"] = old_meta.get("resourceVersion")
            strat.check_decode(new)
            strat.default(new)
            strat.prepare_update(new, old, subresource=subresource)
            attrs = admission.Attributes(
                resource=res,
                subresource=subresource,
                namespace=ns,
                name=name,
                operation="UPDATE",
                user=ctx.user,
                dry_run=ctx.dry_run,
                options={
                    "kind": "UpdateOptions",
                    "apiVersion": "meta.k8s.io/v1",
                    "fieldManager": ctx.manager,
                },
            )
            try:
                if subresource != "binding":
                    mutated = await self.admission.mutate(attrs, new, old)
                    if mutated is not new:
                        new = mutated
                        strat.default(new)
                causes = strat.validate_update(new, old, subresource=subresource)
                if causes:
                    raise _invalid(res, name, causes)
                if subresource != "binding":
                    await self.admission.validate(attrs, new, old)
            finally:
                ctx.warnings.extend(attrs.warnings)
            new_meta = new["metadata"]
            taken: list[tuple[str, Any]] = []
            release: list[tuple[str, Any]] = []
            if res.key == _SERVICES and subresource is None and not ctx.dry_run:
                taken, release = self.services.on_update(new, old)
            if not ctx.apply and subresource != "binding":
                new = fieldmanager.update(
                    old,
                    new,
                    manager=ctx.manager,
                    api_version=res.api_version,
                    time=objectmeta.now_rfc3339(self._now()),
                    subresource=subresource,
                    schema=_schema(res),
                )
                new_meta = new["metadata"]
            if _same(new, old):
                self.services.release(taken)
                return old
            if ctx.dry_run:
                return new
            new_meta.pop("resourceVersion", None)
            try:
                if _finalized(res, new):
                    kv = await self.store.delete(key, expected_revision=entry.revision)
                    self._after_delete(res, new)
                    new_meta["resourceVersion"] = str(kv.mod_revision)
                    return new
                rev = await self.store.update(key, _encode(new), expected_revision=entry.revision)
            except storage_errors.Conflict:
                self.services.release(taken)
                continue
            except storage_errors.NotFound:
                self.services.release(taken)
                raise errors.not_found(res.group, res.plural, name)
            except BaseException:
                self.services.release(taken)
                raise
            self.services.release(release)
            new_meta["resourceVersion"] = str(rev)
            return new
        raise errors.conflict(res.group, res.plural, name, errors.MODIFIED)

    # ---------------------------------------------------------------- delete

    async def delete(
        self, res: Resource, ns: str | None, name: str, opts: DeleteOptions
    ) -> tuple[Obj, bool]:
        """Delete now, or start a graceful deletion. Returns (object, deleted_now)."""
        key = res.storage_key(ns, name)
        for attempt in range(_RETRIES):
            entry = await self.get(res, ns, name, rv="" if attempt else None)
            obj = entry.decode()
            meta = obj["metadata"]
            if opts.precondition_uid and opts.precondition_uid != meta.get("uid"):
                raise errors.conflict(
                    res.group,
                    res.plural,
                    name,
                    f"Precondition failed: UID in precondition: {opts.precondition_uid}, "
                    f"UID in object meta: {meta.get('uid')}",
                )
            if opts.precondition_rv and opts.precondition_rv != meta.get("resourceVersion"):
                raise errors.conflict(
                    res.group,
                    res.plural,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: "
                    f"{opts.precondition_rv}, ResourceVersion in meta: {meta.get('resourceVersion')}",
                )
            finalizers = list(meta.get("finalizers") or [])
            changed = False
            if opts.propagation == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
                changed = True
            elif opts.propagation == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
                changed = True
            grace = self._grace(res, obj, opts)
            if res.key == _NAMESPACES:
                spec_fin = (obj.get("spec") or {}).get("finalizers") or []
                if spec_fin or finalizers:
                    if not meta.get("deletionTimestamp"):
                        meta["deletionTimestamp"] = objectmeta.now_rfc3339(self._now())
                        meta["deletionGracePeriodSeconds"] = 0
                        obj.setdefault("status", {})["phase"] = "Terminating"
                        changed = True
                    if changed:
                        meta["finalizers"] = finalizers
                        if not finalizers:
                            meta.pop("finalizers")
                        return await self._write_deleting(res, key, entry, obj, opts), False
                    return obj, False
            if finalizers or grace:
                shortens = grace is not None and grace < (
                    meta.get("deletionGracePeriodSeconds") or 0
                )
                if meta.get("deletionTimestamp") and not changed and not shortens:
                    return obj, False
                now = self._now()
                if grace and res.key == _PODS:
                    if not meta.get("deletionTimestamp") or grace < (
                        meta.get("deletionGracePeriodSeconds") or 0
                    ):
                        meta["deletionTimestamp"] = objectmeta.now_rfc3339(
                            now + datetime.timedelta(seconds=grace)
                        )
                        meta["deletionGracePeriodSeconds"] = grace
                elif not meta.get("deletionTimestamp"):
                    meta["deletionTimestamp"] = objectmeta.now_rfc3339(now)
                    meta["deletionGracePeriodSeconds"] = 0
                if finalizers:
                    meta["finalizers"] = finalizers
                if finalizers or grace:
                    return await self._write_deleting(res, key, entry, obj, opts), False
            await self.admission.validate(
                admission.Attributes(
                    resource=res,
                    subresource=None,
                    namespace=ns,
                    name=name,
                    operation="DELETE",
                    user=opts.user,
                    dry_run=opts.dry_run,
                    options={"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"},
                ),
                None,
                obj,
            )
            if opts.dry_run:
                return obj, True
            try:
                kv = await self.store.delete(key, expected_revision=entry.revision)
            except storage_errors.Conflict:
                continue
            except storage_errors.NotFound:
                raise errors.not_found(res.group, res.plural, name)
            self._after_delete(res, obj)
            meta["resourceVersion"] = str(kv.mod_revision)
            return obj, True
        raise errors.conflict(res.group, res.plural, name, errors.MODIFIED)

    async def _write_deleting(
        self, res: Resource, key: str, entry: Entry, obj: Obj, opts: DeleteOptions
    ) -> Obj:
        if opts.dry_run:
            return obj
        obj["metadata"].pop("resourceVersion", None)
        try:
            rev = await self.store.update(key, _encode(obj), expected_revision=entry.revision)
        except storage_errors.Conflict:
            raise errors.conflict(res.group, res.plural, obj["metadata"]["name"], errors.MODIFIED)
        obj["metadata"]["resourceVersion"] = str(rev)
        return obj

    def _grace(self, res: Resource, obj: Obj, opts: DeleteOptions) -> int | None:
        """Pods on a node that are not finished get a grace period (upstream's pod
        CheckGracefulDelete); everything else is deleted at once (or by finalizers)."""
        if res.key != _PODS:
            return None
        spec = obj.get("spec") or {}
        phase = (obj.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            return None
        grace = opts.grace_period
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        return grace if grace and grace > 0 else None

    def _after_delete(self, res: Resource, obj: Obj) -> None:
        if res.key == _SERVICES:
            self.services.on_delete(obj)


def _invalid(res: Resource, name: str, causes: list[validation.Cause]) -> errors.StatusError:
    if not res.custom:
        status = validation.invalid_status(res.key, name, causes)
        return errors.StatusError(422, "Invalid", status["message"], status["details"])
    msgs = list(dict.fromkeys(c.message for c in causes))
    body = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    details = {
        "name": name,
        "group": res.group,
        "kind": res.kind,
        "causes": [c.status_cause() for c in causes],
    }
    return errors.StatusError(
        422, "Invalid", f'{res.kind}.{res.group} "{name}" is invalid: {body}', details
    )


def _finalized(res: Resource, obj: Obj) -> bool:
    """A deleting object whose finalizers are all gone is removed by the update that
    cleared them; a namespace also needs its spec.finalizers (``kubernetes``) cleared."""
    meta = obj["metadata"]
    if not meta.get("deletionTimestamp") or meta.get("finalizers"):
        return False
    if res.key == _NAMESPACES and (obj.get("spec") or {}).get("finalizers"):
        return False
    return not _graceful_pending(res, obj)


def _graceful_pending(res: Resource, obj: Obj) -> bool:
    """A pod in graceful deletion stays until its kubelet deletes it with grace 0."""
    return (
        res.key == _PODS
        and bool((obj.get("spec") or {}).get("nodeName"))
        and bool(obj["metadata"].get("deletionGracePeriodSeconds"))
    )


def _same(new: Obj, old: Obj) -> bool:
    a = dict(new)
    b = dict(old)
    am = dict(a.get("metadata") or {})
    bm = dict(b.get("metadata") or {})
    for m in (am, bm):
        m.pop("resourceVersion", None)
    a["metadata"] = am
    b["metadata"] = bm
    return a == b


def _schema(res: Resource) -> schemas.SchemaNode | None:
    return schemas.node_for_gvk(res.group, res.version, res.kind)


def _encode(obj: Obj) -> bytes:
    """The stored form: apiVersion, kind, then metadata opening with an empty
    resourceVersion, so the watch cache can stamp each revision into the bytes without
    decoding them (watchcache.make_entry)."""
    meta = obj.get("metadata") or {}
    ordered: Obj = {}
    for k in ("apiVersion", "kind"):
        if k in obj:
            ordered[k] = obj[k]
    ordered["metadata"] = {
        "resourceVersion": "",
        **{k: v for k, v in meta.items() if k != "resourceVersion"},
    }
    for k, v in obj.items():
        if k not in ordered:
            ordered[k] = v
    return orjson.dumps(ordered)


def _parse_rv(rv: str) -> int:
    try:
        n = int(rv)
    except ValueError:
        raise errors.bad_request(
            f"Invalid value: {rv!r}: must be a valid resource version".replace("'", '"')
        )
    if n < 0:
        raise errors.bad_request(f'resourceVersion: Invalid value: "{rv}"')
    return n


def _namespaces_resource() -> Resource:
    from pyk8s.api import resources

    r = resources.find("", "v1", "namespaces")
    assert r is not None
    return r
