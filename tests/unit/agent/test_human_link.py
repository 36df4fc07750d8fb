"""The help relay's hub client (``human_link``) verifies the hub with the daemon's own TLS context:
``ca_bundle`` is trusted, and httpx is never given the CA as a path string (``verify=<str>``,
deprecated since httpx 0.28)."""

from __future__ import annotations

import asyncio
import ssl
import tempfile
import warnings
from pathlib import Path

import trustme

from orchestratia.agent.config import load_config
from orchestratia.agent.human_link import HumanLink

CA = trustme.CA()
HELP_CREATED = b'{"id": "i-1", "intervention_id": "i-1", "status": "pending"}'


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n"
                     b"content-length: %d\r\n\r\n%s" % (len(HELP_CREATED), HELP_CREATED))
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def test_the_help_relay_trusts_ca_bundle_and_httpx_warns_nothing(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    CA.cert_pem.write_to_path(str(ca_file))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    CA.issue_cert("127.0.0.1").configure_cert(server_ctx)
    server = await asyncio.start_server(_answer, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    run_dir = tempfile.mkdtemp(prefix="hl-", dir="/tmp")  # a short path: the relay's Unix socket lives here
    config = tmp_path / "config.yaml"
    config.write_text(f"hub_url: https://127.0.0.1:{port}\napi_key: orc_test\nca_bundle: {ca_file}\n"
                      f"human: {{enabled: true}}\nsession: {{pid_dir: {run_dir}, log_dir: {tmp_path / 'log'}}}\n")
    link = HumanLink(load_config(config))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            await link.start()
            assert link.active, "the help relay did not start"
            assert await link._api.request_help("t-1", "which branch?", None) == "i-1"  # over TLS, CA from ca_bundle
        assert [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)] == []
    finally:
        await link.close()
        server.close()
