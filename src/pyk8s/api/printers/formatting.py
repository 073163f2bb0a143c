"""Cell formatting shared by the printers: JSON access, ages, labels, container lists.

Objects are decoded JSON (``Mapping[str, object]``); the accessors return Go's zero value
(``""``, ``0``, ``{}``, ``[]``) for a missing or mistyped field, which is what upstream's
printers see after decoding into typed structs. Times are RFC 3339 strings; a missing one
is Go's zero time, which every printer shows as ``<unknown>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from pyk8s.api import selectors

__all__ = [
    "Obj",
    "format_label_selector",
    "format_labels",
    "get_bool",
    "get_int",
    "get_list",
    "get_map",
    "get_str",
    "get_strs",
    "human_duration",
    "layout_containers",
    "parse_time",
    "since",
    "text",
]

Obj = Mapping[str, object]
_EMPTY: Obj = {}


def get_map(obj: Obj, *path: str) -> Obj:
    """``obj[path[0]][path[1]]…`` as a mapping, or ``{}``."""
    cur: object = obj
    for key in path:
        cur = cur.get(key) if isinstance(cur, Mapping) else None
    return cur if isinstance(cur, Mapping) else _EMPTY


def get_str(obj: Obj, key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def get_int(obj: Obj, key: str, default: int = 0) -> int:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def get_bool(obj: Obj, key: str) -> bool:
    return obj.get(key) is True


def get_list(obj: Obj, key: str) -> list[Obj]:
    """A list of objects; non-object items are dropped."""
    value = obj.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def get_strs(obj: Obj, key: str) -> list[str]:
    value = obj.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def text(value: object) -> str:
    """A scalar as Go's fmt shows it: quantities and int-or-strings arrive as str or int."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    return ""


def human_duration(seconds: float) -> str:
    """duration.HumanDuration: two or three significant figures ("45s", "5m30s", "2d3h", "3y").

    Up to a second in the future still reads "0s" (clock skew); further is "<invalid>".
    """
    secs = int(seconds)  # truncates toward zero, as Go's int(d.Seconds())
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        return f"{minutes}m{secs % 60}s" if secs % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


_GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp (``metav1.Time`` or ``MicroTime``); None if absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None if parsed == _GO_ZERO_TIME else parsed


def since(value: object, now: datetime) -> str:
    """translateTimestampSince: the age of a timestamp, ``<unknown>`` when unset."""
    when = parse_time(value)
    if when is None:
        return "<unknown>"
    return human_duration((now - when).total_seconds())


def format_labels(labels: Obj) -> str:
    """labels.FormatLabels: ``k=v`` sorted and comma separated, ``<none>`` when empty."""
    pairs = sorted(f"{k}={text(v)}" for k, v in labels.items())
    return ",".join(pairs) or "<none>"


def format_label_selector(sel: object) -> str:
    """metav1.FormatLabelSelector: ``<none>`` for a null or empty selector, ``<error>``."""
    try:
        shown = str(selectors.from_label_selector_obj(sel if isinstance(sel, Mapping) else None))
    except selectors.SelectorError:
        return "<error>"
    return shown or "<none>"


def layout_containers(containers: Iterable[Obj]) -> tuple[str, str]:
    """Container names and images, each comma separated (the wide CONTAINERS/IMAGES)."""
    items = list(containers)
    return (
        ",".join(get_str(c, "name") for c in items),
        ",".join(get_str(c, "image") for c in items),
    )
