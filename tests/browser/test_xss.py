"""Everything user-supplied is inert: titles, specs, output (HTML, <script>, escape
sequences) show as text; nothing runs."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from browser_helpers import UUID_RE, shoot

EVIL_TITLE = '<img src=x onerror="window.__xss=1"> Evil <b>title</b>'
EVIL_SPEC = r"""printf '%s\n' '<script>window.__xss=1</script>' '<img src=x onerror="window.__xss=2">'
printf '\033[31mred alert\033[0m and \033[1;32mbold green\033[0m \033[38;5;208morange\033[0m\n'
printf '\033]0;window title\007after-osc \033[2Kcleared\r\n'
printf 'tab\there & &amp; "quotes" </pre></div>\n'
"""


def test_output_and_fields_are_rendered_inert(page: Any, hub: Any, agent: Any) -> None:
    page.goto("/tasks/new")
    page.get_by_label("Agent", exact=True).select_option("web-1")
    page.get_by_label("Title").fill(EVIL_TITLE)
    page.get_by_label("Spec").fill(EVIL_SPEC)
    page.get_by_label("Runner").select_option("shell")
    page.get_by_role("button", name="Create task").click()
    page.wait_for_url(re.compile(rf"/tasks/{UUID_RE}$"))
    expect(page.locator("#task-status")).to_have_text("completed", timeout=30_000)
    raw = page.locator("#raw-output")
    expect(raw).to_contain_text("<script>window.__xss=1</script>")
    expect(raw).to_contain_text('<img src=x onerror="window.__xss=2">')
    expect(raw).to_contain_text('tab\there & &amp; "quotes" </pre></div>')
    expect(raw.locator("span.a-fg-1")).to_have_text("red alert")
    expect(raw.locator("span.a-fg-10.a-b, span.a-fg-2.a-b")).to_have_text("bold green")
    expect(raw.locator("span", has_text="orange")).to_have_count(1)
    expect(raw).to_contain_text("after-osc cleared")
    expected = ('<script>window.__xss=1</script>\n<img src=x onerror="window.__xss=2">\n'
                'red alert and bold green orange\nafter-osc cleared\ntab\there & &amp; "quotes" </pre></div>\n')
    assert expected in raw.evaluate("n => n.textContent")  # one line per line: no stray CRs
    assert "\x1b" not in raw.evaluate("n => n.textContent") and "window title" not in raw.inner_text()
    expect(page.get_by_role("heading", level=1)).to_have_text(EVIL_TITLE)
    shoot(page, "task-xss-output")
    page.get_by_text("Spec", exact=True).click()
    expect(page.locator(".spec pre")).to_contain_text("<script>window.__xss=1</script>")
    # the raw view holds only the page's own blocks (samp.out-block) and ANSI spans
    inert = "main script:not([type='application/json']), main img, #raw-output *:not(span):not(samp.out-block)"
    assert page.locator(inert).count() == 0
    assert page.evaluate("window.__xss") is None
    page.goto("/tasks")
    expect(page.get_by_role("link", name=EVIL_TITLE)).to_be_visible()
    assert page.locator("main img").count() == 0
    assert page.evaluate("window.__xss") is None
