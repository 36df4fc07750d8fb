"""The CLI's commands against a stand-in hub (httpx MockTransport): parsing, output, errors."""

from __future__ import annotations

import json
from typing import Any, Callable

import httpx
import pytest
from typer.testing import CliRunner

from orchestratia.cli import client as client_mod
from orchestratia.cli.main import app

TASK = {
    "id": "11111111-2222-3333-4444-555555555555", "title": "t", "spec": "s", "status": "completed", "agent": "dev-1",
    "agent_id": None, "target_repo": "work", "runner": "claude", "timeout_minutes": None, "result": {"cost_usd": 0.1},
    "error": None, "exit_code": 0, "waiting_for_human": False, "output_size": 3, "created_at": "2026-01-01T00:00:00+00:00",
    "assigned_at": None, "started_at": "2026-01-01T00:00:01+00:00", "finished_at": "2026-01-01T00:00:02+00:00",
}


@pytest.fixture
def hub(monkeypatch, tmp_path) -> Callable[[Callable[[httpx.Request], httpx.Response]], list[httpx.Request]]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("ORCHESTRATIA_HUB_URL", "http://hub.test")
    monkeypatch.setenv("ORCHESTRATIA_TOKEN", "tok")
    seen: list[httpx.Request] = []

    def install(handler: Callable[[httpx.Request], httpx.Response]) -> list[httpx.Request]:
        real = httpx.Client

        def fake_client(*args: Any, **kwargs: Any) -> httpx.Client:
            def record(request: httpx.Request) -> httpx.Response:
                seen.append(request)
                return handler(request)

            kwargs["transport"] = httpx.MockTransport(record)
            return real(*args, **kwargs)

        monkeypatch.setattr(client_mod.httpx, "Client", fake_client)
        return seen

    return install


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


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


def test_errors_are_one_line_with_advice(hub) -> None:
    hub(lambda r: httpx.Response(401, json={"detail": "invalid or expired token"}))
    result = run("agents", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the hub at http://hub.test refused the credentials (invalid or expired token)")
    assert "orchestratia login" in result.stderr and result.stderr.count("\n") == 1


def test_connection_refused_message(hub) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    hub(refuse)
    result = run("tokens", "list")
    assert result.exit_code == 1 and result.stderr.startswith("error: cannot reach the hub at http://hub.test: [Errno 111]")


def test_validation_errors_are_readable(hub) -> None:
    detail = [{"loc": ["body", "title"], "msg": "String should have at least 1 character", "type": "x"}]
    hub(lambda r: httpx.Response(422, json={"detail": detail}))
    result = run("tasks", "create", "--title", " ", "--spec", "x")
    assert "title: String should have at least 1 character" in result.stderr


def test_watch_prints_output_and_exits_with_status(hub) -> None:
    body = (
        'id: 2\nevent: output\ndata: {"offset": 0, "length": 2, "stream": "stdout", "text": "hi"}\n\n'
        ": keep-alive\n\n"
        f"event: end\ndata: {json.dumps({**TASK, 'status': 'cancelled'})}\n\n"
    )
    hub(lambda r: httpx.Response(200, content=body.encode(), headers={"content-type": "text/event-stream"}))
    result = run("tasks", "watch", TASK["id"])
    assert result.stdout == "hi" and result.exit_code == 2 and "cancelled" in result.stderr


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.startswith("orchestratia ")


def test_spec_needs_exactly_one_source(hub) -> None:
    hub(lambda r: httpx.Response(201, json=TASK))
    result = run("tasks", "create", "--title", "x")
    assert result.exit_code == 1 and "--spec" in result.stderr


def test_admin_commands_do_not_import_the_hub_or_the_agent() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from orchestratia.cli import main; "
        "print([m for m in sys.modules if m.startswith(('fastapi', 'sqlalchemy', 'uvicorn', 'orchestratia.hub', "
        "'orchestratia.agent'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_hub_settings_errors_are_one_line(monkeypatch) -> None:
    result = run("hub", "serve", "--port", "99999")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: invalid hub settings: port:") and result.stderr.count("\n") == 1


def test_bad_ca_bundle_is_one_line(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("ORCHESTRATIA_HUB_URL", "https://hub.test")
    monkeypatch.setenv("ORCHESTRATIA_TOKEN", "tok")
    result = run("--ca-bundle", str(tmp_path / "missing.pem"), "tasks", "list")
    assert result.exit_code == 1 and result.stderr.startswith("error: cannot use the CA bundle")


def test_tls_is_verified_by_default() -> None:
    assert client_mod.tls_verify(None) is True


def test_hub_serve_preflight_is_one_line(tmp_path) -> None:
    closed = run("hub", "serve", "--database-url", "postgresql+asyncpg://nobody@127.0.0.1:1/x")
    assert closed.exit_code == 1 and closed.stderr.startswith("error: cannot reach the database at 127.0.0.1:1")
    (tmp_path / "file").write_text("")
    bad_dir = run("hub", "serve", "--data-dir", str(tmp_path / "file" / "sub"))
    assert bad_dir.exit_code == 1 and bad_dir.stderr.startswith("error: cannot create the data dir")


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


def test_every_intervention_status_has_a_colour() -> None:
    from orchestratia.cli import output
    from orchestratia.protocol import InterventionStatus

    styles = {s.value: output.status_text(s.value).style for s in InterventionStatus}
    assert all(styles.values()), styles
    assert styles["withdrawn"] not in (styles["pending"], styles["answered"])  # closed, not waiting, not answered
