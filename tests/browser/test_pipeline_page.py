"""A pipeline's page: the graph by levels with live statuses, agent text inert, each member's
page linking back, and cancelling the pipeline from the page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from browser_helpers import shoot
from test_a11y import UNNAMED

EVIL = '<img src=x onerror="window.__xss=1">'


def test_pipeline_graph_is_live_and_cancels(page: Any, hub: Any, agent: Any, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    body = {"name": "release <b>train</b>", "tasks": [
        {"name": "fetch", "title": "Fetch sources", "spec": "FAKE_LINES=1", "agent": agent.name},
        {"name": "build", "title": "Build", "needs": ["fetch"], "agent": agent.name,
         "spec": f"FAKE_LINES=1 FAKE_WAIT_FOR_FILE={gate} FAKE_WAIT_TIMEOUT=90"},
        {"name": "docs", "title": EVIL, "needs": ["fetch"], "spec": "FAKE_LINES=1", "agent": agent.name},
        {"name": "ship", "title": "Ship it", "needs": ["build", "docs"], "spec": "FAKE_LINES=1", "agent": agent.name},
    ]}
    r = hub.api("POST", "/pipelines", json=body)
    assert r.status_code == 201, r.text
    made = r.json()
    try:
        page.goto(f"/pipelines/{made['id']}")
        expect(page.get_by_role("heading", name="release <b>train</b>")).to_be_visible()  # as text
        graph = page.locator("#pipeline-graph")
        expect(graph.locator(".pnode")).to_have_count(4)
        node = {n: graph.locator(f'.pnode[data-name="{n}"]') for n in ("fetch", "build", "docs", "ship")}
        # live: no reload between these
        expect(node["fetch"]).to_have_attribute("class", re.compile(r"\bpnode-completed\b"), timeout=30_000)
        expect(node["build"]).to_have_attribute("class", re.compile(r"\bpnode-running\b"), timeout=30_000)
        expect(node["docs"]).to_have_attribute("class", re.compile(r"\bpnode-completed\b"), timeout=30_000)
        expect(node["ship"].locator(".pnode-status")).to_have_text("queued")
        expect(node["build"].locator(".pnode-status")).to_have_text("running")
        # levels: fetch left, build and docs one column right, ship right of both
        xs = {n: float(node[n].locator("rect").get_attribute("x")) for n in node}
        assert xs["fetch"] < xs["build"] == xs["docs"] < xs["ship"]
        expect(graph.locator("path.edge")).to_have_count(4)
        # an agent-provided title is text, never markup
        expect(node["docs"].locator(".pnode-label")).to_have_text(EVIL[:21] + "…")
        expect(graph.locator("img")).to_have_count(0)
        assert page.evaluate("window.__xss") is None
        expect(page.locator("#pipeline-status")).to_have_text("running")
        assert page.evaluate(UNNAMED) == []  # every control and link named, one h1
        shoot(page, "pipeline-graph")

        node["build"].click()
        page.wait_for_url(re.compile(r"/tasks/"))
        expect(page.get_by_role("heading", name="Build")).to_be_visible()
        page.locator("#task-pipeline").click()
        page.wait_for_url(re.compile(rf"/pipelines/{made['id']}$"))

        page.get_by_role("button", name="Cancel pipeline").click()
        page.get_by_role("dialog", name="Are you sure?").get_by_role("button", name="Confirm").click()
        expect(page.locator("#pipeline-status")).to_have_text("cancelled")
        expect(node["build"]).to_have_attribute("class", re.compile(r"\bpnode-cancelled\b"), timeout=30_000)
        expect(node["ship"]).to_have_attribute("class", re.compile(r"\bpnode-cancelled\b"))
        expect(node["fetch"]).to_have_attribute("class", re.compile(r"\bpnode-completed\b"))
        expect(page.get_by_role("button", name="Cancel pipeline")).to_be_hidden()
        shoot(page, "pipeline-cancelled")
        node["ship"].click()
        expect(page.locator("#t-cancel-reason")).to_contain_text("cancelled by admin")
        page.get_by_role("link", name="Pipelines").click()
        row = page.get_by_role("row").filter(has_text="release <b>train</b>")
        expect(row).to_contain_text("cancelled")
        expect(row).to_contain_text("2 completed")  # fetch and docs
        assert page.evaluate(UNNAMED) == []
    finally:
        gate.touch()
        for n in made["nodes"]:
            hub.wait_final(n["task_id"], timeout=60)
