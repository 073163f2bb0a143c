"""The one place that runs the ``nft`` binary (an adapter; the rules are computed in
``rules.py``).

``Nft.apply(script)`` feeds a script to ``nft -f -``: nft sends it to the kernel as one
netlink batch, so it is applied whole or not at all. ``NftError`` carries nft's message.
``delete_table`` removes our table (for ``--cleanup`` and tests) and is quiet when the
table is absent. ``Applier`` is the seam the proxier uses; tests can pass a fake.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

__all__ = ["Applier", "Nft", "NftError"]


class NftError(RuntimeError):
    pass


class Applier(Protocol):
    async def apply(self, script: str) -> None: ...


class Nft:
    def __init__(self, binary: str = "nft") -> None:
        self.binary = binary

    async def _run(self, *args: str, stdin: str | None = None) -> str:
        proc = await asyncio.create_subprocess_exec(
            self.binary,
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
        if proc.returncode != 0:
            raise NftError(err.decode(errors="replace").strip() or f"nft exited {proc.returncode}")
        return out.decode(errors="replace")

    async def apply(self, script: str) -> None:
        await self._run("-f", "-", stdin=script)

    async def list_table(self, family: str, table: str) -> str | None:
        """The table as nft prints it, or None when it does not exist."""
        try:
            return await self._run("list", "table", family, table)
        except NftError as exc:
            if "No such file or directory" in str(exc):
                return None
            raise

    async def delete_table(self, family: str, table: str) -> None:
        await self.apply(f"add table {family} {table}\ndelete table {family} {table}\n")
