"""Small walls a first-time user met: the new-task form's runners and timeout, the Register
dialog's long token line, and the raw-log button of a task with no output yet."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from browser_helpers import PHONE, create_task, shoot


def test_the_new_task_form_offers_reported_runners_and_no_timeout(page: Any, hub: Any, agent: Any) -> None:
    reported = hub.agent("web-1")["runners"]
    assert reported and set(reported) < {"claude", "codex", "gemini", "aider", "shell"}, reported
    page.goto("/tasks/new")
    runner = page.get_by_label("Runner")
    expected = ["Agent's default"] + [r for r in ["claude", "codex", "gemini", "aider", "shell"] if r in reported]
    expect(runner.locator("option")).to_have_text(expected)  # no runner that no agent has
    page.get_by_label("Agent", exact=True).select_option("web-1")
    expect(runner.locator("option")).to_have_text(expected)
    expect(page.locator("#runner-help")).to_have_text("Runners that web-1 reports.")
    timeout = page.get_by_label("Timeout (minutes)")
    expect(timeout).to_have_value("")  # as with the CLI: the agent's default
    expect(page.locator("#timeout-help")).to_contain_text("agent's default")
    page.get_by_label("Title").fill("No timeout given")
    page.get_by_label("Spec").fill("echo hi")
    page.get_by_role("button", name="Create task").click()
    page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
    task = hub.task(page.url.rsplit("/", 1)[1])
    assert task["timeout_minutes"] is None
    page.get_by_role("link", name="Run again").click()
    expect(page.get_by_label("Timeout (minutes)")).to_have_value("")
    hub.wait_final(task["id"])


def test_a_queued_task_has_no_raw_log_button_until_it_has_output(page: Any, hub: Any) -> None:
    task = create_task(hub, title="Nobody to run it", spec="echo hi", agent=None, target_repo="no-such-repo")
    page.goto(f"/tasks/{task['id']}")
    expect(page.locator("#task-status")).to_have_text("queued")
    # no output yet, and the page says why it waits (the repo no agent has)
    expect(page.locator("#output-waiting")).to_have_text("Not started: no agent has repo no-such-repo")
    expect(page.get_by_role("link", name="Download raw log")).to_be_hidden()
    hub.api("POST", f"/tasks/{task['id']}/cancel", json={"reason": "test over"})
    expect(page.locator("#task-status")).to_have_text("cancelled")
    expect(page.get_by_role("link", name="Download raw log")).to_be_hidden()


def test_the_register_dialog_shows_the_whole_token(page: Any, hub: Any) -> None:
    for viewport in (None, PHONE):
        if viewport:
            page.set_viewport_size(viewport)
        page.goto("/agents")
        page.get_by_role("button", name="Register agent").click()
        dialog = page.get_by_role("dialog", name="Register an agent")
        dialog.get_by_label("Label").fill("a-rather-long-label-for-a-server-" + "x" * 40)
        dialog.get_by_role("button", name="Generate token").click()
        for box_id in ("reg-token", "reg-cmd", "reg-snippet"):
            box = dialog.locator(f"#{box_id}")
            expect(box).to_be_visible()
            # nothing is cut off: the box neither scrolls sideways nor spills out of the dialog
            width = box.evaluate("n => [n.scrollWidth, n.clientWidth]")
            assert width[0] <= width[1], f"#{box_id} is wider than its box: {width}"
            inside = box.evaluate("""n => { const b = n.getBoundingClientRect(),
                d = n.closest('dialog').getBoundingClientRect(); return b.left >= d.left && b.right <= d.right; }""")
            assert inside, f"#{box_id} spills out of the dialog"
        token = dialog.locator("#reg-token").inner_text().strip()
        dialog.get_by_role("button", name="Copy token").click()
        assert page.evaluate("navigator.clipboard.readText()") == token
        dialog.get_by_role("button", name="Copy config snippet").click()
        snippet = page.evaluate("navigator.clipboard.readText()")
        assert f'registration_token: "{token}"' in snippet
        # the token line of the snippet is whole on screen (wrapped), not clipped
        assert token in dialog.locator("#reg-snippet").inner_text().replace("\n", "")
        shoot(page, "agents-register-dialog-long" + ("-phone" if viewport else ""))
        dialog.get_by_role("button", name="Done").click()
