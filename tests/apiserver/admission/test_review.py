"""AdmissionReview requests as upstream serialises them, responses checked with upstream's
wording, and the errors denials, dry runs and failed calls become."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from pyk8s.api import errors, resources
from pyk8s.api.resources import Resource
from pyk8s.apiserver.admission import Attributes, UserInfo, matching, review


def _res(group: str, version: str, plural: str) -> Resource:
    found = resources.find(group, version, plural)
    assert found is not None
    return found


PODS = _res("", "v1", "pods")
NAMESPACES = _res("", "v1", "namespaces")
HPA_V1 = _res("autoscaling", "v1", "horizontalpodautoscalers")
HPA_V2 = _res("autoscaling", "v2", "horizontalpodautoscalers")
UID = "0f5e2c1a-2b3c-4d5e-8f90-123456789abc"
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}}


def _attrs(res: Resource = PODS, **over: Any) -> Attributes:
    kw: dict[str, Any] = {
        "resource": res,
        "subresource": None,
        "namespace": "default",
        "name": "p",
        "operation": "CREATE",
        "user": UserInfo("alice", uid="u-1", groups=("devs", "system:authenticated")),
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
    }
    kw.update(over)
    return Attributes(**kw)


def test_build_review_create() -> None:
    attrs = _attrs()
    inv = matching.Invocation(PODS, "", matching.kind_for(PODS, None))
    body = review.build_review(
        version="v1", uid=UID, attrs=attrs, invocation=inv, obj=POD, old=None
    )
    assert body == {
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": UID,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "p",
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {
                "username": "alice",
                "uid": "u-1",
                "groups": ["devs", "system:authenticated"],
            },
            "object": POD,
            "oldObject": None,
            "dryRun": False,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
        },
    }


def test_build_review_delete_of_namespace_and_equivalent_kind() -> None:
    attrs = _attrs(
        NAMESPACES, namespace=None, name="ns1", operation="DELETE", options={}, dry_run=True
    )
    inv = matching.Invocation(NAMESPACES, "", matching.kind_for(NAMESPACES, None))
    req = review.build_review(
        version="v1beta1", uid=UID, attrs=attrs, invocation=inv, obj=None, old={"a": 1}
    )
    assert req["apiVersion"] == "admission.k8s.io/v1beta1"
    r = req["request"]
    assert (r["namespace"], r["object"], r["oldObject"], r["options"], r["dryRun"]) == (
        "ns1",
        None,
        {"a": 1},
        None,
        True,
    )

    inv = matching.Invocation(HPA_V2, "status", matching.kind_for(HPA_V2, "status"))
    r = review.build_review(
        version="v1",
        uid=UID,
        attrs=_attrs(HPA_V1, subresource="status"),
        invocation=inv,
        obj={},
        old={},
    )["request"]
    assert r["kind"] == {"group": "autoscaling", "version": "v2", "kind": "HorizontalPodAutoscaler"}
    assert r["requestKind"]["version"] == "v1"
    assert (r["subResource"], r["requestSubResource"]) == ("status", "status")


def _answer(response: dict[str, Any] | None, **top: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}
    if response is not None:
        out["response"] = response
    out.update(top)
    return out


_PATCH = base64.b64encode(b'[{"op":"add","path":"/metadata/labels","value":{}}]').decode()


@pytest.mark.parametrize(
    ("body", "version", "mutating", "error"),
    [
        pytest.param(_answer(None), "v1", True, "webhook response was absent", id="absent"),
        pytest.param(
            _answer({"uid": "other", "allowed": True}),
            "v1",
            False,
            f'expected response.uid="{UID}", got "other"',
            id="uid-mismatch",
        ),
        pytest.param(
            {"response": {"uid": UID, "allowed": True}},
            "v1",
            False,
            "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got /, Kind=",
            id="no-apiversion-kind",
        ),
        pytest.param(
            _answer({"uid": UID, "allowed": True}, apiVersion="admission.k8s.io/v1beta1"),
            "v1",
            False,
            "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, "
            "got admission.k8s.io/v1beta1, Kind=AdmissionReview",
            id="wrong-version",
        ),
        pytest.param(
            _answer({"uid": UID, "allowed": True, "patch": _PATCH}),
            "v1",
            True,
            "webhook returned response.patch but not response.patchType",
            id="patch-without-type",
        ),
        pytest.param(
            _answer({"uid": UID, "allowed": True, "patchType": "JSONPatch"}),
            "v1",
            True,
            "webhook returned response.patchType but not response.patch",
            id="type-without-patch",
        ),
        pytest.param(
            _answer({"uid": UID, "allowed": True, "patchType": "", "patch": _PATCH}),
            "v1",
            True,
            'webhook returned invalid response.patchType of ""',
            id="empty-patch-type",
        ),
        pytest.param(
            _answer({"uid": UID, "allowed": True, "patch": _PATCH, "patchType": "JSONPatch"}),
            "v1",
            False,
            "validating webhook may not return response.patch",
            id="validating-patch",
        ),
        pytest.param(
            _answer({"uid": UID, "allowed": True, "patchType": "JSONPatch"}),
            "v1",
            False,
            "validating webhook may not return response.patchType",
            id="validating-patch-type",
        ),
    ],
)
def test_invalid_responses(body: Any, version: str, mutating: bool, error: str) -> None:
    with pytest.raises(review.InvalidResponse) as e:
        review.read_response(body, uid=UID, version=version, mutating=mutating)
    assert str(e.value) == error


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(
            _answer({"uid": UID, "allowed": "yes"}),
            "json: cannot unmarshal string into Go struct field AdmissionReview.response.allowed "
            "of type bool",
            id="allowed-type",
        ),
        pytest.param(
            _answer(
                {"uid": UID, "allowed": True, "patch": "not base64!", "patchType": "JSONPatch"}
            ),
            "illegal base64 data at input byte 3",
            id="bad-base64",
        ),
        pytest.param([1], None, id="not-an-object"),
    ],
)
def test_undecodable_responses(body: Any, error: str | None) -> None:
    with pytest.raises(review.UndecodableResponse) as e:
        review.read_response(body, uid=UID, version="v1", mutating=True)
    if error is not None:
        assert str(e.value) == error


def test_read_response_fields_and_v1beta1() -> None:
    resp = review.read_response(
        _answer(
            {
                "uid": UID,
                "allowed": True,
                "patch": _PATCH,
                "patchType": "JSONPatch",
                "warnings": ["w1", "w2"],
            }
        ),
        uid=UID,
        version="v1",
        mutating=True,
    )
    assert (resp.allowed, resp.patch_type, resp.warnings) == (True, "JSONPatch", ("w1", "w2"))
    assert orjson.loads(resp.patch) == [{"op": "add", "path": "/metadata/labels", "value": {}}]
    # v1beta1: no uid or kind check; a patch is a JSON patch
    beta = review.read_response(
        {"response": {"allowed": True, "patch": _PATCH}}, uid=UID, version="v1beta1", mutating=True
    )
    assert (beta.allowed, beta.patch_type) == (True, "JSONPatch")


@pytest.mark.parametrize(
    ("result", "code", "reason", "message"),
    [
        pytest.param(
            {"code": 403, "message": "no privileged pods", "reason": "Forbidden"},
            403,
            "Forbidden",
            'admission webhook "p.example.com" denied the request: no privileged pods',
            id="message",
        ),
        pytest.param(
            {"reason": "NotAllowed"},
            400,
            "NotAllowed",
            'admission webhook "p.example.com" denied the request: NotAllowed',
            id="reason-only",
        ),
        pytest.param(
            None,
            400,
            "",
            'admission webhook "p.example.com" denied the request without explanation',
            id="no-status",
        ),
        pytest.param(
            {"code": 200, "message": "m"}, 400, "", None, id="code-below-400-raised-to-400"
        ),
        pytest.param({"code": 422, "message": "m"}, 422, "", None, id="code-kept"),
    ],
)
def test_denied(result: dict[str, Any] | None, code: int, reason: str, message: str | None) -> None:
    err = review.denied("p.example.com", result)
    assert (err.code, err.reason) == (code, reason)
    if message is not None:
        assert err.message == message
    assert err.status()["status"] == "Failure"


def test_other_errors() -> None:
    dry = review.dry_run_unsupported("p.example.com")
    assert (dry.code, dry.reason, dry.message) == (
        400,
        "BadRequest",
        'admission webhook "p.example.com" does not support dry run',
    )
    failed = review.calling_failed("p.example.com", "failed to call webhook: boom")
    assert (failed.code, failed.reason) == (500, "InternalError")
    assert failed.message == (
        'Internal error occurred: failed calling webhook "p.example.com": '
        "failed to call webhook: boom"
    )


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param(
            b'{"op":"add"}',
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
            id="object",
        ),
        pytest.param(
            b'["add"]',
            "json: cannot unmarshal string into Go value of type jsonpatch.Operation",
            id="not-operations",
        ),
        pytest.param(
            b"[{op: add}]", "invalid character 'o' looking for beginning of value", id="not-json"
        ),
    ],
)
def test_decode_patch_errors(data: bytes, error: str) -> None:
    with pytest.raises(review.UndecodableResponse) as e:
        review.decode_patch(data)
    assert str(e.value) == error


def test_apply_patch() -> None:
    ops = review.decode_patch(b'[{"op":"add","path":"/metadata/labels","value":{"a":"b"}}]')
    assert review.apply_patch(POD, ops)["metadata"]["labels"] == {"a": "b"}
    assert "labels" not in POD["metadata"]
    with pytest.raises(errors.StatusError) as e:
        review.apply_patch(POD, [{"op": "remove", "path": "/spec/nope"}])
    assert e.value.code == 500
    assert e.value.message.startswith("Internal error occurred: ")


@pytest.mark.parametrize(
    ("versions", "chosen"),
    [
        pytest.param(["v1"], "v1", id="v1"),
        pytest.param(["v2", "v1beta1", "v1"], "v1beta1", id="first-known"),
        pytest.param(["v2"], None, id="none-known"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_review_version(versions: list[str] | None, chosen: str | None) -> None:
    assert review.review_version(versions) == chosen
