"""/tasks, /tasks/new and /tasks/{id}: the form, live status and output, the transcript,
resume without gap or duplicate, the raw log download, cancel."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from browser_helpers import UUID_RE, create_task, shoot, wait_output


def test_create_task_through_the_form_and_watch_it_live(page: Any, hub: Any, agent: Any) -> None:
    page.goto("/tasks/new")
    repo = page.get_by_label("Target repo")
    page.get_by_label("Agent", exact=True).select_option("web-1")
    expect(repo.locator("option")).to_have_text(["(none — agent's default directory)", "api", "web"])
    repo.select_option("web")
    page.get_by_label("Title").fill("Refactor the parser")
    page.get_by_label("Spec").fill("Refactor the parser module. FAKE_TURNS=3 FAKE_LINES=8 FAKE_LINE_DELAY=0.6")
    page.get_by_label("Runner").select_option("claude")
    page.get_by_label("Timeout (minutes)").fill("15")
    shoot(page, "task-new")
    page.get_by_role("button", name="Create task").click()
    page.wait_for_url(re.compile(rf"/tasks/{UUID_RE}$"))
    task_id = page.url.rsplit("/", 1)[1]

    transcript = page.locator("#transcript")
    status = page.locator("#task-status")
    expect(transcript.get_by_text("line 2 of 8")).to_be_visible(timeout=30_000)
    assert status.inner_text() != "completed", "the output must arrive while the task runs"
    expect(status).to_have_text("completed", timeout=30_000)  # live status, no reload
    result = transcript.locator(".t-result")
    expect(result).to_contain_text("Cost")
    expect(result).to_contain_text("Turns")
    expect(result).to_contain_text("Fake claude done")
    cards = transcript.locator(".tool-card")
    expect(cards).to_have_count(2)  # FAKE_TURNS=3: two tool calls, each paired with its result
    expect(cards.first.locator(".tool-state")).to_have_text("done")
    cards.first.locator("summary").click()
    expect(cards.first.locator(".tool-body")).to_contain_text("Input")
    expect(cards.first.locator(".tool-body")).to_contain_text("Result")
    expect(page.locator("#t-turns")).to_have_text("3")
    expect(page.locator("#t-cost")).to_have_text(re.compile(r"^\$\d+\.\d{4}$"))
    expect(page.locator("#cancel-form")).to_be_hidden()
    expect(page.locator("#stream-state")).to_have_text("Ended · completed")
    page.locator("#output-scroll").evaluate("n => { n.scrollTop = n.scrollHeight; }")
    shoot(page, "task-transcript")

    page.get_by_role("button", name="Raw").click()
    raw = page.locator("#raw-output")
    expect(raw).to_be_visible()
    expect(raw).to_contain_text('"subtype": "init"')
    shoot(page, "task-raw")

    link = page.get_by_role("link", name="Download raw log")
    expect(link).to_have_attribute("href", f"/api/admin/tasks/{task_id}/output?download=1")  # whole log, attachment
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == f"task-{task_id}.log"
    assert open(download.path(), "rb").read() == hub.output(task_id)

    page.get_by_role("link", name="Run again").click()  # the form, filled in from this task
    expect(page.get_by_label("Title")).to_have_value("Refactor the parser")
    expect(page.get_by_label("Spec")).to_have_value(re.compile("FAKE_TURNS=3"))
    expect(page.get_by_label("Agent", exact=True)).to_have_value("web-1")
    expect(page.get_by_label("Target repo")).to_have_value("web")
    expect(page.get_by_label("Runner")).to_have_value("claude")
    expect(page.get_by_label("Timeout (minutes)")).to_have_value("15")

    page.goto("/tasks")
    row = page.locator("#tasks-body tr", has=page.get_by_role("link", name="Refactor the parser"))
    expect(row.locator(".pill")).to_have_text("completed")
    shoot(page, "tasks")
    page.get_by_role("link", name="running", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tasks\?status=running$"))
    expect(page.get_by_role("link", name="Refactor the parser")).to_have_count(0)
    page.get_by_role("link", name="completed", exact=True).click()
    expect(page.get_by_role("link", name="Refactor the parser")).to_be_visible()


def test_task_list_status_changes_live(page: Any, hub: Any, agent: Any) -> None:
    page.goto("/tasks")
    task = create_task(hub, title="Live list entry", spec="FAKE_SLEEP=1.5", agent="web-1", target_repo="api")
    row = page.locator("#tasks-body tr", has=page.get_by_role("link", name="Live list entry"))
    expect(row).to_be_visible()  # a new task appears without a reload
    expect(row.locator(".pill")).to_have_text("completed", timeout=30_000)
    hub.wait_final(task["id"])


def test_page_opened_mid_task_shows_everything_once_across_reconnects(page: Any, hub: Any, agent: Any) -> None:
    task = create_task(hub, title="Long run", spec="FAKE_LINES=40 FAKE_LINE_DELAY=0.15", agent="web-1",
                       target_repo="web", runner="claude")
    wait_output(hub, task["id"], 200)  # it has printed something already
    page.goto(f"/tasks/{task['id']}")
    transcript = page.locator("#transcript")
    expect(transcript.get_by_text("line 10 of 40", exact=True)).to_be_visible(timeout=30_000)
    # the connection drops and comes back, from where the page is ...
    page.evaluate("Orc.taskStream.reconnect()")
    expect(transcript.get_by_text("line 15 of 40", exact=True)).to_be_visible(timeout=30_000)
    # the reader scrolls up: auto-scroll pauses, and "Jump to live" appears with new output
    scroller = page.locator("#output-scroll")
    scroller.evaluate("n => { n.scrollTop = 0; n.dispatchEvent(new Event('scroll')); }")
    jump = page.get_by_role("button", name="↓ Jump to live")
    expect(jump).to_be_visible()
    assert scroller.evaluate("n => n.scrollTop") == 0
    jump.click()
    expect(jump).to_be_hidden()
    assert scroller.evaluate("n => n.scrollHeight - n.scrollTop - n.clientHeight") < 32
    # ... and a stream replaying from 0 (a stale Last-Event-ID) must not duplicate anything
    page.evaluate("Orc.taskStream.reconnect(0)")
    expect(page.locator("#task-status")).to_have_text("completed", timeout=30_000)
    expect(page.locator("#stream-state")).to_have_text("Ended · completed")
    assert page.evaluate("Orc.taskStream.ended()") is True
    stored = hub.output(task["id"])
    assert page.evaluate("Orc.taskStream.offset()") == len(stored)
    assert page.locator("#raw-output").evaluate("n => n.textContent") == stored.decode()
    for i in range(1, 41):
        expect(transcript.get_by_text(f"line {i} of 40", exact=True)).to_have_count(1)


def test_hidden_tab_lets_go_of_the_stream_and_resumes(page: Any, hub: Any, agent: Any) -> None:
    task = create_task(hub, title="Background tab", spec="FAKE_LINES=20 FAKE_LINE_DELAY=0.25", agent="web-1",
                       target_repo="api", runner="claude")
    page.goto(f"/tasks/{task['id']}")
    expect(page.locator("#transcript").get_by_text("line 3 of 20", exact=True)).to_be_visible(timeout=30_000)
    visibility = """hidden => {
        Object.defineProperty(document, 'hidden', {value: hidden, configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
    }"""
    page.evaluate("Orc.sleepAfterMs = 0")
    page.evaluate(visibility, True)
    expect(page.locator("#stream-state")).to_have_text("Paused")
    hub.wait_final(task["id"])  # the rest of the output arrives while the tab sleeps
    page.evaluate(visibility, False)
    expect(page.locator("#stream-state")).to_have_text("Ended · completed")
    stored = hub.output(task["id"])
    assert page.locator("#raw-output").evaluate("n => n.textContent") == stored.decode()


def test_cancel_a_running_task(page: Any, hub: Any, agent: Any) -> None:
    task = create_task(hub, title="Sleepy", spec="FAKE_LINES=1 FAKE_SLEEP=60", agent="web-1", target_repo="api")
    hub.wait_status(task["id"], "running")
    page.goto("/agents")
    row = page.locator("#agents-body tr", has=page.get_by_text("web-1", exact=True))
    row.locator("td[data-label=Running]").get_by_role("link", name="Sleepy").click()  # the agent's running task
    expect(page).to_have_url(f"{hub.url}/tasks/{task['id']}")
    expect(page.locator("#task-status")).to_have_text("running")
    page.get_by_role("button", name="Cancel task").click()
    page.get_by_role("dialog", name="Are you sure?").get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status").filter(has_text="Cancel requested")).to_be_visible()
    expect(page.locator("#task-status")).to_have_text("cancelled", timeout=30_000)
    expect(page.get_by_role("button", name="Cancel task")).to_be_hidden()
    assert hub.wait_final(task["id"])["status"] == "cancelled"


def test_unknown_task_and_active_filter(page: Any, hub: Any) -> None:
    response = page.goto("/tasks/00000000-0000-4000-8000-000000000000")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    shoot(page, "not-found")
    page.goto("/tasks?status=active")
    expect(page.get_by_role("link", name="Active")).to_have_attribute("aria-current", "true")


def test_a_failed_task_says_why(page: Any, hub: Any, agent: Any) -> None:
    task = create_task(hub, title="Doomed", spec="FAKE_LINES=1 FAKE_FAIL", agent="web-1", target_repo="web",
                       runner="claude")
    page.goto(f"/tasks/{task['id']}")
    expect(page.locator("#task-status")).to_have_text("failed", timeout=30_000)
    expect(page.locator("#t-error")).to_be_visible()
    expect(page.locator("#t-exit")).to_have_text("1")
    result = page.locator("#transcript .t-result")
    expect(result).to_have_class(re.compile(r"\bis-error\b"))
    expect(result).to_contain_text("failed")
    shoot(page, "task-failed")


def test_a_waiting_task_says_why_and_agents_show_runners(page: Any, hub: Any, agent: Any) -> None:
    task = create_task(hub, title="Nowhere", spec="FAKE_LINES=1", target_repo="nowhere")
    page.goto(f"/tasks/{task['id']}")
    expect(page.locator("#output-waiting")).to_have_text("Not started: no agent has repo nowhere")
    hub.api("POST", f"/tasks/{task['id']}/cancel", json={})
    page.goto("/agents")
    runners = page.locator("#agents-body tr", has_text="web-1").locator("td[data-label=Runners]")
    expect(runners).to_contain_text("claude")
