"""Pod, PodSpec, PodTemplateSpec and containers (core ``ValidatePodCreate``,
``ValidatePodUpdate``, ``ValidatePodSpec``, ``ValidatePodTemplateSpec``).

Expects defaulted objects (``pyk8s.api.defaults.apply_defaults`` ran), as upstream's
validation sees them: ``restartPolicy``, ``dnsPolicy``, ``imagePullPolicy``,
``terminationMessagePolicy``, ports' ``protocol``, probes' thresholds are set, so an empty
one is reported as ``Required value`` exactly as upstream would.  Feature gates are those
on by default in 1.33 (sidecar containers, relaxed env var names, relaxed DNS search,
sleep action zero value).
"""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api.validation import containers, field, names, scheduling, volumes
from pyk8s.api.validation.access import Obj, as_int, as_list, as_obj, as_str
from pyk8s.api.validation.field import Cause, Path

__all__ = [
    "validate_pod_annotations",
    "validate_pod_create",
    "validate_pod_spec",
    "validate_pod_template_spec",
    "validate_pod_update",
]


def _dns_config(spec: Obj, path: Path) -> list[Cause]:
    cfg = spec.get("dnsConfig")
    if spec.get("dnsPolicy") == "None":
        if not isinstance(cfg, dict):
            return [field.required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not as_list(cfg.get("nameservers")):
            return [
                field.required(
                    path.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )
            ]
    if not isinstance(cfg, dict):
        return []
    out: list[Cause] = []
    servers = [as_str(s) for s in as_list(cfg.get("nameservers"))]
    if len(servers) > 3:
        out.append(
            field.invalid(
                path.child("nameservers"),
                field.go_str_list(servers),
                "must not have more than 3 nameservers",
            )
        )
    for i, s in enumerate(servers):
        if not names.is_valid_ip(s):
            out.append(
                field.invalid(
                    path.child("nameservers").index(i),
                    s,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )
    searches = [as_str(s) for s in as_list(cfg.get("searches"))]
    if len(searches) > 32:
        out.append(
            field.invalid(
                path.child("searches"),
                field.go_str_list(searches),
                "must not have more than 32 search paths",
            )
        )
    if len(" ".join(searches)) > 2048:
        out.append(
            field.invalid(
                path.child("searches"),
                field.go_str_list(searches),
                "must not have more than 2048 characters (including spaces) in the search list",
            )
        )
    for i, s in enumerate(searches):
        if s != ".":
            s = s.removesuffix(".")
            out.extend(
                field.invalid(path.child("searches").index(i), s, m)
                for m in names.is_dns1123_subdomain_with_underscore(s)
            )
    for i, opt in enumerate(as_list(cfg.get("options"))):
        if not as_str(as_obj(opt).get("name")):
            out.append(field.required(path.child("options").index(i), "must not be empty"))
    return out


def validate_pod_spec(
    spec: Any, path: Path, *, pod_name: str = "", is_pod: bool = False
) -> list[Cause]:
    spec = as_obj(spec)
    out: list[Cause] = []
    grace_raw = spec.get("terminationGracePeriodSeconds")
    grace = as_int(grace_raw)
    sc = as_obj(spec.get("securityContext"))
    host_users = sc.get("hostUsers") is not False
    vols, errs = volumes.validate_volumes(spec.get("volumes"), path.child("volumes"), pod_name)
    out.extend(errs)
    out.extend(containers.validate_containers(spec, vols, path, grace, host_users))
    out.extend(containers.validate_init_containers(spec, vols, path, grace, host_users))
    if spec.get("hostNetwork") is True:
        for i, c in enumerate(as_list(spec.get("containers"))):
            for j, p in enumerate(as_list(as_obj(c).get("ports"))):
                hp, cp = as_int(as_obj(p).get("hostPort")), as_int(as_obj(p).get("containerPort"))
                if (is_pod or hp != 0) and hp != cp:
                    out.append(
                        field.invalid(
                            path.child("containers")
                            .index(i)
                            .child("ports")
                            .index(j)
                            .child("hostPort"),
                            hp,
                            "must match `containerPort` when `hostNetwork` is true",
                        )
                    )
    restart = as_str(spec.get("restartPolicy"))
    if not restart:
        out.append(field.required(path.child("restartPolicy")))
    elif restart not in ("Always", "OnFailure", "Never"):
        out.append(
            field.not_supported(
                path.child("restartPolicy"), restart, ("Always", "OnFailure", "Never")
            )
        )
    dns = as_str(spec.get("dnsPolicy"))
    if not dns:
        out.append(field.required(path.child("dnsPolicy")))
    elif dns not in ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"):
        out.append(
            field.not_supported(
                path.child("dnsPolicy"),
                dns,
                ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"),
            )
        )
    out.extend(names.validate_labels(spec.get("nodeSelector"), path.child("nodeSelector")))
    out.extend(scheduling.validate_pod_security_context(spec, path))
    for i, ref in enumerate(as_list(spec.get("imagePullSecrets"))):
        ref = as_obj(ref)
        if set(ref) - {"name"}:
            out.append(
                field.invalid(
                    path.child("imagePullSecrets").index(i),
                    field.GoRepr(
                        f"core.LocalObjectReference{{Name:{field.go_quote(as_str(ref.get('name')))}}}"
                    ),
                    "only name may be set",
                )
            )
    out.extend(scheduling.validate_affinity(spec.get("affinity"), path.child("affinity")))
    out.extend(_dns_config(spec, path.child("dnsConfig")))
    for i, gate in enumerate(as_list(spec.get("readinessGates"))):
        ct = as_str(as_obj(gate).get("conditionType"))
        out.extend(
            names.validate_qualified_name(
                ct, path.child("readinessGates").index(i).child("conditionType")
            )
        )
    gates_seen: set[str] = set()
    for i, gate in enumerate(as_list(spec.get("schedulingGates"))):
        gname = as_str(as_obj(gate).get("name"))
        out.extend(names.validate_qualified_name(gname, path.child("schedulingGates").index(i)))
        if gname in gates_seen:
            out.append(field.duplicate(path.child("schedulingGates").index(i), gname))
        gates_seen.add(gname)
    out.extend(
        scheduling.validate_topology_spread(
            spec.get("topologySpreadConstraints"), path.child("topologySpreadConstraints")
        )
    )
    if sc.get("hostUsers") is False:
        for key, seg in (
            ("hostNetwork", "hostNetwork"),
            ("hostPID", "HostPID"),
            ("hostIPC", "HostIPC"),
        ):
            if spec.get(key) is True:
                out.append(field.forbidden(path.child(seg), "when `pod.Spec.HostUsers` is false"))
    sa = as_str(spec.get("serviceAccountName"))
    if sa:
        out.extend(
            field.invalid(path.child("serviceAccountName"), sa, m)
            for m in names.is_dns1123_subdomain(sa)
        )
    node = as_str(spec.get("nodeName"))
    if node:
        out.extend(
            field.invalid(path.child("nodeName"), node, m) for m in names.is_dns1123_subdomain(node)
        )
    ads = spec.get("activeDeadlineSeconds")
    if isinstance(ads, int) and not 1 <= ads <= 2**31 - 1:
        out.append(
            field.invalid(
                path.child("activeDeadlineSeconds"), ads, names.inclusive_range_error(1, 2**31 - 1)
            )
        )
    for key in ("hostname", "subdomain"):
        v = as_str(spec.get(key))
        if v:
            out.extend(names.validate_dns1123_label(v, path.child(key)))
    out.extend(scheduling.validate_tolerations(spec.get("tolerations"), path.child("tolerations")))
    for i, ha in enumerate(as_list(spec.get("hostAliases"))):
        ha = as_obj(ha)
        ip = as_str(ha.get("ip"))
        hap = path.child("hostAliases").index(i)
        if not names.is_valid_ip(ip):
            out.append(
                field.invalid(
                    hap.child("ip"),
                    ip,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )
        for j, h in enumerate(as_list(ha.get("hostnames"))):
            out.extend(names.validate_dns1123_subdomain(as_str(h), hap.child("hostnames").index(j)))
    pcn = as_str(spec.get("priorityClassName"))
    if pcn:
        out.extend(
            field.invalid(path.child("priorityClassName"), pcn, m)
            for m in names.is_dns1123_subdomain(pcn)
        )
    rcn = spec.get("runtimeClassName")
    if isinstance(rcn, str):
        out.extend(
            field.invalid(path.child("runtimeClassName"), rcn, m)
            for m in names.is_dns1123_subdomain(rcn)
        )
    pp = spec.get("preemptionPolicy")
    if isinstance(pp, str) and pp not in ("PreemptLowerPriority", "Never"):
        out.append(
            field.required(path.child("preemptionPolicy"))
            if not pp
            else field.not_supported(
                path.child("preemptionPolicy"), pp, ("PreemptLowerPriority", "Never")
            )
        )
    os_ = spec.get("os")
    if isinstance(os_, dict):
        osn = as_str(os_.get("name"))
        if not osn:
            out.append(field.required(path.child("os", "name")))
        elif osn not in ("linux", "windows"):
            out.append(field.not_supported(path.child("os", "name"), osn, ("linux", "windows")))
    if grace_raw is None:
        out.insert(0, field.required(path.child("terminationGracePeriodSeconds")))
    return out


def validate_pod_annotations(meta: Obj, spec: Obj, path: Path) -> list[Cause]:
    ann = as_obj(meta.get("annotations"))
    out: list[Cause] = []
    if "kubernetes.io/config.mirror" in ann and not as_str(spec.get("nodeName")):
        out.append(
            field.invalid(
                path.key("kubernetes.io/config.mirror"),
                as_str(ann["kubernetes.io/config.mirror"]),
                "must set spec.nodeName if mirror pod annotation is set",
            )
        )
    cost = ann.get("controller.kubernetes.io/pod-deletion-cost")
    if isinstance(cost, str):
        try:
            ok = -(2**31) <= int(cost, 10) < 2**31 and cost.strip() == cost and "_" not in cost
        except ValueError:
            ok = False
        if not ok:
            out.append(
                field.invalid(
                    path.key("controller.kubernetes.io/pod-deletion-cost"),
                    cost,
                    "must be a 32bit integer",
                )
            )
    return out


def validate_pod_template_spec(tmpl: Any, path: Path) -> list[Cause]:
    tmpl = as_obj(tmpl)
    meta = as_obj(tmpl.get("metadata"))
    spec = as_obj(tmpl.get("spec"))
    out = names.validate_labels(meta.get("labels"), path.child("labels"))
    out.extend(names.validate_annotations(meta.get("annotations"), path.child("annotations")))
    out.extend(validate_pod_annotations(meta, spec, path.child("annotations")))
    out.extend(validate_pod_spec(spec, path.child("spec")))
    if as_list(spec.get("ephemeralContainers")):
        out.append(
            field.forbidden(
                path.child("spec", "ephemeralContainers"),
                "ephemeral containers not allowed in pod template",
            )
        )
    return out


def _pod_metadata_and_spec(pod: Obj) -> list[Cause]:
    meta, spec = as_obj(pod.get("metadata")), as_obj(pod.get("spec"))
    mp, sp = Path("metadata"), Path("spec")
    out = names.validate_object_meta(
        meta, namespaced=True, name_fn=names.name_is_dns_subdomain, path=mp
    )
    out.extend(validate_pod_annotations(meta, spec, mp.child("annotations")))
    out.extend(validate_pod_spec(spec, sp, pod_name=as_str(meta.get("name")), is_pod=True))
    if not as_str(spec.get("serviceAccountName")):
        for vi, vol in enumerate(as_list(spec.get("volumes"))):
            for si, src in enumerate(as_list(as_obj(as_obj(vol).get("projected")).get("sources"))):
                if isinstance(as_obj(src).get("serviceAccountToken"), dict):
                    out.append(
                        field.forbidden(
                            sp.child("volumes")
                            .index(vi)
                            .child("projected", "sources")
                            .index(si)
                            .child("serviceAccountToken"),
                            "must not be specified when serviceAccountName is not set",
                        )
                    )
    for key in ("containers", "initContainers"):
        for i, c in enumerate(as_list(spec.get(key))):
            image = as_str(as_obj(c).get("image"))
            if image != image.strip():
                out.append(
                    field.invalid(
                        sp.child(key).index(i).child("image"),
                        image,
                        "must not have leading or trailing whitespace",
                    )
                )
    return out


def validate_pod_create(pod: Obj) -> list[Cause]:
    out = _pod_metadata_and_spec(pod)
    spec = as_obj(pod.get("spec"))
    if as_list(spec.get("ephemeralContainers")):
        out.append(field.forbidden(Path("spec", "ephemeralContainers"), "cannot be set on create"))
    if as_str(spec.get("nodeName")) and as_list(spec.get("schedulingGates")):
        out.append(
            field.forbidden(
                Path("spec", "nodeName"),
                "cannot be set until all schedulingGates have been cleared",
            )
        )
    return out


_UPDATABLE_MSG: Final = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _spec_diff(old: Obj, new: Obj) -> str:
    """A short rendering of the changed top-level PodSpec fields (upstream: cmp.Diff)."""
    import json

    lines = ["  core.PodSpec{"]
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            go_name = key[:1].upper() + key[1:]
            if key in old:
                lines.append(f"- \t{go_name}: {json.dumps(old[key], sort_keys=True)},")
            if key in new:
                lines.append(f"+ \t{go_name}: {json.dumps(new[key], sort_keys=True)},")
    lines.append("  }")
    return "\n".join(lines) + "\n"


def validate_pod_update(new: Obj, old: Obj) -> list[Cause]:
    mp, sp = Path("metadata"), Path("spec")
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"), mp)
    out.extend(_pod_metadata_and_spec(new))
    new_ann, old_ann = (
        as_obj(as_obj(new.get("metadata")).get("annotations")),
        as_obj(as_obj(old.get("metadata")).get("annotations")),
    )
    mirror = "kubernetes.io/config.mirror"
    if mirror in old_ann and new_ann.get(mirror) != old_ann[mirror]:
        out.append(
            field.forbidden(
                mp.child("annotations").key(mirror),
                "may not remove or update mirror pod annotation",
            )
        )
    if mirror in new_ann and mirror not in old_ann:
        out.append(
            field.forbidden(
                mp.child("annotations").key(mirror), "may not add mirror pod annotation"
            )
        )
    ns, os_ = as_obj(new.get("spec")), as_obj(old.get("spec"))
    for key in ("containers", "initContainers"):
        nc, oc = as_list(ns.get(key)), as_list(os_.get(key))
        if len(nc) != len(oc):
            out.append(
                field.forbidden(sp.child(key), "pod updates may not add or remove containers")
            )
            return out
        for i, c in enumerate(nc):
            image = as_str(as_obj(c).get("image"))
            if not image:
                out.append(field.required(sp.child(key).index(i).child("image")))
            if image.strip() != image:
                out.append(
                    field.invalid(
                        sp.child(key).index(i).child("image"),
                        image,
                        "must not have leading or trailing whitespace",
                    )
                )
    nads, oads = ns.get("activeDeadlineSeconds"), os_.get("activeDeadlineSeconds")
    if isinstance(nads, int):
        if not 0 <= nads <= 2**31 - 1:
            out.append(
                field.invalid(
                    sp.child("activeDeadlineSeconds"),
                    nads,
                    names.inclusive_range_error(0, 2**31 - 1),
                )
            )
            return out
        if isinstance(oads, int) and oads < nads:
            out.append(
                field.invalid(
                    sp.child("activeDeadlineSeconds"),
                    nads,
                    "must be less than or equal to previous value",
                )
            )
            return out
    elif oads is not None:
        out.append(
            field.invalid(
                sp.child("activeDeadlineSeconds"),
                None,
                "must not update from a positive integer to nil value",
            )
        )
    new_tols = [as_obj(t) for t in as_list(ns.get("tolerations"))]
    for old_t in as_list(os_.get("tolerations")):
        old_t = {k: v for k, v in as_obj(old_t).items() if k != "tolerationSeconds"}
        if not any(
            {k: v for k, v in t.items() if k != "tolerationSeconds"} == old_t for t in new_tols
        ):
            out.append(
                field.forbidden(
                    sp.child("tolerations"),
                    "existing toleration can not be modified except its tolerationSeconds",
                )
            )
            break
    old_gates = {as_str(as_obj(g).get("name")) for g in as_list(os_.get("schedulingGates"))}
    for i, g in enumerate(as_list(ns.get("schedulingGates"))):
        gname = as_str(as_obj(g).get("name"))
        if gname not in old_gates:
            out.append(
                field.forbidden(
                    sp.child("schedulingGates").index(i).child("name"),
                    f"only deletion is allowed, but found new scheduling gate '{gname}'",
                )
            )
    if ns == os_:
        return out
    munged = dict(ns)
    for key in ("containers", "initContainers"):
        if key in munged:
            munged[key] = [
                {**as_obj(c), "image": as_obj(oc).get("image")}
                if "image" in as_obj(oc)
                else {k: v for k, v in as_obj(c).items() if k != "image"}
                for c, oc in zip(as_list(ns.get(key)), as_list(os_.get(key)), strict=False)
            ]
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        munged.pop(key, None)
        if key in os_:
            munged[key] = os_[key]
    old_grace = os_.get("terminationGracePeriodSeconds")
    if (
        isinstance(old_grace, int)
        and old_grace < 0
        and munged.get("terminationGracePeriodSeconds") == 1
    ):
        munged["terminationGracePeriodSeconds"] = old_grace
    if os_.get("schedulingGates"):
        for key in ("nodeSelector", "affinity"):
            munged.pop(key, None)
            if key in os_:
                munged[key] = os_[key]
    if munged != os_:
        out.append(field.forbidden(sp, _UPDATABLE_MSG + "\n" + _spec_diff(os_, munged)))
    return out
