"""Where the API server is and how to authenticate to it: ``Config``, built from a
kubeconfig (``from_kubeconfig``), from inside a pod (``in_cluster``), or by client-go's
default rules (``load``).

Contract:
- ``from_kubeconfig`` reads the named context (else ``current-context``): the cluster's
  ``server``, ``certificate-authority-data`` / ``certificate-authority``,
  ``insecure-skip-tls-verify`` and ``tls-server-name``; the user's
  ``client-certificate(-data)``, ``client-key(-data)``, ``token`` / ``tokenFile``. As in
  client-go, ``*-data`` wins over the file form, and relative file paths are relative to
  the kubeconfig file's directory. Credential plugins (``exec``, ``auth-provider``) are
  not supported and raise ``ConfigError`` rather than connecting unauthenticated.
- ``in_cluster`` is rest.InClusterConfig: ``https://$KUBERNETES_SERVICE_HOST:$PORT``
  (IPv6 hosts bracketed), the service-account token and CA under
  ``<root>/var/run/secrets/kubernetes.io/serviceaccount/``. ``root`` exists for tests.
  The token is also kept as ``token_file``: projected tokens rotate, and the REST client
  re-reads the file (client-go does so every minute).
- ``load`` tries, in order: an explicit kubeconfig path, ``$KUBECONFIG`` (a path list;
  files are merged, the first definition of a name winning), ``~/.kube/config``, then
  in-cluster.
- ``Config.ssl_context()`` builds the TLS context: the CA (or the system store), the
  client certificate, or no verification at all for ``insecure-skip-tls-verify``.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyk8s.client import kubeconfig

__all__ = [
    "SERVICE_ACCOUNT_DIR",
    "Config",
    "ConfigError",
    "from_kubeconfig",
    "in_cluster",
    "load",
    "merge_kubeconfigs",
]

Obj = dict[str, Any]

SERVICE_ACCOUNT_DIR = Path("var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(ValueError):
    """The configuration is missing, malformed, or asks for something unsupported."""


@dataclass(frozen=True, slots=True)
class Config:
    server: str
    ca_data: bytes | None = None  # PEM
    cert_data: bytes | None = None  # PEM
    key_data: bytes | None = field(default=None, repr=False)  # PEM
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    namespace: str = "default"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for ``https://`` servers (None for plain ``http://``)."""
        if not self.server.startswith("https://"):
            return None
        if self.ca_data is not None and not self.insecure_skip_tls_verify:
            ctx = ssl.create_default_context(cadata=self.ca_data.decode())
        else:
            ctx = ssl.create_default_context()
        if self.insecure_skip_tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert_data is not None or self.key_data is not None:
            if self.cert_data is None or self.key_data is None:
                raise ConfigError("a client certificate needs both certificate and key")
            _load_cert_chain(ctx, self.cert_data, self.key_data)
        return ctx

    def read_token(self) -> str | None:
        """The bearer token now: the file's current contents if there is one."""
        if self.token_file is not None:
            try:
                return self.token_file.read_text().strip() or self.token
            except OSError:
                return self.token
        return self.token


def _load_cert_chain(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl only loads certificates from files: write them privately, load, remove
    with tempfile.TemporaryDirectory(prefix="pyk8s-tls-") as d:
        cert_path, key_path = Path(d) / "tls.crt", Path(d) / "tls.key"
        for path, data in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        try:
            ctx.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as exc:
            raise ConfigError(f"client certificate/key do not load: {exc}") from exc


def _data_or_file(entry: Obj, data_key: str, file_key: str, base: Path | None) -> bytes | None:
    data = entry.get(data_key)
    if data:
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ConfigError(f"{data_key}: not valid base64: {exc}") from exc
    path = entry.get(file_key)
    if path:
        p = Path(os.path.expanduser(path))
        if not p.is_absolute() and base is not None:
            p = base / p
        try:
            return p.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{file_key}: {exc}") from exc
    return None


def from_kubeconfig(
    source: Path | str | Mapping[str, Any], *, context: str | None = None
) -> Config:
    """A ``Config`` from a kubeconfig file (path) or an already-loaded kubeconfig dict."""
    base: Path | None = None
    if isinstance(source, Mapping):
        cfg: Obj = dict(source)
    else:
        path = Path(os.path.expanduser(str(source)))
        try:
            cfg = kubeconfig.load(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        base = path.parent
    try:
        resolved = kubeconfig.resolve_context(cfg, context)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    cluster, user = resolved.cluster, resolved.user
    server = str(cluster.get("server") or "")
    if not server:
        raise ConfigError(f'context "{resolved.name}": the cluster has no server')
    for unsupported in ("exec", "auth-provider"):
        if user.get(unsupported):
            raise ConfigError(
                f'context "{resolved.name}": {unsupported} credentials are not supported'
            )
    token_file: Path | None = None
    if user.get("tokenFile"):
        token_file = Path(os.path.expanduser(str(user["tokenFile"])))
        if not token_file.is_absolute() and base is not None:
            token_file = base / token_file
    token = str(user["token"]) if user.get("token") else None
    if token is None and token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"tokenFile: {exc}") from exc
    return Config(
        server=server.rstrip("/"),
        ca_data=_data_or_file(cluster, "certificate-authority-data", "certificate-authority", base),
        cert_data=_data_or_file(user, "client-certificate-data", "client-certificate", base),
        key_data=_data_or_file(user, "client-key-data", "client-key", base),
        token=token,
        token_file=token_file,
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify", False)),
        tls_server_name=cluster.get("tls-server-name") or None,
        namespace=resolved.namespace,
    )


def in_cluster(*, root: Path = Path("/"), environ: Mapping[str, str] | None = None) -> Config:
    env = os.environ if environ is None else environ
    host = env.get("KUBERNETES_SERVICE_HOST", "")
    port = env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ConfigError(
            "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
            "KUBERNETES_SERVICE_PORT must be defined"
        )
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    sa = root / SERVICE_ACCOUNT_DIR
    token_file = sa / "token"
    try:
        token = token_file.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"in-cluster token: {exc}") from exc
    try:
        ca = (sa / "ca.crt").read_bytes()
    except OSError as exc:
        raise ConfigError(f"in-cluster CA: {exc}") from exc
    try:
        namespace = (sa / "namespace").read_text().strip() or "default"
    except OSError:
        namespace = "default"
    return Config(
        server=f"https://{host}:{port}",
        ca_data=ca,
        token=token,
        token_file=token_file,
        namespace=namespace,
    )


_FILE_KEYS = {
    "clusters": ("certificate-authority",),
    "users": ("client-certificate", "client-key", "tokenFile"),
}


def _absolutize(cfg: Obj, base: Path) -> Obj:
    """Make a file's relative paths absolute, so they survive merging with other files."""
    for section, keys in _FILE_KEYS.items():
        singular = section.removesuffix("s")
        for entry in cfg.get(section) or []:
            body = entry.get(singular) if isinstance(entry, dict) else None
            if not isinstance(body, dict):
                continue
            for key in keys:
                value = body.get(key)
                if value and not Path(os.path.expanduser(value)).is_absolute():
                    body[key] = str(base / value)
    return cfg


def merge_kubeconfigs(configs: list[Obj]) -> Obj:
    """client-go's merge of a ``$KUBECONFIG`` list: the first definition of a name wins."""
    merged: Obj = {"apiVersion": "v1", "kind": "Config"}
    for section in ("clusters", "users", "contexts"):
        seen: set[str] = set()
        entries: list[Obj] = []
        for cfg in configs:
            for entry in cfg.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") not in seen:
                    seen.add(str(entry.get("name")))
                    entries.append(entry)
        merged[section] = entries
    merged["current-context"] = next(
        (c["current-context"] for c in configs if c.get("current-context")), ""
    )
    return merged


def load(
    *,
    kubeconfig_path: Path | str | None = None,
    context: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    root: Path = Path("/"),
) -> Config:
    """client-go's default loading rules (see the module docstring)."""
    env = os.environ if environ is None else environ
    if kubeconfig_path is not None:
        return from_kubeconfig(kubeconfig_path, context=context)
    listed = [Path(p) for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    existing = [p for p in listed if p.is_file()]
    if existing:
        if len(existing) == 1:
            return from_kubeconfig(existing[0], context=context)
        try:
            loaded = [_absolutize(kubeconfig.load(p), p.parent) for p in existing]
        except (OSError, ValueError) as exc:
            raise ConfigError(str(exc)) from exc
        return from_kubeconfig(merge_kubeconfigs(loaded), context=context)
    default = (home if home is not None else Path.home()) / ".kube" / "config"
    if not listed and default.is_file():
        return from_kubeconfig(default, context=context)
    return in_cluster(root=root, environ=env)
