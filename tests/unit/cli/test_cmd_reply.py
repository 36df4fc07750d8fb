"""`orchestratia tasks reply ID MESSAGE` against a stand-in hub: the contract body, --json, the
hub's refusal shown as it is, an empty message refused before any request."""

from __future__ import annotations

import json

import httpx

from .stand_in import TASK, run

REPLY = {**TASK, "id": "22222222-2222-4222-8222-222222222222", "parent_id": TASK["id"], "status": "assigned",
         "queue_reason": "agent dev-1 offline"}


def test_reply_posts_the_message_and_prints_the_new_task(hub) -> None:
    seen = hub(lambda r: httpx.Response(201, json=REPLY))
    result = run("tasks", "reply", TASK["id"], "now add tests", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["parent_id"] == TASK["id"]
    assert seen[0].url.path == f"/api/admin/tasks/{TASK['id']}/replies"
    assert json.loads(seen[0].content) == {"message": "now add tests"}
    human = run("tasks", "reply", TASK["id"], "more")
    assert human.exit_code == 0 and REPLY["id"] in human.stdout and "agent dev-1 offline" in human.output


def test_a_refused_reply_says_why_and_an_empty_one_is_not_sent(hub) -> None:
    detail = f"task {TASK['id']} is running: a reply continues a task that has ended; wait for it"
    seen = hub(lambda r: httpx.Response(409, json={"detail": detail}))
    result = run("tasks", "reply", TASK["id"], "more")
    assert result.exit_code == 1 and detail in result.output
    before = len(seen)
    empty = run("tasks", "reply", TASK["id"], "   ")
    assert empty.exit_code != 0 and "empty" in empty.output and len(seen) == before
