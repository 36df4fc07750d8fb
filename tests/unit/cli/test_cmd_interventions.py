"""`orchestratia interventions ...` against a stand-in hub."""

from __future__ import annotations

import json

import httpx

from .stand_in import TASK, run


WITHDRAWN = {
    "id": "99999999-8888-4777-8666-555555555555", "task_id": TASK["id"], "task_title": "t", "agent": "dev-1",
    "status": "withdrawn", "question": "Anyone there?", "context": None, "response": None, "answered_by": None,
    "created_at": "2026-01-01T00:00:00+00:00", "answered_at": None, "withdrawn_at": "2026-01-01T00:00:05+00:00",
}


def test_interventions_list_takes_withdrawn(hub, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert "withdrawn" in run("interventions", "list", "--help").stdout
    seen = hub(lambda r: httpx.Response(200, json=[WITHDRAWN]))
    result = run("interventions", "list", "--status", "withdrawn")
    assert result.exit_code == 0, result.output
    assert seen[0].url.path == "/api/admin/interventions" and seen[0].url.params["status"] == "withdrawn"
    row = next(line for line in result.stdout.splitlines() if WITHDRAWN["id"] in line)
    assert "withdrawn" in row and "Anyone there?" in row
    shown = json.loads(run("interventions", "list", "--status", "withdrawn", "--json").stdout)
    assert shown == [WITHDRAWN]


def test_a_hostile_question_is_shown_not_obeyed(hub, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    evil = {**WITHDRAWN, "status": "pending", "question": "ok?\x1b]52;c;eA==\x07", "agent": "a\x1b[2J",
            "task_title": "\x1b]0;t\x07"}
    hub(lambda r: httpx.Response(200, json=[evil]))
    result = run("interventions", "list")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "ok?␛]52;c;eA==␇" in result.stdout and "a␛[2J" in result.stdout
