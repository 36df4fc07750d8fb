"""``tasks watch``'s output renderers: how the text of each ``output`` event reaches stdout.

- :class:`RawOutput` (``--raw``): the text exactly as the hub sent it (scripts, ``| tee``).
- :class:`PlainOutput` (every runner but Claude Code): colour (SGR) passes, every other
  control sequence is made visible (:class:`~.safe.SafeStream`): a task's output is the
  agent's, and hostile.
- :class:`~.transcript.TranscriptOutput` (``runner: claude``): the stream-json lines as a
  readable transcript, like the dashboard's.

:func:`for_task` picks one from the task's ``runner``."""

from __future__ import annotations

import sys
from typing import Any, Protocol

from .safe import SafeStream


class OutputRenderer(Protocol):
    def feed(self, text: str) -> None:
        """Render one chunk of output (chunks split lines and UTF-8 text anywhere)."""

    def close(self) -> None:
        """The stream ended: render what is still held back."""


def _write(text: str) -> None:
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()


class RawOutput:
    def feed(self, text: str) -> None:
        _write(text)

    def close(self) -> None:
        pass


class PlainOutput:
    def __init__(self) -> None:
        self._safe = SafeStream()

    def feed(self, text: str) -> None:
        _write(self._safe.feed(text))

    def close(self) -> None:
        _write(self._safe.flush())


def for_task(task: dict[str, Any], raw: bool = False) -> OutputRenderer:
    """The renderer for ``task``: raw when asked, the transcript for a Claude Code task (its
    ``runner`` is ``claude``, as the dashboard decides), else plain safe text."""
    if raw:
        return RawOutput()
    if task.get("runner") == "claude":
        from .transcript import TranscriptOutput

        return TranscriptOutput()
    return PlainOutput()
