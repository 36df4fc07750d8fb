"""``orchestratia mcp``: a stdio MCP server with one tool, ``ask_human(question, context)``.

stdout carries MCP protocol messages only; logs go to stderr. While a question waits, the tool
sends a progress notification every ``progress_interval`` seconds (when the client gave a
progress token), so Claude Code's 30-minute idle abort never fires; the daemon also writes a long
``timeout`` into the ``--mcp-config`` it passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from typing import Any

from orchestratia.agent.human import asker, wire
from orchestratia.protocol.redact import install_redaction

log = logging.getLogger(__name__)

TOOL_DESCRIPTION = (
    "Ask a human for help and wait for the answer. Use it when you are blocked: a decision only "
    "a person can make, missing credentials or access, an ambiguous requirement, or before an "
    "irreversible step. Put the question in `question` and what you tried / what you need in "
    "`context`. Returns the human's answer as text. It may take minutes or hours; do not retry "
    "while it waits."
)


try:  # mcp 2.x
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
except ImportError:  # pragma: no cover - mcp 1.x
    from mcp.server.fastmcp import Context, FastMCP as MCPServer  # type: ignore[no-redef]
    from mcp.server.fastmcp.exceptions import ToolError  # type: ignore[no-redef]


def _tool_error(message: str) -> Exception:
    return ToolError(message)


async def _ticker(ctx: Any, started: float, interval: float) -> None:
    """Progress notifications until cancelled."""
    step = 0
    while True:
        await asyncio.sleep(interval)
        step += 1
        waited = int(time.monotonic() - started)
        with contextlib.suppress(Exception):
            await ctx.report_progress(step, None, f"waiting for a human answer ({waited} s)")


def build_server(*, progress_interval: float = 15.0, timeout_s: float | None = None) -> Any:
    """The MCP server object (not started). ``timeout_s``: give up on a question after that."""
    server = MCPServer(wire.MCP_SERVER_NAME)

    async def ask_human(question: str, ctx: Context, context: str = "") -> str:
        started = time.monotonic()
        with contextlib.suppress(Exception):
            await ctx.report_progress(0, None, "question sent to a human")
        ticker = asyncio.create_task(_ticker(ctx, started, progress_interval))
        try:
            outcome = await asker.ask(question, context or None, timeout_s=timeout_s)
        except asker.NotInTask as exc:
            raise _tool_error(str(exc)) from None
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        if outcome.answered:
            return outcome.response or ""
        if outcome.status == "cancelled":
            raise _tool_error(f"No answer: {outcome.reason or 'the question was cancelled'}. Stop and wrap up.")
        if outcome.status == "timeout":
            raise _tool_error("No answer from a human in time. Decide conservatively or stop, and say so.")
        raise _tool_error(f"Could not ask a human: {outcome.reason}")

    server.tool(name=wire.MCP_TOOL_NAME, description=TOOL_DESCRIPTION)(ask_human)
    return server


def run_stdio(*, progress_interval: float | None = None) -> None:
    """Serve on stdin/stdout until the client closes the pipe."""
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("ORCHESTRATIA_LOG_LEVEL", "WARNING"))
    install_redaction()  # its stderr ends up in the task's stored output
    interval = progress_interval or float(os.environ.get("ORCHESTRATIA_MCP_PROGRESS_S", "15"))
    timeout = os.environ.get("ORCHESTRATIA_ASK_TIMEOUT_S")
    server = build_server(progress_interval=interval, timeout_s=float(timeout) if timeout else None)
    server.run()
