"""One task at a time in a repo's checkout, any number in their own worktrees."""

from __future__ import annotations

from types import SimpleNamespace

from orchestratia.hub.store.queries import _offer, in_place_dir

REPOS = {"wt": {"path": "/src/wt", "workspace": "worktree"}, "old": "/src/old", "pinned": {"path": "/src/p"}}


def test_in_place_dir() -> None:
    assert in_place_dir(REPOS, "wt", None) is None
    assert in_place_dir(REPOS, "wt", {"kind": "in_place"}) == "/src/wt"
    assert in_place_dir(REPOS, "old", None) == "/src/old"  # a v1 daemon runs every task in the checkout
    assert in_place_dir(REPOS, "pinned", {"kind": "worktree"}) == "/src/p"  # the agent did not say it can
    assert in_place_dir(REPOS, "", None) is None and in_place_dir(REPOS, "ghost", None) is None


def task(repo: str, status: str = "assigned", kind: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(target_repo=repo, status=status, workspace_request={"kind": kind} if kind else None)


def test_offer_lets_worktree_tasks_share_a_repo() -> None:
    agent = SimpleNamespace(repos=REPOS, max_concurrent_tasks=4)
    a, b = task("wt"), task("wt")
    assert _offer(agent, [a, b]) == [a, b]
    c, d = task("old"), task("old")
    assert _offer(agent, [c, d]) == [c]
    running_in_place = task("wt", "running", "in_place")
    e, f = task("wt", kind="in_place"), task("wt")
    assert _offer(agent, [running_in_place, e, f]) == [f]
