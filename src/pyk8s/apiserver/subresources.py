"""Subresources and create-only virtual resources: status, scale, binding, eviction,
finalize, log (proxied to the node's kubelet), and the authentication/authorization
reviews (SelfSubjectReview for ``kubectl auth whoami``, access reviews)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from aiohttp import web

from pyk8s.api import errors, resources, selectors
from pyk8s.api.crd import scale as crd_scale
from pyk8s.api.resources import Resource
from pyk8s.apiserver import negotiation, objectmeta, responses, strategy, streaming
from pyk8s.apiserver.negotiation import BodyType, Choice
from pyk8s.apiserver.routing import ResourceRequest

if TYPE_CHECKING:
    from pyk8s.apiserver.handlers import ResourceHandler

__all__ = ["handle", "virtual_create"]

Obj = dict[str, Any]


def _scale_of(res_obj: Obj, *, selector_path: tuple[str, ...] = ("spec", "selector")) -> Obj:
    meta = res_obj.get("metadata") or {}
    spec = res_obj.get("spec") or {}
    status = res_obj.get("status") or {}
    sel = spec.get("selector")
    if isinstance(sel, dict) and ("matchLabels" in sel or "matchExpressions" in sel):
        sel_str = _selector_string(sel)
    elif isinstance(sel, dict):  # ReplicationController: a plain map
        sel_str = ",".join(f"{k}={v}" for k, v in sorted(sel.items()))
    else:
        sel_str = ""
    out_status: Obj = {"replicas": status.get("replicas", 0)}
    if sel_str:
        out_status["selector"] = sel_str
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": out_status,
    }


def _selector_string(sel: Obj) -> str:
    """metav1.LabelSelector in the string form Scale.status.selector uses."""
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op, key, values = e.get("operator"), e.get("key"), sorted(e.get("values") or [])
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def _custom_scale(res: Resource) -> crd_scale.ScaleSpec | None:
    strat = strategy.for_resource(res)
    return strat.scale if isinstance(strat, strategy.CustomStrategy) else None


def _scale_view(res: Resource, obj: Obj) -> Obj:
    custom = _custom_scale(res)
    if custom is not None:
        return crd_scale.scale_from_object(custom, obj)
    return _scale_of(obj)


async def handle(
    h: ResourceHandler, request: web.Request, rr: ResourceRequest, choice: Choice, user: Any
) -> web.StreamResponse:
    sub = rr.subresource
    res = rr.resource
    method = request.method
    assert rr.name is not None
    if sub in ("status", "ephemeralcontainers", "resize", "finalize"):
        sub_name = "status" if sub == "finalize" else sub
        if method == "GET":
            return await h.get(request, rr, choice)
        if method == "PUT":
            if sub == "finalize":
                return await _finalize(h, request, rr, choice, user)
            return await h.replace(
                request, rr, choice, user, subresource=sub_name if sub == "status" else None
            )
        if method == "PATCH" and sub != "finalize":
            return await h.patch(
                request, rr, choice, user, subresource=sub_name if sub == "status" else None
            )
        raise errors.method_not_supported(res.group, f"{res.plural}/{sub}", method.lower())
    if sub == "scale":
        return await _scale(h, request, rr, user)
    if sub == "binding" and method == "POST":
        body = await _body(request)
        return await _bind(h, rr.namespace, rr.name, body, user)
    if sub == "eviction" and method == "POST":
        return await _evict(h, request, rr)
    if sub == "log" and method == "GET":
        return await _log(h, request, rr)
    if sub in ("exec", "attach", "portforward") and method in ("GET", "POST"):
        return await streaming.tunnel(h, request, rr, h.kubelet_tls)
    if sub == "proxy":
        raise errors.StatusError(
            503, "ServiceUnavailable", "the proxy subresource is not served yet"
        )
    raise errors.method_not_supported(res.group, f"{res.plural}/{sub}", method.lower())


async def _body(request: web.Request) -> Obj:
    from pyk8s.apiserver.handlers import decode_object, read_body

    bt = negotiation.body_type(request.headers.get("Content-Type"))
    if bt not in (BodyType.JSON, BodyType.YAML, BodyType.PROTOBUF):
        raise errors.unsupported_media_type(
            request.headers.get("Content-Type", ""), ["application/json", "application/yaml"]
        )
    return decode_object(await read_body(request), bt)


async def _scale(
    h: ResourceHandler, request: web.Request, rr: ResourceRequest, user: Any
) -> web.Response:
    from pyk8s.apiserver import patching

    res = rr.resource
    assert rr.name is not None
    if request.method == "GET":
        entry = await h.registry.get(res, rr.namespace, rr.name)
        return web.Response(
            body=orjson.dumps(_scale_view(res, entry.decode())), content_type="application/json"
        )
    if request.method == "PUT":
        scale = await _body(request)
        patch_doc: Any = None
        bt = None
    elif request.method == "PATCH":
        bt = negotiation.body_type(request.headers.get("Content-Type"))
        if bt not in (BodyType.JSON_PATCH, BodyType.MERGE_PATCH, BodyType.STRATEGIC_PATCH):
            raise errors.unsupported_media_type(
                request.headers.get("Content-Type", ""), negotiation.accepted_patch_types()
            )
        from pyk8s.apiserver.handlers import read_body

        patch_doc = patching.decode_patch(await read_body(request), bt)
        scale = {}
    else:
        raise errors.method_not_supported(res.group, f"{res.plural}/scale", request.method.lower())
    ctx = h._ctx(request, user)
    scale_res = resources.find("autoscaling", "v1", "horizontalpodautoscalers")
    assert scale_res is not None

    async def mutate(old: Obj) -> Obj:
        current = _scale_view(res, old)
        if patch_doc is not None and bt is not None:
            try:
                from pyk8s.api.patch import json_patch, merge_patch

                if bt is BodyType.JSON_PATCH:
                    new_scale = json_patch.apply_json_patch(current, patch_doc)
                else:
                    new_scale = merge_patch.apply_merge_patch(current, patch_doc)
            except ValueError as exc:
                raise errors.StatusError(422, "Invalid", str(exc))
        else:
            new_scale = scale
        rv = (new_scale.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"].get("resourceVersion"):
            raise errors.conflict(res.group, res.plural, rr.name or "", errors.MODIFIED)
        replicas = (new_scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid(
                "autoscaling",
                "Scale",
                rr.name or "",
                [
                    {
                        "reason": "FieldValueInvalid",
                        "message": f"spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0",
                        "field": "spec.replicas",
                    }
                ],
            )
        custom = _custom_scale(res)
        if custom is not None:
            new = crd_scale.apply_scale(custom, old, new_scale)
        else:
            new = copy.deepcopy(old)
            new.setdefault("spec", {})["replicas"] = replicas
        new["metadata"].pop("resourceVersion", None)
        return new

    updated = await h.registry.update(res, rr.namespace, rr.name, mutate, ctx)
    return web.Response(
        body=orjson.dumps(_scale_view(res, updated)), content_type="application/json"
    )


async def _bind(
    h: ResourceHandler, ns: str | None, pod_name: str, binding: Obj, user: Any
) -> web.Response:
    pods = resources.find("", "v1", "pods")
    assert pods is not None
    target = (binding.get("target") or {}).get("name")
    if not target:
        raise errors.invalid(
            "",
            "Binding",
            pod_name,
            [
                {
                    "reason": "FieldValueRequired",
                    "message": "target.name: Required value",
                    "field": "target.name",
                }
            ],
        )

    async def mutate(old: Obj) -> Obj:
        spec = old.setdefault("spec", {})
        if old["metadata"].get("deletionTimestamp"):
            raise errors.conflict(
                "", "pods/binding", pod_name, "pod is being deleted, cannot be assigned to a host"
            )
        if spec.get("nodeName"):
            raise errors.conflict(
                "",
                "pods/binding",
                pod_name,
                f'pod {pod_name} is already assigned to node "{spec["nodeName"]}"',
            )
        spec["nodeName"] = target
        status = old.setdefault("status", {})
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conds.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": objectmeta.now_rfc3339(),
            }
        )
        status["conditions"] = conds
        return old

    from pyk8s.apiserver.registry import WriteContext

    await h.registry.update(
        pods, ns, pod_name, mutate, WriteContext(manager="kube-scheduler"), subresource="binding"
    )
    return web.Response(
        status=201,
        body=orjson.dumps(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        ),
        content_type="application/json",
    )


async def _evict(h: ResourceHandler, request: web.Request, rr: ResourceRequest) -> web.Response:
    """The eviction subresource as upstream's (pkg/registry/core/pod/storage/eviction.go):
    a pod that is terminal, Pending or already being deleted goes at once; otherwise the
    one PodDisruptionBudget covering it must allow a disruption, which the eviction takes
    (``disruptionsAllowed`` decremented and the pod noted in ``disruptedPods``, written
    with compare-and-swap) before the pod is deleted. An unready pod may go without taking
    a disruption when the budget is healthy, or always with ``AlwaysAllow``."""
    from pyk8s.apiserver.registry import DeleteOptions, WriteContext
    from pyk8s.apiserver.watchcache import Filter

    assert rr.name is not None
    ev = await _body(request)
    opts_obj = ev.get("deleteOptions") or {}
    dry_run = bool(opts_obj.get("dryRun")) or bool(request.query.getall("dryRun", []))
    pod = (await h.registry.get(rr.resource, rr.namespace, rr.name)).decode()
    meta = pod.get("metadata") or {}
    phase = (pod.get("status") or {}).get("phase")
    if not meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed", "Pending"):
        pdbs = resources.find("policy", "v1", "poddisruptionbudgets")
        assert pdbs is not None
        page = await h.registry.list(pdbs, Filter(namespace=rr.namespace))
        labels = meta.get("labels") or {}
        matching = []
        for e in page.entries:
            pdb = e.decode()
            selector = selectors.from_label_selector_obj((pdb.get("spec") or {}).get("selector"))
            if selector.matches(labels):
                matching.append(pdb)
        if len(matching) > 1:
            raise errors.internal_error(
                "This pod has more than one PodDisruptionBudget, "
                "which the eviction subresource does not support."
            )
        if matching and not _unready_may_go(pod, matching[0]):
            name = matching[0]["metadata"]["name"]

            async def take(old: Obj) -> Obj:
                _check_and_decrement(old, rr.name or "", dry_run=dry_run)
                return old

            if dry_run:
                _check_and_decrement(matching[0], rr.name, dry_run=True)
            else:
                await h.registry.update(
                    pdbs,
                    rr.namespace,
                    name,
                    take,
                    WriteContext(manager="eviction"),
                    subresource="status",
                )
    pre = opts_obj.get("preconditions") or {}
    opts = DeleteOptions(
        grace_period=opts_obj.get("gracePeriodSeconds"),
        precondition_uid=pre.get("uid"),
        precondition_rv=pre.get("resourceVersion"),
        dry_run=dry_run,
    )
    await h.registry.delete(rr.resource, rr.namespace, rr.name, opts)
    return web.Response(
        status=201,
        body=orjson.dumps(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        ),
        content_type="application/json",
    )


def _unready_may_go(pod: Obj, pdb: Obj) -> bool:
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )
    if ready:
        return False
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    st = pdb.get("status") or {}
    desired = st.get("desiredHealthy", 0)
    return bool(desired > 0 and st.get("currentHealthy", 0) >= desired)


_MAX_DISRUPTED_PODS = 2000


def _pdb_forbidden(name: str, why: str) -> errors.StatusError:
    return errors.forbidden(
        f'poddisruptionbudgets.policy "{name}" is forbidden: {why}',
        {"name": name, "group": "policy", "kind": "poddisruptionbudgets"},
    )


_EVICT_REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."


def _check_and_decrement(pdb: Obj, pod_name: str, *, dry_run: bool) -> None:
    name = pdb["metadata"]["name"]
    st = pdb.setdefault("status", {})
    if st.get("observedGeneration", 0) < pdb["metadata"].get("generation", 0):
        cause = f"The disruption budget {name} is still being processed by the server."
        raise errors.StatusError(
            429,
            "TooManyRequests",
            _EVICT_REFUSED,
            {"causes": [{"reason": "DisruptionBudget", "message": cause}], "retryAfterSeconds": 10},
        )
    allowed = st.get("disruptionsAllowed", 0)
    if allowed < 0:
        raise _pdb_forbidden(name, "pdb disruptions allowed is negative")
    if len(st.get("disruptedPods") or {}) > _MAX_DISRUPTED_PODS:
        raise _pdb_forbidden(
            name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller"
        )
    if allowed == 0:
        cause = (
            f"The disruption budget {name} needs {st.get('desiredHealthy', 0)} healthy pods "
            f"and has {st.get('currentHealthy', 0)} currently"
        )
        raise errors.StatusError(
            429,
            "TooManyRequests",
            _EVICT_REFUSED,
            {"causes": [{"reason": "DisruptionBudget", "message": cause}]},
        )
    if dry_run:
        return
    st["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        for c in st.get("conditions") or []:
            if c.get("type") == "DisruptionAllowed":
                c.update(status="False", reason="InsufficientPods", message="")
                c["lastTransitionTime"] = objectmeta.now_rfc3339()
    st.setdefault("disruptedPods", {})[pod_name] = objectmeta.now_rfc3339()


async def _finalize(
    h: ResourceHandler, request: web.Request, rr: ResourceRequest, choice: Choice, user: Any
) -> web.Response:
    body = await _body(request)
    assert rr.name is not None
    finalizers = (body.get("spec") or {}).get("finalizers") or []

    async def mutate(old: Obj) -> Obj:
        old.setdefault("spec", {})["finalizers"] = finalizers
        if not finalizers:
            old["spec"].pop("finalizers")
        return old

    ctx = h._ctx(request, user)
    # the update itself removes a Terminating namespace whose finalizers are all gone
    updated = await h.registry.update(
        rr.resource, None, rr.name, mutate, ctx, subresource="finalize"
    )
    body_out, ct = responses.encode_object(rr.resource, updated, choice)
    return web.Response(body=body_out, content_type=ct)


async def _log(h: ResourceHandler, request: web.Request, rr: ResourceRequest) -> web.StreamResponse:
    assert rr.name is not None
    pod = (await h.registry.get(rr.resource, rr.namespace, rr.name)).decode()
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.bad_request(f"pod {rr.name} does not have a host assigned")
    containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    container = request.query.get("container")
    if not container:
        if len(containers) != 1:
            raise errors.bad_request(
                f"a container name must be specified for pod {rr.name}, choose one of: [{' '.join(containers)}]"
            )
        container = containers[0]
    nodes = resources.find("", "v1", "nodes")
    assert nodes is not None
    node = (await h.registry.get(nodes, None, node_name)).decode()
    host, port = streaming.kubelet_endpoint(node)
    base = f"https://{host}:{port}"
    url = f"{base}/containerLogs/{rr.namespace}/{rr.name}/{container}"
    params = {
        k: v
        for k, v in request.query.items()
        if k
        in (
            "follow",
            "previous",
            "timestamps",
            "tailLines",
            "sinceSeconds",
            "sinceTime",
            "limitBytes",
        )
    }
    ctx = h.kubelet_tls.context  # the apiserver's client certificate: kubelets want one
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    async with aiohttp.ClientSession() as session:
        try:
            async with session.get(url, params=params, ssl=ctx) as upstream:
                if upstream.status != 200:
                    text = await upstream.text()
                    raise errors.bad_request(text.strip() or f"kubelet answered {upstream.status}")
                await resp.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await resp.write(chunk)
        except aiohttp.ClientError as exc:
            raise errors.StatusError(
                503, "ServiceUnavailable", f"error dialing kubelet on {node_name}: {exc}"
            )
    await resp.write_eof()
    return resp


async def virtual_create(
    h: ResourceHandler, request: web.Request, rr: ResourceRequest, obj: Obj, user: Any
) -> web.Response:
    res = rr.resource
    user_info = {
        "username": getattr(user, "name", ""),
        "groups": list(getattr(user, "groups", ())),
    }
    if getattr(user, "uid", ""):
        user_info["uid"] = user.uid
    out: Obj = {
        "kind": res.kind,
        "apiVersion": res.api_version,
        "metadata": {"creationTimestamp": None},
    }
    if res.plural == "selfsubjectreviews":
        out["status"] = {"userInfo": user_info}
    elif res.plural in ("selfsubjectaccessreviews", "subjectaccessreviews"):
        out["spec"] = obj.get("spec") or {}
        out["status"] = {"allowed": True, "reason": "pyk8s authorizes every authenticated user"}
    elif res.plural == "tokenreviews":
        token = (obj.get("spec") or {}).get("token", "")
        authn = request.app.get("authenticator")
        who = authn.authenticate_token(token) if authn is not None else None
        out["spec"] = obj.get("spec") or {}
        if who is None:
            out["status"] = {"authenticated": False, "user": {}}
        else:
            out["status"] = {
                "authenticated": True,
                "user": {"username": who.name, "uid": who.uid, "groups": list(who.groups)},
            }
    elif res.plural == "bindings":
        name = (obj.get("metadata") or {}).get("name", "")
        return await _bind(h, rr.namespace, name, obj, user)
    else:
        raise errors.method_not_supported(res.group, res.plural, "create")
    return web.Response(status=201, body=orjson.dumps(out), content_type="application/json")
