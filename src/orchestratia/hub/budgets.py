"""Daily budgets and cost sums, the store part (the pure sums are in ``costs.py``).

A budget is a daily limit in USD, hub-wide (``label`` '') or for one label; a day is a UTC day.
Today's spend is the cost of the runs (``task_attempts``) that ended today: hub-wide every run,
for a label the runs of tasks that carry it. Once a budget is reached, queued tasks it covers
wait (``Holds``: the scheduler skips them, ``queue_reason`` says "budget reached ($50.00
today)"), and the admin is told once per budget and day: a ``BudgetEvent`` on the ``hub``
channel, which the webhooks deliver as ``budget.reached``. Runs already going go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.protocol.events import BudgetEvent
from orchestratia.hub.attempts import waiting_reruns
from orchestratia.hub.costs import CostItem, holding_budget, reached_budgets, sum_costs
from orchestratia.hub.retries import retry_reason
from orchestratia.hub.states import emit
from orchestratia.hub.store.models import Budget, Task, TaskAttempt


def day_start(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(timezone.utc).date(), time(), tzinfo=timezone.utc)


async def cost_items(session: AsyncSession, since: datetime) -> list[CostItem]:
    """Every run that ended since ``since`` with its agent and its task's labels."""
    rows = await session.execute(
        select(TaskAttempt.agent_name, TaskAttempt.finished_at, Task.labels, TaskAttempt.cost_usd,
               TaskAttempt.input_tokens, TaskAttempt.output_tokens)
        .join(Task, Task.id == TaskAttempt.task_id)
        .where(TaskAttempt.finished_at >= since)
    )
    return [CostItem(agent or "(none)", finished, tuple(labels or ()), cost or 0.0, ins or 0, outs or 0)
            for agent, finished, labels, cost, ins, outs in rows]


async def spent_today(session: AsyncSession, now: datetime) -> dict[str, float]:
    """USD spent today: '' hub-wide, and per label."""
    sums = sum_costs(await cost_items(session, day_start(now)))
    spent = {label: s.cost_usd for label, s in sums.by_label.items()}
    spent[""] = sums.total.cost_usd
    return spent


async def budget_rows(session: AsyncSession) -> list[Budget]:
    return list((await session.execute(select(Budget).order_by(Budget.label))).scalars())


@dataclass
class Holds:
    """Why queued tasks may not be assigned now: a rerun's backoff, a reached budget."""

    now: datetime
    reached: dict[str, float] = field(default_factory=dict)

    def reason(self, task: Any) -> str | None:
        if task.retry_at is not None and task.retry_at > self.now:
            return "retry backoff"
        return holding_budget(task.labels, self.reached)


async def load_holds(session: AsyncSession, now: datetime) -> Holds:
    """One read of the budgets; the spend is read only when there is a budget."""
    rows = await budget_rows(session)
    if not rows:
        return Holds(now)
    spent = await spent_today(session, now)
    return Holds(now, reached_budgets({b.label: b.daily_usd for b in rows}, spent))


async def note_spend(session: AsyncSession, now: datetime) -> None:
    """After a run's cost is recorded: tell the admin about each budget reached today that was
    not told yet (``BudgetEvent``, published after the commit)."""
    rows = await budget_rows(session)
    if not rows:
        return
    await session.flush()
    spent = await spent_today(session, now)
    today = now.astimezone(timezone.utc).date().isoformat()
    for budget in rows:
        if budget.notified_on != today and spent.get(budget.label, 0.0) >= budget.daily_usd:
            budget.notified_on = today
            emit(session, BudgetEvent(id=budget.id, label=budget.label, daily_usd=budget.daily_usd,
                                      spent_usd=round(spent.get(budget.label, 0.0), 6), day=today))


async def hold_reasons(session: AsyncSession, tasks: list[Any], now: datetime) -> dict[str, str]:
    """``queue_reason`` of the queued tasks a hold keeps waiting (checked before the others)."""
    queued = [t for t in tasks if t.status == "queued"]
    if not queued:
        return {}
    holds = await load_holds(session, now)
    reasons: dict[str, str] = {}
    backoff = [t for t in queued if t.retry_at is not None and t.retry_at > now]
    if backoff:
        ended = await waiting_reruns(session, [t.id for t in backoff])
        for task in backoff:
            count, finished, cause = ended.get(task.id, (0, None, None))
            delay = (task.retry_at - finished).total_seconds() if finished else 0
            reasons[task.id] = retry_reason(count - (task.requeues or 0), task.retry or 0, round(delay), cause)
    for task in queued:
        if task.id not in reasons and (why := holding_budget(task.labels, holds.reached)) is not None:
            reasons[task.id] = why
    return reasons


def days_since(now: datetime, days: int) -> datetime:
    return day_start(now) - timedelta(days=max(1, days) - 1)
