"""Restart and image-pull back-off, with client-go's ``flowcontrol.Backoff`` semantics
(what the kubelet uses for CrashLoopBackOff and ImagePullBackOff). No clock inside: every
method takes ``now`` (seconds), so the sync computation that reads it stays pure.

- An entry per key (a container: pod uid, name and spec hash; an image: pod uid and
  image). ``in_backoff_since(key, event, now)``: is ``now`` still within the entry's
  back-off counted from ``event`` (when the container finished, or the pull failed)?
  A key without an entry, or whose entry was last bumped more than ``twice max`` before
  ``event``, is not in back-off.
- ``next(key, now)`` is called when the work is done anyway (the container restarts):
  a new or expired entry starts at ``initial``, otherwise it doubles up to ``max``.
  So the first restart is immediate, the next waits 10 s, then 20 s, 40 s … 5 min; ten
  minutes without a bump resets it.
- ``gc(now)`` drops entries idle for more than ``twice max``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(slots=True)
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    def __init__(self, initial: float = 10.0, maximum: float = 300.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def _expired(self, entry: _Entry, event: float) -> bool:
        return event - entry.last_update > 2 * self.maximum

    def get(self, key: str) -> float:
        """The current back-off of ``key`` (0 if it has none)."""
        entry = self._entries.get(key)
        return entry.backoff if entry is not None else 0.0

    def in_backoff_since(self, key: str, event: float, now: float) -> bool:
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, event):
            return False
        return now - event < entry.backoff

    def in_backoff_since_update(self, key: str, now: float) -> bool:
        """Within the back-off counted from the entry's last bump (image pulls)."""
        entry = self._entries.get(key)
        return entry is not None and now - entry.last_update < entry.backoff

    def until(self, key: str, event: float) -> float:
        """When the back-off counted from ``event`` ends."""
        return event + self.get(key)

    def next(self, key: str, now: float) -> None:
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, now):
            self._entries[key] = _Entry(self.initial, now)
            return
        entry.backoff = min(entry.backoff * 2, self.maximum)
        entry.last_update = now

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]

    def gc(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if self._expired(e, now)]:
            del self._entries[key]
