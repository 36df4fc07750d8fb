"""A stand-in hub for the CLI's unit tests: httpx's MockTransport behind the real HubClient,
and the real Typer app run with CliRunner (no process, no network)."""

from __future__ import annotations

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

Handler = Callable[[httpx.Request], httpx.Response]


def stand_in_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Callable[[Handler], list[httpx.Request]]:
    """Log the CLI in to ``http://hub.test``; ``install(handler)`` answers its requests and
    returns the list of requests seen."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("ORCHESTRATIA_HUB_URL", "http://hub.test")
    monkeypatch.setenv("ORCHESTRATIA_TOKEN", "tok")
    seen: list[httpx.Request] = []

    def install(handler: Handler) -> list[httpx.Request]:
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


def sse(*events: tuple[str, Any]) -> bytes:
    """An SSE body from ``(event, data)`` pairs (data as JSON)."""
    import json

    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()
