"""Making a container's image present before it is created: upstream's image manager
(pkg/kubelet/images/image_manager.go) over CRI's image service.

``ImagePuller.ensure(pod, container, auths=…, sandbox=…)`` returns the image's ID, or
raises ``ImageError(reason, message)`` with the waiting reason the container shows:

- ``InvalidImageName``: not a valid reference (``Failed to apply default image tag``);
  a reference without tag or digest gets ``:latest``.
- ``imagePullPolicy`` (the API defaults it): ``Never`` → present or
  ``ErrImageNeverPull`` (``Container image "x" is not present with pull policy of
  Never``); ``IfNotPresent`` → pull only when missing; ``Always`` → pull every time.
- A pull whose last failure for this pod and image is within its back-off (10 s doubling
  to 5 min, counted from the failure) is not tried: ``ImagePullBackOff`` (``Back-off
  pulling image "x": ErrImagePull: <the last error>``). A failed pull is
  ``ErrImagePull`` with the runtime's message and bumps the back-off.
- **Safety:** only registries on this machine are ever contacted — ``localhost``,
  loopback addresses, and hosts named in ``allowed_registries``. Any other registry
  fails the pull at once (``ErrImagePull``) without a byte sent: the machine must never
  reach out, and images come from archives (``pyk8s image load``) or a local registry.
- ``imagePullSecrets`` (``kubernetes.io/dockerconfigjson`` or ``.dockercfg``) give the
  credentials for the image's registry (``auths_for``); each is tried in turn, then none.

Events as upstream: ``Pulling``, ``Pulled`` ("Successfully pulled image … in 1.2s (1.2s
including waiting). Image size: N bytes." or "Container image … already present on
machine"), ``Failed``, ``BackOff``, ``ErrImageNeverPull``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from pyk8s.kubelet.backoff import Backoff
from pyk8s.kubelet.cri import api_pb2
from pyk8s.kubelet.cri.client import CRIClient, CRIError
from pyk8s.kubelet.sim.containers import go_duration

__all__ = [
    "ImageError",
    "ImagePuller",
    "auths_for",
    "normalize_image",
    "registry_host",
]

Obj = dict[str, Any]

_DOMAIN = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$"
)
_PATH = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")


class ImageError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Recorder(Protocol):
    def __call__(self, event_type: str, reason: str, message: str) -> None: ...


def normalize_image(image: str) -> str:
    """The reference with ``:latest`` added when it has neither tag nor digest;
    ``ValueError`` (docker's wording) when it is not a valid reference."""
    bad = f'couldn\'t parse image name "{image}": invalid reference format'
    name, at, digest = image.partition("@")
    if at and not _DIGEST.match(digest):
        raise ValueError(bad)
    tag = ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = name.rpartition(":")
        if not _TAG.match(tag):
            raise ValueError(bad)
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        if not _DOMAIN.match(first):
            raise ValueError(bad)
        path = rest
    else:
        path = name
    if not path:
        raise ValueError(bad)
    if not _PATH.match(path):
        if _PATH.match(path.lower()):
            raise ValueError(f"{bad}: repository name ({path}) must be lowercase")
        raise ValueError(bad)
    if not tag and not at:
        return image + ":latest"
    return image


def registry_host(image: str) -> str:
    """The registry an image reference names (``docker.io`` when none is given)."""
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        return first
    return "docker.io"


def _host_only(registry: str) -> str:
    if registry.startswith("["):
        return registry[1 : registry.index("]")]
    return registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry


def is_local_registry(registry: str, allowed: Iterable[str] = ()) -> bool:
    if registry in allowed:
        return True
    host = _host_only(registry)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _docker_auths(secret: Mapping[str, Any]) -> Mapping[str, Any]:
    data = secret.get("data") or {}
    for key, nested in ((".dockerconfigjson", True), (".dockercfg", False)):
        raw = data.get(key)
        if not raw:
            continue
        try:
            parsed = json.loads(base64.b64decode(raw))
        except (ValueError, binascii.Error):
            continue
        if not isinstance(parsed, dict):
            continue
        auths = parsed.get("auths") if nested else parsed
        if isinstance(auths, dict):
            return auths
    return {}


def _registry_of_key(key: str) -> str:
    key = key.removeprefix("https://").removeprefix("http://")
    return key.split("/", 1)[0]


def auths_for(image: str, secrets: Sequence[Mapping[str, Any]]) -> list[api_pb2.AuthConfig]:
    """Credentials of the pull secrets that name the image's registry, in order."""
    registry = registry_host(image)
    wanted = {registry}
    if registry == "docker.io":
        wanted |= {"index.docker.io", "registry-1.docker.io"}
    out = []
    for secret in secrets:
        for key, entry in _docker_auths(secret).items():
            if _registry_of_key(str(key)) not in wanted or not isinstance(entry, dict):
                continue
            username = str(entry.get("username") or "")
            password = str(entry.get("password") or "")
            auth = str(entry.get("auth") or "")
            if auth and not username:
                try:
                    username, _, password = base64.b64decode(auth).decode().partition(":")
                except (ValueError, binascii.Error):
                    pass
            # no server_address: the registry was matched above, and containerd 1.6 parses
            # it as a URL ("127.0.0.1:5000" fails to parse, so the credentials were dropped)
            out.append(api_pb2.AuthConfig(username=username, password=password))
    return out


class ImagePuller:
    def __init__(
        self,
        cri: CRIClient,
        *,
        backoff: Backoff | None = None,
        allowed_registries: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cri = cri
        self.backoff = backoff or Backoff(10.0, 300.0)
        self.allowed = frozenset(allowed_registries)
        self.clock = clock
        self._last_error: dict[str, str] = {}

    async def image_ref(self, image: str) -> str:
        """The ID of a present image ("" when missing)."""
        resp = await self.cri.call(
            self.cri.images.ImageStatus,
            api_pb2.ImageStatusRequest(image=api_pb2.ImageSpec(image=image)),
        )
        return resp.image.id if resp.HasField("image") else ""

    async def ensure(
        self,
        pod: Mapping[str, Any],
        container: Mapping[str, Any],
        *,
        secrets: Sequence[Mapping[str, Any]],
        sandbox: api_pb2.PodSandboxConfig | None,
        record: Recorder,
    ) -> str:
        spec_image = str(container.get("image") or "")
        try:
            image = normalize_image(spec_image)
        except ValueError as exc:
            message = f'Failed to apply default image tag "{spec_image}": {exc}'
            record("Warning", "InspectFailed", message)
            raise ImageError("InvalidImageName", message) from None
        try:
            ref = await self.image_ref(image)
        except CRIError as exc:
            message = f'Failed to inspect image "{spec_image}": {exc.details}'
            record("Warning", "InspectFailed", message)
            raise ImageError("ImageInspectError", message) from None
        policy = container.get("imagePullPolicy") or (
            "Always" if image.endswith(":latest") else "IfNotPresent"
        )
        if policy == "Never" or (policy == "IfNotPresent" and ref):
            if ref:
                record(
                    "Normal", "Pulled", f'Container image "{spec_image}" already present on machine'
                )
                return ref
            message = f'Container image "{spec_image}" is not present with pull policy of Never'
            record("Warning", "ErrImageNeverPull", message)
            raise ImageError("ErrImageNeverPull", message)
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        key = f"{uid}_{spec_image}"
        now = self.clock()
        if self.backoff.in_backoff_since_update(key, now):
            message = f'Back-off pulling image "{spec_image}"'
            record("Normal", "BackOff", message)
            last = self._last_error.get(key)
            raise ImageError(
                "ImagePullBackOff", f"{message}: ErrImagePull: {last}" if last else message
            )
        record("Normal", "Pulling", f'Pulling image "{spec_image}"')
        started = self.clock()
        try:
            ref, size = await self._pull(image, secrets, sandbox)
        except ImageError as exc:
            record("Warning", "Failed", f'Failed to pull image "{spec_image}": {exc.message}')
            self.backoff.next(key, self.clock())
            self._last_error[key] = exc.message
            raise
        self._last_error.pop(key, None)
        took = go_duration(round(self.clock() - started, 3))
        record(
            "Normal",
            "Pulled",
            f'Successfully pulled image "{spec_image}" in {took} ({took} including waiting). '
            f"Image size: {size} bytes.",
        )
        return ref

    async def _pull(
        self,
        image: str,
        secrets: Sequence[Mapping[str, Any]],
        sandbox: api_pb2.PodSandboxConfig | None,
    ) -> tuple[str, int]:
        registry = registry_host(image)
        if not is_local_registry(registry, self.allowed):
            raise ImageError(
                "ErrImagePull",
                f'registry "{registry}" is not on this machine: pyk8s pulls only from '
                "loopback registries (or those allowed with --allow-registry); load the "
                "image with 'pyk8s image load' instead",
            )
        auths: list[api_pb2.AuthConfig | None] = [*auths_for(image, secrets), None]
        last = ""
        for auth in auths:
            request = api_pb2.PullImageRequest(image=api_pb2.ImageSpec(image=image))
            if auth is not None:
                request.auth.CopyFrom(auth)
            if sandbox is not None:
                request.sandbox_config.CopyFrom(sandbox)
            try:
                resp = await self.cri.call(self.cri.images.PullImage, request, timeout=600)
            except CRIError as exc:
                last = f"rpc error: code = {_code_name(exc)} desc = {exc.details}"
                continue
            size = 0
            try:
                status = await self.cri.call(
                    self.cri.images.ImageStatus,
                    api_pb2.ImageStatusRequest(image=api_pb2.ImageSpec(image=resp.image_ref)),
                )
                size = int(status.image.size)
            except CRIError:
                pass
            return resp.image_ref, size
        raise ImageError("ErrImagePull", last)


def _code_name(exc: CRIError) -> str:
    name = exc.code.name
    return "".join(part.capitalize() for part in name.split("_"))
