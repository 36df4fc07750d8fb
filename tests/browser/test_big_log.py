"""A big log on the task page: the tail shows at once, earlier output on demand, the DOM
stays bounded (finished and live tasks), and the transcript renders from the tail."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import expect

from browser_helpers import create_task, shoot, wait_for, wait_output

LINE = 80  # bytes per line, newline included: 300,000 lines make 24 MB
MAX_LINES = 10_000  # output_log.js MAX_LINES: the raw view's cap while following


def _lines_script(count: int, first: int = 0, pause_every: int = 0, pause: float = 0.0) -> str:
    """A shell spec printing ``count`` numbered lines of LINE bytes."""
    pad = LINE - len("line 000000 ") - 1
    sleep = f"if pause_every and i % pause_every == pause_every - 1: out.flush(); time.sleep({pause})\n" if pause_every else ""
    return (
        "python3 - <<'EOF'\n"
        "import sys, time\n"
        f"out, pause_every = sys.stdout, {pause_every}\n"
        f"for i in range({first}, {first + count}):\n"
        f"    out.write('line %06d ' % i + 'x' * {pad} + '\\n')\n"
        + (f"    {sleep}" if sleep else "")
        + "EOF\n"
    )


def _raw_lines(page: Any) -> int:
    return page.locator("#raw-output").evaluate("n => (n.textContent.match(/\\n/g) || []).length")


def test_a_24_mb_log_shows_its_end_at_once(page: Any, hub: Any, agent: Any) -> None:
    task = create_task(hub, title="Big log", spec=_lines_script(300_000), agent="web-1", target_repo="api",
                       runner="shell")
    done = hub.wait_final(task["id"], timeout=600)
    assert done["status"] == "completed" and done["output_size"] == 300_000 * LINE, done

    started = time.monotonic()
    page.goto(f"/tasks/{task['id']}")
    last = page.locator("#raw-output").get_by_text("line 299999", exact=False)
    expect(last).to_be_visible(timeout=60_000)
    seconds = time.monotonic() - started
    print(f"\n24 MB log ({done['output_size']} bytes, 300,000 lines): last line visible {seconds:.2f} s after opening")
    expect(page.locator("#stream-state")).to_have_text("Ended · completed")
    scroller = page.locator("#output-scroll")
    assert scroller.evaluate("n => n.scrollHeight - n.scrollTop - n.clientHeight") < 32  # at the end, in view
    shown = _raw_lines(page)
    assert 1000 <= shown <= MAX_LINES, shown
    note = page.locator("#earlier-note")
    expect(note).to_contain_text(re.compile(r"2\d\.\d MiB of earlier output not shown"))
    expect(page.get_by_role("link", name="Download raw log")).to_be_visible()
    expect(page.locator("#output-window")).to_have_text(re.compile(r"^Showing the last [\d,]+ lines$"))
    shoot(page, "task-big-log")

    first = page.evaluate("Orc.taskStream.firstOffset()")
    page.get_by_role("button", name="Load earlier output").click()
    wait_for(lambda: page.evaluate("Orc.taskStream.firstOffset()") < first, 15, "the earlier output")
    assert _raw_lines(page) > shown
    assert page.evaluate("Orc.taskStream.firstOffset()") % LINE == 0  # earlier output starts at a line
    expected_first = page.evaluate("Orc.taskStream.firstOffset()") // LINE
    text = page.locator("#raw-output").evaluate("n => n.textContent.slice(0, 12)")
    assert text == f"line {expected_first:06d} ", text
    # the reader stays where they were: the old first line is still in view, not the new top
    assert scroller.evaluate("n => n.scrollTop") > 0
    scroller.evaluate("n => { n.scrollTop = 0; }")
    shoot(page, "task-big-log-earlier")


def test_a_live_task_keeps_the_page_bounded(page: Any, hub: Any, agent: Any) -> None:
    total = 30_000
    task = create_task(hub, title="Chatty", spec=_lines_script(total, pause_every=1500, pause=0.2), agent="web-1",
                       target_repo="api", runner="shell")
    wait_output(hub, task["id"], LINE)
    page.goto(f"/tasks/{task['id']}")
    expect(page.locator("#stream-state")).to_have_text("Ended · completed", timeout=120_000)
    expect(page.locator("#raw-output").get_by_text(f"line {total - 1:06d}", exact=False)).to_be_visible()
    stored = hub.output(task["id"])
    assert page.evaluate("Orc.taskStream.offset()") == len(stored) == total * LINE
    shown = _raw_lines(page)
    assert shown <= MAX_LINES + 2000, shown  # the cap, give or take the last batch
    assert page.evaluate("Orc.taskStream.shownLines()") == shown
    first = page.evaluate("Orc.taskStream.firstOffset()")
    assert first > 0 and stored[first:].decode() == page.locator("#raw-output").evaluate("n => n.textContent")
    expect(page.locator("#earlier-note")).to_contain_text("older ones leave as new output arrives")
    shoot(page, "task-live-bounded")


def test_the_transcript_renders_from_the_tail(page: Any, hub: Any, agent: Any) -> None:
    task = create_task(hub, title="Wordy claude", spec="FAKE_LINES=20000", agent="web-1", target_repo="web",
                       runner="claude")
    done = hub.wait_final(task["id"], timeout=180)
    assert done["status"] == "completed" and done["output_size"] > 2_000_000, done
    page.goto(f"/tasks/{task['id']}")
    transcript = page.locator("#transcript")
    expect(transcript.get_by_text("line 20000 of 20000", exact=True)).to_be_visible(timeout=30_000)
    expect(transcript.locator(".t-result")).to_contain_text("Fake claude done")
    expect(page.get_by_role("button", name="Transcript")).to_have_attribute("aria-pressed", "true")
    assert transcript.evaluate("n => n.childElementCount") <= 6000
    expect(transcript.get_by_text("line 1 of 20000", exact=True)).to_have_count(0)  # not loaded: the tail only
    page.get_by_role("button", name="Load earlier output").click()
    expect(transcript.get_by_text(re.compile(r"^line \d+ of 20000$")).first).to_be_visible()
    shoot(page, "task-transcript-tail")
