"""Pod volumes, volume mounts and volume devices (core ``ValidateVolumes`` and friends).

``validate_volumes`` returns the causes and the map of valid volume names to their source
(what mounts are checked against).  Exactly one source per volume; the common sources
(emptyDir, hostPath, secret, configMap, projected, downwardAPI, persistentVolumeClaim,
nfs, csi, ephemeral) are validated field by field as upstream does; the remaining
in-tree/cloud sources are only counted, which is enough for the one-source rule.
"""

from __future__ import annotations

import posixpath
from typing import Any, Final

from pyk8s.api.validation import field, names
from pyk8s.api.validation.access import Obj, as_int, as_list, as_obj, as_str
from pyk8s.api.validation.field import Cause, Path
from pyk8s.api.validation.quantity import QuantityError, parse_quantity

__all__ = [
    "validate_local_descending_path",
    "validate_local_non_reserved_path",
    "validate_object_field_selector",
    "validate_volume_devices",
    "validate_volume_mounts",
    "validate_volumes",
]

FILE_MODE_ERROR: Final = "must be a number between 0 and 0777 (octal), both inclusive"
_MORE_THAN_ONE: Final = "may not specify more than 1 volume type"

# (JSON key, path segment upstream reports it under) in upstream's checking order.
_SOURCES: Final = (
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),  # sic: upstream's path for the "more than 1" error
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
)
_HOST_PATH_TYPES: Final = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)
VOLUME_FIELD_PATHS: Final = (
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
)
ENV_FIELD_PATHS: Final = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
RESOURCE_FIELD_PATHS: Final = (
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
)


def _mode(value: Any, path: Path) -> list[Cause]:
    if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= 0o777:
        return [field.invalid(path, value, FILE_MODE_ERROR)]
    return []


def _path_no_backsteps(target: str, path: Path) -> list[Cause]:
    if ".." in target.replace("\\", "/").split("/"):
        return [field.invalid(path, target, "must not contain '..'")]
    return []


def validate_local_descending_path(target: str, path: Path) -> list[Cause]:
    out = []
    if posixpath.isabs(target):
        out.append(field.invalid(path, target, "must be a relative path"))
    return out + _path_no_backsteps(target, path)


def validate_local_non_reserved_path(target: str, path: Path) -> list[Cause]:
    out = validate_local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        out.append(field.invalid(path, target, "must not start with '..'"))
    return out


def _key_to_path(kp: Obj, path: Path) -> list[Cause]:
    out = []
    if not as_str(kp.get("key")):
        out.append(field.required(path.child("key")))
    p = as_str(kp.get("path"))
    if not p:
        out.append(field.required(path.child("path")))
    out.extend(validate_local_non_reserved_path(p, path.child("path")))
    out.extend(_mode(kp.get("mode"), path.child("mode")))
    return out


def validate_object_field_selector(fs: Obj, allowed: tuple[str, ...], path: Path) -> list[Cause]:
    """``validateObjectFieldSelector`` for the downward API (v1 apiVersion only)."""
    api_version = as_str(fs.get("apiVersion"))
    if not api_version:
        return [field.required(path.child("apiVersion"))]
    fp = as_str(fs.get("fieldPath"))
    if not fp:
        return [field.required(path.child("fieldPath"))]
    if api_version != "v1":
        return [
            field.invalid(
                path.child("fieldPath"),
                fp,
                f'error converting fieldPath: unsupported version "{api_version}"',
            )
        ]
    if fp.endswith("]") and "[" in fp:
        base, _, sub = fp[:-1].partition("[")
        sub = sub.strip("'")
        if base == "metadata.annotations":
            return names.validate_qualified_name(sub.lower(), path)
        if base == "metadata.labels":
            return names.validate_qualified_name(sub, path)
        return [field.invalid(path, base, "does not support subscript")]
    if fp not in allowed:
        return [field.not_supported(path.child("fieldPath"), fp, sorted(allowed))]
    return []


def resource_field_selector(rf: Obj, path: Path, *, volume: bool) -> list[Cause]:
    out: list[Cause] = []
    resource = as_str(rf.get("resource"))
    if volume and not as_str(rf.get("containerName")):
        out.append(field.required(path.child("containerName")))
    elif not resource:
        out.append(field.required(path.child("resource")))
    elif resource not in RESOURCE_FIELD_PATHS and not resource.startswith(
        ("requests.hugepages-", "limits.hugepages-")
    ):
        out.append(field.not_supported(path.child("resource"), resource, RESOURCE_FIELD_PATHS))
    divisor = rf.get("divisor")
    if divisor is not None:
        try:
            d = str(parse_quantity(divisor))
        except QuantityError:
            d = ""
        mem = ("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei")
        if d != "0" and d:
            if resource in ("limits.cpu", "requests.cpu") and d not in ("1m", "1"):
                out.append(
                    field.invalid(
                        path.child("divisor"),
                        resource,
                        "only divisor's values 1m and 1 are supported with the cpu resource",
                    )
                )
            elif resource in ("limits.memory", "requests.memory") and d not in mem:
                out.append(
                    field.invalid(
                        path.child("divisor"),
                        resource,
                        "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, "
                        "1Pi, 1Ei are supported with the memory resource",
                    )
                )
    return out


def _downward_file(f: Obj, path: Path) -> list[Cause]:
    out = []
    p = as_str(f.get("path"))
    if not p:
        out.append(field.required(path.child("path")))
    out.extend(validate_local_non_reserved_path(p, path.child("path")))
    if isinstance(f.get("fieldRef"), dict):
        out.extend(
            validate_object_field_selector(
                f["fieldRef"], VOLUME_FIELD_PATHS, path.child("fieldRef")
            )
        )
        if isinstance(f.get("resourceFieldRef"), dict):
            out.append(
                field.invalid(
                    path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                )
            )
    elif isinstance(f.get("resourceFieldRef"), dict):
        out.extend(
            resource_field_selector(
                f["resourceFieldRef"], path.child("resourceFieldRef"), volume=True
            )
        )
    else:
        out.append(field.required(path, "one of fieldRef and resourceFieldRef is required"))
    out.extend(_mode(f.get("mode"), path.child("mode")))
    return out


def _projected(src: Obj, path: Path, sa_token_ok: bool) -> list[Cause]:
    out = _mode(src.get("defaultMode"), path.child("defaultMode"))
    seen: set[str] = set()
    for i, s in enumerate(as_list(src.get("sources"))):
        s = as_obj(s)
        sp = path.child("sources").index(i)
        n = 0
        for kind in ("secret", "configMap"):
            if isinstance(s.get(kind), dict):
                n += 1
                ref = s[kind]
                kp_path = sp.child(kind)
                if not as_str(ref.get("name")):
                    out.append(field.required(kp_path.child("name")))
                for j, kp in enumerate(as_list(ref.get("items"))):
                    kp = as_obj(kp)
                    out.extend(_key_to_path(kp, kp_path.child("items").index(j)))
                    p = as_str(kp.get("path"))
                    if p:
                        if p in seen:
                            out.append(
                                field.invalid(
                                    path, as_str(ref.get("name")), "conflicting duplicate paths"
                                )
                            )
                        seen.add(p)
        if isinstance(s.get("downwardAPI"), dict):
            n += 1
            for f in as_list(s["downwardAPI"].get("items")):
                f = as_obj(f)
                out.extend(_downward_file(f, sp.child("downwardAPI")))
                p = as_str(f.get("path"))
                if p:
                    if p in seen:
                        out.append(field.invalid(path, p, "conflicting duplicate paths"))
                    seen.add(p)
        if isinstance(s.get("serviceAccountToken"), dict):
            n += 1
            tok = s["serviceAccountToken"]
            tp = sp.child("serviceAccountToken")
            exp = as_int(tok.get("expirationSeconds"), 3600)
            if exp < 600:
                out.append(
                    field.invalid(
                        tp.child("expirationSeconds"),
                        exp,
                        "may not specify a duration less than 10 minutes",
                    )
                )
            if exp > 1 << 32:
                out.append(
                    field.invalid(
                        tp.child("expirationSeconds"),
                        exp,
                        "may not specify a duration larger than 2^32 seconds",
                    )
                )
            tpath = as_str(tok.get("path"))
            if not tpath:
                out.append(field.required(path.child("path")))
            else:
                out.extend(validate_local_non_reserved_path(tpath, path.child("path")))
        if isinstance(s.get("clusterTrustBundle"), dict):
            n += 1
        if n > 1:
            out.append(field.forbidden(sp, _MORE_THAN_ONE))
    return out


def _source_errors(key: str, src: Obj, path: Path, vol_name: str, pod_name: str) -> list[Cause]:
    out: list[Cause] = []
    if key == "emptyDir":
        limit = src.get("sizeLimit")
        if limit is not None:
            try:
                negative = parse_quantity(limit).value < 0
            except QuantityError:
                negative = False
            if negative:
                out.append(
                    field.forbidden(
                        path.child("sizeLimit"), "SizeLimit field must be a valid resource quantity"
                    )
                )
    elif key == "hostPath":
        p = as_str(src.get("path"))
        if not p:
            return [field.required(path.child("path"))]
        out.extend(_path_no_backsteps(p, path.child("path")))
        t = src.get("type")
        if isinstance(t, str) and t not in _HOST_PATH_TYPES:
            out.append(field.not_supported(path.child("type"), t, _HOST_PATH_TYPES))
    elif key == "secret":
        if not as_str(src.get("secretName")):
            out.append(field.required(path.child("secretName")))
        out.extend(_mode(src.get("defaultMode"), path.child("defaultMode")))
        for i, kp in enumerate(as_list(src.get("items"))):
            out.extend(_key_to_path(as_obj(kp), path.child("items").index(i)))
    elif key == "configMap":
        if not as_str(src.get("name")):
            out.append(field.required(path.child("name")))
        out.extend(_mode(src.get("defaultMode"), path.child("defaultMode")))
        for i, kp in enumerate(as_list(src.get("items"))):
            out.extend(_key_to_path(as_obj(kp), path.child("items").index(i)))
    elif key == "persistentVolumeClaim":
        if not as_str(src.get("claimName")):
            out.append(field.required(path.child("claimName")))
    elif key == "nfs":
        server, p = as_str(src.get("server")), as_str(src.get("path"))
        if not server:
            out.append(field.required(path.child("server")))
        if not p:
            out.append(field.required(path.child("path")))
        if not p.startswith("/"):
            out.append(field.invalid(path.child("path"), p, "must be an absolute path"))
    elif key == "downwardAPI":
        out.extend(_mode(src.get("defaultMode"), path.child("defaultMode")))
        for f in as_list(src.get("items")):
            out.extend(_downward_file(as_obj(f), path))
    elif key == "projected":
        out.extend(_projected(src, path, True))
    elif key == "csi":
        driver = as_str(src.get("driver"))
        if not driver:
            out.append(field.required(path.child("driver")))
        else:
            out.extend(
                field.invalid(path.child("driver"), driver, m)
                for m in names.is_dns1123_subdomain(driver.lower())
            )
    elif key == "gitRepo":
        if not as_str(src.get("repository")):
            out.append(field.required(path.child("repository")))
        out.extend(
            validate_local_descending_path(as_str(src.get("directory")), path.child("directory"))
        )
    elif key == "ephemeral":
        if not isinstance(src.get("volumeClaimTemplate"), dict):
            out.append(field.required(path.child("volumeClaimTemplate")))
        if pod_name and vol_name:
            pvc = f"{pod_name}-{vol_name}"
            for m in names.is_dns1123_subdomain(pvc):
                out.append(field.invalid(path.child("name"), vol_name, f'PVC name "{pvc}": {m}'))
    return out


def validate_volumes(
    volumes: Any, path: Path, pod_name: str = ""
) -> tuple[dict[str, Obj], list[Cause]]:
    out: list[Cause] = []
    valid: dict[str, Obj] = {}
    all_names: set[str] = set()
    ephemeral_pvcs = {
        f"{pod_name}-{as_str(as_obj(v).get('name'))}"
        for v in as_list(volumes)
        if pod_name and isinstance(as_obj(v).get("ephemeral"), dict)
    }
    for i, vol in enumerate(as_list(volumes)):
        vol = as_obj(vol)
        ip = path.index(i)
        name = as_str(vol.get("name"))
        errs: list[Cause] = []
        count = 0
        for key, seg in _SOURCES:
            src = vol.get(key)
            if not isinstance(src, dict):
                continue
            if count > 0:
                errs.append(field.forbidden(ip.child(seg), _MORE_THAN_ONE))
                continue
            count += 1
            child = "persistentDisk" if key == "gcePersistentDisk" else key
            errs.extend(_source_errors(key, src, ip.child(child), name, pod_name))
        if count == 0:
            errs.append(field.required(ip, "must specify a volume type"))
        if not name:
            errs.append(field.required(ip.child("name")))
        else:
            errs.extend(names.validate_dns1123_label(name, ip.child("name")))
        if name in all_names:
            errs.append(field.duplicate(ip.child("name"), name))
        if not errs:
            all_names.add(name)
            valid[name] = vol
        else:
            out.extend(errs)
        claim = as_str(as_obj(vol.get("persistentVolumeClaim")).get("claimName"))
        if claim and claim in ephemeral_pvcs:
            out.append(
                field.invalid(
                    ip.child("persistentVolumeClaim", "claimName"),
                    claim,
                    "must not reference a PVC that gets created for an ephemeral volume",
                )
            )
    return valid, out


def validate_volume_mounts(
    mounts: Any, devices: dict[str, str], volumes: dict[str, Obj], ctr: Obj, path: Path
) -> list[Cause]:
    out: list[Cause] = []
    seen_paths: set[str] = set()
    privileged = as_obj(ctr.get("securityContext")).get("privileged") is True
    for i, m in enumerate(as_list(mounts)):
        m = as_obj(m)
        ip = path.index(i)
        name, mount_path = as_str(m.get("name")), as_str(m.get("mountPath"))
        if not name:
            out.append(field.required(ip.child("name")))
        if name not in volumes:
            out.append(field.not_found(ip.child("name"), name))
        if not mount_path:
            out.append(field.required(ip.child("mountPath")))
        if mount_path in seen_paths:
            out.append(field.invalid(ip.child("mountPath"), mount_path, "must be unique"))
        seen_paths.add(mount_path)
        if name in devices:
            out.append(
                field.invalid(ip.child("name"), name, "must not already exist in volumeDevices")
            )
        if mount_path in devices.values():
            out.append(
                field.invalid(
                    ip.child("mountPath"),
                    mount_path,
                    "must not already exist as a path in volumeDevices",
                )
            )
        sub = as_str(m.get("subPath"))
        if sub:
            out.extend(validate_local_descending_path(sub, path.child("subPath")))
        expr = as_str(m.get("subPathExpr"))
        if expr:
            if sub:
                out.append(
                    field.invalid(
                        ip.child("subPathExpr"),
                        expr,
                        "subPathExpr and subPath are mutually exclusive",
                    )
                )
            out.extend(validate_local_descending_path(expr, path.child("subPathExpr")))
        prop = m.get("mountPropagation")
        if isinstance(prop, str):
            allowed = ("Bidirectional", "HostToContainer", "None")
            if prop not in allowed:
                out.append(field.not_supported(path.child("mountPropagation"), prop, allowed))
            if prop == "Bidirectional" and not privileged:
                out.append(
                    field.forbidden(
                        path.child("mountPropagation"),
                        "Bidirectional mount propagation is available only to privileged containers",
                    )
                )
        rro = m.get("recursiveReadOnly")
        if isinstance(rro, str):
            rp = path.child("recursiveReadOnly")
            if rro in ("Enabled", "IfPossible"):
                if m.get("readOnly") is not True:
                    out.append(field.forbidden(rp, "may only be specified when readOnly is true"))
                if isinstance(prop, str) and prop != "None":
                    out.append(
                        field.forbidden(
                            rp,
                            "may only be specified when mountPropagation is None or not specified",
                        )
                    )
            elif rro != "Disabled":
                out.append(field.not_supported(rp, rro, ("Disabled", "Enabled", "IfPossible")))
    return out


def validate_volume_devices(
    devices: Any, mounts: dict[str, str], volumes: dict[str, Obj], path: Path
) -> list[Cause]:
    out: list[Cause] = []
    dev_paths: set[str] = set()
    dev_names: set[str] = set()
    for i, d in enumerate(as_list(devices)):
        d = as_obj(d)
        ip = path.index(i)
        name, dpath = as_str(d.get("name")), as_str(d.get("devicePath"))
        vol = volumes.get(name)
        if not name:
            out.append(field.required(ip.child("name")))
        if name in dev_names:
            out.append(field.invalid(ip.child("name"), name, "must be unique"))
        if vol is not None and not (
            isinstance(vol.get("persistentVolumeClaim"), dict)
            or isinstance(vol.get("ephemeral"), dict)
        ):
            out.append(
                field.invalid(
                    ip.child("name"),
                    name,
                    "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
                )
            )
        if vol is None:
            out.append(field.not_found(ip.child("name"), name))
        if not dpath:
            out.append(field.required(ip.child("devicePath")))
        if dpath in dev_paths:
            out.append(field.invalid(ip.child("devicePath"), dpath, "must be unique"))
        if dpath and _path_no_backsteps(dpath, ip):
            out.append(
                field.invalid(ip.child("devicePath"), dpath, "can not contain backsteps ('..')")
            )
        else:
            dev_paths.add(dpath)
        if name in mounts:
            out.append(
                field.invalid(ip.child("name"), name, "must not already exist in volumeMounts")
            )
        if dpath in mounts.values():
            out.append(
                field.invalid(
                    ip.child("devicePath"),
                    dpath,
                    "must not already exist as a path in volumeMounts",
                )
            )
        if name:
            dev_names.add(name)
    return out
