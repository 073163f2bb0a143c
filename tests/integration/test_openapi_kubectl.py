"""The real kubectl against our ``/openapi/v3`` documents, served by a tiny loopback server.

The server (plain HTTP on 127.0.0.1, a free port) serves the OpenAPI documents, legacy
discovery (``/api``, ``/apis``, per group-version resource lists) and a dict-backed
object store whose PATCH runs our patch modules. Every request is logged, so the tests
can assert what kubectl asked for — above all that it never falls back to
``/openapi/v2``, which answers 404 unless a test asks for ``openapi.V2_PLACEHOLDER``
(kubectl 1.27's ``explain`` insists on fetching it). kubectl gets the server's URL from a
kubeconfig in the test's temp dir, and a ``--cache-dir`` there too.
"""

from __future__ import annotations

import asyncio
import copy
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from aiohttp import web

from pyk8s.api import fieldcheck, openapi, resources, schemas
from pyk8s.api.patch import PatchError, json_patch, merge_patch, strategic_merge

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.{}"

pytestmark = pytest.mark.skipif(
    not Path(KUBECTL.format("1.33")).exists(), reason="kubectl 1.33 is not installed"
)

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "nginx",
                        "image": "nginx:1.25",
                        "ports": [{"containerPort": 80}],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    }
                ]
            },
        },
    },
}


def manifest(edit: Any = None) -> str:
    """DEPLOYMENT as YAML, after ``edit(obj)`` changed a copy of it."""
    obj = copy.deepcopy(DEPLOYMENT)
    if edit is not None:
        edit(obj)
    return yaml.safe_dump(obj)


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
    return container


@dataclass
class FakeServer:
    url: str = ""
    log: list[tuple[str, str]] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    bodies: list[tuple[str, str, Any]] = field(default_factory=list)
    serve_v2_placeholder: bool = False

    def paths(self, method: str = "") -> list[str]:
        return [p for m, p in self.log if not method or m == method]


_OBJECT_PATH = re.compile(
    r"^/(?:api/(?P<cv>v1)|apis/(?P<g>[^/]+)/(?P<v>[^/]+))"
    r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?$"
)


def _status(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure"}
    body.update({"code": code, "reason": reason, "message": message})
    return web.json_response(body, status=code)


def _resource_list(group: str, version: str) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for r in resources.by_group_version()[(group, version)]:
        entry = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced}
        entry.update({"kind": r.kind, "verbs": list(r.verbs)})
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        out.append(entry)
        for sub in r.subresources:
            out.append(
                {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced}
                | {"kind": r.kind, "verbs": ["get", "patch", "update"]}
            )
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}


def _app(server: FakeServer) -> web.Application:
    @web.middleware
    async def log(request: web.Request, handler: Any) -> web.StreamResponse:
        server.log.append((request.method, request.path_qs))
        response: web.StreamResponse = await handler(request)
        return response

    async def api(_: web.Request) -> web.Response:
        return web.json_response({"kind": "APIVersions", "versions": ["v1"]})

    async def apis(_: web.Request) -> web.Response:
        groups = []
        for name, versions in resources.groups():
            gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
            groups.append({"name": name, "versions": gvs, "preferredVersion": gvs[0]})
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    async def group_version(request: web.Request) -> web.Response:
        group, version = request.match_info.get("g", ""), request.match_info.get("v", "v1")
        if (group, version) not in resources.by_group_version():
            return await not_found(request)
        return web.json_response(_resource_list(group, version))

    async def openapi_root(_: web.Request) -> web.Response:
        return web.Response(body=openapi.root(), content_type="application/json")

    async def openapi_gv(request: web.Request) -> web.Response:
        doc = openapi.document(request.match_info["gv"])
        if doc is None:
            return _status(404, "NotFound", "the server could not find the requested resource")
        headers = {"ETag": doc.etag, "Cache-Control": "public, immutable"}
        return web.Response(body=doc.body, content_type="application/json", headers=headers)

    async def not_found(_: web.Request) -> web.Response:
        return _status(404, "NotFound", "the server could not find the requested resource")

    async def objects(request: web.Request) -> web.Response:
        match = _OBJECT_PATH.match(request.path)
        if match is None:
            return await not_found(request)
        group, version = match["g"] or "", match["v"] or match["cv"]
        found = resources.find(group, version, match["plural"])
        if found is None:
            return await not_found(request)
        return await _handle_object(server, request, found, match["ns"], match["name"])

    app = web.Application(middlewares=[log])
    app.router.add_get("/api", api)
    app.router.add_get("/apis", apis)
    app.router.add_get("/api/v1", group_version)
    app.router.add_get(r"/apis/{g}/{v}", group_version)
    app.router.add_get("/openapi/v3", openapi_root)
    app.router.add_get(r"/openapi/v3/{gv:.+}", openapi_gv)

    async def openapi_v2(request: web.Request) -> web.Response:
        if not server.serve_v2_placeholder:
            return await not_found(request)
        body, content_type = openapi.V2_PLACEHOLDER, openapi.V2_CONTENT_TYPE
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get("/openapi/v2", openapi_v2)
    app.router.add_route("*", r"/{tail:.*}", objects)
    return app


async def _handle_object(
    server: FakeServer,
    request: web.Request,
    r: resources.Resource,
    ns: str | None,
    name: str | None,
) -> web.Response:
    key_prefix = f"{r.group}/{r.plural}/{ns or ''}/"
    gvk = (r.group, r.version, r.kind)
    directive = fieldcheck.parse_directive(request.query.get("fieldValidation"))
    if request.method == "GET" and name:
        obj = server.objects.get(key_prefix + name)
        if obj is None:
            return _status(404, "NotFound", f'{r.plural} "{name}" not found')
        return web.json_response(obj)
    if request.method == "POST" and not name:
        body = orjson.loads(await request.read())
        server.bodies.append(("POST", request.path_qs, body))
        unknown = fieldcheck.unknown_fields(gvk, body)
        warnings: list[str] = []
        if unknown and directive is fieldcheck.Directive.STRICT:
            return _status(400, "BadRequest", fieldcheck.decode_error(r.kind, r.version, unknown))
        if unknown and directive is fieldcheck.Directive.WARN:
            warnings = fieldcheck.warnings(unknown)
        _default(body)
        meta = body.setdefault("metadata", {})
        meta.update({"uid": f"uid-{len(server.objects)}", "resourceVersion": "1"})
        if ns:
            meta["namespace"] = ns
        if request.query.get("dryRun") != "All":
            server.objects[key_prefix + meta["name"]] = body
        response = web.json_response(body, status=201)
        for text in warnings:
            quoted = text.replace("\\", "\\\\").replace('"', '\\"')
            response.headers.add("Warning", f'299 - "{quoted}"')
        return response
    if request.method == "PATCH" and name:
        current = server.objects.get(key_prefix + name)
        if current is None:
            return _status(404, "NotFound", f'{r.plural} "{name}" not found')
        patch = orjson.loads(await request.read())
        server.bodies.append((request.content_type, request.path_qs, patch))
        try:
            if request.content_type == "application/strategic-merge-patch+json":
                node = schemas.node_for_gvk(*gvk)
                patched = strategic_merge.apply_strategic_merge(current, patch, node)
            elif request.content_type == "application/merge-patch+json":
                patched = merge_patch.apply_merge_patch(current, patch)
            elif request.content_type == "application/json-patch+json":
                patched = json_patch.apply_json_patch(current, patch)
            else:
                return _status(415, "UnsupportedMediaType", request.content_type)
        except PatchError as err:
            reason = "BadRequest" if err.code == 400 else "Invalid"
            return _status(err.code, reason, err.message)
        server.objects[key_prefix + name] = patched
        return web.json_response(patched)
    return _status(405, "MethodNotAllowed", "not supported by the test server")


def _default(obj: dict[str, Any]) -> None:
    """A little of what upstream's defaulting adds, so apply tests can see it survive."""
    spec = obj.get("spec", {}).get("template", {}).get("spec")
    if isinstance(spec, dict):
        spec.setdefault("dnsPolicy", "ClusterFirst")
        for container in spec.get("containers", []):
            container.setdefault("terminationMessagePath", "/dev/termination-log")


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    state = FakeServer()
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


async def kubectl(
    server: FakeServer, tmp: Path, *args: str, version: str = "1.33", stdin: str = ""
) -> Result:
    kubeconfig = tmp / "kubeconfig"
    if not kubeconfig.exists():
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "t", "cluster": {"server": server.url}}],
                    "contexts": [
                        {"name": "t", "context": {"cluster": "t", "namespace": "default"}}
                    ],
                    "current-context": "t",
                    "users": [],
                }
            )
        )
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "KUBECONFIG": str(kubeconfig)}
    proc = await asyncio.create_subprocess_exec(
        KUBECTL.format(version),
        "--cache-dir",
        str(tmp / f"cache-{version}"),
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


def _no_v2(server: FakeServer) -> None:
    fetched = [p for p in server.paths() if p.startswith(("/openapi/v2", "/swagger"))]
    assert not fetched, f"kubectl fell back to OpenAPI v2: {fetched}"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param(
            "deployment.spec.template.spec.containers",
            [
                "KIND:       Deployment",
                "VERSION:    v1",
                "FIELD: containers <[]Container>",
                "A single application container that you want to run within a pod.",
                "env\t<[]EnvVar>",
                "image\t<string>",
                "name\t<string> -required-",
                "resources\t<ResourceRequirements>",
            ],
            id="deployment-containers",
        ),
        pytest.param(
            "deployment.spec.strategy.rollingUpdate",
            ["FIELD: rollingUpdate <RollingUpdateDeployment>", "maxSurge\t<IntOrString>"],
            id="int-or-string",
        ),
        pytest.param(
            "pod.spec.containers.resources",
            ["KIND:       Pod", "limits\t<map[string]Quantity>"],
            id="core-v1-quantity-map",
        ),
        pytest.param(
            "service.spec.ports",
            [
                "FIELD: ports <[]ServicePort>",
                "port\t<integer> -required-",
                "targetPort\t<IntOrString>",
            ],
            id="service-ports",
        ),
        pytest.param(
            "cronjobs.spec.jobTemplate.spec",
            ["KIND:       CronJob", "FIELD: spec <JobSpec>", "backoffLimit\t<integer>"],
            id="batch-v1",
        ),
    ],
)
async def test_explain_133(
    server: FakeServer, tmp_path: Path, target: str, expected: list[str]
) -> None:
    result = await kubectl(server, tmp_path, "explain", target)
    assert result.code == 0, result.stderr
    for line in expected:
        assert line in result.stdout, f"{line!r} not in:\n{result.stdout}"
    assert any(p.startswith("/openapi/v3/ap") for p in server.paths())
    _no_v2(server)


async def test_explain_127_reads_v3(server: FakeServer, tmp_path: Path) -> None:
    # kubectl 1.27 insists on fetching /openapi/v2 first; the empty placeholder satisfies
    # it and everything it prints comes from the v3 document.
    server.serve_v2_placeholder = True
    result = await kubectl(
        server, tmp_path, "explain", "deployment.spec.template.spec.containers", version="1.27"
    )
    assert result.code == 0, result.stderr
    assert "FIELD: containers <[]Container>" in result.stdout
    assert "name\t<string> -required-" in result.stdout
    assert any(p.startswith("/openapi/v3/apis/apps/v1?hash=") for p in server.paths("GET"))


async def test_explain_127_needs_v2_placeholder(server: FakeServer, tmp_path: Path) -> None:
    result = await kubectl(server, tmp_path, "explain", "deployment", version="1.27")
    assert result.code != 0
    assert "/openapi/v2?timeout=32s" in server.paths("GET")


async def test_create_dry_run_server_uses_v3_only(server: FakeServer, tmp_path: Path) -> None:
    result = await kubectl(
        server, tmp_path, "create", "-f", "-", "--dry-run=server", stdin=manifest()
    )
    assert result.code == 0, result.stderr
    assert "deployment.apps/web created (server dry run)" in result.stdout
    posts = server.paths("POST")
    assert posts == [
        "/apis/apps/v1/namespaces/default/deployments"
        "?dryRun=All&fieldManager=kubectl-create&fieldValidation=Strict"
    ]
    assert not server.objects
    _no_v2(server)


async def test_create_strict_rejects_unknown_field(server: FakeServer, tmp_path: Path) -> None:
    text = manifest(lambda obj: _container(obj).update(imagePullPolcy="Always"))
    result = await kubectl(server, tmp_path, "create", "-f", "-", stdin=text)
    assert result.code == 1
    assert (
        'Error from server (BadRequest): error when creating "STDIN": Deployment in version '
        '"v1" cannot be handled as a Deployment: strict decoding error: unknown field '
        '"spec.template.spec.containers[0].imagePullPolcy"'
    ) in result.stderr
    _no_v2(server)


async def test_create_warn_prints_warning(server: FakeServer, tmp_path: Path) -> None:
    text = manifest(lambda obj: obj["spec"].update(replicaz=2))
    result = await kubectl(server, tmp_path, "create", "--validate=warn", "-f", "-", stdin=text)
    assert result.code == 0, result.stderr
    assert 'Warning: unknown field "spec.replicaz"' in result.stderr
    assert "fieldValidation=Warn" in server.paths("POST")[0]


async def test_client_side_apply_twice_merges_by_key(server: FakeServer, tmp_path: Path) -> None:
    first = await kubectl(server, tmp_path, "apply", "-f", "-", stdin=manifest())
    assert first.code == 0, first.stderr
    assert "deployment.apps/web created" in first.stdout

    def edit(obj: dict[str, Any]) -> None:
        container = _container(obj)
        container["image"] = "nginx:1.26"
        container["env"] = [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]
        container["ports"].append({"containerPort": 443})

    changed = manifest(edit)
    second = await kubectl(server, tmp_path, "apply", "-f", "-", stdin=changed)
    assert second.code == 0, second.stderr
    assert "deployment.apps/web configured" in second.stdout

    kind, _, patch = server.bodies[-1]
    assert kind == "application/strategic-merge-patch+json"
    template = patch["spec"]["template"]["spec"]
    assert template["$setElementOrder/containers"] == [{"name": "nginx"}]

    stored = server.objects["apps/deployments/default/web"]
    pod = stored["spec"]["template"]["spec"]
    assert pod["dnsPolicy"] == "ClusterFirst"  # server-side fields survive
    [container] = pod["containers"]
    assert container["image"] == "nginx:1.26"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]
    assert container["ports"] == [{"containerPort": 80}, {"containerPort": 443}]

    third = await kubectl(server, tmp_path, "apply", "-f", "-", stdin=changed)
    assert third.code == 0, third.stderr
    assert "deployment.apps/web unchanged" in third.stdout
    assert len(server.paths("PATCH")) == 1
    _no_v2(server)


@pytest.mark.parametrize(
    ("patch_type", "patch", "check"),
    [
        pytest.param(
            "json",
            '[{"op": "replace", "path": "/spec/replicas", "value": 3}]',
            lambda obj: obj["spec"]["replicas"] == 3,
            id="json",
        ),
        pytest.param(
            "merge",
            '{"metadata": {"labels": {"tier": "web"}}}',
            lambda obj: obj["metadata"]["labels"] == {"app": "web", "tier": "web"},
            id="merge",
        ),
        pytest.param(
            "strategic",
            '{"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}}}',
            lambda obj: (
                [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]]
                == ["sidecar", "nginx"]
            ),
            id="strategic-adds-container",
        ),
    ],
)
async def test_kubectl_patch(
    server: FakeServer, tmp_path: Path, patch_type: str, patch: str, check: Any
) -> None:
    created = await kubectl(server, tmp_path, "create", "-f", "-", stdin=manifest())
    assert created.code == 0, created.stderr
    result = await kubectl(
        server, tmp_path, "patch", "deployment", "web", "--type", patch_type, "-p", patch
    )
    assert result.code == 0, result.stderr
    assert check(server.objects["apps/deployments/default/web"])


async def test_client_side_apply_core_v1_service(server: FakeServer, tmp_path: Path) -> None:
    service: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
    }
    first = await kubectl(server, tmp_path, "apply", "-f", "-", stdin=yaml.safe_dump(service))
    assert first.code == 0, first.stderr
    stored = server.objects["/services/default/web"]
    stored["spec"]["clusterIP"] = "10.0.0.7"  # set by the server after creation
    service["spec"]["ports"].append({"name": "https", "port": 443})
    second = await kubectl(server, tmp_path, "apply", "-f", "-", stdin=yaml.safe_dump(service))
    assert second.code == 0, second.stderr
    spec = server.objects["/services/default/web"]["spec"]
    assert spec["clusterIP"] == "10.0.0.7"
    assert spec["ports"] == [{"name": "http", "port": 80}, {"name": "https", "port": 443}]
    assert server.bodies[-1][0] == "application/strategic-merge-patch+json"
    _no_v2(server)
