"""Plain string formatting of the hub's values: times, ages, one-line excerpts."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .safe import visible


def short_time(value: Any) -> str:
    """``2026-01-02T03:04:05.678+00:00`` → ``2026-01-02 03:04:05`` (UTC), ``-`` for none."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return visible(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def ago(value: Any) -> str:
    if not value:
        return "never"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return visible(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    seconds = int((datetime.now(timezone.utc) - moment).total_seconds())
    if seconds < 0:
        seconds = 0
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


def one_line(text: Any, width: int = 60) -> str:
    """Whitespace runs as one space, control characters visible, cut to ``width`` with ``…``."""
    value = visible(" ".join(str(text or "").split()))
    return value if len(value) <= width else value[: width - 1] + "…"
