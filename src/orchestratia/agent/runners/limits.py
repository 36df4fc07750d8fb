"""Usage limits in a CLI's output (AGENT_CLIS.md, "Usage limits"): the run cannot go on until
the plan's limit resets. The daemon then reports ``fail`` with ``reason: "usage_limit"`` and
``resets_at``, and the hub parks the task until then (docs/scheduling.md).

- Claude Code: a ``rate_limit_event`` whose ``rate_limit_info.status`` is ``rejected`` (with
  ``resetsAt``, epoch seconds), found even inside another line (some versions wrote it into
  the middle of one); or the error result ``You've hit your limit · resets 7pm (Europe/Paris)``
  / ``Claude AI usage limit reached|<epoch>``. A 429 that the CLI retries itself (``api_retry``)
  is not a limit.
- Codex: an ``error`` or ``turn.failed`` message embedding ``usage_limit_reached`` with
  ``resets_at`` (epoch) or ``resets_in_seconds``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_RATE_INFO = re.compile(rb'"rate_limit_info"\s*:\s*(\{[^{}]*\})')
_OLD_CLAUDE = re.compile(r"Claude AI usage limit reached\|(\d{9,11})")
_HIT_LIMIT = re.compile(r"hit your (?:usage )?limit", re.I)
_RESETS_AT_TIME = re.compile(r"resets\s+(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*(?:\(([^)]+)\))?", re.I)
_CODEX_RESETS_AT = re.compile(r'"resets_at"\s*:\s*(\d{9,11})')
_CODEX_RESETS_IN = re.compile(r'"resets_in_seconds"\s*:\s*(\d{1,9})')


@dataclass
class UsageLimit:
    """The CLI hit its plan's limit; ``resets_at`` (epoch seconds) when known."""

    resets_at: float | None = None
    kind: str | None = None  # e.g. "five_hour" (Claude's rateLimitType)


def _rejected_infos(data: bytes) -> Iterable[dict[str, Any]]:
    for m in _RATE_INFO.finditer(data):
        try:
            info = json.loads(m.group(1).decode("utf-8", errors="replace"))
        except ValueError:
            continue
        if isinstance(info, dict) and info.get("status") == "rejected":
            yield info


def next_clock_time(hour: int, minute: int, meridiem: str | None, zone: str | None, now: float) -> float | None:
    """The next time the clock in ``zone`` (UTC when unknown) shows ``hour:minute`` after ``now``."""
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem.lower() == "pm" else 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    try:
        tz: Any = ZoneInfo(zone.strip()) if zone else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        tz = timezone.utc
    current = datetime.fromtimestamp(now, tz)
    at = current.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at <= current:
        at += timedelta(days=1)
    return at.timestamp()


def claude_usage_limit(data: bytes, result_text: str, now: float | None = None) -> UsageLimit | None:
    """A usage limit in a failed Claude Code run's output, or None."""
    now = time.time() if now is None else now
    for info in _rejected_infos(data):
        resets = info.get("resetsAt")
        kind = info.get("rateLimitType")
        return UsageLimit(float(resets) if isinstance(resets, (int, float)) and not isinstance(resets, bool) else None,
                          str(kind) if isinstance(kind, str) else None)
    if m := _OLD_CLAUDE.search(result_text):
        return UsageLimit(float(m.group(1)))
    if _HIT_LIMIT.search(result_text):
        t = _RESETS_AT_TIME.search(result_text)
        at = next_clock_time(int(t.group(1)), int(t.group(2) or 0), t.group(3), t.group(4), now) if t else None
        return UsageLimit(at)
    return None


def codex_usage_limit(messages: Iterable[str], now: float | None = None) -> UsageLimit | None:
    """A usage limit in Codex's error / turn.failed messages, or None."""
    now = time.time() if now is None else now
    for message in messages:
        if "usage_limit_reached" not in message:
            continue
        if m := _CODEX_RESETS_AT.search(message):
            return UsageLimit(float(m.group(1)))
        if m := _CODEX_RESETS_IN.search(message):
            return UsageLimit(now + int(m.group(1)))
        return UsageLimit()
    return None
