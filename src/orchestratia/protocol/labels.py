"""Labels: what a task asks of the agent that runs it, and what an agent offers (stdlib only).

A label is 1-100 characters: letters, digits and ``. _ - : =``, starting with a letter or a
digit (``gpu``, ``team:payments``, ``zone=eu-1``); matched exactly (case counts). A task with
labels runs only on an agent that has all of them.

An agent's labels are those of its config (``labels:``, sent at registration and in the
capabilities report) plus automatic ones, computed by the hub from what the agent reports:

* ``os:<system>``: the first word of the reported OS, lowercased (``os:linux``, ``os:darwin``);
* ``runner:<name>``: one per usable runner (a v1 daemon that reported none: ``runner:claude``);
* ``repo:<name>``: one per repo.

Task groups (``--group``) share the label syntax.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

LABEL_MAX = 100
#: at most this many labels on one task
TASK_LABELS_MAX = 20
LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=-]{0,99}")
LABEL_RULE = "1-100 characters: letters, digits and . _ - : =, starting with a letter or digit"


def label_problem(label: str) -> str | None:
    """Why ``label`` is not a label (None: it is one)."""
    if not isinstance(label, str) or not LABEL_RE.fullmatch(label):
        shown = repr(label)[:60] if isinstance(label, str) else type(label).__name__
        return f"{shown} is not a label ({LABEL_RULE})"
    return None


def os_label(os_text: str | None) -> str | None:
    word = (os_text or "").split(" ", 1)[0].strip().lower()
    return f"os:{word}" if word and LABEL_RE.fullmatch(f"os:{word}") else None


def auto_labels(os_text: str | None, runners: Iterable[str] | None, repos: Mapping[str, Any] | None) -> set[str]:
    """The automatic labels of an agent that reported ``os_text``, ``runners`` (None: a v1
    daemon, which runs Claude Code only) and ``repos``. Names that are no label are left out."""
    found = {f"runner:{r}" for r in (["claude"] if runners is None else runners)}
    found |= {f"repo:{name}" for name in (repos or {})}
    if (os_name := os_label(os_text)) is not None:
        found.add(os_name)
    return {label for label in found if LABEL_RE.fullmatch(label)}


def agent_label_set(configured: Iterable[Any] | None, os_text: str | None, runners: Iterable[str] | None,
                    repos: Mapping[str, Any] | None) -> frozenset[str]:
    """Every label an agent has: its configured ones (strings only: a v1 registration is
    hostile input) and the automatic ones."""
    own = {label for label in (configured or ()) if isinstance(label, str)}
    return frozenset(own | auto_labels(os_text, runners, repos))


def missing(wanted: Iterable[str] | None, have: frozenset[str]) -> list[str]:
    """The labels of ``wanted`` that ``have`` lacks, in the task's order."""
    return [label for label in (wanted or ()) if label not in have]
