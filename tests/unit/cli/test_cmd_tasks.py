"""`orchestratia tasks ...` against a stand-in hub: the request bodies, output, prefixes."""

from __future__ import annotations

import json

import httpx

from .stand_in import TASK, run, sse


def test_tasks_create_sends_the_contract_body(hub) -> None:
    seen = hub(lambda r: httpx.Response(201, json={**TASK, "status": "assigned"}))
    result = run("tasks", "create", "--title", "T", "--spec", "do it", "--repo", "r", "--agent", "a", "--runner", "shell",
                 "--timeout", "0.5", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "assigned"
    body = json.loads(seen[0].content)
    assert body == {"title": "T", "spec": "do it", "target_repo": "r", "agent": "a", "runner": "shell", "timeout_minutes": 0.5}
    assert seen[0].headers["Authorization"] == "Bearer tok" and seen[0].url.path == "/api/admin/tasks"


def test_whole_minutes_are_sent_as_integers(hub) -> None:
    seen = hub(lambda r: httpx.Response(201, json=TASK))
    assert run("tasks", "create", "--title", "T", "--spec", "x", "--timeout", "5").exit_code == 0
    assert json.loads(seen[0].content)["timeout_minutes"] == 5


def test_show_json_has_the_contract_keys(hub) -> None:
    hub(lambda r: httpx.Response(200, json=TASK))
    result = run("tasks", "show", TASK["id"], "--json")
    shown = json.loads(result.stdout)
    assert {"id", "status", "agent", "result", "error", "created_at", "started_at", "finished_at"} <= set(shown)


def test_human_table_and_prefix_lookup(hub) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/admin/tasks":
            return httpx.Response(200, json=[TASK])
        return httpx.Response(200, json=TASK)

    seen = hub(handler)
    assert "11111111" in run("tasks", "list").stdout
    result = run("tasks", "show", "1111")
    assert result.exit_code == 0 and "dev-1" in result.stdout
    assert seen[-1].url.path == f"/api/admin/tasks/{TASK['id']}"


def test_output_is_raw_bytes_across_pages(hub) -> None:
    pages = {"0": b"a\xffb", "3": b"cd", "5": b""}

    def handler(request: httpx.Request) -> httpx.Response:
        offset = request.url.params["offset"]
        body = pages[offset]
        return httpx.Response(200, content=body, headers={"X-Next-Offset": str(int(offset) + len(body))})

    seen = hub(handler)
    result = run("tasks", "output", TASK["id"])
    assert result.exit_code == 0 and result.stdout_bytes == b"a\xffbcd"
    assert [r.url.params["offset"] for r in seen] == ["0", "3", "5"]


def test_output_of_an_unknown_task_is_a_one_line_error(hub) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/output"):
            return httpx.Response(404, json={"detail": f"task {TASK['id']} not found"})
        return httpx.Response(200, json=TASK)

    hub(handler)
    result = run("tasks", "output", TASK["id"])
    assert result.exit_code == 1 and result.stderr.startswith("error: not found: task ") and result.stdout_bytes == b""


def test_watch_prints_output_and_exits_with_status(hub) -> None:
    body = (
        'id: 2\nevent: output\ndata: {"offset": 0, "length": 2, "stream": "stdout", "text": "hi"}\n\n'
        ": keep-alive\n\n"
        f"event: end\ndata: {json.dumps({**TASK, 'status': 'cancelled'})}\n\n"
    )
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/stream"):
            return httpx.Response(200, content=body.encode(), headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json={**TASK, "runner": "shell"})  # plain output, not a transcript

    hub(handler)
    result = run("tasks", "watch", TASK["id"])
    assert result.stdout == "hi" and result.exit_code == 2 and "cancelled" in result.stderr


def test_spec_needs_exactly_one_source(hub) -> None:
    hub(lambda r: httpx.Response(201, json=TASK))
    result = run("tasks", "create", "--title", "x")
    assert result.exit_code == 1 and "--spec" in result.stderr


def test_watch_of_an_unknown_prefix_exits_5_as_its_help_says(hub, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    hub(lambda r: httpx.Response(200, json=[TASK]))
    result = run("tasks", "watch", "9999")
    assert result.exit_code == 5 and "see `orchestratia tasks list`" in result.stderr
    assert "5: could not watch" in run("tasks", "watch", "--help").stdout


CLAUDE_OUTPUT = "\n".join(json.dumps(e) for e in [
    {"type": "system", "subtype": "init", "model": "opus", "cwd": "/w", "tools": ["Bash"]},
    {"type": "assistant", "message": {"content": [{"type": "text", "text": "Let me look."},
                                                  {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}]}},
    {"type": "user", "message": {"content": [{"type": "tool_result", "tool_use_id": "t1", "content": "a.py"}]}},
    {"type": "result", "subtype": "success", "is_error": False, "num_turns": 2, "total_cost_usd": 0.5, "duration_ms": 1500},
]) + "\n"


def claude_task_hub(hub, runner: str = "claude") -> None:
    body = sse(("output", {"offset": 0, "length": len(CLAUDE_OUTPUT), "stream": "stdout", "text": CLAUDE_OUTPUT}),
               ("end", {**TASK, "status": "completed"}))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/stream"):
            return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json={**TASK, "runner": runner})

    hub(handler)


def test_watch_of_a_claude_task_is_a_transcript(hub) -> None:
    claude_task_hub(hub)
    result = run("tasks", "watch", TASK["id"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "● session started · opus · /w · 1 tools", "Let me look.", "→ Bash  ls", "  ← Bash result:", "    a.py",
        "✓ finished (success)  cost $0.5000 · 2 turns · 1.5 s",
    ]


def test_watch_raw_keeps_the_stream_json(hub) -> None:
    claude_task_hub(hub)
    result = run("tasks", "watch", TASK["id"], "--raw")
    assert result.exit_code == 0 and result.stdout == CLAUDE_OUTPUT


def test_watch_of_another_runner_is_plain_safe_text(hub) -> None:
    claude_task_hub(hub, runner="codex")
    assert run("tasks", "watch", TASK["id"]).stdout == CLAUDE_OUTPUT


HOSTILE = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b]0;pwned\x07\x1b[2J"


def test_a_hostile_error_is_shown_not_obeyed(hub, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    task = {**TASK, "status": "failed", "error": f"boom{HOSTILE}", "agent": f"ev\x1b[2Jil",
            "result": {"summary": HOSTILE, "session_id": "\x1b[2J"}}
    hub(lambda r: httpx.Response(200, json=[task] if r.url.path == "/api/admin/tasks" else task))
    for args in (("tasks", "show", TASK["id"]), ("tasks", "list")):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout, args
        assert "ev␛[2Jil" in result.stdout
    assert "boom␛]52;c;cm0gLXJmIH4=␇␛]0;pwned␇␛[2J" in run("tasks", "show", TASK["id"]).stdout


def test_the_final_line_of_watch_is_shown_not_obeyed(hub) -> None:
    body = sse(("end", {**TASK, "status": "failed", "error": HOSTILE}))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/stream"):
            return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json={**TASK, "runner": "shell"})

    hub(handler)
    result = run("tasks", "watch", TASK["id"])
    assert result.exit_code == 1 and "\x1b" not in result.stderr
    assert result.stderr == f"\n[task {TASK['id']} failed: ␛]52;c;cm0gLXJmIH4=␇␛]0;pwned␇␛[2J]\n"
