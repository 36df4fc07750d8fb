"""The hub event stream recovers when the hub answers it with an error (e.g. while restarting)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from browser_helpers import create_task


def test_event_stream_recovers_after_http_errors(page: Any, hub: Any, agent: Any) -> None:
    failures = {"left": 2}

    def flaky(route: Any) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            route.fulfill(status=503, body="hub restarting")
        else:
            route.continue_()

    page.route("**/api/admin/events", flaky)
    page.goto("/tasks")
    expect(page.locator("#live-indicator")).to_be_visible()  # the reader sees it is not live
    expect(page.locator("#live-indicator")).to_be_hidden(timeout=15_000)  # ... and then it is again
    assert failures["left"] == 0
    task = create_task(hub, title="After the outage", spec="FAKE_LINES=1", agent="web-1", target_repo="web")
    expect(page.get_by_role("link", name="After the outage")).to_be_visible()  # live again
    hub.wait_final(task["id"])
