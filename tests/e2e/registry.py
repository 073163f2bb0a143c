"""A local image registry for end-to-end tests: Debian's ``docker-registry``
(distribution 2.8) serving the registry HTTP API v2 on ``127.0.0.1:<free port>`` with its
storage in a temp dir, optionally behind ``htpasswd`` (bcrypt) basic auth.

``LocalRegistry(dir).start(auth=("user", "pw"))`` runs it (``stop()`` stops it by PID);
``push_archive(archive, "testbox", "1.0")`` uploads a docker-archive (``docker save``
layout, as ``pyk8s.kubelet.imagebuild`` writes) over the API: the config blob, the layer
gzipped (fixed mtime, so digests are stable), then a docker schema2 manifest. Only
loopback traffic.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import subprocess
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from cluster import free_port

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_V1 = "application/vnd.docker.container.image.v1+json"
LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def bcrypt_htpasswd(user: str, password: str) -> str:
    """One ``user:$2b$…`` htpasswd line (libxcrypt's bcrypt through ``crypt``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 5))
    if not hashed or not hashed.startswith("$2"):
        raise RuntimeError("crypt has no bcrypt on this machine")
    return f"{user}:{hashed}\n"


def read_archive(archive: Path) -> tuple[bytes, bytes]:
    """(config JSON, uncompressed layer tar) of a one-layer docker-archive."""
    with tarfile.open(archive) as tar:

        def member(name: str) -> bytes:
            f = tar.extractfile(name)
            assert f is not None, name
            return f.read()

        (entry,) = json.loads(member("manifest.json"))
        (layer_name,) = entry["Layers"]
        return member(entry["Config"]), member(layer_name)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class LocalRegistry:
    base: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    auth: tuple[str, str] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.base / "registry.log"

    def start(self, auth: tuple[str, str] | None = None, timeout: float = 20.0) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.auth = auth
        lines = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.base / 'data'}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: {self.host}",
        ]
        if auth is not None:
            htpasswd = self.base / "htpasswd"
            htpasswd.write_text(bcrypt_htpasswd(*auth))
            lines += ["auth:", "  htpasswd:", "    realm: pyk8s-e2e", f"    path: {htpasswd}"]
        config = self.base / "config.yml"
        config.write_text("\n".join(lines) + "\n")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["docker-registry", "serve", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"registry exited:\n{self.log_path.read_text()[-2000:]}")
            try:
                status, _, _ = self.request("GET", "/v2/")
                if status in (200, 401):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"registry not up in {timeout}s:\n{self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def request(
        self,
        method: str,
        path_or_url: str,
        data: bytes | None = None,
        content_type: str = "application/octet-stream",
        *,
        use_auth: bool = True,
    ) -> tuple[int, bytes, dict[str, str]]:
        url = path_or_url
        if not url.startswith("http"):
            url = f"http://{self.host}{path_or_url}"
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if self.auth is not None and use_auth:
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.read(), dict(e.headers)

    def _upload_blob(self, repo: str, blob: bytes) -> str:
        digest = _digest(blob)
        status, body, headers = self.request("POST", f"/v2/{repo}/blobs/uploads/", b"")
        if status != 202:
            raise RuntimeError(f"starting upload: {status} {body!r}")
        location = headers["Location"]
        sep = "&" if "?" in location else "?"
        url = f"{location}{sep}digest={urllib.parse.quote(digest)}"
        status, body, _ = self.request("PUT", url, blob)
        if status != 201:
            raise RuntimeError(f"uploading {digest}: {status} {body!r}")
        return digest

    def push_archive(self, archive: Path, repo: str, tag: str) -> str:
        """Push a one-layer docker-archive as ``<host>/<repo>:<tag>``; the manifest digest."""
        config, layer = read_archive(archive)
        layer_gz = gzip.compress(layer, mtime=0)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_V2,
            "config": {
                "mediaType": CONFIG_V1,
                "size": len(config),
                "digest": self._upload_blob(repo, config),
            },
            "layers": [
                {
                    "mediaType": LAYER_GZIP,
                    "size": len(layer_gz),
                    "digest": self._upload_blob(repo, layer_gz),
                }
            ],
        }
        raw = json.dumps(manifest).encode()
        status, body, _ = self.request("PUT", f"/v2/{repo}/manifests/{tag}", raw, MANIFEST_V2)
        if status != 201:
            raise RuntimeError(f"putting manifest: {status} {body!r}")
        return _digest(raw)
