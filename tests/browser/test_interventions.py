"""/interventions: the live badge on every page, pending first, answering, answered ones
with who and when; the agent receives the answer over v1."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from browser_helpers import create_task, shoot


def test_answer_an_intervention(page: Any, hub: Any, agent: Any) -> None:
    key = agent.api_key()
    task = create_task(hub, title="Migrate the DB", spec="FAKE_LINES=1 FAKE_SLEEP=60", agent="web-1", target_repo="api")
    hub.wait_status(task["id"], "running")
    page.goto("/tasks")
    badge = page.locator("#nav-badge")
    expect(badge).to_be_hidden()

    help_body = {"question": "Drop the <b>legacy</b> table before migrating?",
                 "context": "Found 3 tables:\n  users\n  legacy\n  <script>alert(1)</script>"}
    r = httpx.post(f"{hub.url}/api/v1/agents/tasks/{task['id']}/help", json=help_body,
                   headers={"X-API-Key": key}, timeout=10)
    assert r.status_code == 201, r.text
    intervention_id = r.json()["intervention_id"]
    expect(badge).to_have_text("1")  # live, on a page that was already open
    expect(badge).to_have_attribute("aria-label", "1 pending intervention")
    row = page.locator("#tasks-body tr", has=page.get_by_role("link", name="Migrate the DB"))
    expect(row.get_by_text("needs answer")).to_be_visible()

    page.get_by_role("link", name="Interventions").click()
    card = page.locator("article.intervention", has_text="Drop the <b>legacy</b> table before migrating?")
    expect(card).to_be_visible()
    expect(card.get_by_role("link", name="Migrate the DB")).to_have_attribute("href", f"/tasks/{task['id']}")
    card.get_by_text("Context").click()
    expect(card.locator("pre")).to_contain_text("<script>alert(1)</script>")
    shoot(page, "interventions-pending")

    card.get_by_label("Your answer").fill("Yes, drop it — it is unused since 2023.")
    card.get_by_role("button", name="Send answer").click()
    expect(page.get_by_role("status").filter(has_text="Answer sent")).to_be_visible()
    expect(badge).to_be_hidden()
    done = page.locator("article.intervention.done", has_text="Drop the <b>legacy</b> table")
    expect(done).to_contain_text("Answered by admin")
    expect(done).to_contain_text("Yes, drop it")
    shoot(page, "interventions")

    seen = httpx.get(f"{hub.url}/api/v1/agents/interventions/{intervention_id}", headers={"X-API-Key": key}, timeout=10)
    assert seen.json()["status"] == "answered" and seen.json()["response"].startswith("Yes, drop it")
    hub.api("POST", f"/tasks/{task['id']}/cancel", json={})
    hub.wait_final(task["id"])


def test_pending_question_on_the_task_page(page: Any, hub: Any, agent: Any) -> None:
    key = agent.api_key()
    task = create_task(hub, title="Ask on the page", spec="FAKE_LINES=1 FAKE_SLEEP=60", agent="web-1", target_repo="web")
    hub.wait_status(task["id"], "running")
    page.goto(f"/tasks/{task['id']}")
    expect(page.locator("#task-status")).to_have_text("running")
    r = httpx.post(f"{hub.url}/api/v1/agents/tasks/{task['id']}/help", json={"question": "Which branch?"},
                   headers={"X-API-Key": key}, timeout=10)
    assert r.status_code == 201, r.text
    expect(page.get_by_role("link", name="waiting for a human")).to_be_visible()  # live
    expect(page.locator("#new-question")).to_be_visible()
    page.get_by_role("link", name="Show it here").click()
    callout = page.get_by_role("region", name="Question from the agent")
    expect(callout).to_contain_text("Which branch?")
    callout.get_by_label("Your answer").fill("main")
    callout.get_by_role("button", name="Send answer").click()
    expect(page).to_have_url(f"{hub.url}/tasks/{task['id']}?notice=answered")
    expect(page.get_by_role("region", name="Question from the agent")).to_have_count(0)
    hub.api("POST", f"/tasks/{task['id']}/cancel", json={})
    hub.wait_final(task["id"])
