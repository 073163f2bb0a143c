from __future__ import annotations

import pytest

from pyk8s.apiserver.negotiation import BodyType, Output, body_type, choose_output

KUBECTL_TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"


@pytest.mark.parametrize(
    ("accept", "output"),
    [
        pytest.param(None, Output.JSON, id="none"),
        pytest.param("*/*", Output.JSON, id="any"),
        pytest.param(KUBECTL_TABLE, Output.TABLE, id="kubectl-table"),
        pytest.param(
            "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
            Output.PARTIAL,
            id="partial",
        ),
        pytest.param("application/yaml", Output.YAML, id="yaml"),
        pytest.param(
            "application/vnd.kubernetes.protobuf,application/json",
            Output.JSON,
            id="protobuf-then-json",
        ),
        pytest.param("application/vnd.kubernetes.protobuf", Output.JSON, id="protobuf-only"),
    ],
)
def test_choose_output(accept: str | None, output: Output) -> None:
    choice = choose_output(accept)
    assert choice is not None and choice.output is output


def test_unservable_accept() -> None:
    assert choose_output("text/html") is None


@pytest.mark.parametrize(
    ("ct", "bt"),
    [
        pytest.param("application/json; charset=utf-8", BodyType.JSON, id="json"),
        pytest.param("application/strategic-merge-patch+json", BodyType.STRATEGIC_PATCH, id="smp"),
        pytest.param("application/vnd.kubernetes.protobuf", BodyType.PROTOBUF, id="protobuf"),
        pytest.param("text/plain", None, id="unknown"),
    ],
)
def test_body_type(ct: str, bt: BodyType | None) -> None:
    assert body_type(ct) is bt
