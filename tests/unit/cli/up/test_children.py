"""``orchestratia up`` with ORCHESTRATIA_SSL_CERTFILE / ORCHESTRATIA_SSL_KEYFILE exported: the
hub it starts still serves plain HTTP on the address ``up`` checks (before, the hub served TLS
and ``up`` failed waiting for an http:// /health)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trustme

from orchestratia.cli.up import children, supervisor
from orchestratia.cli.up.plan import UpPlan, state_dir_for


def test_the_hub_child_gets_no_tls_variables_and_the_password() -> None:
    user = {"PATH": "/usr/bin", "ORCHESTRATIA_SSL_CERTFILE": "/c.pem", "ORCHESTRATIA_SSL_KEYFILE": "/k.pem",
            "ORCHESTRATIA_LOG_LEVEL": "debug", "ORCHESTRATIA_ADMIN_PASSWORD": "old"}
    env = children.hub_env("pw", user)
    assert env == {"PATH": "/usr/bin", "ORCHESTRATIA_LOG_LEVEL": "debug", "ORCHESTRATIA_ADMIN_PASSWORD": "pw"}
    assert "ORCHESTRATIA_SSL_CERTFILE" in user  # the caller's mapping is left as it was


@pytest.mark.timeout(120)
def test_up_starts_a_plain_http_hub_despite_exported_tls_variables(tmp_path: Path, monkeypatch, capsys) -> None:
    cert, key = tmp_path / "hub.pem", tmp_path / "hub.key"
    issued = trustme.CA().issue_cert("127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    monkeypatch.setenv("ORCHESTRATIA_SSL_CERTFILE", str(cert))
    monkeypatch.setenv("ORCHESTRATIA_SSL_KEYFILE", str(key))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    port = up_free_port()
    data = tmp_path / "data"
    plan = UpPlan(data_dir=data, host="127.0.0.1", port=port, state_dir=state_dir_for(data))
    plan.hub_url = f"http://127.0.0.1:{port}"
    try:
        children.start_hub(plan, "a-password-for-the-test")  # returns once http:// /health answers
        assert httpx.get(f"{plan.hub_url}/health", timeout=5).json()["status"] == "ok"
    finally:
        supervisor.stop_all(plan)
    assert "ignoring ORCHESTRATIA_SSL_CERTFILE and ORCHESTRATIA_SSL_KEYFILE" in capsys.readouterr().err


def up_free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
