"""/tasks/{id}: the conversation (the thread, in order, each task linked) and the reply box,
which appears live when the task ends and opens the reply's page."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from browser_helpers import UUID_RE, create_task


def test_reply_box_appears_when_the_task_ends_and_the_thread_links_both(page: Any, hub: Any, agent: Any) -> None:
    task = create_task(hub, title="Parent <b>task</b>", spec="Start FAKE_LINES=2 FAKE_LINE_DELAY=1", agent="web-1")
    page.goto(f"/tasks/{task['id']}")
    expect(page.locator("#reply-wait")).to_be_visible()
    expect(page.locator("#task-status")).to_have_text("completed", timeout=30_000)
    box = page.get_by_label("Reply")
    expect(box).to_be_visible()  # live: no reload
    box.fill("Now the tests, please")
    box.press("Control+Enter")
    page.wait_for_url(re.compile(rf"/tasks/{UUID_RE}$"))
    assert page.url.rsplit("/", 1)[1] != task["id"]
    items = page.locator("#thread-list li")
    expect(items).to_have_count(2)
    expect(items.nth(0).get_by_role("link")).to_have_text("Parent <b>task</b>")  # text, never markup
    expect(items.nth(1)).to_have_attribute("aria-current", "page")
    expect(page.locator("#task-status")).to_have_text("completed", timeout=30_000)
    items.nth(0).get_by_role("link").click()
    expect(page.locator("#thread-list li")).to_have_count(2)
