"""The JS renderers on their own, in the browser: the ANSI converter (state across chunks,
sequences split anywhere, only text nodes and spans) and the stream-json transcript."""

from __future__ import annotations

import json
from typing import Any

import pytest

SAMPLE = ("plain \x1b[31mred \x1b[1mbold-red\x1b[0m \x1b[38;5;46mgreen256\x1b[39m \x1b[48;2;0;0;200mbluebg\x1b[0m\r\n"
          "\x1b]0;title\x07osc-gone \x1b[2K\x1b[Hcsi-gone\rcr-line\r\r\nend <b>&amp;</b>\x1b[7minv\x1b[27m")


@pytest.fixture
def js(page: Any) -> Any:
    page.goto("/agents")
    for name in ("ansi", "transcript"):
        page.add_script_tag(url=f"/dashboard/static/js/{name}.js")
    return page


def render(js: Any, parts: list[str]) -> dict[str, Any]:
    return js.evaluate("""parts => {
        const a = new Orc.Ansi(), box = document.createElement('pre');
        parts.forEach(p => box.appendChild(a.feed(p, false)));
        box.appendChild(a.feed('', true));
        const spans = [];  // runs of equal style (a chunk boundary may split a span in two)
        box.childNodes.forEach(n => {
          const cls = n.nodeType === 1 ? n.className : '';
          const last = spans[spans.length - 1];
          if (last && last[0] === cls) last[1] += n.textContent; else spans.push([cls, n.textContent]);
        });
        const others = box.querySelectorAll(':not(span)').length;
        return {text: box.textContent, spans, others};
    }""", parts)


def test_ansi_is_the_same_however_the_stream_is_cut(js: Any) -> None:
    whole = render(js, [SAMPLE])
    assert whole["text"] == ("plain red bold-red green256 bluebg\nosc-gone csi-gone\ncr-line\nend <b>&amp;</b>inv")
    assert ["", "plain "] == whole["spans"][0]
    assert ["a-fg-1", "red "] in whole["spans"] and ["a-fg-1 a-b", "bold-red"] in whole["spans"]
    assert any(cls.startswith("a-fg-") and text == "green256" for cls, text in whole["spans"])
    assert any("a-bg-" in cls and text == "bluebg" for cls, text in whole["spans"])
    assert ["a-fg-inv a-bg-inv", "inv"] in whole["spans"]
    assert whole["others"] == 0
    for cut in range(1, len(SAMPLE)):
        assert render(js, [SAMPLE[:cut], SAMPLE[cut:]]) == whole, f"differs when cut at {cut}"
    assert render(js, list(SAMPLE)) == whole  # one character at a time


def test_transcript_pairs_tool_calls_and_results(js: Any) -> None:
    events = [
        {"type": "system", "subtype": "init", "model": "claude-x", "cwd": "/srv/web", "tools": ["Bash"]},
        {"type": "assistant", "message": {"content": [{"type": "text", "text": "I'll look <here>."},
                                                      {"type": "tool_use", "id": "t1", "name": "Bash",
                                                       "input": {"command": "ls <dir>"}}]}},
        {"type": "rate_limit_event"},
        {"type": "user", "message": {"content": [{"type": "tool_result", "tool_use_id": "t1", "is_error": True,
                                                  "content": [{"type": "text", "text": "ls: no such file"}]}]}},
        {"type": "result", "subtype": "error_max_turns", "is_error": True, "num_turns": 2, "total_cost_usd": 0.5,
         "errors": ["Reached maximum number of turns (2)"]},
    ]
    stream = "not json at all\n" + "".join(json.dumps(e) + "\n" for e in events)
    out = js.evaluate("""text => {
        const box = document.createElement('div');
        const t = new Orc.Transcript(box);
        for (let i = 0; i < text.length; i += 7) t.feed(text.slice(i, i + 7));
        t.flush();
        const card = box.querySelector('.tool-card');
        return {
          log: box.querySelector('.t-log').textContent,
          meta: box.querySelector('.t-meta').textContent,
          prose: box.querySelector('.t-text').textContent,
          cards: box.querySelectorAll('.tool-card').length,
          name: card.querySelector('.tool-name').textContent,
          brief: card.querySelector('.tool-brief').textContent,
          state: card.querySelector('.tool-state').textContent,
          error: card.classList.contains('is-error'),
          body: card.querySelector('.tool-body').textContent,
          result: box.querySelector('.t-result').textContent,
          resultError: box.querySelector('.t-result').classList.contains('is-error'),
          elements: [...box.querySelectorAll('*')].map(n => n.tagName).filter(t => !['DIV','SPAN','PRE','DETAILS','SUMMARY','SECTION','DL','DT','DD','UL','LI'].includes(t)),
        };
    }""", stream)
    assert out["log"] == "not json at all\n"
    assert out["meta"] == "Session started · claude-x · /srv/web · 1 tools"
    assert out["prose"] == "I'll look <here>."
    assert out["cards"] == 1 and out["name"] == "Bash" and out["brief"] == "ls <dir>"
    assert out["state"] == "error" and out["error"] is True and "ls: no such file" in out["body"]
    assert "failed" in out["result"] and "$0.5000" in out["result"] and "Reached maximum number of turns" in out["result"]
    assert out["resultError"] is True
    assert out["elements"] == []


def test_other_clis_json_does_not_count_as_a_transcript(js: Any) -> None:
    gemini = "".join(json.dumps(e) + "\n" for e in [
        {"type": "init", "session_id": "s", "model": "gemini-x"},
        {"type": "message", "role": "assistant", "content": "hello"},
        {"type": "result", "status": "success", "stats": {}},
    ])
    claude = json.dumps({"type": "assistant", "message": {"content": [{"type": "text", "text": "hi"}]}}) + "\n"
    counts = js.evaluate("""([gemini, claude]) => {
        const changes = [];
        const t = new Orc.Transcript(document.createElement('div'), x => changes.push(x.events));
        t.feed(gemini);
        const before = changes.length;
        t.feed(claude);
        return [before, changes.length];
    }""", [gemini, claude])
    assert counts == [0, 1]


def test_assistant_markdown_code_is_shown_as_code_and_stays_text(js: Any) -> None:
    text = "Run `make <test>` first:\n```bash\nmake test && echo '<img src=x onerror=alert(1)>'\n```\nThen **done**."
    out = js.evaluate("""text => {
        const box = document.createElement('div');
        box.appendChild(Orc.markdown(text));
        return {
          fences: [...box.querySelectorAll('pre.t-fence')].map(n => n.textContent),
          inline: [...box.querySelectorAll('code.t-code')].map(n => n.textContent),
          prose: [...box.querySelectorAll('.t-text')].map(n => n.textContent),
          tags: [...box.querySelectorAll('*')].map(n => n.tagName).filter(t => !['DIV','PRE','CODE'].includes(t)),
        };
    }""", text)
    assert out["fences"] == ["make test && echo '<img src=x onerror=alert(1)>'"]
    assert out["inline"] == ["make <test>"]
    assert out["prose"] == ["Run make <test> first:", "Then **done**."]
    assert out["tags"] == []
