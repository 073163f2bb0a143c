"""The controller-manager: builds the controllers named in ``pyk8s.controllers.ALL`` on one
shared REST client and one shared informer factory, and runs them while it holds the
``kube-system/kube-controller-manager`` Lease (DESIGN §2, §6).

Order of start (upstream's StartControllers): every selected controller is constructed
first (constructors only register informers and handlers), then the informer factory
starts — one list+watch per resource for the whole process — and once the caches have
synced every controller's ``run(stop)`` starts. Controllers that discover informers at
run time (the garbage collector) get them from the same, already running factory.

Contract:
- ``--controllers`` has upstream's syntax: ``*`` enables every controller that is on by
  default, ``name`` enables one, ``-name`` disables one (a disable wins). Names are
  upstream's canonical ones (``deployment-controller``) or their legacy aliases
  (``deployment``); an unknown name is an error (``select_controllers``).
- Each controller gets its own event recorder whose source component is upstream's for
  that controller ("deployment-controller", "replicaset-controller",
  "replication-controller", …).
- With leader election on, losing the lease stops every controller and ``run`` raises
  ``LeadershipLost`` (the process should exit, as upstream's does: another instance may
  already be acting). ``stop`` ends everything cleanly and releases the lease.
- ``metrics_port`` (optional) serves ``/metrics`` (Prometheus) and ``/healthz`` on
  ``metrics_address``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import prometheus_client
from aiohttp import web

from pyk8s.client import config as config_mod
from pyk8s.client import events, informer, leaderelection, rest
from pyk8s.controllers import metrics
from pyk8s.controllers.context import Controller, ControllerContext, Factory, Options

__all__ = [
    "ALIASES",
    "ControllerManager",
    "LeadershipLost",
    "ManagerConfig",
    "UnknownController",
    "canonical_name",
    "event_component",
    "select_controllers",
]

log = logging.getLogger(__name__)

# legacy --controllers names → upstream's canonical names (cmd/kube-controller-manager/names)
ALIASES: Mapping[str, str] = {
    "attachdetach": "persistentvolume-attach-detach-controller",
    "bootstrapsigner": "bootstrap-signer-controller",
    "clusterrole-aggregation": "clusterrole-aggregation-controller",
    "cronjob": "cronjob-controller",
    "daemonset": "daemonset-controller",
    "deployment": "deployment-controller",
    "disruption": "disruption-controller",
    "endpoint": "endpoints-controller",
    "endpointslice": "endpointslice-controller",
    "endpointslicemirroring": "endpointslice-mirroring-controller",
    "ephemeral-volume": "ephemeral-volume-controller",
    "garbagecollector": "garbage-collector-controller",
    "horizontalpodautoscaling": "horizontal-pod-autoscaler-controller",
    "job": "job-controller",
    "namespace": "namespace-controller",
    "nodeipam": "node-ipam-controller",
    "nodelifecycle": "node-lifecycle-controller",
    "persistentvolume-binder": "persistentvolume-binder-controller",
    "persistentvolume-expander": "persistentvolume-expander-controller",
    "podgc": "pod-garbage-collector-controller",
    "pv-protection": "persistentvolume-protection-controller",
    "pvc-protection": "persistentvolumeclaim-protection-controller",
    "replicaset": "replicaset-controller",
    "replicationcontroller": "replicationcontroller-controller",
    "resourcequota": "resourcequota-controller",
    "root-ca-cert-publisher": "root-ca-certificate-publisher-controller",
    "serviceaccount": "serviceaccount-controller",
    "serviceaccount-token": "serviceaccount-token-controller",
    "statefulset": "statefulset-controller",
    "tokencleaner": "token-cleaner-controller",
    "ttl": "ttl-controller",
    "ttl-after-finished": "ttl-after-finished-controller",
}

# event sources that differ from the controller's name
_COMPONENTS: Mapping[str, str] = {
    "replicationcontroller-controller": "replication-controller",
    "pod-garbage-collector-controller": "pod-garbage-collector",
    "endpoints-controller": "endpoint-controller",
    "endpointslice-controller": "endpoint-slice-controller",
    "persistentvolume-binder-controller": "persistentvolume-controller",
}

# off unless named explicitly (upstream's ControllersDisabledByDefault)
DISABLED_BY_DEFAULT = frozenset({"bootstrap-signer-controller", "token-cleaner-controller"})


class UnknownController(ValueError):
    pass


class LeadershipLost(RuntimeError):
    pass


def canonical_name(name: str) -> str:
    return ALIASES.get(name, name)


def event_component(name: str) -> str:
    canonical = canonical_name(name)
    return _COMPONENTS.get(canonical, canonical)


def select_controllers(requested: Sequence[str], available: Iterable[str]) -> list[str]:
    """The keys of ``available`` that ``--controllers`` enables, in ``available`` order."""
    keys = list(available)
    known = {canonical_name(k) for k in keys}
    enabled: set[str] = set()
    disabled: set[str] = set()
    star = False
    for raw in requested:
        item = raw.strip()
        if not item:
            continue
        if item == "*":
            star = True
            continue
        negated = item.startswith("-")
        bare = item[1:] if negated else item
        name = canonical_name(bare)
        if name not in known:
            raise UnknownController(f'"{bare}" is not in the list of known controllers')
        (disabled if negated else enabled).add(name)
    out = []
    for key in keys:
        name = canonical_name(key)
        if name in disabled:
            continue
        if name in enabled or (star and name not in DISABLED_BY_DEFAULT):
            out.append(key)
    return out


@dataclass
class ManagerConfig:
    controllers: Sequence[str] = ("*",)
    leader_elect: bool = True
    lease_name: str = "kube-controller-manager"
    lease_namespace: str = "kube-system"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = ""
    qps: float = 200.0
    burst: int = 400
    metrics_port: int | None = None
    metrics_address: str = "127.0.0.1"
    options: Options = field(default_factory=Options)


class ControllerManager:
    def __init__(
        self,
        rest_config: config_mod.Config,
        cfg: ManagerConfig | None = None,
        *,
        registry: Mapping[str, Factory] | None = None,
    ) -> None:
        from pyk8s.controllers import ALL

        self.rest_config = rest_config
        self.cfg = cfg or ManagerConfig()
        self.registry: Mapping[str, Factory] = registry if registry is not None else ALL
        self.selected = select_controllers(self.cfg.controllers, self.registry)
        self.identity = self.cfg.identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.controllers: dict[str, Controller] = {}
        self.informers: informer.SharedInformerFactory | None = None
        self.leading = asyncio.Event()
        self.metrics_url = ""

    async def run(self, stop: asyncio.Event) -> None:
        async with rest.RESTClient(
            self.rest_config,
            qps=self.cfg.qps,
            burst=self.cfg.burst,
            user_agent="pyk8s-controller-manager",
        ) as client:
            runner = await self._start_metrics()
            try:
                if self.cfg.leader_elect:
                    await self._run_elected(client, stop)
                else:
                    await self._lead(client, stop)
            finally:
                if runner is not None:
                    await runner.cleanup()

    async def _run_elected(self, client: rest.RESTClient, stop: asyncio.Event) -> None:
        elector = leaderelection.LeaderElector(
            client,
            name=self.cfg.lease_name,
            namespace=self.cfg.lease_namespace,
            identity=self.identity,
            lease_duration=self.cfg.lease_duration,
            renew_deadline=self.cfg.renew_deadline,
            retry_period=self.cfg.retry_period,
            on_started_leading=lambda: self._lead(client, stop),
            on_new_leader=lambda who: log.info("the controller-manager leader is %s", who),
        )
        await elector.run(stop)
        if not stop.is_set():
            raise LeadershipLost(f"lost the lease {self.cfg.lease_namespace}/{self.cfg.lease_name}")

    async def _lead(self, client: rest.RESTClient, stop: asyncio.Event) -> None:
        log.info("starting controllers: %s", ", ".join(self.selected) or "(none)")
        factory = informer.SharedInformerFactory(client)
        self.informers = factory
        recorders: list[events.EventRecorder] = []
        for name in self.selected:
            recorder = events.EventRecorder(client, component=event_component(name))
            recorders.append(recorder)
            ctx = ControllerContext(
                client=client, informers=factory, recorder=recorder, options=self.cfg.options
            )
            self.controllers[name] = self.registry[name](ctx)
        metrics.LEADER.set(1)
        self.leading.set()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(factory.run(stop), name="informers")
                for recorder in recorders:
                    tg.create_task(recorder.run(stop), name=f"events {recorder.component}")
                await factory.wait_synced()
                log.info("caches synced; running %d controllers", len(self.controllers))
                for name, controller in self.controllers.items():
                    tg.create_task(_run_named(name, controller, stop), name=name)
        finally:
            self.leading.clear()
            metrics.LEADER.set(0)

    async def _start_metrics(self) -> web.AppRunner | None:
        if self.cfg.metrics_port is None:
            return None

        async def serve_metrics(_: web.Request) -> web.Response:
            return web.Response(body=prometheus_client.generate_latest(), content_type="text/plain")

        async def healthz(_: web.Request) -> web.Response:
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/metrics", serve_metrics)
        app.router.add_get("/healthz", healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.cfg.metrics_address, self.cfg.metrics_port)
        await site.start()
        port = self.cfg.metrics_port
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            port = server.sockets[0].getsockname()[1]
        self.metrics_url = f"http://{self.cfg.metrics_address}:{port}"
        log.info("serving metrics on %s/metrics", self.metrics_url)
        return runner


async def _run_named(name: str, controller: Controller, stop: asyncio.Event) -> None:
    try:
        await controller.run(stop)
    except Exception:
        log.exception("controller %s failed", name)
        raise
