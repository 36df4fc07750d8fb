"""The admin API client: every failure is one line saying what was wrong and what to do."""

from __future__ import annotations

import httpx

from orchestratia.cli import client as client_mod

from .stand_in import run


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


def test_bad_ca_bundle_is_one_line(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("ORCHESTRATIA_HUB_URL", "https://hub.test")
    monkeypatch.setenv("ORCHESTRATIA_TOKEN", "tok")
    result = run("--ca-bundle", str(tmp_path / "missing.pem"), "tasks", "list")
    assert result.exit_code == 1 and result.stderr.startswith("error: cannot use the CA bundle")


def test_tls_is_verified_by_default() -> None:
    assert client_mod.tls_verify(None) is True


def test_an_expired_token_gives_its_advice_once(hub) -> None:
    hub(lambda r: httpx.Response(401, json={"detail": "session expired or unknown: log in again (POST /api/admin/login)"}))
    result = run("tasks", "list")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: the hub at http://hub.test refused the credentials (session expired or unknown): run `orchestratia login "
        "--hub URL --username admin` (or set ORCHESTRATIA_HUB_URL and ORCHESTRATIA_TOKEN)\n"
    )


def test_a_wrong_password_says_to_check_it(hub, monkeypatch) -> None:
    hub(lambda r: httpx.Response(401, json={"detail": "wrong username or password"}))
    result = run("login", "--hub", "http://hub.test", "--password-stdin", input="nope\n")
    assert result.exit_code == 1
    assert result.stderr == ("error: the hub at http://hub.test refused the credentials (wrong username or password): "
                             "check the user name and password\n")


def test_hub_messages_point_at_cli_commands_not_api_routes(hub) -> None:
    hub(lambda r: httpx.Response(404, json={"detail": "agent 'x' not found (see GET /api/admin/agents)"}))
    result = run("tasks", "create", "--title", "t", "--spec", "s", "--agent", "x")
    assert result.stderr == "error: not found: agent 'x' not found (see `orchestratia agents list`)\n"


def test_an_error_quoting_an_agent_is_shown_not_obeyed(hub) -> None:
    hub(lambda r: httpx.Response(409, json={"detail": "agent 'evil\x1b]0;t\x07' is revoked"}))
    result = run("tasks", "create", "--title", "t", "--spec", "s", "--agent", "evil")
    assert result.stderr == "error: conflict: agent 'evil␛]0;t␇' is revoked\n"
