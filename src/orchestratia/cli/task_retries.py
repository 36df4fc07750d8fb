"""What ``tasks create`` sends and ``tasks show`` prints about retries and cost
(docs/scheduling.md, "Retries" and "Budgets"); kept apart from cmd_tasks.py."""

from __future__ import annotations

from typing import Any

from orchestratia.protocol.admin import DEFAULT_RETRY_ON, RETRY_MAX, RETRYABLE_CAUSES

from . import render
from .common import short_id
from .errors import CliError


def retry_options(retry: int | None, retry_on: str | None, max_cost: float | None) -> dict[str, Any]:
    """The create body's ``retry``, ``retry_on`` and ``max_cost_usd``, checked."""
    body: dict[str, Any] = {}
    if retry is not None:
        if not 0 <= retry <= RETRY_MAX:
            raise CliError(f"--retry must be 0..{RETRY_MAX} (reruns after a failure), not {retry}")
        body["retry"] = retry
    if retry_on is not None:
        causes = [c.strip() for c in retry_on.split(",") if c.strip()]
        bad = [c for c in causes if c not in RETRYABLE_CAUSES]
        if bad or not causes:
            raise CliError(f"--retry-on takes causes separated by commas, from: {', '.join(RETRYABLE_CAUSES)} "
                           f"(default {','.join(DEFAULT_RETRY_ON)}); not {', '.join(bad) or 'nothing'}")
        if not retry:
            raise CliError("--retry-on needs --retry N (how many reruns)")
        body["retry_on"] = causes
    if max_cost is not None:
        if not max_cost > 0:
            raise CliError("--max-cost must be a positive amount in USD, e.g. --max-cost 2.50")
        body["max_cost_usd"] = max_cost
    return body


def money(value: Any) -> str:
    return f"${value:,.4f}" if isinstance(value, (int, float)) else "-"


def cost_pairs(task: dict[str, Any]) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    if task.get("failure_cause"):
        pairs.append(("cause", render.text(task["failure_cause"], "red")))
    if task.get("retry"):
        pairs.append(("retry", f"up to {task['retry']} on {', '.join(task.get('retry_on') or [])}"))
    if task.get("cost_usd") is not None or task.get("max_cost_usd") is not None:
        limit = f" (limit {money(task['max_cost_usd'])})" if task.get("max_cost_usd") is not None else ""
        tokens = ""
        if task.get("input_tokens") is not None or task.get("output_tokens") is not None:
            tokens = f", tokens {task.get('input_tokens') or 0} in / {task.get('output_tokens') or 0} out"
        pairs.append(("cost", f"{money(task.get('cost_usd'))}{limit}{tokens}"))
    return pairs


def print_attempts(task: dict[str, Any]) -> None:
    """The ended runs, one row each, with where each one's output is."""
    attempts = task.get("attempts") or []
    if not attempts:
        return
    ident = short_id(task.get("id"))
    render.table(
        ["#", "AGENT", "ENDED", "CAUSE", "STARTED (UTC)", "FINISHED (UTC)", "COST", "OUTPUT"],
        ([str(a.get("number")), a.get("agent") or "-", render.status_text(a.get("status")), a.get("cause") or "-",
          render.short_time(a.get("started_at")), render.short_time(a.get("finished_at")), money(a.get("cost_usd")),
          f"bytes {a.get('output_start')}..{a.get('output_end')} (tasks output {ident} --offset {a.get('output_start')})"]
         for a in attempts),
        title="attempts",
    )
