"""A hostile agent's words reach an admin's terminal shown, never obeyed: the real CLI in a
pseudo-terminal against a real hub, the agent speaking v1. Its name, hostname, help question,
task error and task output carry OSC 52 (writes the clipboard), OSC 0 (the window title),
``ESC[2J`` (clears the screen) and BEL; none of them may reach the terminal raw."""

from __future__ import annotations

import sys
import uuid

import pytest

from .real_hub import cli_env, run_in_pty

pytestmark = pytest.mark.timeout(180)

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # the clipboard becomes "rm -rf ~"
TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"
C1_CSI = "\x9b2J"
COLOUR = "\x1b[38;2;1;2;3m"  # a colour no table of ours uses: output may keep colour
HOSTILE = OSC52 + TITLE + CLEAR + C1_CSI
SHOWN = "␛]52;c;cm0gLXJmIH4=␇␛]0;pwned␇␛[2J\\x9b2J"


@pytest.fixture(scope="module")
def hostile(real_hub):
    """A hostile agent, online, whose shell task asked a question, printed output and failed."""
    name = f"evil-{uuid.uuid4().hex[:6]}"
    agent = real_hub.register(name + TITLE, hostname="h" + HOSTILE, os=CLEAR)
    agent.post("/heartbeat", {"system_info": {"platform": HOSTILE}})
    task = real_hub.api("POST", "/tasks", json={"title": "t", "spec": "s", "agent": agent.id, "runner": "shell",
                                               "target_repo": "r"}).json()
    agent.post(f"/tasks/{task['id']}/start", {})
    agent.post(f"/tasks/{task['id']}/help", {"question": "May I?" + HOSTILE, "context": HOSTILE})
    agent.output(task["id"], f"{COLOUR}coloured\x1b[0m and {HOSTILE}\n")
    agent.post(f"/tasks/{task['id']}/fail", {"error": "boom" + HOSTILE})
    return {"agent": agent, "task": task["id"], "name": name}


COMMANDS = [
    ("agents", "list"),
    ("agents", "show", "{agent}"),
    ("interventions", "list"),
    ("tasks", "list"),
    ("tasks", "show", "{task}"),
    ("tasks", "watch", "{task}"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_no_raw_escape_from_the_agent_reaches_the_terminal(real_hub, hostile, tmp_path, command) -> None:
    argv = [sys.executable, "-m", "orchestratia.cli",
            *(a.format(agent=hostile["agent"].id, task=hostile["task"]) for a in command)]
    env = cli_env(tmp_path, real_hub.url, real_hub.token)
    env["COLUMNS"] = "400"  # whole cells on one line, so the visible forms can be matched
    code, out = run_in_pty(argv, env)
    assert code in (0, 1), out  # `tasks watch` of a failed task exits 1
    for raw in (OSC52, TITLE, CLEAR, "\x1b]", "\x07", "\x9b", "\x1b[2J"):
        assert raw.encode() not in out, (raw, out)
    text = out.decode("utf-8")
    assert "␛]" in text  # what the agent sent is there, visible
    if command[:2] == ("tasks", "watch"):
        assert COLOUR + "coloured\x1b[0m" in text  # colour in the output passes
        assert f"and {SHOWN}" in text and f"failed: boom{SHOWN}]" in text
    if command[:2] == ("tasks", "show"):
        assert f"boom{SHOWN}" in text
    if command[:2] == ("interventions", "list"):
        assert "May I?␛]52;c;" in text
