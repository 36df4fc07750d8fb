"""TLS in the agent against real TLS peers on loopback (certificates from trustme): the CA
bundle is checked at load time, HTTP and the WebSocket verify the hub with the same CAs, and a
certificate that does not verify is one clear error, not retried and never skipped."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import trustme
from websockets.asyncio.server import serve

from orchestratia.agent.client import HubClient, TLSVerifyError, ssl_context
from orchestratia.agent.config import ConfigError, load_config
from orchestratia.agent.ws import HubSocket

CA = trustme.CA()


def server_context(*names: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    CA.issue_cert(*names).configure_cert(ctx)
    return ctx


@pytest.fixture
def ca_file(tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    CA.cert_pem.write_to_path(str(path))
    return str(path)


class TlsHttpPeer:
    """A TLS server that answers every request with ``200 []`` and counts TLS handshakes
    (the SNI callback runs on every ClientHello, with or without a server name)."""

    def __init__(self, *names: str) -> None:
        self.context = server_context(*names)
        self.hellos = 0
        self.context.sni_callback = self._hello
        self.port = 0

    def _hello(self, *_: Any) -> None:
        self.hellos += 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n[]")
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> "TlsHttpPeer":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()


def write_config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"hub_url: https://127.0.0.1:1\n{extra}")
    return path


def test_ca_bundle_is_checked_when_the_config_loads(tmp_path: Path, ca_file: str) -> None:
    assert load_config(write_config(tmp_path, "ca_bundle: ca.pem\n")).ca_bundle == ca_file  # relative to the config
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"ca_bundle: .*junk.pem holds no usable PEM CA certificate"):
        load_config(write_config(tmp_path, "ca_bundle: junk.pem\n"))
    with pytest.raises(ConfigError, match=r"ca_bundle: file not found: .*set it to the PEM file of the CA"):
        load_config(write_config(tmp_path, "ca_bundle: missing.pem\n"))


def test_verification_is_always_on(ca_file: str) -> None:
    for ctx in (ssl_context(""), ssl_context(ca_file)):
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname


async def test_http_with_the_ca_bundle_talks_to_the_hub(ca_file: str) -> None:
    async with TlsHttpPeer("127.0.0.1") as peer:
        async with HubClient(f"https://127.0.0.1:{peer.port}", "orc_k", ca_bundle=ca_file) as client:
            assert await client.poll() == []


async def test_http_without_the_ca_bundle_fails_once_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    async with TlsHttpPeer("127.0.0.1") as peer:
        url = f"https://127.0.0.1:{peer.port}"
        async with HubClient(url, "orc_k", attempts=5) as client:
            with pytest.raises(TLSVerifyError) as err:
                await client.poll()
    assert str(err.value).startswith(f"cannot verify the TLS certificate of the hub at {url}: ")
    assert "set ca_bundle in config.yaml" in str(err.value)
    assert peer.hellos == 1  # not retried: a certificate that does not verify is not a transient error


async def test_http_with_a_certificate_for_another_name_is_refused(ca_file: str) -> None:
    async with TlsHttpPeer("hub.example.com") as peer:
        async with HubClient(f"https://127.0.0.1:{peer.port}", "orc_k", ca_bundle=ca_file) as client:
            with pytest.raises(TLSVerifyError) as err:
                await client.poll()
    assert "127.0.0.1" in str(err.value) and f"its CA must be in ca_bundle ({ca_file})" in str(err.value)


class Handler:
    def __init__(self) -> None:
        self.ready = asyncio.Event()

    def on_connected(self) -> list[dict[str, Any]]:
        return []

    async def on_ready(self, resume: Any) -> None:
        self.ready.set()

    async def on_message(self, msg: Any) -> None:
        pass

    def on_disconnected(self) -> None:
        pass


async def _hub(conn: Any) -> None:
    await conn.send(json.dumps({"type": "auth_ok", "agent_id": "a1"}))
    async for raw in conn:
        if json.loads(raw).get("type") == "hello":
            await conn.send(json.dumps({"type": "resume", "tasks": []}))


@pytest.fixture
async def wss_port() -> AsyncIterator[int]:
    async with serve(_hub, "127.0.0.1", 0, ssl=server_context("127.0.0.1")) as server:
        yield server.sockets[0].getsockname()[1]


async def _run_until(sock: HubSocket, condition: Any, timeout: float = 10.0) -> None:
    stop = asyncio.Event()
    runner = asyncio.create_task(sock.run(stop))
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(runner, 10)


async def test_websocket_with_the_ca_bundle_connects(wss_port: int, ca_file: str) -> None:
    handler = Handler()
    sock = HubSocket(f"https://127.0.0.1:{wss_port}", "orc_k", handler, ca_bundle=ca_file, hello_timeout=5)
    await _run_until(sock, handler.ready.is_set)
    assert sock.connects == 1


async def test_websocket_without_the_ca_bundle_logs_the_fix(wss_port: int, caplog: pytest.LogCaptureFixture,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    caplog.set_level(logging.INFO, logger="orchestratia.agent.ws")
    handler = Handler()
    sock = HubSocket(f"https://127.0.0.1:{wss_port}", "orc_k", handler, backoff_base=0.05)

    def refused() -> bool:
        return any(r.levelno == logging.ERROR and "cannot verify the TLS certificate" in r.getMessage()
                   for r in caplog.records)

    await _run_until(sock, refused)
    record = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert f"wss://127.0.0.1:{wss_port}/ws/agent" in record.getMessage()
    assert "set ca_bundle in config.yaml" in record.getMessage()
    assert sock.connects == 0 and not handler.ready.is_set()
