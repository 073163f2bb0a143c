"""Loading image archives into a node's containerd (DESIGN §9).

CRI has no "import" call, so archives go in through containerd's own client, ``ctr``, in
the CRI plugin's namespace ``k8s.io``:
``ctr --address SOCK -n k8s.io images import FILE`` (docker-archive or OCI layout tar;
unpacked into the default snapshotter, overlayfs). Only the host's platform is imported
(``--all-platforms`` would demand every platform's blobs, which a single-platform archive
of a multi-platform image does not hold). The CRI image service sees imported images at
once (it follows containerd's image events).

``ensure_image`` is how the agent makes its sandbox (pause) image present before the first
RunPodSandbox: ask CRI ``ImageStatus`` (OK with an empty image when missing), import the
archive only if missing. Nothing here ever pulls from a registry.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pyk8s.kubelet.cri import api_pb2
from pyk8s.kubelet.cri.client import CRIClient

__all__ = [
    "NAMESPACE",
    "ImageImportError",
    "ensure_image",
    "image_id",
    "import_archive",
    "imported_refs",
]

NAMESPACE = "k8s.io"  # containerd namespace of the CRI plugin


class ImageImportError(Exception):
    """``ctr images import`` failed, or the image is still missing afterwards."""


def imported_refs(ctr_output: str) -> list[str]:
    """The image names ``ctr images import`` reports (``unpacking NAME (sha256:…)...done``)."""
    refs = []
    for line in ctr_output.splitlines():
        if line.startswith("unpacking "):
            name = line.removeprefix("unpacking ").split(" ", 1)[0]
            if name:
                refs.append(name)
    return refs


async def import_archive(
    socket: Path, path: Path, *, namespace: str = NAMESPACE, timeout: float = 300.0
) -> list[str]:
    """Import the image archive ``path`` into the containerd at ``socket``; returns the
    image names it held."""
    if not Path(path).is_file():
        raise ImageImportError(f"image archive {path} does not exist")
    proc = await asyncio.create_subprocess_exec(
        "ctr",
        "--address",
        str(socket),
        "--namespace",
        namespace,
        "images",
        "import",
        str(path),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ImageImportError(f"importing {path} took longer than {timeout:g}s") from None
    if proc.returncode != 0:
        message = " ".join(err.decode(errors="replace").split())
        raise ImageImportError(f"importing {path} failed (ctr exit {proc.returncode}): {message}")
    return imported_refs(out.decode(errors="replace"))


async def image_id(cri: CRIClient, ref: str) -> str:
    """The image ID (``sha256:…``) of ``ref`` in the runtime, or "" when it is missing."""
    resp = await cri.call(
        cri.images.ImageStatus, api_pb2.ImageStatusRequest(image=api_pb2.ImageSpec(image=ref))
    )
    return resp.image.id if resp.HasField("image") else ""


async def ensure_image(cri: CRIClient, socket: Path, ref: str, archive: Path) -> str:
    """Make ``ref`` present, importing ``archive`` if it is missing; returns its image ID."""
    found = await image_id(cri, ref)
    if found:
        return found
    await import_archive(socket, archive)
    found = await image_id(cri, ref)
    if not found:
        raise ImageImportError(f"{archive} was imported but does not hold {ref}")
    return found
