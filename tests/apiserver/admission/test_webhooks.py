"""Admission webhooks against a real HTTPS webhook server on 127.0.0.1 (its CA generated
here and passed as caBundle): JSON-patch mutation, denial, timeouts under both failure
policies, warnings, dry run, reinvocation, ordering, parallel validation, service
references, TLS and protocol failures."""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pyk8s.api import errors, resources
from pyk8s.api.resources import Resource
from pyk8s.apiserver.admission import Attributes, UserInfo, client
from pyk8s.apiserver.admission.webhooks import WebhookAdmission

Obj = dict[str, Any]


def _res(group: str, version: str, plural: str) -> Resource:
    found = resources.find(group, version, plural)
    assert found is not None
    return found


PODS = _res("", "v1", "pods")
VWC = _res("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")
SERVICE_HOST = "hooks.webhooks.svc"

# --- certificates ----------------------------------------------------------------------


@dataclass(frozen=True)
class Certs:
    ca_bundle: str  # base64 PEM, as clientConfig.caBundle carries it
    cert_file: Path
    key_file: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("webhook-test-ca"))
        .issuer_name(_name("webhook-test-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("webhook"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName(SERVICE_HOST)]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("webhook-certs")
    (d / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "tls.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    return Certs(base64.b64encode(ca_pem).decode(), d / "tls.crt", d / "tls.key")


# --- the webhook server ----------------------------------------------------------------


def _allow(uid: str, **extra: Any) -> Obj:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": uid, "allowed": True, **extra},
    }


def _patch(ops: list[Obj]) -> Obj:
    return {"patchType": "JSONPatch", "patch": base64.b64encode(orjson.dumps(ops)).decode()}


def _add_label(obj: Obj, key: str, value: str) -> list[Obj]:
    ops: list[Obj] = []
    if not obj["metadata"].get("labels"):
        ops.append({"op": "add", "path": "/metadata/labels", "value": {}})
    ops.append({"op": "add", "path": f"/metadata/labels/{key}", "value": value})
    return ops


Handler = Callable[[Obj], Awaitable[Obj | web.Response]]


@dataclass
class WebhookServer:
    port: int = 0
    calls: list[tuple[str, str, Obj]] = field(default_factory=list)  # (path, query, request)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: int = 0
    together: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.calls]

    # handlers: each gets the AdmissionReview request and answers

    async def mutate(self, req: Obj) -> Obj:
        return _allow(req["uid"], **_patch(_add_label(req["object"], "mutated", "true")))

    async def add_a(self, req: Obj) -> Obj:
        if "a" in (req["object"]["metadata"].get("labels") or {}):
            return _allow(req["uid"])
        return _allow(req["uid"], **_patch(_add_label(req["object"], "a", "1")))

    async def add_b(self, req: Obj) -> Obj:
        return _allow(req["uid"], **_patch(_add_label(req["object"], "b", "1")))

    async def deny(self, req: Obj) -> Obj:
        obj = req["object"] or req["oldObject"]
        if (obj["metadata"].get("labels") or {}).get("forbidden") == "true":
            return {
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {
                    "uid": req["uid"],
                    "allowed": False,
                    "status": {"code": 403, "reason": "Forbidden", "message": "label forbidden"},
                    "warnings": ["denied by policy"],
                },
            }
        return _allow(req["uid"])

    async def warn(self, req: Obj) -> Obj:
        return _allow(req["uid"], warnings=["first warning", "second warning", "first warning"])

    async def slow(self, req: Obj) -> Obj:
        await self.release.wait()
        return _allow(req["uid"])

    async def barrier(self, req: Obj) -> Obj:
        # answers only once two calls are in flight at the same time
        self.arrived += 1
        if self.arrived >= 2:
            self.together.set()
        await self.together.wait()
        return _allow(req["uid"])

    async def boom(self, req: Obj) -> web.Response:
        return web.Response(status=500, text="boom", content_type="text/plain")

    async def bad_uid(self, req: Obj) -> Obj:
        return _allow("not-" + req["uid"])

    async def patch_anything(self, req: Obj) -> Obj:
        return _allow(req["uid"], **_patch([{"op": "add", "path": "/x", "value": 1}]))

    def app(self) -> web.Application:
        routes: dict[str, Handler] = {
            "/mutate": self.mutate,
            "/add-a": self.add_a,
            "/add-b": self.add_b,
            "/deny": self.deny,
            "/warn": self.warn,
            "/slow": self.slow,
            "/barrier": self.barrier,
            "/boom": self.boom,
            "/bad-uid": self.bad_uid,
            "/patch-anything": self.patch_anything,
        }

        def route(fn: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
            async def handle(request: web.Request) -> web.StreamResponse:
                review = await request.json()
                assert review["apiVersion"] == "admission.k8s.io/v1"
                assert request.headers["Content-Type"] == "application/json"
                self.calls.append((request.path, request.query_string, review["request"]))
                out = await fn(review["request"])
                return out if isinstance(out, web.Response) else web.json_response(out)

            return handle

        app = web.Application()
        for path, fn in routes.items():
            app.router.add_post(path, route(fn))
        return app


@pytest.fixture
async def server(certs: Certs) -> AsyncIterator[WebhookServer]:
    srv = WebhookServer()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.cert_file, certs.key_file)
    runner = web.AppRunner(srv.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    srv.port = runner.addresses[0][1]
    try:
        yield srv
    finally:
        srv.release.set()
        srv.together.set()
        await runner.cleanup()


# --- configurations and requests -------------------------------------------------------


def _webhook(name: str, client_config: Obj, **over: Any) -> Obj:
    hook: Obj = {
        "name": name,
        "clientConfig": client_config,
        "rules": [
            {
                "operations": ["CREATE", "UPDATE", "DELETE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["pods"],
                "scope": "*",
            }
        ],
        "failurePolicy": "Fail",
        "matchPolicy": "Equivalent",
        "namespaceSelector": {},
        "objectSelector": {},
        "sideEffects": "None",
        "timeoutSeconds": 10,
        "admissionReviewVersions": ["v1"],
    }
    hook.update(over)
    return hook


def _config(name: str, *hooks: Obj) -> Obj:
    return {"metadata": {"name": name}, "webhooks": list(hooks)}


@dataclass
class Setup:
    mutating: list[Obj] = field(default_factory=list)
    validating: list[Obj] = field(default_factory=list)
    services: dict[tuple[str, str], str] = field(default_factory=dict)

    def admission(self) -> WebhookAdmission:
        return WebhookAdmission(
            lambda: (self.mutating, self.validating),
            {"default": {"env": "test"}}.get,
            lambda ns, name: self.services.get((ns, name)),
        )


@pytest.fixture
def setup() -> Setup:
    return Setup()


@pytest.fixture
async def admission(setup: Setup) -> AsyncIterator[WebhookAdmission]:
    a = setup.admission()
    try:
        yield a
    finally:
        await a.aclose()


def _pod(labels: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": "web", "namespace": "default"}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": []}}


def _attrs(op: str = "CREATE", *, dry_run: bool = False, res: Resource = PODS) -> Attributes:
    return Attributes(
        resource=res,
        subresource=None,
        namespace="default" if res.namespaced else None,
        name="web",
        operation=op,
        user=UserInfo("alice", groups=("system:authenticated",)),
        dry_run=dry_run,
        options={"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
    )


# --- tests -------------------------------------------------------------------------------


async def test_mutating_webhook_adds_label(
    server: WebhookServer, certs: Certs, setup: Setup, admission: WebhookAdmission
) -> None:
    cc = {"url": server.url("/mutate"), "caBundle": certs.ca_bundle}
    setup.mutating.append(_config("labeler", _webhook("label.example.com", cc)))
    pod = _pod()
    out = await admission.mutate(_attrs(), pod, None)
    assert out["metadata"]["labels"] == {"mutated": "true"}
    assert "labels" not in pod["metadata"]  # the caller's object is not changed
    [(path, query, req)] = server.calls
    assert (path, query) == ("/mutate", "timeout=10s")
    assert req["kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert req["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    assert (req["operation"], req["namespace"], req["name"], req["dryRun"]) == (
        "CREATE",
        "default",
        "web",
        False,
    )
    assert req["userInfo"] == {"username": "alice", "groups": ["system:authenticated"]}
    assert req["object"] == pod and req["oldObject"] is None


async def test_validating_webhook_denies(
    server: WebhookServer, certs: Certs, setup: Setup, admission: WebhookAdmission
) -> None:
    cc = {"url": server.url("/deny"), "caBundle": certs.ca_bundle}
    setup.validating.append(_config("policy", _webhook("deny.example.com", cc)))
    await admission.validate(_attrs(), _pod({"app": "web"}), None)
    attrs = _attrs()
    with pytest.raises(errors.StatusError) as e:
        await admission.validate(attrs, _pod({"forbidden": "true"}), None)
    assert (e.value.code, e.value.reason) == (403, "Forbidden")
    assert (
        e.value.message
        == 'admission webhook "deny.example.com" denied the request: label forbidden'
    )
    assert attrs.warnings == ["denied by policy"]


async def test_validating_webhook_sees_delete(
    server: WebhookServer, certs: Certs, setup: Setup, admission: WebhookAdmission
) -> None:
    cc = {"url": server.url("/deny"), "caBundle": certs.ca_bundle}
    setup.validating.append(_config("policy", _webhook("deny.example.com", cc)))
    with pytest.raises(errors.StatusError):
        await admission.validate(_attrs("DELETE"), None, _pod({"forbidden": "true"}))
    [(_, _, req)] = server.calls
    assert (req["operation"], req["object"]) == ("DELETE", None)


@pytest.mark.parametrize(
    ("policy", "fails"),
    [pytest.param("Ignore", False, id="ignore"), pytest.param("Fail", True, id="fail")],
)
async def test_timeout(
    server: WebhookServer,
    certs: Certs,
    setup: Setup,
    admission: WebhookAdmission,
    policy: str,
    fails: bool,
) -> None:
    cc = {"url": server.url("/slow"), "caBundle": certs.ca_bundle}
    setup.validating.append(
        _config("slow", _webhook("slow.example.com", cc, timeoutSeconds=1, failurePolicy=policy))
    )
    if not fails:
        await admission.validate(_attrs(), _pod(), None)
        return
    with pytest.raises(errors.StatusError) as e:
        await admission.validate(_attrs(), _pod(), None)
    assert (e.value.code, e.value.reason) == (500, "InternalError")
    assert e.value.message == (
        'Internal error occurred: failed calling webhook "slow.example.com": failed to call '
        f'webhook: Post "{server.url("/slow")}?timeout=1s": context deadline exceeded'
    )


async def test_mutating_timeout_ignored_keeps_going(
    server: WebhookServer, certs: Certs, setup: Setup, admission: WebhookAdmission
) -> None:
    ca = certs.ca_bundle
    setup.mutating.append(
        _config(
            "c",
            _webhook(
                "slow.example.com",
                {"url": server.url("/slow"), "caBundle": ca},
                timeoutSeconds=1,
                failurePolicy="Ignore",
            ),
            _webhook("label.example.com", {"url": server.url("/mutate"), "caBundle": ca}),
        )
    )
    out = await admission.mutate(_attrs(), _pod(), None)
    assert out["metadata"]["labels"] == {"mutated": "true"}


async def test_warnings_are_passed_back_once(
    server: WebhookServer, certs: Certs, setup: Setup, admission: WebhookAdmission
) -> None:
    cc = {"url": server.url("/warn"), "caBundle": certs.ca_bundle}
    setup.mutating.append(_config("m", _webhook("warn.example.com", cc)))
    setup.validating.append(_config("v", _webhook("warn.example.com", cc)))
    attrs = _attrs()
    obj = await admission.mutate(attrs, _pod(), None)
    await admission.validate(attrs, obj, None)
    assert attrs.warnings == ["first warning", "second warning"]


@pytest.mark.parametrize(
    ("side_effects", "rejected"),
    [
        pytest.param("None", False, id="None"),
        pytest.param("NoneOnDryRun", False, id="NoneOnDryRun"),
        pytest.param("Unknown", True, id="Unknown"),
        pytest.param("Some", True, id="Some"),
    ],
)
async def test_dry_run_needs_no_side_effects(
    server: WebhookServer,
    certs: Certs,
    setup: Setup,
    admission: WebhookAdmission,
    side_effects: str,
    rejected: bool,
) -> None:
    cc = {"url": server.url("/mutate"), "caBundle": certs.ca_bundle}
    setup.mutating.append(
        _config(
            "m", _webhook("se.example.com", cc, sideEffects=side_effects, failurePolicy="Ignore")
        )
    )
    if not rejected:
        out = await admission.mutate(_attrs(dry_run=True), _pod(), None)
        assert out["metadata"]["labels"] == {"mutated": "true"}
        assert server.calls[0][2]["dryRun"] is True
        return
    with pytest.raises(errors.StatusError) as e:
        await admission.mutate(_attrs(dry_run=True), _pod(), None)
    assert (e.value.code, e.value.message) == (
        400,
        'admission webhook "se.example.com" does not support dry run',
    )
    assert server.calls == []


@pytest.mark.parametrize(
    ("policy", "a_calls"),
    [pytest.param("IfNeeded", 2, id="if-needed"), pytest.param("Never", 1, id="never")],
)
async def test_reinvocation(
    server: WebhookServer,
    certs: Certs,
    setup: Setup,
    admission: WebhookAdmission,
    policy: str,
    a_calls: int,
) -> None:
    ca = certs.ca_bundle
    setup.mutating.append(
        _config(
            "m",
            _webhook(
                "a.example.com",
                {"url": server.url("/add-a"), "caBundle": ca},
                reinvocationPolicy=policy,
            ),
            _webhook(
                "b.example.com",
                {"url": server.url("/add-b"), "caBundle": ca},
                reinvocationPolicy=policy,
            ),
        )
    )
    out = await admission.mutate(_attrs(), _pod(), None)
    assert out["metadata"]["labels"] == {"a": "1", "b": "1"}
    assert server.paths().count("/add-a") == a_calls
    assert server.paths().count("/add-b") == 1  # b changed the object itself: not reinvoked
    if a_calls == 2:  # the second call saw b's change
        assert server.calls[-1][2]["object"]["metadata"]["labels"] == {"a": "1", "b": "1"}


async def test_configurations_run_in_name_order(
    server: WebhookServer, certs: Certs, setup: Setup, admission: WebhookAdmission
) -> None:
    ca = certs.ca_bundle
    setup.mutating += [
        _config(
            "2-second", _webhook("b.example.com", {"url": server.url("/add-b"), "caBundle": ca})
        ),
        _config(
            "1-first", _webhook("a.example.com", {"url": server.url("/add-a"), "caBundle": ca})
        ),
    ]
    await admission.mutate(_attrs(), _pod(), None)
    assert server.paths() == ["/add-a", "/add-b"]
    # the second webhook saw the first one's result
    assert server.calls[1][2]["object"]["metadata"]["labels"] == {"a": "1"}


async def test_validating_webhooks_run_concurrently(
    server: WebhookServer, certs: Certs, setup: Setup, admission: WebhookAdmission
) -> None:
    cc = {"url": server.url("/barrier"), "caBundle": certs.ca_bundle}
    setup.validating.append(
        _config(
            "v",
            _webhook("one.example.com", cc, timeoutSeconds=5),
            _webhook("two.example.com", cc, timeoutSeconds=5),
        )
    )
    async with asyncio.timeout(5):
        await admission.validate(_attrs(), _pod(), None)
    assert server.paths() == ["/barrier", "/barrier"]


async def test_service_reference_resolves_to_cluster_ip(
    server: WebhookServer, certs: Certs, setup: Setup, admission: WebhookAdmission
) -> None:
    setup.services[("webhooks", "hooks")] = "127.0.0.1"
    cc = {
        "service": {
            "namespace": "webhooks",
            "name": "hooks",
            "path": "/mutate",
            "port": server.port,
        },
        "caBundle": certs.ca_bundle,
    }
    setup.mutating.append(_config("svc", _webhook("svc.example.com", cc)))
    out = await admission.mutate(_attrs(), _pod(), None)
    assert out["metadata"]["labels"] == {"mutated": "true"}

    cc = {"service": {"namespace": "webhooks", "name": "gone", "port": 443}}
    setup.mutating[:] = [_config("svc", _webhook("gone.example.com", cc))]
    with pytest.raises(errors.StatusError) as e:
        await admission.mutate(_attrs(), _pod(), None)
    assert e.value.message == (
        'Internal error occurred: failed calling webhook "gone.example.com": failed to call '
        'webhook: Post "https://gone.webhooks.svc:443/?timeout=10s": service "gone" not found'
    )


@pytest.mark.parametrize(
    ("path", "ca", "reason"),
    [
        pytest.param(
            "/mutate",
            False,
            'failed to call webhook: Post "{url}?timeout=10s": tls: failed to verify '
            "certificate: x509: certificate signed by unknown authority",
            id="unknown-authority",
        ),
        pytest.param(
            "/boom",
            True,
            'failed to call webhook: an error on the server ("boom") has prevented the request '
            "from succeeding",
            id="http-500",
        ),
        pytest.param(
            "/bad-uid",
            True,
            'received invalid webhook response: expected response.uid="{uid}", got "not-{uid}"',
            id="bad-uid",
        ),
    ],
)
async def test_call_failures(
    server: WebhookServer,
    certs: Certs,
    setup: Setup,
    admission: WebhookAdmission,
    path: str,
    ca: bool,
    reason: str,
) -> None:
    cc: Obj = {"url": server.url(path)}
    if ca:
        cc["caBundle"] = certs.ca_bundle
    setup.mutating.append(_config("m", _webhook("f.example.com", cc)))
    with pytest.raises(errors.StatusError) as e:
        await admission.mutate(_attrs(), _pod(), None)
    uid = server.calls[0][2]["uid"] if server.calls else ""
    expected = reason.replace("{url}", server.url(path)).replace("{uid}", uid)
    assert (
        e.value.message
        == f'Internal error occurred: failed calling webhook "f.example.com": {expected}'
    )
    # the same failure under failurePolicy Ignore lets the request through unchanged
    setup.mutating[0]["webhooks"][0]["failurePolicy"] = "Ignore"
    pod = _pod()
    assert await admission.mutate(_attrs(), pod, None) == pod


async def test_mutating_webhooks_see_deletes_but_may_not_patch(
    server: WebhookServer, certs: Certs, setup: Setup, admission: WebhookAdmission
) -> None:
    cc = {"url": server.url("/patch-anything"), "caBundle": certs.ca_bundle}
    setup.mutating.append(_config("m", _webhook("p.example.com", cc, failurePolicy="Ignore")))
    with pytest.raises(errors.StatusError) as e:
        await admission.validate(_attrs("DELETE"), None, _pod())
    assert (e.value.code, e.value.message) == (
        500,
        'Internal error occurred: admission webhook "p.example.com" attempted to modify the '
        "object, which is not supported for this operation",
    )


async def test_webhook_configurations_are_exempt(
    server: WebhookServer, certs: Certs, setup: Setup, admission: WebhookAdmission
) -> None:
    cc = {"url": server.url("/deny"), "caBundle": certs.ca_bundle}
    everything = [
        {"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}
    ]
    setup.validating.append(_config("v", _webhook("deny.example.com", cc, rules=everything)))
    cfg = {"metadata": {"name": "v", "labels": {"forbidden": "true"}}}
    await admission.validate(_attrs(res=VWC), cfg, None)
    assert await admission.mutate(_attrs(res=VWC), cfg, None) is cfg
    assert server.calls == []


async def test_no_configurations_no_calls(setup: Setup, admission: WebhookAdmission) -> None:
    pod = _pod()
    assert await admission.mutate(_attrs(), pod, None) is pod
    await admission.validate(_attrs(), pod, None)


@pytest.mark.parametrize(
    ("client_config", "url"),
    [
        pytest.param(
            {"url": "https://h.example.com"}, "https://h.example.com/?timeout=7s", id="no-path"
        ),
        pytest.param(
            {"url": "https://h.example.com:8443/a//b/"},
            "https://h.example.com:8443/a/b?timeout=7s",
            id="path-cleaned",
        ),
        pytest.param(
            {"service": {"namespace": "ns", "name": "svc"}},
            "https://svc.ns.svc:443/?timeout=7s",
            id="service-default-port",
        ),
        pytest.param(
            {"service": {"namespace": "ns", "name": "svc", "port": 8443, "path": "/validate"}},
            "https://svc.ns.svc:8443/validate?timeout=7s",
            id="service",
        ),
    ],
)
def test_webhook_url(client_config: Obj, url: str) -> None:
    assert client.webhook_url(client_config, 7) == url
