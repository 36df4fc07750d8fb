"""The task page's Changes tab: its data (the stat and the diff from the admin API, in
process) rendered by diff_view in a worker thread, for templates/_changes.html."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from orchestratia.protocol import FINAL_STATUSES

from . import diff_view
from ._internal import ApiError, call, get_text


@dataclass
class ChangesTab:
    """``state``: pending (still running), none (no change recorded), empty (nothing changed),
    ready (``view`` holds the files); ``message`` says so in words."""

    state: str
    label: str = "Changes"
    message: str = ""
    view: diff_view.ChangesView | None = None
    raw_url: str = ""


def _final(status: Any) -> bool:
    return str(status) in {str(getattr(s, "value", s)) for s in FINAL_STATUSES}


def tab_label(view: diff_view.ChangesView) -> str:
    count = len(view.files)
    return f"Changes ({count} file{'s' if count != 1 else ''} +{view.insertions:,} \u2212{view.deletions:,})"


async def changes_tab(request: Request, task: dict[str, Any]) -> ChangesTab:
    task_id = quote(str(task.get("id") or ""), safe="")
    raw_url = f"/api/admin/tasks/{task_id}/diff"
    if not _final(task.get("status")):
        return ChangesTab("pending", message="The task is still running: its change shows here when it ends.")
    try:
        stat = await call(request, "GET", f"/tasks/{task_id}/diff", params={"stat": "1"})
        diff = "" if stat.get("diff_truncated") else await get_text(request, f"/tasks/{task_id}/diff")
    except ApiError as exc:
        if exc.status == 404:
            return ChangesTab("none", message="No change recorded: the task had no repository, or its agent is "
                                              "older than this hub and does not report one.")
        return ChangesTab("none", message=f"The change could not be read ({exc.status}): {exc.detail}")
    files = [f for f in stat.get("files") or [] if isinstance(f, dict)]
    workspace = stat.get("workspace") if isinstance(stat.get("workspace"), dict) else {}
    if not files and not diff.strip() and not workspace.get("base_commit"):  # not a git checkout, say
        note = str(workspace.get("note") or "the agent reported no git change")
        return ChangesTab("none", message=f"No change recorded: {note}.")
    if not files and not diff.strip():
        return ChangesTab("empty", label="Changes (none)", message="No changes: the task left the repository "
                                                                    "as it found it.", raw_url=raw_url)
    view = await run_in_threadpool(diff_view.build, files, diff, bool(stat.get("diff_truncated")))
    return ChangesTab("ready", label=tab_label(view), view=view, raw_url=raw_url)
