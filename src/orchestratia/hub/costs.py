"""What runs cost, the pure part: a run's cost and tokens from the result its runner reported
(:func:`run_cost`), and the sums by agent, day and label (:func:`sum_costs`) that the Costs page,
``orchestratia costs`` and the daily budgets use.

Claude Code reports ``total_cost_usd`` and ``usage`` in its stream-json result (AGENT_CLIS.md);
our daemon's claude runner puts them in the task's result as ``cost_usd`` and ``usage``. Other
CLIs report no cost (Codex and Gemini report tokens only, and our daemon does not read them yet):
their runs count 0 USD.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: usage keys counted as input tokens (Claude Code splits the prompt's tokens three ways)
INPUT_KEYS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


@dataclass(frozen=True)
class RunCost:
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def known(self) -> bool:
        return self.cost_usd is not None or self.input_tokens is not None or self.output_tokens is not None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and 0 <= value < 1e12 else None


def run_cost(result: dict[str, Any] | None) -> RunCost:
    """The cost and tokens a run's result reports (anything an agent sends is checked: a
    negative, huge or non-number value counts as not reported)."""
    if not isinstance(result, dict):
        return RunCost()
    cost = _number(result.get("cost_usd", result.get("total_cost_usd")))
    usage = result.get("usage") if isinstance(result.get("usage"), dict) else {}
    ins = [n for k in INPUT_KEYS if (n := _number(usage.get(k))) is not None]
    out = _number(usage.get("output_tokens"))
    return RunCost(cost, int(sum(ins)) if ins else None, int(out) if out is not None else None)


def add(total: float | int | None, part: float | int | None) -> Any:
    """``total + part`` where None means "not reported" (None + None stays None)."""
    if part is None:
        return total
    return part if total is None else total + part


@dataclass(frozen=True)
class CostItem:
    """One ended run, as the sums need it."""

    agent: str
    finished_at: datetime
    labels: tuple[str, ...]
    cost_usd: float
    input_tokens: int
    output_tokens: int


@dataclass
class Sum:
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    runs: int = 0

    def add(self, item: CostItem) -> None:
        self.cost_usd += item.cost_usd
        self.input_tokens += item.input_tokens
        self.output_tokens += item.output_tokens
        self.runs += 1


@dataclass
class CostSums:
    total: Sum = field(default_factory=Sum)
    by_agent: dict[str, Sum] = field(default_factory=dict)
    by_day: dict[str, Sum] = field(default_factory=dict)
    by_label: dict[str, Sum] = field(default_factory=dict)


def sum_costs(items: Iterable[CostItem]) -> CostSums:
    """Sums by agent, by UTC day (YYYY-MM-DD) and by label (a run counts for each of its task's
    labels; a task without labels counts for none)."""
    sums = CostSums()
    for item in items:
        sums.total.add(item)
        sums.by_agent.setdefault(item.agent, Sum()).add(item)
        sums.by_day.setdefault(item.finished_at.date().isoformat(), Sum()).add(item)
        for label in item.labels:
            sums.by_label.setdefault(label, Sum()).add(item)
    return sums


def budget_reason(label: str, limit_usd: float) -> str:
    """``queue_reason`` of a task held by a reached budget."""
    where = f" for label {label}" if label else ""
    return f"budget reached{where} (${limit_usd:,.2f} today)"


def reached_budgets(limits: dict[str, float], spent: dict[str, float]) -> dict[str, float]:
    """The budgets (label '' hub-wide) whose spend today has reached their limit."""
    return {label: limit for label, limit in limits.items() if spent.get(label, 0.0) >= limit}


def holding_budget(task_labels: Iterable[str] | None, reached: dict[str, float]) -> str | None:
    """The reason a task waits for a reached budget (the hub-wide one first), else None."""
    if "" in reached:
        return budget_reason("", reached[""])
    for label in task_labels or ():
        if label in reached:
            return budget_reason(label, reached[label])
    return None
