"""Printing: Rich tables for people, plain JSON for scripts (``--json``)."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

STATUS_STYLES = {
    "queued": "yellow",
    "assigned": "yellow",
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
    "timed_out": "red",
    "lost": "red",
    "ONLINE": "green",
    "OFFLINE": "yellow",
    "REVOKED": "red",
    "active": "green",
    "used": "dim",
    "expired": "yellow",
    "revoked": "red",
    "pending": "yellow",
    "answered": "green",
    "withdrawn": "dim",  # the agent stopped waiting: closed, nothing to do (grey, like the dashboard)
}


def console() -> Console:
    """stdout. Piped (no terminal, no COLUMNS), tables get 200 columns instead of Rich's 80,
    so scripts and logs see whole lines."""
    width = None
    if not sys.stdout.isatty() and not os.environ.get("COLUMNS"):
        width = 200
    return Console(highlight=False, soft_wrap=False, width=width)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def status_text(status: Any) -> Text:
    value = "" if status is None else str(status)
    return Text(value, style=STATUS_STYLES.get(value, ""))


def short_time(value: Any) -> str:
    """``2026-01-02T03:04:05.678+00:00`` → ``2026-01-02 03:04:05`` (UTC), ``-`` for none."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def ago(value: Any) -> str:
    if not value:
        return "never"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
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


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    grid = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    count = 0
    for row in rows:
        grid.add_row(*[cell if isinstance(cell, Text) else Text("" if cell is None else str(cell)) for cell in row])
        count += 1
    if count == 0:
        console().print(Text("(none)", style="dim"))
        return
    console().print(grid)


def details(pairs: Sequence[tuple[str, Any]], title: str | None = None) -> None:
    grid = Table(title=title, show_header=False, box=None, pad_edge=False)
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in pairs:
        grid.add_row(key, value if isinstance(value, Text) else Text("-" if value in (None, "") else str(value)))
    console().print(grid)


def one_line(text: Any, width: int = 60) -> str:
    value = " ".join(str(text or "").split())
    return value if len(value) <= width else value[: width - 1] + "…"


def success(message: str) -> None:
    console().print(Text(message, style="green"))


def info(message: str) -> None:
    """Progress notes go to stderr, so stdout stays clean for data."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(Text(message, style="dim"))
