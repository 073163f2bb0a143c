"""``pyk8s kubelet`` (and ``pyk8s agent --runtime cri``): run a real node — the kubelet on
containerd through CRI (DESIGN §2, §7).

Start-up, in order: install the safety routes (service CIDR local, cluster CIDR
blackhole; ENVIRONMENT.md), start a supervised containerd for ``--data-dir`` unless
``--containerd-socket`` names a running one, make the sandbox image present (imported
from ``--pause-image-archive``, default ``build/images/pause.tar``, else built on the fly
from busybox-static; ``make images`` builds the archives), import any
``--load-image`` archives, then run the ``Kubelet`` and its HTTPS server on
``--kubelet-port``. The CNI config for the node's podCIDR is written as soon as node
IPAM assigns one. SIGINT/SIGTERM stop the kubelet and the containerd it started; pods
keep running (a restarted agent adopts them).

Flags carry the kubelet's names where it has one (``--node-ip``, ``--cluster-dns``,
``--cluster-domain``, ``--resolv-conf``, ``--pod-manifest-path``, ``--cgroup-root``,
``--max-pods``, ``--node-labels``, ``--register-with-taints``). ``--resolv-conf``
defaults to none (pods with dnsPolicy Default get ``nameserver 127.0.0.1``), so no pod
is pointed at a resolver off this machine unless asked.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from pyk8s.cli import node_services
from pyk8s.client import hostaddr

__all__ = ["add_cri_flags", "add_parser", "cmd_kubelet", "run_node"]


log = logging.getLogger("pyk8s.kubelet.cli")


def add_cri_flags(p: argparse.ArgumentParser, *, standalone: bool) -> None:
    """The flags of a real node; ``standalone`` adds those ``pyk8s agent`` already has."""
    g = p.add_argument_group("real node (--runtime cri)")
    g.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="state directory (default /var/lib/pyk8s as root, else ~/.local/share/pyk8s)",
    )
    g.add_argument("--node-name", default=None, help="default: the host name")
    g.add_argument(
        "--node-ip",
        default="",
        help="the node's InternalIP (default: the address of the interface holding the "
        "default route, else 127.0.0.1)",
    )
    g.add_argument("--kubelet-port", "--port", dest="kubelet_port", type=int, default=10250)
    g.add_argument("--containerd-socket", type=Path, default=None, help="use a running containerd")
    g.add_argument("--pause-image-archive", type=Path, default=None)
    g.add_argument(
        "--load-image", action="append", default=[], type=Path, help="image archive to import"
    )
    g.add_argument("--cluster-dns", default="", help="comma-separated DNS server IPs for pods")
    g.add_argument("--cluster-domain", default="cluster.local")
    g.add_argument("--resolv-conf", default="", help='resolv.conf for dnsPolicy "Default"')
    g.add_argument("--pod-manifest-path", type=Path, default=None, help="static pods")
    g.add_argument("--cgroup-root", default="/kubepods")
    g.add_argument("--cni-bridge", default="cni0", help="the pods' bridge (default cni0)")
    g.add_argument(
        "--cni-conf-dir",
        type=Path,
        default=None,
        help="where containerd reads CNI configs (with --containerd-socket; default: the "
        "supervised containerd's)",
    )
    g.add_argument("--max-pods", type=int, default=110)
    g.add_argument("--service-cluster-ip-range", default="10.96.0.0/12")
    g.add_argument(
        "--allow-registry",
        action="append",
        default=[],
        help="a registry host[:port] on this machine to pull from besides loopback ones",
    )
    if standalone:
        c = p.add_argument_group("cluster")
        c.add_argument("--kubeconfig", type=Path, help="kubeconfig of the cluster to join")
        c.add_argument("--context", help="kubeconfig context")
        c.add_argument("--server", help="apiserver URL (instead of --kubeconfig)")
        c.add_argument("--token", help="bearer token (with --server)")
        c.add_argument("--certificate-authority", type=Path, help="CA bundle (with --server)")
        c.add_argument("--insecure-skip-tls-verify", action="store_true")
        c.add_argument("--kube-api-qps", type=float, default=50.0)
        c.add_argument("--kube-api-burst", type=int, default=100)
        p.add_argument("--cluster-cidr", default="10.244.0.0/16")
        p.add_argument("--node-labels", default="", help="k=v,k2=v2")
        p.add_argument("--register-with-taints", default="", help="key=value:Effect,…")
        p.add_argument("--node-lease-duration-seconds", type=int, default=40)
        p.add_argument("--node-status-update-frequency", type=float, default=10.0)
        p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "kubelet",
        help="run the kubelet (real containers through containerd)",
        description="Run the kubelet of one node: pods bound to it run as containers on "
        "containerd (supervised, unless --containerd-socket names one) through CRI.",
    )
    add_cri_flags(p, standalone=True)
    p.set_defaults(func=cmd_kubelet)
    return p


def _client_config(args: argparse.Namespace) -> Any:
    from pyk8s.client import config

    if args.server:
        ca = args.certificate_authority.read_bytes() if args.certificate_authority else None
        return config.Config(
            server=args.server.rstrip("/"),
            ca_data=ca,
            token=args.token,
            insecure_skip_tls_verify=args.insecure_skip_tls_verify,
        )
    return config.load(kubeconfig_path=args.kubeconfig, context=args.context)


def _pause_archive(args: argparse.Namespace, data_dir: Path) -> Path:
    if args.pause_image_archive is not None:
        return Path(args.pause_image_archive)
    default = Path("build/images/pause.tar")
    if default.exists():
        return default
    from pyk8s.kubelet import imagebuild

    out = data_dir / "agent" / "images"
    out.mkdir(parents=True, exist_ok=True)
    if not imagebuild.BUSYBOX.exists():
        raise FileNotFoundError(
            f"no pause image archive ({default} missing) and {imagebuild.BUSYBOX} not found "
            "to build one: run 'make images' or pass --pause-image-archive"
        )
    return imagebuild.build_pause(out).path


async def _start_containerd(data_dir: Path) -> Any:
    """Start the supervised containerd. Its CRI plugin answers "server is not initialized
    yet" for a while when it restores many pods; ``Containerd.start`` gives up on that, so
    it is tried again (a few times) here."""
    from pyk8s.kubelet import containerd

    for attempt in range(5):
        supervised = containerd.Containerd(data_dir)
        try:
            await supervised.start()
            return supervised
        except containerd.ContainerdError as exc:
            if "not initialized" not in str(exc) or attempt == 4:
                raise
            log.info("containerd's CRI is still initialising; starting it again")
            await asyncio.sleep(1.0)
    raise AssertionError("unreachable")


async def run_node(args: argparse.Namespace, cfg: Any, stop: asyncio.Event) -> int:
    from pyk8s.cli.main import default_data_dir
    from pyk8s.client import rest
    from pyk8s.kubelet import cni, containerd, images, netsafety
    from pyk8s.kubelet.cri.client import CRIClient
    from pyk8s.kubelet.kubelet import Kubelet, KubeletConfig
    from pyk8s.kubelet.sim.config import parse_labels, parse_taints

    data_dir: Path = (args.data_dir or default_data_dir()).absolute()
    node_name = (args.node_name or socket.gethostname()).lower()
    node_ip = args.node_ip or hostaddr.detect_host_ip()
    services = node_services.from_args(args) if getattr(args, "node_services", False) else None
    cluster_dns = args.cluster_dns
    if services is not None and services.dns and not cluster_dns:
        from pyk8s.dns import bootstrap as dns_bootstrap

        cluster_dns = dns_bootstrap.dns_service_ip(args.service_cluster_ip_range)
    await netsafety.ensure_routes(args.service_cluster_ip_range, args.cluster_cidr)
    supervised: containerd.Containerd | None = None
    if args.containerd_socket is None:
        supervised = await _start_containerd(data_dir)
        sock = supervised.socket
        conf_dir = supervised.cni_conf_dir
    else:
        sock = Path(args.containerd_socket)
        conf_dir = args.cni_conf_dir or containerd.layout(data_dir).cni_conf_dir
    ipam_dir = containerd.layout(data_dir).cni_data_dir
    pki = data_dir / "agent" / "kubelet" / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    client_ca: Path | None = None
    if getattr(cfg, "ca_data", None):
        client_ca = pki / "client-ca.crt"
        client_ca.write_bytes(cfg.ca_data)
    elif (data_dir / "tls" / "ca.crt").exists():
        client_ca = data_dir / "tls" / "ca.crt"
    cri = CRIClient(sock, timeout=60)
    try:
        await cri.wait_ready(60)
        await images.ensure_image(
            cri, sock, containerd.SANDBOX_IMAGE, _pause_archive(args, data_dir)
        )
        for archive in args.load_image:
            await images.import_archive(sock, archive)

        async def write_cni(cidr: str) -> None:
            conf = cni.render_conflist(cidr, bridge=args.cni_bridge, ipam_data_dir=ipam_dir)
            cni.write_conflist(conf_dir, conf)
            log.info("CNI config for %s written to %s", cidr, conf_dir)

        config = KubeletConfig(
            node_name=node_name,
            data_dir=data_dir,
            node_ip=node_ip,
            port=args.kubelet_port,
            cluster_dns=[s.strip() for s in cluster_dns.split(",") if s.strip()],
            cluster_domain=args.cluster_domain,
            resolv_conf=args.resolv_conf,
            cgroup_root=args.cgroup_root,
            pod_manifest_path=args.pod_manifest_path,
            max_pods=args.max_pods,
            node_labels=parse_labels(args.node_labels),
            register_with_taints=parse_taints(args.register_with_taints),
            allowed_registries=list(args.allow_registry),
            client_ca=client_ca,
            lease_duration=args.node_lease_duration_seconds,
            node_status_update=args.node_status_update_frequency,
        )
        async with rest.RESTClient(
            cfg, qps=args.kube_api_qps, burst=args.kube_api_burst, user_agent="pyk8s-kubelet"
        ) as client:
            kubelet = Kubelet(client, cri, config, on_pod_cidr=write_cni)
            print(f"pyk8s kubelet: node {node_name} ({node_ip}) joining {cfg.server}", flush=True)
            if services is None:
                await kubelet.run(stop)
            else:
                await _with_node_services(kubelet, client, node_name, node_ip, services, stop)
    finally:
        await cri.close()
        if supervised is not None:
            await supervised.stop()
    return 0


async def _with_node_services(
    kubelet: Any,
    client: Any,
    node_name: str,
    node_ip: str,
    services: node_services.NodeServices,
    stop: asyncio.Event,
) -> None:
    """The kubelet and the node's services side by side; either failing stops both."""
    runs = [
        asyncio.create_task(kubelet.run(stop), name="kubelet"),
        asyncio.create_task(
            node_services.run_node_services(
                client=client, node_name=node_name, node_ip=node_ip, settings=services, stop=stop
            ),
            name="node-services",
        ),
    ]
    try:
        done, _ = await asyncio.wait(runs, return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            exc = t.exception()
            if exc is not None:
                raise exc
    finally:
        stop.set()
        await asyncio.gather(*runs, return_exceptions=True)


def run(args: argparse.Namespace) -> int:
    """Parse the client config and run the node until SIGINT/SIGTERM."""
    from pyk8s.client import config as client_config

    try:
        cfg = _client_config(args)
    except (ValueError, OSError, client_config.ConfigError) as exc:
        print(f"pyk8s kubelet: error: {exc}", file=sys.stderr)
        return 2

    from pyk8s.kubelet.containerd import ContainerdError
    from pyk8s.kubelet.cri.client import CRIError
    from pyk8s.kubelet.images import ImageImportError
    from pyk8s.kubelet.netsafety import RouteError

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            return await run_node(args, cfg, stop)
        except (
            OSError,
            ValueError,
            ContainerdError,
            CRIError,
            ImageImportError,
            RouteError,
        ) as exc:
            print(f"pyk8s kubelet: error: {exc}", file=sys.stderr)
            return 1

    return asyncio.run(main())


def cmd_kubelet(args: argparse.Namespace) -> int:
    from pyk8s.cli import running

    running.configure_logging(args.verbose)
    return run(args)
