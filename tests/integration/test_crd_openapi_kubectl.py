"""The real kubectl against the OpenAPI v3 document of a CRD-served group-version.

A loopback aiohttp server (127.0.0.1, free port) serves legacy discovery for the
built-in groups plus ``stable.example.com/v1`` (the CronTab CRD of upstream's docs), the
``/openapi/v3`` root listing the built-in documents and the CRD's, and those documents.
``kubectl explain`` must find the kind through discovery and the schema through v3 alone
(``/openapi/v2`` answers 404 and must never be asked for); ``kubectl create`` must see
that the server honours ``fieldValidation`` for the custom resource (it asks only when
the PATCH operation of the kind lists that parameter).
"""

from __future__ import annotations

import asyncio
import copy
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from aiohttp import web

from pyk8s.api import openapi, resources
from pyk8s.api.crd import definition, versions
from pyk8s.api.crd import openapi as crd_openapi

sys.path.insert(0, str(Path(__file__).parent.parent / "api"))
from crd.crd_examples import CRONTAB, cron

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.{}"

pytestmark = pytest.mark.skipif(
    not Path(KUBECTL.format("1.33")).exists(), reason="kubectl 1.33 is not installed"
)


def _crd() -> dict[str, Any]:
    crd = copy.deepcopy(CRONTAB)
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["description"] = "CronTabSpec is the desired state of a CronTab."
    spec["properties"]["cronSpec"]["description"] = "The cron spec defining the interval."
    definition.defaults_crd(crd)
    definition.prepare_for_create(crd)
    assert definition.validate_crd(crd) == []
    return crd


@dataclass
class Server:
    crd: dict[str, Any]
    url: str = ""
    log: list[tuple[str, str]] = field(default_factory=list)
    created: list[tuple[str, Any]] = field(default_factory=list)

    def paths(self, method: str = "") -> list[str]:
        return [p for m, p in self.log if not method or m == method]

    def custom(self) -> list[resources.Resource]:
        return versions.resources_for(self.crd)

    def crd_document(self) -> openapi.Document:
        return crd_openapi.document([self.crd], "stable.example.com", "v1")


def _resource_entries(rs: list[resources.Resource]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in rs:
        entry = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced}
        entry.update({"kind": r.kind, "verbs": list(r.verbs)})
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        out.append(entry)
        for sub in r.subresources:
            kind = "Scale" if sub == "scale" else r.kind
            out.append(
                {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced}
                | {"kind": kind, "verbs": ["get", "patch", "update"]}
            )
    return out


def _app(server: Server) -> web.Application:
    @web.middleware
    async def log(request: web.Request, handler: Any) -> web.StreamResponse:
        server.log.append((request.method, request.path_qs))
        response: web.StreamResponse = await handler(request)
        return response

    def status(code: int, reason: str, message: str) -> web.Response:
        body = {"kind": "Status", "apiVersion": "v1", "status": "Failure"}
        body.update({"code": code, "reason": reason, "message": message})
        return web.json_response(body, status=code)

    async def api(_: web.Request) -> web.Response:
        return web.json_response({"kind": "APIVersions", "versions": ["v1"]})

    async def apis(_: web.Request) -> web.Response:
        groups = []
        for name, vs in [*resources.groups(), ("stable.example.com", ["v1"])]:
            gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in vs]
            groups.append({"name": name, "versions": gvs, "preferredVersion": gvs[0]})
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    async def group_version(request: web.Request) -> web.Response:
        group, version = request.match_info.get("g", ""), request.match_info.get("v", "v1")
        if (group, version) == ("stable.example.com", "v1"):
            found = server.custom()
        else:
            found = resources.by_group_version().get((group, version), [])
        if not found:
            return status(404, "NotFound", "the server could not find the requested resource")
        gv = f"{group}/{version}" if group else version
        body = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv}
        return web.json_response(body | {"resources": _resource_entries(found)})

    async def openapi_root(_: web.Request) -> web.Response:
        index = orjson.loads(openapi.root())
        doc = server.crd_document()
        index["paths"][doc.path] = {"serverRelativeURL": doc.server_relative_url}
        return web.json_response(index)

    async def openapi_gv(request: web.Request) -> web.Response:
        path = request.match_info["gv"]
        crd_doc = server.crd_document()
        doc = crd_doc if path == crd_doc.path else openapi.document(path)
        if doc is None:
            return status(404, "NotFound", "the server could not find the requested resource")
        headers = {"ETag": doc.etag, "Cache-Control": "public, immutable"}
        return web.Response(body=doc.body, content_type="application/json", headers=headers)

    async def crontabs(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        server.created.append((request.path_qs, body))
        created = body | {"metadata": body["metadata"] | {"uid": "1", "resourceVersion": "1"}}
        return web.json_response(created, status=201)

    async def not_found(_: web.Request) -> web.Response:
        return status(404, "NotFound", "the server could not find the requested resource")

    app = web.Application(middlewares=[log])
    app.router.add_get("/api", api)
    app.router.add_get("/apis", apis)
    app.router.add_get("/api/v1", group_version)
    app.router.add_get(r"/apis/{g}/{v}", group_version)
    app.router.add_get("/openapi/v3", openapi_root)
    app.router.add_get(r"/openapi/v3/{gv:.+}", openapi_gv)
    app.router.add_post("/apis/stable.example.com/v1/namespaces/{ns}/crontabs", crontabs)
    app.router.add_route("*", r"/{tail:.*}", not_found)
    return app


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server(_crd())
    runner = web.AppRunner(_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    state.url = f"http://{host}:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


async def kubectl(server: Server, tmp: Path, *args: str, stdin: str = "") -> Result:
    kubeconfig = tmp / "kubeconfig"
    if not kubeconfig.exists():
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "t", "cluster": {"server": server.url}}],
            "contexts": [{"name": "t", "context": {"cluster": "t", "namespace": "default"}}],
            "current-context": "t",
            "users": [],
        }
        kubeconfig.write_text(yaml.safe_dump(config))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "KUBECONFIG": str(kubeconfig)}
    proc = await asyncio.create_subprocess_exec(
        KUBECTL.format("1.33"),
        "--cache-dir",
        str(tmp / "cache"),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout=60)
    except TimeoutError:
        proc.kill()  # only the kubectl this helper started
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


def _no_v2(server: Server) -> None:
    fetched = [p for p in server.paths() if p.startswith(("/openapi/v2", "/swagger"))]
    assert not fetched, f"kubectl fell back to OpenAPI v2: {fetched}"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param(
            "crontab.spec",
            [
                "GROUP:      stable.example.com",
                "KIND:       CronTab",
                "VERSION:    v1",
                "FIELD: spec <Object>",
                "CronTabSpec is the desired state of a CronTab.",
                "cronSpec\t<string> -required-",
                "The cron spec defining the interval.",
                "replicas\t<integer>",
                "color\t<string>",
                "enum: red, blue",
                "ports\t<[]Object>",
                "labels\t<map[string]string>",
            ],
            id="spec-fields",
        ),
        pytest.param(
            "ct.metadata",
            ["KIND:       CronTab", "FIELD: metadata <ObjectMeta>", "labels\t<map[string]string>"],
            id="short-name-metadata-is-object-meta",
        ),
        pytest.param(
            "crontabs.spec.ports",
            ["FIELD: ports <[]Object>", "port\t<integer> -required-", "protocol\t<string>"],
            id="plural-list-map-items",
        ),
        pytest.param(
            "crontab",
            ["KIND:       CronTab", "apiVersion\t<string>", "spec\t<Object>", "status\t<Object>"],
            id="kind",
        ),
    ],
)
async def test_explain_crontab(
    server: Server, tmp_path: Path, target: str, expected: list[str]
) -> None:
    result = await kubectl(server, tmp_path, "explain", target)
    assert result.code == 0, result.stderr
    for line in expected:
        assert line in result.stdout, f"{line!r} not in:\n{result.stdout}"
    assert any(p.startswith("/openapi/v3/apis/stable.example.com/v1?hash=") for p in server.paths())
    _no_v2(server)


async def test_explain_recursive(server: Server, tmp_path: Path) -> None:
    result = await kubectl(server, tmp_path, "explain", "crontab.spec", "--recursive")
    assert result.code == 0, result.stderr
    assert "port\t<integer> -required-" in result.stdout
    _no_v2(server)


async def test_create_asks_for_strict_field_validation(server: Server, tmp_path: Path) -> None:
    result = await kubectl(server, tmp_path, "create", "-f", "-", stdin=yaml.safe_dump(cron()))
    assert result.code == 0, result.stderr
    assert "crontab.stable.example.com/my-new-cron-object created" in result.stdout
    [(path, body)] = server.created
    assert path == (
        "/apis/stable.example.com/v1/namespaces/default/crontabs"
        "?fieldManager=kubectl-create&fieldValidation=Strict"
    )
    assert body["spec"]["cronSpec"] == "* * * * */5"
    _no_v2(server)
