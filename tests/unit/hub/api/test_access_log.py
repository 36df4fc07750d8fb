"""The access log leaves out a fleet's successful heartbeats and polls and the probes and scrapes
of the hub (/healthz, /readyz, /metrics) (hub/access_log.py), and keeps everything else, failed liveness requests included; ``log_liveness`` brings them back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn

from orchestratia.hub.app import create_app

from ..helpers import V1, Api


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.asynccontextmanager
async def served(settings: Any) -> AsyncIterator[tuple[Api, Lines]]:
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_level="info"))
    task = asyncio.create_task(server.serve())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not server.started:
        assert loop.time() < deadline and not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    lines = Lines()
    logging.getLogger("uvicorn.access").addHandler(lines)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
            api = Api(client, app.state.hub)
            await api.login()
            yield api, lines
    finally:
        logging.getLogger("uvicorn.access").removeHandler(lines)
        server.should_exit = True
        await asyncio.wait_for(task, 20)


async def _traffic(api: Api) -> None:
    agent = await api.online("dev-1")
    await api.agent(agent, "GET", "/tasks/poll")
    await api.agent(agent, "POST", "/heartbeat", json={"system_info": {}})
    await api.client.get(f"{V1}/tasks/poll", headers={"X-API-Key": "orc_wrong"})
    await api.client.get("/health")
    for probe in ("/healthz", "/readyz", "/metrics"):  # HAProxy's checks, Prometheus' scrapes
        assert (await api.client.get(probe)).status_code == 200


async def test_successful_heartbeats_and_polls_are_not_logged(settings_factory: Any) -> None:
    async with served(settings_factory()) as (api, lines):
        await _traffic(api)
    text = "\n".join(lines.lines)
    assert f"GET {V1}/tasks/poll HTTP/1.1\" 401" in text  # a failed one is
    assert "GET /health HTTP/1.1\" 200" in text and "POST /api/admin/tokens" in text
    assert not [line for line in lines.lines if ("/heartbeat" in line or "/tasks/poll" in line) and "\" 200" in line]
    assert not [line for line in lines.lines if any(f"GET {p} " in line for p in ("/healthz", "/readyz", "/metrics"))]


async def test_log_liveness_logs_them(settings_factory: Any) -> None:
    async with served(settings_factory(log_liveness=True)) as (api, lines):
        await _traffic(api)
    text = "\n".join(lines.lines)
    assert f"POST {V1}/heartbeat HTTP/1.1\" 200" in text and f"GET {V1}/tasks/poll HTTP/1.1\" 200" in text


def test_a_dropped_liveness_record_is_never_formatted_by_the_redaction() -> None:
    """The liveness filter comes before the redaction filter on uvicorn's access logger: a
    heartbeat's record is dropped unformatted (redaction formats and scans every record it sees:
    ~64 us of hub CPU per heartbeat), while every record that is kept is still redacted."""
    from orchestratia.hub.api.access_log import quiet_liveness
    from orchestratia.protocol.redact import install_redaction

    formatted: list[str] = []

    class Counting(logging.LogRecord):
        def getMessage(self) -> str:  # noqa: N802 - logging's name
            formatted.append(str(self.args))
            return super().getMessage()

    def record(path: str) -> logging.LogRecord:
        args = ("127.0.0.1:5000", "POST", path, "1.1", 200)
        return Counting("uvicorn.access", logging.INFO, "h.py", 1, '%s - "%s %s HTTP/%s" %d', args, None)

    logger = logging.getLogger("uvicorn.access")
    before = list(logger.filters)
    try:
        install_redaction()
        quiet_liveness(True)
        assert not logger.filter(record(f"{V1}/heartbeat")) and formatted == []
        kept = record("/api/admin/tasks?token=orc_" + "x" * 43)
        assert logger.filter(kept) and formatted and "x" * 43 not in kept.getMessage()
    finally:
        logger.filters[:] = before
