"""Printing for people: Rich tables and detail views; plain JSON for scripts (``--json``).

Every cell, value and message goes through :func:`~.safe.visible` here, so a command cannot
print an agent's control characters raw by forgetting to (JSON output is escaped by
``json.dumps`` already)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Iterable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .safe import is_safe, visible

STATUS_STYLES = {
    "queued": "yellow",
    "assigned": "yellow",
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
    "timed_out": "red",
    "lost": "red",
    "parked": "yellow",
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


def text(value: Any, style: str = "", multiline: bool = False) -> Text:
    """A Rich Text of ``value`` with control characters made visible (never markup)."""
    return Text(visible(value, multiline), style=style)


def status_text(status: Any) -> Text:
    value = "" if status is None else str(status)
    return text(value, STATUS_STYLES.get(value, ""))


def _cell(value: Any, multiline: bool, empty: str) -> Text:
    if isinstance(value, Text):
        if is_safe(value.plain, multiline):
            return value
        return Text(visible(value.plain, multiline), style=value.style)  # spans dropped, text kept
    return text(empty if value is None or value == "" else value, multiline=multiline)


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    grid = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    count = 0
    for row in rows:
        grid.add_row(*[_cell(cell, multiline=False, empty="") for cell in row])
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
        grid.add_row(_cell(key, multiline=False, empty=""), _cell(value, multiline=True, empty="-"))
    console().print(grid)


def block(value: Any) -> None:
    """A multi-line value (a spec, a config snippet) as it is, control characters visible."""
    console().print(text(value, multiline=True), soft_wrap=True)


def success(message: str) -> None:
    console().print(text(message, "green"))


def info(message: str) -> None:
    """Progress notes go to stderr, so stdout stays clean for data."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(text(message, "dim"))


def warn(message: str) -> None:
    """A warning on stderr (the command still succeeds)."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(text(f"warning: {message}", "yellow"))
