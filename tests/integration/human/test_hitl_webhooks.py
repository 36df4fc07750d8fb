"""Outgoing webhooks from the real hub (ORCHESTRATIA_WEBHOOKS) to a real HTTP receiver on
loopback, for a task that asks a question, gets an answer and finishes."""

from __future__ import annotations

import json
import shlex
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from integration_harness import ORCHESTRATIA, Agent, Cli, Hub, kill_screen_sessions, wait_for
from orchestratia.hub.webhooks import SIGNATURE_HEADER, verify_signature

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


class Receiver:
    def __init__(self, fail_first: int = 0) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                failing = receiver.fail_first > 0
                receiver.fail_first -= 1
                if not failing:
                    receiver.requests.append((dict(self.headers), body))
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> dict[str, dict[str, Any]]:
        return {json.loads(body)["event"]: json.loads(body) for _, body in self.requests}


def test_webhooks_from_the_real_hub(tmp_path: Path) -> None:
    receiver = Receiver(fail_first=1)  # the first delivery is retried
    secret = "whsec-'quoted' $(not-run)"
    hub = Hub(tmp_path / "hub")
    hub.extra_env = {"ORCHESTRATIA_WEBHOOKS": json.dumps([{"url": receiver.url, "secret": secret}]),
                     "ORCHESTRATIA_PUBLIC_URL": hub.url}
    hub.start()
    agent = Agent(hub, tmp_path / "a", "hitl-webhooks")
    task_id = None
    try:
        agent.register().start()
        cli = Cli(hub, tmp_path / "cli")
        spec = f'echo "got=[$({shlex.quote(ORCHESTRATIA)} ask "Deploy on Friday?")]"'
        task_id = cli.create_task(spec, agent.name, "work", "Release 1.2", "--runner", "shell")["id"]
        wait_for(lambda: "intervention.requested" in receiver.events(), 30, "intervention.requested delivered")
        requested = receiver.events()["intervention.requested"]
        assert requested["data"]["question"] == "Deploy on Friday?" and requested["data"]["task_title"] == "Release 1.2"
        assert "Release 1.2" in requested["text"] and "Deploy on Friday?" in requested["text"]
        assert f"{hub.url}/interventions" in requested["text"]
        iid = requested["data"]["id"]
        assert hub.api("POST", f"/interventions/{iid}/answer", json={"response": "No."}).status_code == 200
        wait_for(lambda: {"intervention.answered", "task.finished"} <= set(receiver.events()), 30, "the other events")
        events = receiver.events()
        assert events["intervention.answered"]["data"]["response"] == "No."
        assert events["intervention.answered"]["data"]["answered_by"] == "admin"
        assert events["task.finished"]["data"]["status"] == "completed"
        assert events["task.finished"]["data"]["id"] == task_id
        for headers, body in receiver.requests:
            assert verify_signature(secret, body, headers[SIGNATURE_HEADER]), headers
            assert headers["X-Orchestratia-Event"] == json.loads(body)["event"]
        assert len(receiver.requests) == len({json.loads(b)["delivery_id"] for _, b in receiver.requests})
    finally:
        agent.stop()
        hub.stop()
        receiver.server.shutdown()
        if task_id:
            kill_screen_sessions([task_id])
