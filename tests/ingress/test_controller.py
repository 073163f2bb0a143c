"""The controller's sync against its caches, with a fake nginx: one refused Ingress is
left out (found by trying them one by one) and reported once, the verdict is reused
while the Ingresses stay the same, unchanged configurations are not re-applied."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest_asyncio

from pyk8s.client import config as client_config
from pyk8s.client import rest
from pyk8s.client.store import ObjectKey
from pyk8s.ingress import bootstrap, nginx, tlscerts
from pyk8s.ingress import controller as ctl
from pyk8s.ingress.config import IngressControllerConfig

from . import objs as o

Obj = dict[str, Any]


class FakeNginx:
    """Refuses a configuration with the location regex ``^/broken(``, as nginx does."""

    def __init__(self) -> None:
        self.tests = 0
        self.applied: list[str] = []
        self.running = False

    def prepare(self) -> None:
        pass

    async def test(self, text: str, certs: Iterable[tlscerts.Certificate] = ()) -> None:
        self.tests += 1
        if '"^/broken("' in text:
            raise nginx.ConfigInvalid(
                '[emerg] pcre2_compile() failed: missing ) in "^/broken(" in /x/check-1.conf:9'
            )

    async def apply(
        self, text: str, certs: Iterable[tlscerts.Certificate] = (), *, tested: bool = False
    ) -> None:
        assert tested
        self.applied.append(text)
        self.running = True

    async def stop(self) -> None:
        self.running = False


@pytest_asyncio.fixture
async def setup(
    tmp_path: Path,
) -> AsyncIterator[tuple[ctl.IngressController, FakeNginx, list[tuple[str, str, str]]]]:
    client = rest.RESTClient(client_config.Config(server="https://127.0.0.1:1"))
    config = IngressControllerConfig(
        data_dir=tmp_path, metrics_bind=None, update_status=False, create_ingress_class=False
    )
    fake = FakeNginx()
    c = ctl.IngressController(client=client, config=config, data_plane=fake)
    recorded: list[tuple[str, str, str]] = []

    def record(obj: Any, *, reason: str, message: str, event_type: str = "Normal") -> None:
        recorded.append((obj["metadata"]["name"], reason, message))

    c.recorder.record = record  # type: ignore[method-assign]
    c.ingress_classes.store.upsert(bootstrap.ingress_class())
    for name, port in (("web", 9001), ("api", 9002)):
        c.services.store.upsert(o.service(name))
        c.slices.store.upsert(o.endpoint_slice(name, port))
    yield c, fake, recorded
    c.queue.shutdown()
    await client.close()


def put(c: ctl.IngressController, ing: Obj, generation: int = 1) -> None:
    ing = copy.deepcopy(ing)
    ing["metadata"]["generation"] = generation
    c.ingresses.store.upsert(ing)


GOOD = o.ingress("good", o.rule("good.com", o.path("/", "web")), created="2024-01-01T00:00:00Z")
OTHER = o.ingress("other", o.rule("other.com", o.path("/", "api")), created="2024-03-01T00:00:00Z")
UNCLASSED = o.ingress("unclassed", o.rule("free.com", o.path("/", "web")), class_name=None)
FOREIGN = o.ingress("foreign", o.rule("foreign.com", o.path("/", "web")), class_name="traefik")


def bad(path: str = "/broken(") -> Obj:
    return o.ingress(
        "bad",
        o.rule("bad.com", o.path(path, "web", "ImplementationSpecific")),
        annotations={"nginx.ingress.kubernetes.io/use-regex": "true"},
        created="2024-02-01T00:00:00Z",
    )


async def test_refused_ingress_is_left_out_and_reported_once(setup: Any) -> None:
    c, fake, recorded = setup
    for ing in (GOOD, bad(), OTHER, UNCLASSED, FOREIGN):
        put(c, ing)
    await c.sync()
    # full config, empty config, then one by one: good, +bad (refused), +other, +unclassed
    assert fake.tests == 6
    assert c.excluded.keys() == {ObjectKey("ns", "bad")}
    assert set(c.applied.ingresses) == {ObjectKey("ns", n) for n in ("good", "other", "unclassed")}
    text = fake.applied[-1]
    assert "good.com" in text and "other.com" in text and "free.com" in text
    assert "bad.com" not in text and "foreign.com" not in text
    assert recorded == [
        (
            "bad",
            "RELOAD",
            'Error reloading NGINX: [emerg] pcre2_compile() failed: missing ) in "^/broken("; '
            "the Ingress is left out of the configuration",
        )
    ]

    # an endpoint change: same Ingresses, so the verdict stands (one test, one apply)
    c.slices.store.upsert(o.endpoint_slice("web", 9009, name="web-more"))
    await c.sync()
    assert fake.tests == 7 and len(fake.applied) == 2 and "127.0.0.1:9009" in fake.applied[-1]
    assert len(recorded) == 1

    # nothing changed: tested, not applied again
    await c.sync()
    assert fake.tests == 8 and len(fake.applied) == 2

    # the Ingress is fixed: back in, nothing excluded
    put(c, bad("/broken(.*)"), generation=2)
    await c.sync()
    assert not c.excluded and "bad.com" in fake.applied[-1]
    assert c.metrics.registry.get_sample_value("pyk8s_ingress_excluded_ingresses") == 0


async def test_unreferenced_changes_do_not_sync(setup: Any) -> None:
    c, _, _ = setup
    put(c, GOOD)
    await c.sync()
    assert c._services_used == {ObjectKey("ns", "web")}
    calls: list[None] = []
    c._enqueue = lambda: calls.append(None)
    c._maybe(c._services_used, ObjectKey("ns", "unrelated"))
    c._slice_changed(o.endpoint_slice("unrelated", 1234))
    assert calls == []
    c._slice_changed(o.endpoint_slice("web", 1234))
    c._maybe(c._services_used, ObjectKey("ns", "web"))
    assert len(calls) == 2


async def test_changes_coalesce_into_one_sync(setup: Any) -> None:
    c, _, _ = setup
    for i in range(50):
        c.ingresses.store.upsert(o.ingress(f"i{i}", o.rule(f"h{i}.com", o.path("/", "web"))))
        c._enqueue()
    assert c.queue.waiting == 1 and len(c.queue) == 0
