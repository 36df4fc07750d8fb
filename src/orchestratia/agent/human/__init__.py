"""Human in the loop, agent side: the help relay (daemon ⇄ task over a Unix socket), the asker
client, the ``ask_human`` MCP server, the approval hook, and the Claude Code config for them.

See docs/human-in-the-loop.md. Import the submodules directly; this package imports nothing
heavy so that ``python -m orchestratia.agent.human approval-hook`` starts fast.
"""

from orchestratia.agent.human.wire import (
    ENV_SOCKET,
    ENV_TASK_CREDENTIAL,
    ENV_TASK_ID,
    MCP_ALLOWED_TOOL,
    SOCKET_NAME,
)

__all__ = ["ENV_SOCKET", "ENV_TASK_CREDENTIAL", "ENV_TASK_ID", "MCP_ALLOWED_TOOL", "SOCKET_NAME"]
