"""e2e: every complete manifest in the user's notes goes through the real
``kubectl apply --dry-run=server``: those upstream accepts are accepted, those upstream
rejects are rejected for the same reason."""

from __future__ import annotations

import pytest
import yaml

from cluster import Cluster
from seeds import Manifest, load_seed_manifests

pytestmark = pytest.mark.e2e

BUILTIN = [m for m in load_seed_manifests() if m.status == "builtin"]

# source → a phrase of upstream's answer (what kubectl prints after "Error from server")
REJECTED = {
    "000_34c007144d4b888e.txt:620": 'Pod "label-demo" is invalid: spec.containers: Required value',
    "000_34c007144d4b888e.txt:983": 'Pod "my-pod" is invalid: spec.containers: Required value',
    "000_34c007144d4b888e.txt:1973": "illegal base64 data at input byte 6",
    # kubectl's strict field validation reports the misplaced spec before validation does
    "002_924830bfcc748a96.txt:113": 'unknown field "metadata.spec"',
    # a ClusterIP outside the service CIDR (10.96.0.0/12) is refused by the allocator
    "004_a123845d36e33482.txt:540": "the provided IP (10.0.171.239) is not in the valid range",
}


def test_seed_counts() -> None:
    assert len(BUILTIN) >= 45
    assert set(REJECTED) <= {m.source for m in BUILTIN}


@pytest.mark.parametrize("manifest", BUILTIN, ids=[m.source for m in BUILTIN])
def test_seed_manifest_dry_run(cluster: Cluster, namespace: str, manifest: Manifest) -> None:
    ns = (manifest.obj.get("metadata") or {}).get("namespace")
    if ns:
        cluster.request(
            "POST",
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        )
    text = yaml.safe_dump(manifest.obj)
    cp = cluster.kubectl(
        "-n", ns or namespace, "apply", "--dry-run=server", "-f", "-", input=text, check=False
    )
    expected = REJECTED.get(manifest.source)
    if expected is None:
        assert cp.returncode == 0, cp.stderr
        assert "(server dry run)" in cp.stdout
    else:
        assert cp.returncode != 0, cp.stdout
        assert expected in cp.stderr, cp.stderr
