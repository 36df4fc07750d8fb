"""What a task's own worktree adds to its start, measured through the real hub and daemon on a
20,000-file repository: ``.venv/bin/python -m benchmarks --only taskstart`` (``--quick``: 5
tasks per mode instead of 15).

One hub, one daemon (screen, the shell runner), a repository of FILES files (as
bench_worktree builds it). Tasks run one at a time; each is a shell task whose first act is to
print the time (``date +%s.%N``) and then works for 2 s, as a real task works for minutes
(the daemon prepares the next spare worktree meanwhile). The start cost of a task is that
printed time minus the hub's ``started_at`` (the daemon's claim, just before it prepares the
workspace and launches the session): workspace + session launch + shell start. Modes:
``in_place`` (the checkout), ``worktree`` (the daemon's default: spare worktrees on),
``worktree, no spare`` (``workspace.spare: false``: a fresh checkout each time). Each
worktree task's branch is discarded through the hub afterwards (untimed), as an admin would.
Target: a worktree adds at most 1 s at p50 over in place."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from .bench_worktree import build_repo
from .common import Daemon, Hub, summary, table, wait_until, workdir, write_result

FINAL = {"completed", "failed", "cancelled", "timed_out", "lost"}
SPEC = "date +%s.%N; sleep 2"


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def one_task(client, agent: str, kind: str) -> float:  # noqa: ANN001
    """The start cost of one task in seconds (see the module's docstring)."""
    r = client.post("/api/admin/tasks", json={"title": f"start {kind}", "spec": SPEC, "agent": agent,
                                              "runner": "shell", "target_repo": "bench", "workspace": kind})
    r.raise_for_status()
    tid = r.json()["id"]
    task = wait_until(lambda: _final(client, tid), 120, 0.1, f"task {tid} to end")
    if task["status"] != "completed":
        raise RuntimeError(f"task {tid} ended {task['status']}: {task.get('error')}")
    printed = float(client.get(f"/api/admin/tasks/{tid}/output").text.split()[0])
    if kind == "worktree":
        client.post(f"/api/admin/tasks/{tid}/discard", json={"force": True}).raise_for_status()
        wait_until(lambda: (client.get(f"/api/admin/tasks/{tid}").json().get("workspace_action") or {})
                   .get("status") != "pending", 120, 0.1, "the discard")
    return printed - _epoch(task["started_at"])


def _final(client, tid: str) -> dict | None:  # noqa: ANN001
    task = client.get(f"/api/admin/tasks/{tid}").json()
    return task if task["status"] in FINAL else None


def _mode(work: Path, hub: Hub, repo: Path, name: str, kind: str, spare: bool, runs: int) -> dict:
    daemon = Daemon(work, hub, name=name, extra={
        "repos": {"bench": {"path": str(repo), "branch": "main"}},
        "workspace": {"root": str(work / f"{name}-worktrees"), "spare": spare}})
    daemon.start()
    try:
        if spare and kind == "worktree":  # the first spare is made at the daemon's start
            root = work / f"{name}-worktrees"
            wait_until(lambda: [p for p in root.glob(".spare-*") if ".tmp-" not in p.name], 300, 0.2, "the spare")
        with hub.admin(timeout=60) as client:
            one_task(client, name, kind)  # warm-up: session backend, caches
            return summary([one_task(client, name, kind) * 1000 for _ in range(runs)])
    finally:
        daemon.stop()


def run(quick: bool = False, profile: bool = False, files: int = 20000) -> dict:
    runs = 5 if quick else 15
    with workdir("taskstart") as work:
        repo = Path(tempfile.mkdtemp(dir=work)) / "repo"
        build_repo(repo, files)
        hub = Hub(work).start()
        try:
            modes = {
                "in_place": _mode(work, hub, repo, "start-inplace", "in_place", True, runs),
                "worktree": _mode(work, hub, repo, "start-worktree", "worktree", True, runs),
                "worktree_no_spare": _mode(work, hub, repo, "start-nospare", "worktree", False, runs),
            }
        finally:
            hub.stop()
    added = modes["worktree"]["p50"] - modes["in_place"]["p50"]
    rows = [[m, s["n"], s["p50"], s["p90"], s["max"]] for m, s in modes.items()]
    text = table(f"task start through the daemon, {files} files: started_at -> the runner's first line (ms)",
                 ["mode", "tasks", "p50", "p90", "max"], rows)
    text += f"\nworktree adds {added:.0f} ms at p50 over in place; target <= 1000 ms: {'MET' if added <= 1000 else 'NOT MET'}"
    result = {"modes": modes, "worktree_added_p50_ms": added, "targets": {"worktree_adds_le_1s_p50": added <= 1000}, "files": files, "runs": runs, "quick": quick}
    result["file"] = str(write_result("taskstart", result))
    print(text, flush=True)
    return result
