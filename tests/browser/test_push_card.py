"""The task page's Branch card: Push through the admin API, the request queued for the task's
real agent, and the agent's answer shown as it comes (a failure as text, in an error box); a
Discard that the user does not confirm sends nothing."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from browser_helpers import finished_task, report_workspace, shoot

HOSTILE_BRANCH = 'orc/<img src=x onerror="window.__xss=3">'


def test_push_asks_the_agent_and_shows_its_answer(page: Any, hub: Any, agent: Any) -> None:
    done = finished_task(hub, "Branch to push")
    # the agent says it worked on a branch in a worktree; "api" is no git checkout, so its push fails
    report_workspace(hub, agent, done["id"], {"kind": "worktree", "branch": HOSTILE_BRANCH, "base_commit": "a" * 40,
                                              "head_commit": "b" * 40, "files": [], "diff": ""})
    page.goto(f"/tasks/{done['id']}")
    card = page.get_by_role("region", name="Branch")
    expect(card.locator("h2 code")).to_have_text(HOSTILE_BRANCH)  # inert text, not markup
    status = card.get_by_role("status")
    expect(status).to_be_hidden()

    native: list[str] = []  # a browser confirm() as well as the page's dialog was asking twice
    page.on("dialog", lambda dialog: (native.append(dialog.message), dialog.dismiss()))
    card.get_by_role("button", name="Discard").click()  # asked once, in the page's own dialog
    confirm = page.get_by_role("dialog", name="Are you sure?")
    expect(confirm).to_contain_text("Remove this task's worktree and branch on the agent?")
    confirm.get_by_role("button", name="Keep it").click()
    expect(confirm).to_be_hidden()
    expect(status).to_be_hidden()
    assert hub.task(done["id"])["workspace_action"] is None and native == []  # nothing was sent

    card.get_by_role("button", name="Push", exact=True).click()
    expect(status).to_have_text(re.compile(r"^Push failed: \S"), timeout=60_000)  # the agent's own reason
    expect(status).to_have_class(re.compile(r"\balert-error\b"))
    expect(card.get_by_role("button", name="Open PR")).to_be_enabled()
    action = hub.task(done["id"])["workspace_action"]
    assert (action["kind"], action["status"]) == ("push", "failed") and action["message"], action
    expect(status).to_have_text(f"Push failed: {action['message']}")
    shoot(page, "task-push-failed")
    page.reload()  # the answer stays with the task
    expect(page.get_by_role("region", name="Branch").get_by_role("status")).to_have_text(
        f"Push failed: {action['message']}")
    assert page.evaluate("window.__xss") is None
