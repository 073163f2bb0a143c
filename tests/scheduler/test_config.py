from __future__ import annotations

import pytest

from pyk8s.scheduler.config import ConfigError, load_config

HEAD = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"


def test_defaults() -> None:
    cfg = load_config()
    assert [p.scheduler_name for p in cfg.profiles] == ["default-scheduler"]
    p = cfg.profiles[0]
    assert p.plugins["filter"] == [
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        "VolumeBinding",
        "PodTopologySpread",
        "InterPodAffinity",
    ]
    assert p.weights == {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "NodeResourcesFit": 1,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
    }
    le = cfg.leader_election
    assert (le.leader_elect, le.resource_name, le.resource_namespace) == (
        True,
        "kube-scheduler",
        "kube-system",
    )
    assert (le.lease_duration, le.renew_deadline, le.retry_period) == (15.0, 10.0, 2.0)
    assert (cfg.pod_initial_backoff, cfg.pod_max_backoff) == (1.0, 10.0)


@pytest.mark.parametrize(
    ("plugins", "point", "expected"),
    [
        pytest.param("score: {disabled: [{name: '*'}]}", "score", [], id="disable-all-score"),
        pytest.param(
            "score: {disabled: [{name: '*'}], enabled: [{name: NodeResourcesFit, weight: 5}]}",
            "score",
            ["NodeResourcesFit"],
            id="only-fit",
        ),
        pytest.param(
            "multiPoint: {disabled: [{name: ImageLocality}]}",
            "score",
            [
                "TaintToleration",
                "NodeAffinity",
                "NodeResourcesFit",
                "PodTopologySpread",
                "InterPodAffinity",
                "NodeResourcesBalancedAllocation",
            ],
            id="multipoint-disable",
        ),
        pytest.param(
            "filter: {enabled: [{name: NodeResourcesFit}]}",
            "filter",
            [
                "NodeResourcesFit",
                "NodeUnschedulable",
                "NodeName",
                "TaintToleration",
                "NodeAffinity",
                "NodePorts",
                "VolumeBinding",
                "PodTopologySpread",
                "InterPodAffinity",
            ],
            id="override-moves-first",
        ),
    ],
)
def test_plugin_sets(plugins: str, point: str, expected: list[str]) -> None:
    text = HEAD + "profiles:\n- schedulerName: s\n  plugins:\n    " + plugins + "\n"
    assert load_config(text).profiles[0].plugins[point] == expected


def test_weights_and_args() -> None:
    text = (
        HEAD
        + """
profiles:
- schedulerName: binpack
  plugins:
    score:
      enabled: [{name: NodeResourcesFit, weight: 5}]
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources: [{name: cpu, weight: 1}, {name: nvidia.com/gpu, weight: 3}]
- schedulerName: default-scheduler
leaderElection:
  leaderElect: false
  leaseDuration: 1m30s
"""
    )
    cfg = load_config(text)
    bp = cfg.profiles[0]
    assert bp.weights["NodeResourcesFit"] == 5
    fw = bp.build()
    fit = fw.plugin("NodeResourcesFit")
    assert fit.strategy == "MostAllocated" and fit.names == ["cpu", "nvidia.com/gpu"]  # type: ignore[attr-defined]
    assert [p.scheduler_name for p in cfg.profiles] == ["binpack", "default-scheduler"]
    assert cfg.leader_election.leader_elect is False and cfg.leader_election.lease_duration == 90.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "apiVersion: kubescheduler.config.k8s.io/v1beta2\n",
            "unsupported apiVersion",
            id="old-version",
        ),
        pytest.param(
            HEAD + "profiles: [{schedulerName: a}, {schedulerName: a}]\n",
            "duplicate schedulerName",
            id="dup",
        ),
        pytest.param(
            HEAD + "profiles: [{plugins: {filter: {enabled: [{name: Nope}]}}}]\n",
            "not registered",
            id="unknown-plugin",
        ),
        pytest.param(
            HEAD
            + "profiles: [{pluginConfig: [{name: PodTopologySpread, args: {defaultConstraints: [{maxSkew: 1}]}}]}]\n",
            'when .defaultingType is "System"',
            id="system-with-constraints",
        ),
        pytest.param(
            HEAD
            + "profiles: [{pluginConfig: [{name: NodeResourcesFit, args: {scoringStrategy: {type: RequestedToCapacityRatio}}}]}]\n",
            "shape: Required value",
            id="rtcr-needs-shape",
        ),
        pytest.param(
            HEAD + "profiles: [{plugins: {queueSort: {disabled: [{name: '*'}]}}}]\n",
            "queueSort",
            id="no-queue-sort",
        ),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_config(text)
