"""The human commands a task runs: ``mcp`` (the ask_human MCP server), ``approval-hook`` (Claude
Code's PreToolUse hook) and ``ask``. ``python -m orchestratia.agent.human ...`` (``__main__``,
what the daemon writes into a task's Claude Code config) and ``orchestratia mcp|approval-hook|
ask`` (cli/human.py) both call these. Light on purpose (no Typer, no Rich): the hook runs before
every tool call."""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestratia.agent.human")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("mcp", help="the ask_human MCP stdio server")
    hook = sub.add_parser("approval-hook", help="Claude Code PreToolUse approval hook")
    hook.add_argument("--policy", default=None)
    hook.add_argument("--rule", action="append", default=[])
    hook.add_argument("--timeout", type=float, default=None, help="seconds")
    ask = sub.add_parser("ask", help="ask a human; prints the answer")
    ask.add_argument("question")
    ask.add_argument("--context", default=None)
    ask.add_argument("--timeout", type=float, default=None, help="minutes")
    args = parser.parse_args(argv)

    if args.command == "mcp":
        from orchestratia.agent.human.mcp_server import run_stdio

        run_stdio()
        return 0
    if args.command == "approval-hook":
        fast_exit(approval_hook(args.policy, args.rule, args.timeout))
    fast_exit(ask_command(args.question, args.context, args.timeout))
    return 0  # not reached


def fast_exit(code: int) -> None:
    """Flush and leave at once: the interpreter's teardown of a CLI full of imports costs
    100-400 ms, and the caller (a shell's ``$(...)``, Claude Code) waits for our exit."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - a closed pipe: nothing more to say
        pass
    os._exit(code)


def approval_hook(policy: str | None, rules: list[str], timeout_s: float | None) -> int:
    """Read stdin, print the decision. Exit 0 always (the JSON carries the decision); exit 2
    (which blocks the call) only when even printing the decision failed."""
    try:
        from orchestratia.agent.human import hook

        policy = policy or os.environ.get("ORCHESTRATIA_APPROVAL_POLICY") or "all"
        env_rules = os.environ.get("ORCHESTRATIA_APPROVAL_RULES")
        all_rules = list(rules) + (env_rules.splitlines() if env_rules else [])
        stdin_text = sys.stdin.read()
        result = hook.run(stdin_text, policy=policy, rules=all_rules, timeout_s=timeout_s or hook.DEFAULT_TIMEOUT_S)
        sys.stdout.write(hook.render(result))
        sys.stdout.flush()
        return 0
    except BaseException as exc:  # noqa: BLE001 - fail closed, whatever it was
        sys.stderr.write(f"Orchestratia approval hook failed ({exc!r}); denied.\n")
        return 2


def ask_command(question: str, context: str | None, timeout_min: float | None) -> int:
    """Exit 0 with the answer on stdout; 2 not in a task; 3 cancelled; 4 timeout; 5 error."""
    from orchestratia.agent.human import asker

    try:
        outcome = asker.ask_sync(question, context, timeout_s=timeout_min * 60 if timeout_min else None)
    except asker.NotInTask as exc:
        sys.stderr.write(f"orchestratia ask: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("orchestratia ask: interrupted\n")
        return 130
    if outcome.answered:
        sys.stdout.write((outcome.response or "") + "\n")
        return 0
    messages = {
        "cancelled": (3, f"the question was cancelled: {outcome.reason}"),
        "timeout": (4, "no answer from a human in time"),
    }
    code, message = messages.get(outcome.status, (5, f"could not ask a human: {outcome.reason}"))
    sys.stderr.write(f"orchestratia ask: {message}\n")
    return code
