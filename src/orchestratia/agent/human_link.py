"""The daemon's side of human-in-the-loop: wires ``orchestratia.agent.human`` (the help relay,
the ``ask_human`` MCP server and the approval hook; see docs/human-in-the-loop.md) into task runs.

Optional by design: when ``human.enabled`` is false, or the relay cannot start, tasks run
without it (a warning says why) and nothing else in the daemon changes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .client import ssl_context
from .runners import LaunchPlan

log = logging.getLogger(__name__)


class HumanLink:
    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.relay: Any = None
        self._api: Any = None

    @property
    def active(self) -> bool:
        return self.relay is not None

    async def start(self) -> None:
        if not self.cfg.human.enabled:
            return
        try:
            from orchestratia.agent.human.hub_api import HttpHubHelpAPI
            from orchestratia.agent.human.relay import HelpRelay

            # the daemon's one TLS context (ca_bundle, else httpx's defaults), not a CA path:
            # httpx 0.28 deprecates verify=<str>
            self._api = HttpHubHelpAPI(self.cfg.hub_url, self.cfg.api_key, verify=ssl_context(self.cfg.ca_bundle))
            relay = HelpRelay(self._api, self.cfg.pid_dir / "human")
            await relay.start()
            self.relay = relay
        except Exception as err:  # noqa: BLE001 - the daemon runs tasks without it
            log.warning("human-in-the-loop disabled: the help relay did not start (%s)", err)
            await self._close_api()

    def policy_for(self, task: Any) -> str:
        return getattr(task, "approval_policy", None) or self.cfg.human.approval_policy

    def prepare(self, task: Any, runner: str, plan: LaunchPlan) -> None:
        """Give the task its relay environment; for claude also the MCP server and the hook.
        Fails closed: a claude task whose policy wants approvals always gets the hook (it
        denies what needs a human when the relay is missing)."""
        policy = self.policy_for(task)
        if self.relay is None:
            if runner == "claude" and policy != "none":
                self._hook_only(task, plan, policy)
            return
        try:
            env = self.relay.register_task(task.id, policy)
            plan.env.update(env)
            if runner != "claude":
                return
            from orchestratia.agent.human.claude_config import prepare_claude_task

            setup = prepare_claude_task(self.cfg.pid_dir, task.id, env, approval_policy=policy,
                                        approval_rules=self.cfg.human.approval_rules,
                                        approval_timeout_s=self.cfg.human.approval_timeout_s)
            add_allowed_tools(plan.argv, setup.allowed_tools)
            plan.argv.extend(setup.argv)
        except Exception as err:  # noqa: BLE001
            log.warning("task %s: runs without human-in-the-loop (%s)", task.id, err)
            if runner == "claude" and policy != "none" and not any(a.startswith("--settings=") for a in plan.argv):
                self._hook_only(task, plan, policy)

    def _hook_only(self, task: Any, plan: LaunchPlan, policy: str) -> None:
        from orchestratia.agent.human.claude_config import prepare_hook_only

        try:
            setup = prepare_hook_only(self.cfg.pid_dir, task.id, policy, approval_rules=self.cfg.human.approval_rules,
                                      approval_timeout_s=self.cfg.human.approval_timeout_s)
            plan.argv.extend(setup.argv)
        except Exception as err:  # noqa: BLE001
            log.error("task %s: cannot install the approval hook (%s)", task.id, err)

    def answered(self, intervention_id: str, response: str | None, task_id: str | None) -> None:
        if self.relay is not None:
            try:
                self.relay.notify_answered(intervention_id, response, task_id)
            except Exception as err:  # noqa: BLE001
                log.warning("intervention %s: relay error: %s", intervention_id, err)

    async def task_finished(self, task_id: str) -> None:
        for p in Path(self.cfg.pid_dir).glob(f"human-{task_id}.*"):
            p.unlink(missing_ok=True)
        if self.relay is not None:
            try:
                await self.relay.task_finished(task_id)
            except Exception as err:  # noqa: BLE001
                log.warning("task %s: relay error at the end: %s", task_id, err)

    async def close(self) -> None:
        if self.relay is not None:
            try:
                await self.relay.close()
            except Exception as err:  # noqa: BLE001
                log.warning("help relay close: %s", err)
            self.relay = None
        await self._close_api()

    async def _close_api(self) -> None:
        if self._api is not None:
            try:
                await self._api.aclose()
            except Exception:  # noqa: BLE001
                pass
            self._api = None


def add_allowed_tools(argv: list[str], tools: list[str]) -> None:
    """Append ``tools`` to the ``--allowedTools=...`` argument (added when absent)."""
    if not tools:
        return
    for i, arg in enumerate(argv):
        if arg.startswith("--allowedTools="):
            current = arg.split("=", 1)[1]
            argv[i] = "--allowedTools=" + ",".join([t for t in [current, *tools] if t])
            return
    argv.append("--allowedTools=" + ",".join(tools))
