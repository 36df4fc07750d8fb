"""TLS end to end: the real hub serving HTTPS/WSS with a certificate from a private CA
(trustme), the real daemon and the CLI verifying it with the CA bundle, and every client
refusing the hub when it does not trust that CA (never falling back to no verification)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import trustme
import yaml

from integration_harness import ADMIN_PASSWORD, Agent, Cli, Hub, retire_agent, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CERT_ERROR = "cannot verify the TLS certificate"


@dataclass
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    where = tmp_path_factory.mktemp("tls")
    ca = trustme.CA(organization_name="Orchestratia test CA")
    server = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(where / "ca.pem", where / "hub-cert.pem", where / "hub-key.pem")
    ca.cert_pem.write_to_path(str(files.ca))
    for i, pem in enumerate(server.cert_chain_pems):
        pem.write_to_path(str(files.cert), append=i > 0)
    server.private_key_pem.write_to_path(str(files.key))
    files.key.chmod(0o600)
    return files


@pytest.fixture(scope="module")
def tls_hub(tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles, _prereqs: None) -> Iterator[Hub]:
    server = Hub(tmp_path_factory.mktemp("tls-hub"), ssl_certfile=tls_files.cert, ssl_keyfile=tls_files.key,
                 ca_bundle=tls_files.ca)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def no_system_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in the environment may make the test CA trusted behind our back."""
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "ORCHESTRATIA_CA_BUNDLE", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def tls_agents(tls_hub: Hub) -> Iterator[list[Agent]]:
    agents: list[Agent] = []
    yield agents
    for agent in agents:
        retire_agent(tls_hub, agent.name, agent.stop)


def _agent(hub: Hub, tmp_path: Path, agents: list[Agent]) -> Agent:
    name = f"tls-{uuid.uuid4().hex[:8]}"
    agent = Agent(hub, tmp_path / name, name)
    agents.append(agent)
    return agent


def test_daemon_runs_a_task_over_https_and_wss(tls_hub: Hub, tls_agents: list[Agent], tmp_path: Path,
                                               no_system_overrides: None) -> None:
    assert tls_hub.url.startswith("https://")
    agent = _agent(tls_hub, tmp_path, tls_agents).register()
    config = yaml.safe_load(agent.config.read_text())
    assert config["hub_url"] == tls_hub.url  # the token carried the hub's https:// URL
    assert config["ca_bundle"] == str(tls_hub.ca_bundle)
    agent.start()
    wait_for(lambda: f"WebSocket connected to wss://127.0.0.1:{tls_hub.port}/ws/agent" in agent.daemon_log.read_text(),
             30, "the daemon's WebSocket over TLS")

    cli = Cli(tls_hub, tmp_path / "cli-home")
    spec = "for i in 1 2 3; do echo tls-line-$i; sleep 0.2; done"
    created = cli.create_task(spec, agent.name, "work", "tls", "--runner", "shell")
    watched = cli.run("tasks", "watch", created["id"], check=False, timeout=60)  # SSE over HTTPS
    assert watched.returncode == 0, watched.stderr
    task = tls_hub.wait_final(created["id"])
    assert task["status"] == "completed", task
    stored = tls_hub.output(created["id"])
    # The daemon sends output only over the WebSocket: stored output went over WSS.
    assert stored == b"tls-line-1\ntls-line-2\ntls-line-3\n"
    assert watched.stdout.encode() == stored
    log = agent.daemon_log.read_text()
    assert CERT_ERROR not in log and "CERTIFICATE_VERIFY_FAILED" not in log


def test_cli_login_and_tasks_over_tls(tls_hub: Hub, tmp_path: Path, no_system_overrides: None) -> None:
    cli = Cli(tls_hub, tmp_path / "cli-home")
    bare = cli.env()
    for name in ("ORCHESTRATIA_HUB_URL", "ORCHESTRATIA_TOKEN", "ORCHESTRATIA_CA_BUNDLE"):
        bare.pop(name)
    login = ["login", "--hub", tls_hub.url, "--username", "admin", "--password-stdin"]

    refused = cli.run(*login, input=ADMIN_PASSWORD + "\n", env=bare, check=False)
    assert refused.returncode == 1, refused.stdout
    assert refused.stderr.startswith(f"error: {CERT_ERROR} of {tls_hub.url}") and "--ca-bundle" in refused.stderr
    assert "Traceback" not in refused.stderr

    cli.run("--ca-bundle", str(tls_hub.ca_bundle), *login, input=ADMIN_PASSWORD + "\n", env=bare)
    saved = json.loads((tmp_path / "cli-home" / "config" / "orchestratia" / "cli.json").read_text())
    assert saved["hub_url"] == tls_hub.url and saved["ca_bundle"] == str(tls_hub.ca_bundle)
    assert isinstance(cli.json("tasks", "list", env=bare), list)  # the saved CA bundle is used
    assert "admin" in cli.run("whoami", env=bare).stdout

    with_env_var = {**bare, "ORCHESTRATIA_CA_BUNDLE": str(tls_hub.ca_bundle), "XDG_CONFIG_HOME": str(tmp_path / "e1"),
                    "ORCHESTRATIA_HUB_URL": tls_hub.url, "ORCHESTRATIA_TOKEN": tls_hub.token}
    assert isinstance(cli.json("tasks", "list", env=with_env_var), list)
    with_ssl_cert_file = {**with_env_var, "SSL_CERT_FILE": str(tls_hub.ca_bundle)}
    del with_ssl_cert_file["ORCHESTRATIA_CA_BUNDLE"]
    assert isinstance(cli.json("tasks", "list", env=with_ssl_cert_file), list)  # httpx's own variable
    untrusted = {**with_env_var}
    del untrusted["ORCHESTRATIA_CA_BUNDLE"]
    no_ca = cli.run("tasks", "list", env=untrusted, check=False)
    assert no_ca.returncode == 1 and no_ca.stderr.startswith(f"error: {CERT_ERROR}")


def test_register_without_the_ca_bundle_is_refused(tls_hub: Hub, tmp_path: Path, no_system_overrides: None) -> None:
    cli = Cli(tls_hub, tmp_path / "cli-home")
    token = cli.json("tokens", "create", "--label", "tls-refused")
    config = tmp_path / "agent" / "config.yaml"
    refused = cli.run("agent", "register", token["token"], "--config", str(config), check=False)
    assert refused.returncode != 0
    assert f"{CERT_ERROR} of the hub at {tls_hub.url}" in refused.stderr and "ca_bundle" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    tokens = {t["id"]: t for t in cli.json("tokens", "list")}
    assert tokens[token["id"]]["status"] == "active"  # nothing reached the hub's API

    done = cli.run("agent", "register", token["token"], "--config", str(config), "--ca-bundle", str(tls_hub.ca_bundle),
                   "--name", f"tls-{uuid.uuid4().hex[:8]}")
    assert "API key saved" in done.stdout
    written = yaml.safe_load(config.read_text())
    assert written["ca_bundle"] == str(tls_hub.ca_bundle) and written["api_key"].startswith("orc_")


def test_daemon_without_the_ca_bundle_refuses_the_hub(tls_hub: Hub, tls_agents: list[Agent], tmp_path: Path,
                                                      no_system_overrides: None) -> None:
    agent = _agent(tls_hub, tmp_path, tls_agents).register()
    config = yaml.safe_load(agent.config.read_text())
    del config["ca_bundle"]
    agent.config.write_text(yaml.safe_dump(config, sort_keys=False))
    cli = Cli(tls_hub, tmp_path / "cli-home")
    created = cli.create_task("echo must-not-run", agent.name, "work", "never", "--runner", "shell")
    agent.start(wait_online=False)

    def refused_twice() -> bool:
        if agent.proc is not None and agent.proc.poll() is not None:
            raise AssertionError(f"the daemon exited with {agent.proc.returncode}")
        log = agent.daemon_log.read_text()
        return (log.count(f"poll failed: {CERT_ERROR} of the hub at {tls_hub.url}") >= 2
                and f"WebSocket: {CERT_ERROR} of the hub at wss://127.0.0.1:{tls_hub.port}" in log)

    wait_for(refused_twice, 60, f"the daemon's certificate errors for poll and WebSocket (log: {agent.daemon_log})")
    log = agent.daemon_log.read_text()
    assert "set ca_bundle in config.yaml" in log
    assert "WebSocket connected" not in log
    # Two polls and a WebSocket were refused: the task was never handed out, let alone started.
    task = tls_hub.task(created["id"])
    assert task["status"] == "assigned" and task["started_at"] is None, task
    assert not agent.task_log(created["id"]).exists()
