"""KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1): parsing and defaults.

``load_config(text)`` reads the YAML/JSON file ``--config`` names and returns a
``SchedulerConfig`` with upstream's defaults filled in: one ``default-scheduler`` profile
when none is given; leader election on the ``kube-scheduler`` Lease in ``kube-system``
(15 s / 10 s / 2 s); pod back-off 1 s → 10 s. Each profile's plugin set is upstream's
default ``multiPoint`` set merged with the profile's ``plugins``: ``disabled`` names (or
``*``) remove defaults at that point, ``enabled`` adds or re-weights; a ``multiPoint``
entry serves every extension point its plugin implements. The order per point is
upstream's: plugins named at the point that also come from multiPoint, then the
remaining multiPoint ones, then the rest named at the point. ``pluginConfig`` args are
passed to the plugin; unknown plugins are an error, as upstream.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from pyk8s.scheduler.framework import ClusterWriter, Framework
from pyk8s.scheduler.plugins import DEFAULT_PLUGINS, EXTENSION_POINTS, REGISTRY, extension_points

__all__ = ["ConfigError", "LeaderElection", "Profile", "SchedulerConfig", "load_config"]

API_VERSION = "kubescheduler.config.k8s.io/v1"
DEFAULT_SCHEDULER_NAME = "default-scheduler"


class ConfigError(ValueError):
    pass


@dataclass
class LeaderElection:
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    resource_name: str = "kube-scheduler"
    resource_namespace: str = "kube-system"


@dataclass
class Profile:
    scheduler_name: str
    plugins: dict[str, list[str]]
    weights: dict[str, int]
    args: dict[str, dict[str, Any]]

    def build(
        self, *, rng: random.Random | None = None, writer: ClusterWriter | None = None
    ) -> Framework:
        return Framework(
            self.scheduler_name,
            plugins=self.plugins,
            registry=REGISTRY,
            plugin_args=self.args,
            score_weights=self.weights,
            rng=rng,
            writer=writer,
        )


@dataclass
class SchedulerConfig:
    profiles: list[Profile]
    leader_election: LeaderElection = field(default_factory=LeaderElection)
    pod_initial_backoff: float = 1.0
    pod_max_backoff: float = 10.0
    parallelism: int = 16


def _duration(raw: object, default: float) -> float:
    if raw is None:
        return default
    if isinstance(raw, int | float):
        return float(raw)
    text = str(raw).strip()
    total, num = 0.0, ""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            num += ch
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else ch
        if unit not in units or not num:
            raise ConfigError(f"invalid duration {text!r}")
        total += float(num) * units[unit]
        num = ""
        i += len(unit)
    if num:
        raise ConfigError(f"invalid duration {text!r}: missing unit")
    return total


def _names(entries: Sequence[Mapping[str, Any]] | None) -> list[tuple[str, int]]:
    out = []
    for e in entries or ():
        name = str(e.get("name") or "")
        if not name:
            raise ConfigError("plugin entry without a name")
        out.append((name, int(e.get("weight") or 0)))
    return out


def _expand(plugins_cfg: Mapping[str, Any]) -> tuple[dict[str, list[str]], dict[str, int]]:
    mp = plugins_cfg.get("multiPoint") or {}
    mp_disabled = {n for n, _ in _names(mp.get("disabled"))}
    multi: list[tuple[str, int]] = []
    if "*" not in mp_disabled:
        multi = [(n, w) for n, w in DEFAULT_PLUGINS if n not in mp_disabled]
    for n, w in _names(mp.get("enabled")):
        multi = [(m, mw) for m, mw in multi if m != n] + [(n, w)]
    weights: dict[str, int] = {n: w for n, w in multi if w}
    points: dict[str, list[str]] = {}
    for point in EXTENSION_POINTS:
        cfg = plugins_cfg.get(point) or {}
        disabled = {n for n, _ in _names(cfg.get("disabled"))}
        enabled = _names(cfg.get("enabled"))
        for n, _ in enabled:
            if n not in REGISTRY:
                raise ConfigError(f"{point}: plugin {n!r} is not registered")
        from_multi = [n for n, _ in multi if point in extension_points(n)]
        if "*" in disabled:
            from_multi = []
        from_multi = [n for n in from_multi if n not in disabled]
        named = [n for n, _ in enabled]
        overrides = [n for n in named if n in from_multi]
        order = overrides + [n for n in from_multi if n not in named]
        order += [n for n in named if n not in from_multi]
        points[point] = order
        if point == "score":
            for n, w in enabled:
                if w:
                    weights[n] = w
    for n, _ in multi:
        if n not in REGISTRY:
            raise ConfigError(f"multiPoint: plugin {n!r} is not registered")
    return points, weights


def _validate_args(name: str, args: Mapping[str, Any]) -> None:
    if name == "PodTopologySpread":
        kind = args.get("defaultingType") or "System"
        if kind not in ("System", "List"):
            raise ConfigError(f"defaultingType: Unsupported value: {kind!r}")
        if kind == "System" and args.get("defaultConstraints"):
            raise ConfigError(
                'defaultConstraints: Invalid value: when .defaultingType is "System", '
                ".defaultConstraints must be empty"
            )
    if name == "NodeResourcesFit":
        from pyk8s.scheduler.plugins.node_resources_fit import parse_scoring_strategy

        try:
            parse_scoring_strategy(args)
        except ValueError as e:
            raise ConfigError(str(e)) from None


def _profile(raw: Mapping[str, Any]) -> Profile:
    name = str(raw.get("schedulerName") or DEFAULT_SCHEDULER_NAME)
    points, weights = _expand(raw.get("plugins") or {})
    args: dict[str, dict[str, Any]] = {}
    for pc in raw.get("pluginConfig") or ():
        pname = str(pc.get("name") or "")
        if pname in args:
            raise ConfigError(f"pluginConfig: duplicate args for plugin {pname!r}")
        args[pname] = dict(pc.get("args") or {})
        _validate_args(pname, args[pname])
    return Profile(name, points, weights, args)


def load_config(text: str | None = None) -> SchedulerConfig:
    raw: Mapping[str, Any] = yaml.safe_load(text) if text else {}
    raw = raw or {}
    if raw.get("apiVersion", API_VERSION) != API_VERSION:
        raise ConfigError(f"unsupported apiVersion {raw.get('apiVersion')!r}; want {API_VERSION}")
    if raw.get("kind", "KubeSchedulerConfiguration") != "KubeSchedulerConfiguration":
        raise ConfigError(f"unsupported kind {raw.get('kind')!r}")
    profiles = [_profile(p) for p in raw.get("profiles") or ()] or [_profile({})]
    seen: set[str] = set()
    for p in profiles:
        if p.scheduler_name in seen:
            raise ConfigError(f"profiles: duplicate schedulerName {p.scheduler_name!r}")
        seen.add(p.scheduler_name)
        if len(p.plugins["queueSort"]) != 1:
            raise ConfigError(
                f"profile {p.scheduler_name!r}: exactly one queueSort plugin is required"
            )
        if not p.plugins["bind"]:
            raise ConfigError(f"profile {p.scheduler_name!r}: at least one bind plugin is required")
    le = raw.get("leaderElection") or {}
    d = LeaderElection()
    return SchedulerConfig(
        profiles=profiles,
        leader_election=LeaderElection(
            leader_elect=bool(le.get("leaderElect", True)),
            lease_duration=_duration(le.get("leaseDuration"), d.lease_duration),
            renew_deadline=_duration(le.get("renewDeadline"), d.renew_deadline),
            retry_period=_duration(le.get("retryPeriod"), d.retry_period),
            resource_name=str(le.get("resourceName") or d.resource_name),
            resource_namespace=str(le.get("resourceNamespace") or d.resource_namespace),
        ),
        pod_initial_backoff=float(raw.get("podInitialBackoffSeconds") or 1),
        pod_max_backoff=float(raw.get("podMaxBackoffSeconds") or 10),
        parallelism=int(raw.get("parallelism") or 16),
    )
