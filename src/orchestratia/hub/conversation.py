"""What a task continues (``tasks.resume``, sent to the daemon as ``TaskPayload.resume``): a
reply resumes its parent's CLI conversation in the parent's worktree; a task parked by a usage
limit resumes its own. docs/workspaces.md ("Replies"), docs/scheduling.md ("Usage limits").
"""

from __future__ import annotations

from typing import Any

from orchestratia.hub.store.models import Task

#: what a parked task's resumed conversation is told (the CLI has the rest of the context)
CONTINUE_MESSAGE = ("The usage limit has reset. Continue the task where you left off and finish it; "
                    "do not redo the work already done.")


def resume_of(task: Task) -> dict[str, Any]:
    """What a run continuing ``task`` continues: its conversation, and the worktree and branch
    of its thread (a reply's worktree is its parent's, so the thread's first task names it)."""
    ws = task.workspace or {}
    kind = ws.get("kind")
    worktree_of = None
    if kind == "worktree":
        worktree_of = (task.resume or {}).get("worktree_of") or task.id
    return {"parent_id": task.id, "session_id": task.session_id, "worktree_of": worktree_of,
            "branch": ws.get("branch") if kind == "worktree" else None, "kind": kind}


def resume_self(task: Task) -> dict[str, Any]:
    """A parked task's own resume: its conversation and workspace, told to go on (its spec is
    sent again when the runner cannot resume a conversation)."""
    attempt = int((task.resume or {}).get("attempt") or 0) + 1
    return {**resume_of(task), "message": CONTINUE_MESSAGE, "attempt": attempt}
