"""How an ingress controller is set up (``pyk8s ingress-controller`` flags map 1:1)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from pyk8s.ingress import classes, nginxconf

__all__ = ["IngressControllerConfig"]


@dataclass
class IngressControllerConfig:
    data_dir: Path  # nginx.conf, certificates, temp files, logs
    http_port: int = 80
    https_port: int = 443
    listen_address: str = ""  # "" = every IPv4 address
    publish_address: str = "127.0.0.1"  # status.loadBalancer.ingress (comma-separated)
    metrics_bind: str | None = "127.0.0.1:10254"  # /metrics and /healthz; port 0 = any
    nginx_binary: str = "/usr/sbin/nginx"
    nginx_user: str | None = None  # worker user when started as root (nginx: nobody)
    access_log: Path | None = None
    class_names: tuple[str, ...] = classes.DEFAULT_CLASS_NAMES
    default_backend_service: str | None = None  # "namespace/name"
    watch_namespace: str | None = None  # None = all namespaces
    create_ingress_class: bool = True
    update_status: bool = True
    update_status_on_shutdown: bool = True
    sync_delay: float = 0.05  # changes within this window share one sync
    instance: str = field(default_factory=socket.gethostname)

    def render_options(self) -> nginxconf.RenderOptions:
        return nginxconf.RenderOptions(
            data_dir=self.data_dir.resolve(),
            http_port=self.http_port,
            https_port=self.https_port,
            listen_address=self.listen_address,
            user=self.nginx_user,
            access_log=self.access_log,
        )
