"""The REAL agent CLIs (Claude Code, Codex, Gemini CLI from npm; see real_clis.py) run with the
argv our runners build, directly and through the real hub and daemon. Here they have no account
and no network, which is what these tests check: every argv is accepted (no usage error), and
each one's not-logged-in or offline path ends the task with the CLI's own words in its error.
Behaviour beyond the login stays with the fakes (tests/fakes).

The CLIs are installed on demand into a cache (about a minute the first time). Without npm or
the registry the tests are skipped with the reason, except under CI (``CI`` set): then they fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

from integration_harness import ROOT, Agent, Cli, Hub, tail, wait_for
from orchestratia.agent.config import config_from_dict
from orchestratia.agent.runners import make_runners
from orchestratia.agent.runners.base import MAX_PROMPT_ARG_BYTES
from real_clis import RealClis, Unavailable, ensure

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

#: credentials the CLIs would read from the environment: never used here
CREDENTIAL_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "OPENAI_API_KEY",
                   "CODEX_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI",
                   "GOOGLE_GENAI_USE_GCA", "CODEX_HOME")
USAGE_ERRORS = (b"unknown option", b"Unknown argument", b"unexpected argument", b"invalid value", b"requires --verbose")
PROMPTS = {"plain": "Say hello and stop.", "dash": "-x starts with a dash", "subcommand": "resume",
           "large": "y" * (MAX_PROMPT_ARG_BYTES + 10)}


@pytest.fixture(scope="session")
def real_clis(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RealClis:
    home = tmp_path_factory.mktemp("real-cli-home")  # no ~/.claude, ~/.codex, ~/.gemini of the user's
    try:
        clis = ensure(cli_env(home))
    except Unavailable as err:
        if os.environ.get("CI"):
            pytest.fail(f"the real agent CLIs are required under CI: {err}")
        pytest.skip(f"the real agent CLIs are not available: {err}")
    clis.home = home
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # said at once, whatever the capture mode
            reporter.write_line(clis.describe())
    return clis


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARS and not k.startswith("ORCHESTRATIA_")}
    return {**env, "HOME": str(home), "NO_COLOR": "1"}


def runner_for(name: str, clis: RealClis, **section):
    cfg = config_from_dict({"hub_url": "http://h", name: {"binary": clis.binaries[name], **section}})
    return make_runners(cfg)[name]


def run_direct(clis: RealClis, argv: list[str], stdin: bytes | None, cwd: Path, out: Path, timeout: float,
               until: bytes | None = None) -> tuple[int | None, bytes]:
    """Run ``argv`` as the launcher does (own process group, stdout+stderr in one file, stdin from
    the prompt or nothing) until it exits or, with ``until``, that text appears; then its group
    is killed. Returns (exit status or None when killed, output)."""
    with open(out, "wb") as sink:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                stdout=sink, stderr=subprocess.STDOUT, cwd=cwd, env=cli_env(clis.home),
                                start_new_session=True)
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
    try:
        wait_for(lambda: proc.poll() is not None or (until is not None and until in out.read_bytes()), timeout,
                 f"{Path(argv[0]).name} to exit{' or print ' + until.decode() if until else ''}", interval=0.1)
    finally:
        code = proc.poll()
        if code is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    return code, out.read_bytes()


def assert_accepted(name: str, argv: list[str], data: bytes) -> None:
    for marker in USAGE_ERRORS:
        assert marker not in data, f"{name} refused {argv[:12]}: {data[-1500:]!r}"


# ---------------------------------------------------------------------------- every argv, run directly


@pytest.mark.parametrize("prompt", sorted(PROMPTS))
def test_claude_accepts_the_argv_and_says_not_logged_in(real_clis: RealClis, tmp_path: Path, prompt: str) -> None:
    runner = runner_for("claude", real_clis, allowed_tools="Bash,Read,Edit", max_turns=3, model="sonnet",
                        permission_mode="acceptEdits")
    plan = runner.build(PROMPTS[prompt])
    code, data = run_direct(real_clis, plan.argv, plan.stdin_data, tmp_path, tmp_path / "out", 90)
    assert_accepted("claude", plan.argv, data)
    rep = runner.report(code, data)
    assert code == 1 and not rep.ok and "Not logged in" in rep.error, data[-2000:]


@pytest.mark.parametrize("full_auto", [True, False])
@pytest.mark.parametrize("prompt", sorted(PROMPTS))
def test_codex_accepts_the_argv_in_a_directory_that_is_no_git_repo(real_clis: RealClis, tmp_path: Path, prompt: str,
                                                                  full_auto: bool) -> None:
    runner = runner_for("codex", real_clis, full_auto=full_auto)
    plan = runner.build(PROMPTS[prompt])
    # offline it retries for ever: a started thread means the argv (and the prompt) were taken
    code, data = run_direct(real_clis, plan.argv, plan.stdin_data, tmp_path, tmp_path / "out", 60,
                            until=b'"turn.started"')
    assert_accepted("codex", plan.argv, data)
    assert b'"thread.started"' in data and code is None, data[-2000:]


def test_codex_refuses_full_auto_and_the_fake_does_too(real_clis: RealClis, tmp_path: Path) -> None:
    old = ["exec", "--json", "--full-auto", "--", "hi"]
    code, data = run_direct(real_clis, [real_clis.binaries["codex"], *old], None, tmp_path, tmp_path / "real", 60)
    fake = subprocess.run([str(ROOT / "tests" / "fakes" / "codex"), *old], capture_output=True, timeout=30)
    assert code == fake.returncode == 2, (data, fake)
    assert b"error: unexpected argument '--full-auto' found" in data and fake.stderr.startswith(
        b"error: unexpected argument '--full-auto' found")
    rep = runner_for("codex", real_clis).report(code, data)
    assert rep.error == "codex exited with status 2: error: unexpected argument '--full-auto' found"


@pytest.mark.parametrize("full_auto", [True, False])
@pytest.mark.parametrize("prompt", ["plain", "dash"])
def test_gemini_accepts_the_argv_and_exits_41_on_auth(real_clis: RealClis, tmp_path: Path, prompt: str,
                                                      full_auto: bool) -> None:
    runner = runner_for("gemini", real_clis, full_auto=full_auto)
    plan = runner.build(PROMPTS[prompt])
    code, data = run_direct(real_clis, plan.argv, plan.stdin_data, tmp_path, tmp_path / "out", 90)
    assert_accepted("gemini", plan.argv, data)
    rep = runner.report(code, data)
    assert code == 41 and rep.error.startswith("gemini exited with status 41 (authentication error): Please set an "
                                               "Auth method"), data[-2000:]


# ---------------------------------------------------------------------------- through the hub and the daemon


@pytest.fixture
def real_agent(real_clis: RealClis, make_agent: Callable[..., Agent], monkeypatch: pytest.MonkeyPatch) -> Iterator[Agent]:
    """A real daemon whose claude, codex and gemini are the real ones, run with an empty HOME and
    no credentials in the environment; approvals on, so claude also gets the hook's --settings."""
    monkeypatch.setenv("HOME", str(real_clis.home))
    for var in CREDENTIAL_VARS:
        monkeypatch.delenv(var, raising=False)
    yield make_agent(overrides={
        "claude": {"binary": real_clis.binaries["claude"]}, "codex": {"binary": real_clis.binaries["codex"]},
        "gemini": {"binary": real_clis.binaries["gemini"]}, "human": {"approval_policy": "risky"},
    })


def final(hub: Hub, agent: Agent, task_id: str, timeout: float = 90) -> dict:
    try:
        return hub.wait_final(task_id, timeout=timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ntask log: {tail(agent.task_log(task_id), 10)}\n"
                             f"daemon log: {tail(agent.daemon_log, 20)}") from None


def test_claude_task_fails_not_logged_in_with_our_mcp_server_and_hook(hub: Hub, cli: Cli, real_agent: Agent) -> None:
    created = cli.create_task("Say hello.", real_agent.name, "work", "real claude", "--runner", "claude")
    task = final(hub, real_agent, created["id"])
    assert task["status"] == "failed", task
    assert task["error"] == "claude exited with status 1: Not logged in \u00b7 Please run /login", task
    output = hub.output(created["id"])
    assert_accepted("claude", [], output)
    init = next(json.loads(ln) for ln in output.splitlines() if b'"subtype":"init"' in ln.replace(b" ", b""))
    # our MCP server (ask_human) was taken from --mcp-config: "pending" while it starts (Claude Code
    # 2.1.197 reports it so at init), "connected" once up; "failed" would mean it could not start
    servers = {s.get("name"): s.get("status") for s in init.get("mcp_servers", [])}
    assert servers.get("orchestratia") in ("pending", "connected"), init.get("mcp_servers")


def test_gemini_task_fails_with_its_auth_message(hub: Hub, cli: Cli, real_agent: Agent) -> None:
    created = cli.create_task("-x Say hello.", real_agent.name, "work", "real gemini", "--runner", "gemini")
    task = final(hub, real_agent, created["id"])
    assert task["status"] == "failed" and task["exit_code"] == 41, task
    assert task["error"].startswith("gemini exited with status 41 (authentication error): Please set an Auth method"), task


def test_codex_offline_task_is_stopped_by_its_timeout_saying_why(hub: Hub, cli: Cli, real_agent: Agent) -> None:
    created = cli.create_task("Say hello.", real_agent.name, "work", "real codex", "--runner", "codex",
                              "--timeout", "0.1")  # 6 s: offline, codex would wait for the network for ever
    task = final(hub, real_agent, created["id"])
    assert task["status"] == "timed_out", task
    # the hub's own check may end it first ("timed out after 0.1 minutes"); the daemon's report
    # then adds how the runner ended and what codex said last
    task = wait_for(lambda: (t := hub.task(created["id"]))["exit_code"] is not None and t, 60,
                    "the daemon's report of the stopped codex")
    assert task["error"].startswith("timed out after 0.1 minutes; the runner was stopped (exit status "), task
    assert "; codex said: Reconnecting..." in task["error"], task
    assert b'"thread.started"' in hub.output(created["id"])
