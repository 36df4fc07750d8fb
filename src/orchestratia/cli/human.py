"""Commands a running task uses: ``ask``, ``mcp``, ``approval-hook``.

They talk to the local agent daemon (its Unix socket, the per-task credential in the task's
environment), never to the hub. Register them on the root app with :func:`register`::

    from . import human
    human.register(app)

Exit statuses of ``ask``: 0 answered (the answer on stdout), 2 not inside a task,
3 cancelled (the question or the task), 4 no answer in time, 5 could not ask (daemon
unreachable, hub refused), 130 interrupted.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

EXIT_NOT_IN_TASK = 2
EXIT_CANCELLED = 3
EXIT_TIMEOUT = 4
EXIT_FAILED = 5


def ask(
    question: Annotated[str, typer.Argument(help="The question for a human")],
    context: Annotated[Optional[str], typer.Option("--context", "-c", help="What you tried, what you need")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Give up after this many minutes (default: wait)", min=0.001)] = None,
) -> None:
    """Ask a human and wait; prints the answer. Only inside a task the agent daemon runs."""
    from orchestratia.agent.human.commands import ask_command, fast_exit

    fast_exit(ask_command(question, context, timeout))


def mcp() -> None:
    """Serve the ask_human MCP tool on stdin/stdout (Claude Code starts this itself)."""
    from orchestratia.agent.human.mcp_server import run_stdio

    run_stdio()


def approval_hook(
    policy: Annotated[Optional[str], typer.Option("--policy", help="none | risky | all (default: $ORCHESTRATIA_APPROVAL_POLICY or all)")] = None,
    rule: Annotated[Optional[list[str]], typer.Option("--rule", help="A rule such as 'allow Read' or 'ask Bash(git push *)'; repeatable")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Seconds to wait for a human before denying")] = None,
) -> None:
    """Claude Code PreToolUse hook: reads the tool call on stdin, prints allow/deny. Fails closed."""
    from orchestratia.agent.human.commands import approval_hook as run_hook
    from orchestratia.agent.human.commands import fast_exit

    fast_exit(run_hook(policy, list(rule or []), timeout))


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
    app.command("mcp")(mcp)
    app.command("approval-hook")(approval_hook)


#: A stand-alone app with the three commands (for tests and embedding).
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)
register(app)
