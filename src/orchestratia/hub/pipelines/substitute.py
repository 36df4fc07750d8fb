"""``{{ needs.NAME.result }}`` in a pipeline task's spec: plain string replacement, hub-side,
when the task becomes runnable (all its parents completed). Nothing is evaluated: the only form
is ``needs.<node name>.result``; one pass of :func:`re.sub`, so a parent's result that itself
contains ``{{ needs.x.result }}`` is inserted as it is and never expanded again.

A task's **result text** is what its runner reported as the run's final message:
``result["summary"]`` (the agent CLI's final answer: Claude Code's ``result``, Codex's last
agent message, Gemini's reply; for the ``shell`` runner the last 20 lines of its output, at most
2000 characters; the daemon caps it at 4000). A v1 daemon's result has no summary: the text is
empty.
"""

from __future__ import annotations

import re
from typing import Any

#: ``{{ needs.build.result }}``, spaces inside the braces optional
PLACEHOLDER = re.compile(r"\{\{\s*needs\.([A-Za-z0-9][A-Za-z0-9_-]*)\.([A-Za-z_]+)\s*\}\}")
#: the fields a placeholder may name
FIELDS = ("result",)


def result_text(result: dict[str, Any] | None) -> str:
    """A task's result text (see the module docstring); "" when it has none."""
    summary = (result or {}).get("summary")
    return summary if isinstance(summary, str) else ""


def references(spec: str) -> list[tuple[str, str]]:
    """``(name, field)`` of every placeholder in ``spec``, in order."""
    return [(m.group(1), m.group(2)) for m in PLACEHOLDER.finditer(spec)]


def substitute(spec: str, results: dict[str, str]) -> str:
    """``spec`` with each ``{{ needs.NAME.result }}`` replaced by ``results[NAME]``; a name not in
    ``results`` is left as written (the pipeline's check refuses such a file before it is stored)."""

    def one(match: re.Match[str]) -> str:
        name, field = match.group(1), match.group(2)
        if field != "result" or name not in results:
            return match.group(0)
        return results[name]

    return PLACEHOLDER.sub(one, spec)
