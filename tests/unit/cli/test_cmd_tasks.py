"""`orchestratia tasks ...` against a stand-in hub: the request bodies, output, prefixes."""

from __future__ import annotations

import json

import httpx

from .stand_in import TASK, run


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
