"""Image references, pull credentials and the pull policy (a fake image service)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from pyk8s.kubelet import pulling
from pyk8s.kubelet.backoff import Backoff
from pyk8s.kubelet.cri import api_pb2

Obj = dict[str, Any]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        pytest.param("busybox", "busybox:latest", id="default-tag"),
        pytest.param("pyk8s.local/testbox:1.0", "pyk8s.local/testbox:1.0", id="tagged"),
        pytest.param("localhost:5000/a/b", "localhost:5000/a/b:latest", id="registry-port"),
        pytest.param("a@sha256:" + "0" * 64, "a@sha256:" + "0" * 64, id="digest"),
    ],
)
def test_normalize(image: str, expected: str) -> None:
    assert pulling.normalize_image(image) == expected


@pytest.mark.parametrize("image", ["", "UPPER/case:1", "bad image", ":x", "a@sha256:xyz"])
def test_invalid_references(image: str) -> None:
    with pytest.raises(ValueError, match="invalid reference format"):
        pulling.normalize_image(image)


@pytest.mark.parametrize(
    ("image", "registry", "local"),
    [
        ("nginx:1", "docker.io", False),
        ("quay.io/x/y:1", "quay.io", False),
        ("localhost:5000/x:1", "localhost:5000", True),
        ("127.0.0.1:5000/x:1", "127.0.0.1:5000", True),
        ("[::1]:5000/x:1", "[::1]:5000", True),
        ("pyk8s.local/testbox:1.0", "pyk8s.local", False),
    ],
)
def test_registry_and_locality(image: str, registry: str, local: bool) -> None:
    assert pulling.registry_host(image) == registry
    assert pulling.is_local_registry(registry) is local


def test_auths_from_dockerconfigjson() -> None:
    config = {"auths": {"localhost:5000": {"auth": base64.b64encode(b"user:pw").decode()}}}
    secret = {
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }
    (auth,) = pulling.auths_for("localhost:5000/app:1", [secret])
    assert (auth.username, auth.password, auth.server_address) == ("user", "pw", "")
    assert pulling.auths_for("other:5000/app:1", [secret]) == []


class FakeCRI:
    """Enough of CRIClient for ImagePuller: ImageStatus and PullImage."""

    def __init__(self, present: set[str], fail_pull: str = "") -> None:
        self.present = present
        self.fail_pull = fail_pull
        self.pulls: list[str] = []
        self.images = self

    def ImageStatus(self) -> None:
        raise NotImplementedError

    def PullImage(self) -> None:
        raise NotImplementedError

    async def call(self, method: Any, request: Any, **kw: Any) -> Any:
        if method == self.ImageStatus:
            ref = request.image.image
            if ref in self.present:
                return api_pb2.ImageStatusResponse(image=api_pb2.Image(id="sha256:1", size=5))
            return api_pb2.ImageStatusResponse()
        self.pulls.append(request.image.image)
        if self.fail_pull:
            import grpc

            from pyk8s.kubelet.cri.client import CRIError

            raise CRIError(grpc.StatusCode.UNKNOWN, self.fail_pull)
        self.present.add(request.image.image)
        return api_pb2.PullImageResponse(image_ref="sha256:1")


async def ensure(puller: pulling.ImagePuller, image: str, policy: str) -> tuple[str, list[Any]]:
    events: list[Any] = []
    pod = {"metadata": {"uid": "u"}}
    ref = await puller.ensure(
        pod,
        {"image": image, "imagePullPolicy": policy},
        secrets=[],
        sandbox=None,
        record=lambda *e: events.append(e),
    )
    return ref, events


async def test_present_image_is_not_pulled() -> None:
    cri = FakeCRI({"pyk8s.local/testbox:1.0"})
    puller = pulling.ImagePuller(cri)  # type: ignore[arg-type]
    ref, events = await ensure(puller, "pyk8s.local/testbox:1.0", "IfNotPresent")
    assert ref == "sha256:1" and cri.pulls == []
    assert events == [
        ("Normal", "Pulled", 'Container image "pyk8s.local/testbox:1.0" already present on machine')
    ]


async def test_never_policy_missing_image() -> None:
    puller = pulling.ImagePuller(FakeCRI(set()))  # type: ignore[arg-type]
    with pytest.raises(pulling.ImageError) as err:
        await ensure(puller, "x/y:1", "Never")
    assert err.value.reason == "ErrImageNeverPull"
    assert err.value.message == 'Container image "x/y:1" is not present with pull policy of Never'


async def test_remote_registries_are_never_contacted() -> None:
    cri = FakeCRI(set())
    puller = pulling.ImagePuller(cri, clock=lambda: 100.0)  # type: ignore[arg-type]
    with pytest.raises(pulling.ImageError) as err:
        await ensure(puller, "nginx:1.25", "IfNotPresent")
    assert err.value.reason == "ErrImagePull"
    assert cri.pulls == []
    with pytest.raises(pulling.ImageError) as again:
        await ensure(puller, "nginx:1.25", "IfNotPresent")
    assert again.value.reason == "ImagePullBackOff"
    assert again.value.message.startswith('Back-off pulling image "nginx:1.25": ErrImagePull: ')


async def test_local_registry_pull_and_backoff() -> None:
    now = [100.0]
    cri = FakeCRI(set(), fail_pull="not found")
    puller = pulling.ImagePuller(cri, backoff=Backoff(10, 300), clock=lambda: now[0])  # type: ignore[arg-type]
    with pytest.raises(pulling.ImageError) as err:
        await ensure(puller, "localhost:5000/app:1", "Always")
    assert err.value.reason == "ErrImagePull"
    assert "not found" in err.value.message
    now[0] += 11
    cri.fail_pull = ""
    ref, events = await ensure(puller, "localhost:5000/app:1", "Always")
    assert ref == "sha256:1"
    assert [e[1] for e in events] == ["Pulling", "Pulled"]
    assert events[1][2].startswith('Successfully pulled image "localhost:5000/app:1" in ')
