"""Accessibility and layout basics on every page: every control has a label, every button
and link a name, one h1, and tables collapse to cards at phone width."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from browser_helpers import PHONE, create_task

UNNAMED = """() => {
  const bad = [];
  const visible = n => !!(n.offsetWidth || n.offsetHeight || n.getClientRects().length);
  document.querySelectorAll('input:not([type=hidden]), select, textarea').forEach(n => {
    if (!(n.labels && n.labels.length) && !n.getAttribute('aria-label') && !n.getAttribute('aria-labelledby'))
      bad.push('control ' + (n.id || n.name));
  });
  document.querySelectorAll('button, a[href]').forEach(n => {
    if (visible(n) && !(n.textContent.trim() || n.getAttribute('aria-label'))) bad.push(n.tagName + ' ' + n.outerHTML.slice(0, 80));
  });
  if (document.querySelectorAll('h1').length !== 1) bad.push('h1 count ' + document.querySelectorAll('h1').length);
  return bad;
}"""


def test_every_page_names_its_controls(page: Any, hub: Any, agent: Any) -> None:
    task = create_task(hub, title="a11y", spec="FAKE_LINES=1", agent="web-1", target_repo="web")
    for path in ("/agents", "/tasks", "/tasks/new", "/interventions", f"/tasks/{task['id']}"):
        page.goto(path)
        expect(page.locator("h1")).to_be_visible()
        assert page.evaluate(UNNAMED) == [], path
    page.goto("/agents")
    page.get_by_role("button", name="Register agent").click()
    assert page.evaluate(UNNAMED) == []
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Register an agent")).to_be_hidden()
    expect(page.get_by_role("button", name="Register agent")).to_be_focused()  # focus comes back
    # keyboard: on a fresh page the first Tab reaches the skip link
    page.goto("/tasks")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    hub.wait_final(task["id"])


def test_tables_collapse_to_cards_on_a_phone(page: Any, agent: Any) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/agents")
    expect(page.locator("table[aria-label=Agents] thead")).to_be_hidden()
    expect(page.locator("#agents-body tr").first).to_be_visible()
    assert page.evaluate("document.getElementById('agents-body').getBoundingClientRect().width") <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    page.goto("/tasks")
    expect(page.locator("table[aria-label=Tasks] thead")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
