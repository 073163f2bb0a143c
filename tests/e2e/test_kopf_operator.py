"""e2e: an operator written with kopf runs against pyk8s — it watches a custom resource,
creates child objects, writes status, and handles deletion behind a finalizer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cluster import Cluster

pytestmark = pytest.mark.e2e

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: greetings.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: greetings, singular: greeting, kind: Greeting}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              who: {type: string}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"""

OPERATOR = Path(__file__).parent / "operators" / "greeter.py"


def _wait(fn: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_kopf_operator(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    cluster.kubectl("apply", "-f", "-", input=CRD)
    _wait(lambda: cluster.request("GET", "/apis/example.com/v1")[0] == 200, "the CRD to be served")
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    log = open(tmp_path / "kopf.log", "wb")  # noqa: SIM115 (closed in finally)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kopf",
            "run",
            "--standalone",
            "--namespace",
            namespace,
            str(OPERATOR),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        cluster.kubectl(
            "-n",
            namespace,
            "apply",
            "-f",
            "-",
            input="apiVersion: example.com/v1\nkind: Greeting\nmetadata: {name: hi}\nspec: {who: pyk8s}\n",
        )
        base = f"/api/v1/namespaces/{namespace}/configmaps"
        cm = _wait(
            lambda: (lambda r: r[1] if r[0] == 200 else None)(
                cluster.request("GET", f"{base}/hi-greeting")
            ),
            "the child ConfigMap",
        )
        assert cm["data"]["message"] == "Hello, pyk8s!"
        owner = cm["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "Greeting" and owner["name"] == "hi"
        gpath = f"/apis/example.com/v1/namespaces/{namespace}/greetings/hi"
        status = _wait(
            lambda: (cluster.request("GET", gpath)[1].get("status") or {}).get("create_fn"),
            "status from the handler",
        )
        assert status == {"configmap": "hi-greeting"}
        greeting = cluster.request("GET", gpath)[1]
        assert "kopf.zalando.org/KopfFinalizerMarker" in greeting["metadata"]["finalizers"]
        cluster.kubectl("-n", namespace, "delete", "greeting", "hi", "--timeout=30s")
        assert cluster.request("GET", gpath)[0] == 404
        bye = cluster.request("GET", f"{base}/hi-goodbye")
        assert bye[0] == 200 and bye[1]["data"] == {"bye": "hi"}
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
        if sys.exc_info()[0] is not None:
            print((tmp_path / "kopf.log").read_text()[-5000:])
