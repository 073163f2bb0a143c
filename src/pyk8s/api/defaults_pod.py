"""Defaults of PodSpec and everything inside it (core/v1 ``SetDefaults_PodSpec``,
``SetDefaults_Container``, ``SetDefaults_Probe``, ``SetDefaults_Volume`` … and the
generated ``+default`` markers), shared by Pods and every pod template.

``default_pod_spec`` is what a pod *template* gets; ``default_pod`` adds the Pod-only
defaults (``enableServiceLinks``, requests copied from limits, host ports under
``hostNetwork``; ``priority``/``preemptionPolicy`` are left to the Priority admission
plugin).  Quantities are rounded up to milli units and printed canonically
(``0.25`` → ``250m``), as upstream stores them.
"""

from __future__ import annotations

import functools
from typing import Any, Final

from pyk8s.api.validation.quantity import QuantityError, parse_quantity

__all__ = [
    "canonical_resource_list",
    "default_pod",
    "default_pod_spec",
    "default_pvc_spec",
    "image_pull_policy",
    "items_at",
    "mapping_at",
]

Obj = dict[str, Any]

_MODE_DEFAULT: Final = 420  # 0644


def items_at(parent: Any, key: str) -> list[Obj]:
    """The dict entries of the list at ``parent[key]``; anything else reads as empty."""
    v = parent.get(key) if isinstance(parent, dict) else None
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def mapping_at(parent: Any, key: str) -> Obj:
    """The dict at ``parent[key]``, or an empty (detached) one."""
    v = parent.get(key) if isinstance(parent, dict) else None
    return v if isinstance(v, dict) else {}


def _obj(parent: Obj, key: str) -> Obj | None:
    v = parent.get(key)
    return v if isinstance(v, dict) else None


def canonical_resource_list(rl: Any) -> None:
    """``SetDefaults_ResourceList``: round up to milli units, store the canonical form."""
    if not isinstance(rl, dict):
        return
    for k, v in list(rl.items()):
        if isinstance(v, str | int | float):
            canonical = _canonical_quantity(v)
            if canonical is not None:
                rl[k] = canonical
        # else: a decoding error; reported by validation.decode_error


@functools.lru_cache(maxsize=4096, typed=True)
def _canonical_quantity(v: str | int | float) -> str | None:
    """Every pod write re-defaults its resources: the few distinct quantities a cluster
    uses are parsed (exact fractions, slow) once."""
    try:
        return str(parse_quantity(v).round_up_milli())
    except QuantityError:
        return None


def image_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or an untagged, undigested image; else ``IfNotPresent``."""
    name, _, digest = image.partition("@")
    if digest:
        return "IfNotPresent"
    last = name.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _field_ref(ref: Any) -> None:
    if isinstance(ref, dict) and not ref.get("apiVersion"):
        ref["apiVersion"] = "v1"


def _handler(h: Any) -> None:
    if not isinstance(h, dict):
        return
    http = _obj(h, "httpGet")
    if http is not None:
        if not http.get("path"):
            http["path"] = "/"
        if not http.get("scheme"):
            http["scheme"] = "HTTP"
    grpc = _obj(h, "grpc")
    if grpc is not None and grpc.get("service") is None:
        grpc["service"] = ""


def _probe(p: Any) -> None:
    if not isinstance(p, dict):
        return
    for key, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if not p.get(key):
            p[key] = value
    _handler(p)


def _container(c: Obj) -> None:
    if not c.get("imagePullPolicy"):
        image = c.get("image")
        c["imagePullPolicy"] = image_pull_policy(image if isinstance(image, str) else "")
    if not c.get("terminationMessagePath"):
        c["terminationMessagePath"] = "/dev/termination-log"
    if not c.get("terminationMessagePolicy"):
        c["terminationMessagePolicy"] = "File"
    for port in items_at(c, "ports"):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
    for env in items_at(c, "env"):
        vf = _obj(env, "valueFrom")
        if vf is not None:
            _field_ref(vf.get("fieldRef"))
    res = _obj(c, "resources")
    if res is None:
        c["resources"] = {}
    else:
        canonical_resource_list(res.get("limits"))
        canonical_resource_list(res.get("requests"))
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(c.get(key))
    lc = _obj(c, "lifecycle")
    if lc is not None:
        _handler(lc.get("postStart"))
        _handler(lc.get("preStop"))


_VOLUME_SOURCES: Final = (
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
)


def default_pvc_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    if not spec.get("volumeMode"):
        spec["volumeMode"] = "Filesystem"
    res = _obj(spec, "resources")
    if res is not None:
        canonical_resource_list(res.get("requests"))
        canonical_resource_list(res.get("limits"))


def _volume(v: Obj) -> None:
    if not any(isinstance(v.get(k), dict) for k in _VOLUME_SOURCES):
        v["emptyDir"] = {}
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        src = _obj(v, key)
        if src is not None and src.get("defaultMode") is None:
            src["defaultMode"] = _MODE_DEFAULT
    host = _obj(v, "hostPath")
    if host is not None and host.get("type") is None:
        host["type"] = ""
    down = _obj(v, "downwardAPI")
    if down is not None:
        for item in items_at(down, "items"):
            _field_ref(item.get("fieldRef"))
    proj = _obj(v, "projected")
    if proj is not None:
        for src in items_at(proj, "sources"):
            tok = _obj(src, "serviceAccountToken")
            if tok is not None and tok.get("expirationSeconds") is None:
                tok["expirationSeconds"] = 3600
            dapi = _obj(src, "downwardAPI")
            if dapi is not None:
                for item in items_at(dapi, "items"):
                    _field_ref(item.get("fieldRef"))
    eph = _obj(v, "ephemeral")
    if eph is not None:
        tmpl = _obj(eph, "volumeClaimTemplate")
        if tmpl is not None:
            default_pvc_spec(tmpl.get("spec"))
    iscsi = _obj(v, "iscsi")
    if iscsi is not None and not iscsi.get("iscsiInterface"):
        iscsi["iscsiInterface"] = "default"
    empty = _obj(v, "emptyDir")
    if empty is not None and "sizeLimit" in empty:
        try:
            empty["sizeLimit"] = str(parse_quantity(empty["sizeLimit"]))
        except QuantityError:
            pass


def default_pod_spec(spec: Any) -> None:
    """``SetDefaults_PodSpec`` and everything below it (templates and Pods alike)."""
    if not isinstance(spec, dict):
        return
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if not isinstance(spec.get("securityContext"), dict):
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    for v in items_at(spec, "volumes"):
        _volume(v)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in items_at(spec, key):
            _container(c)
    canonical_resource_list(spec.get("overhead"))


def default_pod(pod: Obj) -> None:
    """``SetDefaults_Pod`` (Pod only) on top of the PodSpec defaults."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        spec = pod["spec"] = {}
    default_pod_spec(spec)
    for key in ("containers", "initContainers"):
        for c in items_at(spec, key):
            res = _obj(c, "resources")
            limits = _obj(res, "limits") if res is not None else None
            if res is not None and limits is not None:
                requests = res.get("requests")
                if not isinstance(requests, dict):
                    requests = res["requests"] = {}
                for name, value in limits.items():
                    requests.setdefault(name, value)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork") is True:
        for key in ("containers", "initContainers"):
            for c in items_at(spec, key):
                for port in items_at(c, "ports"):
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort", 0)
