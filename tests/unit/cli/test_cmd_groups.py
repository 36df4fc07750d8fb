"""`orchestratia groups ...` and the scheduling options of `tasks create`, against a stand-in hub."""

from __future__ import annotations

import json

import httpx

from .stand_in import TASK, run


def test_tasks_create_sends_labels_priority_and_group(hub) -> None:
    seen = hub(lambda r: httpx.Response(201, json=TASK))
    result = run("tasks", "create", "-t", "T", "-s", "x", "--label", "gpu", "-l", "os:linux", "--priority", "high",
                 "--group", "claude-team")
    assert result.exit_code == 0, result.output
    body = json.loads(seen[0].content)
    assert (body["labels"], body["priority"], body["group"]) == (["gpu", "os:linux"], "high", "claude-team")


def test_a_bad_priority_is_refused_before_any_request(hub) -> None:
    seen = hub(lambda r: httpx.Response(201, json=TASK))
    result = run("tasks", "create", "-t", "T", "-s", "x", "--priority", "urgent")
    assert result.exit_code != 0 and "--priority must be high, normal or low" in result.output and not seen


def test_groups_set_list_delete(hub) -> None:
    group = {"name": "claude-team", "max_active": 1, "active": 0, "queued": 2}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, json=[group] if request.method == "GET" else group)

    seen = hub(handler)
    result = run("groups", "set", "claude-team", "--max", "1")
    assert result.exit_code == 0 and "at most 1 at once" in result.stdout
    assert (seen[0].method, seen[0].url.path, json.loads(seen[0].content)) == (
        "PUT", "/api/admin/groups/claude-team", {"max_active": 1})
    listed = run("groups", "list")
    assert "claude-team" in listed.stdout and "2" in listed.stdout
    assert run("groups", "delete", "claude-team").exit_code == 0 and seen[-1].method == "DELETE"
    refused = run("groups", "set", "claude-team", "--max", "0")
    assert refused.exit_code != 0 and "--max must be at least 1" in refused.output
