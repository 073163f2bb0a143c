from __future__ import annotations

from typing import Any

import pytest

from pyk8s.scheduler import resources


def _c(**reqs: str) -> dict[str, Any]:
    return {"name": "c", "resources": {"requests": dict(reqs)}} if reqs else {"name": "c"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"containers": [_c(cpu="1", memory="1Gi")]},
            {"cpu": 1000, "memory": 2**30},
            id="one-container",
        ),
        pytest.param(
            {
                "containers": [_c(cpu="2", memory="1G"), _c(cpu="1", memory="1G")],
                "initContainers": [_c(cpu="2", memory="1G"), _c(cpu="2", memory="3G")],
            },
            {"cpu": 3000, "memory": 3 * 10**9},
            id="init-max-vs-sum-upstream-example",
        ),
        pytest.param(
            {
                "containers": [_c(cpu="1")],
                "initContainers": [dict(_c(cpu="500m"), restartPolicy="Always"), _c(cpu="2")],
            },
            {"cpu": 2500},
            id="sidecar-runs-next-to-later-init-and-adds-to-sum",
        ),
        pytest.param(
            {
                "containers": [_c(cpu="1")],
                "initContainers": [dict(_c(cpu="500m"), restartPolicy="Always")],
            },
            {"cpu": 1500},
            id="sidecar-added-to-containers",
        ),
        pytest.param(
            {"containers": [_c(cpu="100m")], "overhead": {"cpu": "250m", "memory": "120Mi"}},
            {"cpu": 350, "memory": 120 * 2**20},
            id="overhead-added",
        ),
        pytest.param(
            {"containers": [_c(**{"nvidia.com/gpu": "2"})]},
            {"nvidia.com/gpu": 2},
            id="extended-resource",
        ),
        pytest.param({"containers": [_c()]}, {}, id="best-effort"),
        pytest.param({"containers": [_c(cpu="0.1m")]}, {"cpu": 1}, id="cpu-rounds-up-to-millicore"),
    ],
)
def test_pod_requests(spec: dict[str, Any], expected: dict[str, int]) -> None:
    assert resources.pod_requests(spec) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"containers": [_c()]}, {"cpu": 100, "memory": 200 * 2**20}, id="defaults-for-missing"
        ),
        pytest.param(
            {"containers": [_c(cpu="0")]},
            {"memory": 200 * 2**20},
            id="explicit-zero-is-not-missing",
        ),
        pytest.param(
            {"containers": [_c(), _c(cpu="1")]},
            {"cpu": 1100, "memory": 400 * 2**20},
            id="per-container",
        ),
    ],
)
def test_pod_requests_non_zero(spec: dict[str, Any], expected: dict[str, int]) -> None:
    assert resources.pod_requests(spec, non_missing=resources.NON_ZERO_DEFAULTS) == expected


@pytest.mark.parametrize(
    ("name", "scalar"),
    [
        pytest.param("nvidia.com/gpu", True, id="extended"),
        pytest.param("hugepages-2Mi", True, id="hugepages"),
        pytest.param("cpu", False, id="cpu"),
        pytest.param("kubernetes.io/something", False, id="native-domain"),
    ],
)
def test_is_scalar_resource(name: str, scalar: bool) -> None:
    assert resources.is_scalar_resource(name) is scalar
