"""``pyk8s image load FILE…``: import image archives into a node's containerd (DESIGN §2, §9),
like ``kind load image-archive``.

The containerd is the one the node agent supervises for ``--data-dir``
(``<data-dir>/agent/containerd/containerd.sock``) unless ``--containerd-socket`` names
another. Archives are docker-archives (``docker save``) or OCI image layout tars; they go
into containerd's ``k8s.io`` namespace, where the kubelet's CRI calls see them. Exit
status 1 (with the reason on stderr) when the socket is missing or an import fails.

``add_parser(subparsers)`` adds the subcommand to the ``pyk8s`` parser.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "cmd_image_load", "socket_for"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "image",
        help="manage images in the node's containerd",
        description="Manage images in the node agent's containerd.",
    )
    sub = p.add_subparsers(dest="image_command", metavar="COMMAND", required=True)
    load = sub.add_parser(
        "load",
        help="import image archives (docker save / OCI tar) into the node's containerd",
        description="Import image archives (docker-archive or OCI layout tar) into the node "
        "agent's containerd, where pods can use them without a registry.",
    )
    load.add_argument("files", nargs="+", type=Path, metavar="FILE")
    load.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the agent's data directory (default /var/lib/pyk8s as root, else ~/.local/share/pyk8s)",
    )
    load.add_argument(
        "--containerd-socket",
        type=Path,
        default=None,
        help="containerd socket (overrides --data-dir)",
    )
    load.set_defaults(func=cmd_image_load)
    return p


def socket_for(data_dir: Path) -> Path:
    """The socket of the containerd an agent with ``data_dir`` supervises."""
    from pyk8s.kubelet import containerd

    return containerd.layout(data_dir).socket


def cmd_image_load(args: argparse.Namespace) -> int:
    from pyk8s.cli.main import default_data_dir
    from pyk8s.kubelet import images

    socket: Path = args.containerd_socket or socket_for(args.data_dir or default_data_dir())
    if not socket.exists():
        print(
            f"pyk8s image load: no containerd socket at {socket} (is the agent running?)",
            file=sys.stderr,
        )
        return 1
    status = 0
    for path in args.files:
        try:
            refs = asyncio.run(images.import_archive(socket, path))
        except images.ImageImportError as exc:
            print(f"pyk8s image load: {exc}", file=sys.stderr)
            status = 1
            continue
        for ref in refs:
            print(f"loaded {ref} from {path}")
    return status
