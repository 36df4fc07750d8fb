"""Outgoing webhooks against a real HTTP receiver on loopback, fed by the real in-process bus."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from orchestratia.hub.events.in_process import InProcessBus
from orchestratia.protocol.events import AgentEvent, InterventionEvent, TaskEvent
from orchestratia.hub.webhooks import (
    SIGNATURE_HEADER,
    WebhookDispatcher,
    WebhookTarget,
    load_targets,
    summary_text,
    verify_signature,
)

from .helpers import wait_for


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.fail_with: list[int] = []  # status codes to answer first, in order
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append((self.path, dict(self.headers), body))
                status = receiver.fail_with.pop(0) if receiver.fail_with else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


async def test_signed_delivery_from_the_bus(receiver: Receiver) -> None:
    bus = InProcessBus()
    targets = [WebhookTarget(url=receiver.url + "/hook", secret="s3cret")]

    async def describe(kind: str, ident: str) -> dict[str, Any]:
        return {"id": ident, "task_id": "t1", "task_title": "Fix login", "agent": "dev-1",
                "question": "Which OAuth provider?\nGoogle or GitHub?", "status": "pending"}

    dispatcher = WebhookDispatcher(targets, describe=describe, public_url="http://hub:8000", backoff_base=0.01)
    await dispatcher.start(bus)
    try:
        await bus.publish("hub", AgentEvent(id="a", status="ONLINE"))  # not a webhook event
        await bus.publish("hub", InterventionEvent(id="i1", status="pending", task_id="t1"))
        await wait_for(lambda: receiver.requests, what="a delivery")
        await dispatcher.drain()
    finally:
        await dispatcher.close()
    assert len(receiver.requests) == 1
    path, headers, body = receiver.requests[0]
    assert path == "/hook"
    assert verify_signature("s3cret", body, headers[SIGNATURE_HEADER])
    assert not verify_signature("other", body, headers[SIGNATURE_HEADER])
    assert not verify_signature("s3cret", body + b" ", headers[SIGNATURE_HEADER])
    payload = json.loads(body)
    assert payload["event"] == "intervention.requested" == headers["X-Orchestratia-Event"]
    assert payload["delivery_id"] == headers["X-Orchestratia-Delivery"]
    assert payload["data"]["question"].startswith("Which OAuth")
    assert "Fix login" in payload["text"] and "needs a human" in payload["text"] and "\n" not in payload["text"]
    assert "http://hub:8000/interventions" in payload["text"]


async def test_a_withdrawn_question_is_followed_up(receiver: Receiver) -> None:
    """The agent stopped waiting: targets on all events get ``intervention.withdrawn`` after the
    request; a target that listed its events without it does not."""
    bus = InProcessBus()
    targets = [WebhookTarget(url=receiver.url + "/all", secret="a"),
               WebhookTarget(url=receiver.url + "/asks", secret="b", events=["intervention.requested"])]
    status = {"i1": "pending"}

    async def describe(kind: str, ident: str) -> dict[str, Any]:
        withdrawn_at = "2026-01-01T00:00:02+00:00" if status[ident] == "withdrawn" else None
        return {"id": ident, "task_title": "Release", "agent": "dev-1", "question": "Deploy on Friday?",
                "status": status[ident], "withdrawn_at": withdrawn_at}

    dispatcher = WebhookDispatcher(targets, describe=describe, backoff_base=0.01)
    await dispatcher.start(bus)
    try:
        await bus.publish("hub", InterventionEvent(id="i1", status="pending", task_id="t1"))
        await wait_for(lambda: len(receiver.requests) == 2, what="both targets told of the request")
        status["i1"] = "withdrawn"
        await bus.publish("hub", InterventionEvent(id="i1", status="withdrawn", task_id="t1"))
        await wait_for(lambda: len(receiver.requests) == 3, what="the withdrawn follow-up")
        await dispatcher.drain()
    finally:
        await dispatcher.close()
    events = [(path, json.loads(body)["event"]) for path, _, body in receiver.requests]
    assert sorted(events) == [("/all", "intervention.requested"), ("/all", "intervention.withdrawn"),
                              ("/asks", "intervention.requested")]
    path, headers, body = receiver.requests[2]
    payload = json.loads(body)
    assert path == "/all" and headers["X-Orchestratia-Event"] == "intervention.withdrawn"
    assert verify_signature("a", body, headers[SIGNATURE_HEADER])
    assert payload["data"]["status"] == "withdrawn" and payload["data"]["withdrawn_at"]
    assert "Release" in payload["text"] and "stopped waiting" in payload["text"] and "Deploy on Friday?" in payload["text"]


async def test_retries_with_backoff_then_gives_up_on_4xx(receiver: Receiver) -> None:
    bus = InProcessBus()
    dispatcher = WebhookDispatcher([WebhookTarget(url=receiver.url, secret="k", events=["task.finished"])],
                                   backoff_base=0.02, max_attempts=4)
    await dispatcher.start(bus)
    try:
        receiver.fail_with = [500, 503, 429]
        await bus.publish("hub", TaskEvent(id="t1", status="completed", agent_id=None))
        await bus.publish("hub", TaskEvent(id="t2", status="running", agent_id="a"))  # not final: no event
        await bus.publish("hub", InterventionEvent(id="i", status="pending", task_id="t2"))  # filtered out
        await wait_for(lambda: dispatcher.delivered == 1, what="delivery after retries")
        assert len(receiver.requests) == 4
        bodies = {r[2] for r in receiver.requests}
        assert len(bodies) == 1  # the same signed body each attempt
        receiver.fail_with = [404]
        await bus.publish("hub", TaskEvent(id="t3", status="failed", agent_id=None))
        await wait_for(lambda: dispatcher.failed == 1, what="giving up on 404")
        assert len(receiver.requests) == 5
    finally:
        await dispatcher.close()


async def test_unreachable_receiver_fails_after_max_attempts() -> None:
    dispatcher = WebhookDispatcher([WebhookTarget(url="http://127.0.0.1:9/none", secret="k")],
                                   backoff_base=0.01, max_attempts=3, timeout=2)
    bus = InProcessBus()
    await dispatcher.start(bus)
    try:
        await bus.publish("hub", InterventionEvent(id="i", status="answered", task_id="t"))
        await asyncio.wait_for(dispatcher.drain(), 20)
        assert dispatcher.failed == 1 and dispatcher.delivered == 0
    finally:
        await dispatcher.close()


def test_config_and_text() -> None:
    assert load_targets("") == []
    targets = load_targets('[{"url": "https://h.example/x", "secret": "a", "events": ["task.finished"]}]')
    assert targets[0].wants("task.finished") and not targets[0].wants("intervention.requested")
    only = load_targets('[{"url": "https://h.example/x", "secret": "a", "events": ["intervention.withdrawn"]}]')[0]
    assert only.wants("intervention.withdrawn") and not only.wants("intervention.requested")
    assert load_targets('[{"url": "http://x", "secret": "a"}]')[0].wants("intervention.withdrawn")  # default: all
    for bad in ['{"url": "x"}', '[{"url": "ftp://x", "secret": "a"}]', '[{"url": "http://x", "secret": ""}]',
                '[{"url": "http://x", "secret": "a", "events": ["nope"]}]', "not json"]:
        with pytest.raises(ValueError):
            load_targets(bad)
    text = summary_text("task.finished", {"id": "t", "title": "Build", "status": "failed", "error": "exit 1"})
    assert text.startswith(":x: Task \"Build\" failed: exit 1")
    assert "by alice" in summary_text("intervention.answered", {"task_title": "T", "response": "ok", "answered_by": "alice"})
