"""``pyk8s up`` / ``down`` / ``status`` / ``kubectl``: a background cluster managed through
a pid file and a log file in the data dir."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

__all__ = ["cmd_down", "cmd_kubectl", "cmd_status", "cmd_up"]


def _data_dir(args: argparse.Namespace) -> Path:
    from pyk8s.cli.main import default_data_dir

    return Path(args.data_dir) if getattr(args, "data_dir", None) else default_data_dir()


def _pid(data_dir: Path) -> int | None:
    try:
        pid = int((data_dir / "pyk8s.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def _server_url(data_dir: Path) -> str | None:
    from pyk8s.client import kubeconfig

    kc = data_dir / "admin.kubeconfig"
    if not kc.exists():
        return None
    cfg = kubeconfig.load(kc)
    return str(cfg["clusters"][0]["cluster"]["server"])


def _ready(data_dir: Path) -> bool:
    url = _server_url(data_dir)
    if url is None:
        return False
    ctx = ssl.create_default_context(cafile=str(data_dir / "tls" / "ca.crt"))
    try:
        with urllib.request.urlopen(url + "/readyz", context=ctx, timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _ready_nodes(data_dir: Path) -> int:
    """How many Nodes report Ready=True (0 when the apiserver cannot say)."""
    url = _server_url(data_dir)
    if url is None:
        return 0
    tls = data_dir / "tls"
    ctx = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    try:
        ctx.load_cert_chain(tls / "admin.crt", tls / "admin.key")
        with urllib.request.urlopen(url + "/api/v1/nodes", context=ctx, timeout=2) as r:
            nodes = json.loads(r.read())
    except (OSError, ValueError):
        return 0
    return sum(
        1
        for n in nodes.get("items") or []
        for c in (n.get("status") or {}).get("conditions") or []
        if c.get("type") == "Ready" and c.get("status") == "True"
    )


def _forward_args(args: argparse.Namespace, data_dir: Path) -> list[str]:
    out = [
        "--data-dir",
        str(data_dir),
        "--bind-address",
        args.bind_address,
        "--port",
        str(args.port),
        "--storage",
        args.storage,
        "--etcd-endpoints",
        args.etcd_endpoints,
        "--sqlite-sync",
        args.sqlite_sync,
        "--service-cluster-ip-range",
        args.service_cluster_ip_range,
        "--service-node-port-range",
        args.service_node_port_range,
        "--cluster-cidr",
        args.cluster_cidr,
        "--ingress-http-port",
        str(args.ingress_http_port),
        "--ingress-https-port",
        str(args.ingress_https_port),
    ]
    for name in ("kube_controller_manager_arg", "kube_scheduler_arg", "kubelet_arg"):
        for value in getattr(args, name):
            out += ["--" + name.replace("_", "-"), value]
    if args.advertise_address:
        out += ["--advertise-address", args.advertise_address]
    if args.token_auth_file:
        out += ["--token-auth-file", str(args.token_auth_file)]
    if args.write_kubeconfig:
        out += ["--write-kubeconfig", str(args.write_kubeconfig)]
    for san in args.tls_san:
        out += ["--tls-san", san]
    for flag in (
        "disable_agent",
        "disable_controllers",
        "disable_scheduler",
        "disable_ingress",
        "verbose",
    ):
        if getattr(args, flag):
            out.append("--" + flag.replace("_", "-"))
    return out


def cmd_up(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    data_dir.mkdir(parents=True, exist_ok=True)
    pid = _pid(data_dir)
    if pid is not None and _ready(data_dir):
        print(f"pyk8s is already running (pid {pid}); kubeconfig: {data_dir / 'admin.kubeconfig'}")
        return 0
    log_path = data_dir / "pyk8s.log"
    cmd = [sys.executable, "-m", "pyk8s.cli.main", "server", *_forward_args(args, data_dir)]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (data_dir / "pyk8s.pid").write_text(f"{proc.pid}\n")
    print(f"starting pyk8s (pid {proc.pid}, log {log_path}) ", end="", flush=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print("failed")
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            for line in tail:
                print("  " + line, file=sys.stderr)
            (data_dir / "pyk8s.pid").unlink(missing_ok=True)
            return 1
        local_node = not args.disable_agent and os.geteuid() == 0
        if _ready(data_dir) and (not local_node or _ready_nodes(data_dir) > 0):
            break
        print(".", end="", flush=True)
        time.sleep(0.25)
    else:
        print(" timed out")
        print(
            f"pyk8s did not become ready within {args.timeout:.0f}s; see {log_path}",
            file=sys.stderr,
        )
        return 1
    print(" ready")
    kc = data_dir / "admin.kubeconfig"
    if not args.no_merge_kubeconfig:
        from pyk8s.client import kubeconfig

        home_cfg = Path.home() / ".kube" / "config"
        try:
            kubeconfig.merge_into(home_cfg, kubeconfig.load(kc))
            print(f"merged context 'pyk8s' into {home_cfg}")
        except (OSError, ValueError, KeyError) as exc:
            print(f"note: could not merge into {home_cfg}: {exc}", file=sys.stderr)
    print(f"kubeconfig: {kc}")
    print(f"try: kubectl --kubeconfig {kc} get namespaces")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    pid = _pid(data_dir)
    if pid is None:
        print("pyk8s is not running")
        (data_dir / "pyk8s.pid").unlink(missing_ok=True)
        return 0
    os.kill(pid, signal.SIGTERM)
    print(f"stopping pyk8s (pid {pid}) ", end="", flush=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if _pid(data_dir) is None:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    (data_dir / "pyk8s.pid").unlink(missing_ok=True)
    print("stopped")
    if not args.keep_pods and (data_dir / "agent").is_dir() and os.geteuid() == 0:
        import asyncio

        from pyk8s.cli import node_reset

        print("removing the local node's pods and pod network …", flush=True)
        for problem in asyncio.run(node_reset.reset_node(data_dir)):
            print(f"  {problem}", file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    pid = _pid(data_dir)
    if pid is None:
        print("pyk8s: stopped")
        return 3
    ready = _ready(data_dir)
    print(
        f"pyk8s: running (pid {pid}), {'ready' if ready else 'not ready'} at {_server_url(data_dir)}"
    )
    print(f"kubeconfig: {data_dir / 'admin.kubeconfig'}")
    return 0 if ready else 1


def cmd_kubectl(args: argparse.Namespace) -> int:
    from pyk8s.cli.main import default_data_dir

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("pyk8s: error: kubectl not found on PATH", file=sys.stderr)
        return 127
    kc = default_data_dir() / "admin.kubeconfig"
    env = dict(os.environ)
    env.setdefault("KUBECONFIG", str(kc))
    os.execvpe(kubectl, [kubectl, *args.args], env)
    return 0  # not reached
