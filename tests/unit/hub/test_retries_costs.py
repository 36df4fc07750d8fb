"""The pure parts of retries and budgets: which cause a fail report means, whether and when a
failed run is rerun, what a run cost, and the sums and holds of the daily budgets."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from orchestratia.hub.costs import CostItem, RunCost, budget_reason, holding_budget, reached_budgets, run_cost, sum_costs
from orchestratia.hub.retries import MAX_REQUEUES, backoff_s, infer_cause, plan_rerun, retry_reason


@pytest.mark.parametrize(("prior", "kwargs", "cause"), [
    ("running", {"sent": "max_turns"}, "max_turns"),  # the daemon's word first
    ("running", {"sent": "no-such-cause", "exit_code": 1}, "runner_failed"),  # an unknown one is ignored
    ("running", {"reason": "timeout", "exit_code": 143}, "timed_out"),
    ("running", {"exit_code": 1, "result": {"subtype": "error_max_turns"}}, "max_turns"),
    ("running", {"exit_code": 1, "result": {"subtype": "error_max_budget_usd"}}, "budget"),
    ("assigned", {}, "launch_failed"),  # a v1 daemon that could not start it
    ("running", {"exit_code": 2}, "runner_failed"),
    ("lost", {"exit_code": 1}, "runner_failed"),
])
def test_infer_cause(prior: str, kwargs: dict, cause: str) -> None:
    assert infer_cause(prior, **kwargs) == cause


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_s(n, 15, 100) for n in (1, 2, 3, 4)] == [15, 30, 60, 100]
    assert backoff_s(1, 0, 100) == 0 and backoff_s(400, 1, 600) == 600  # no overflow for a large n


def plan(cause: str, **kw):
    args = {"retry": 0, "retry_on": None, "retries_used": 0, "requeues": 0, "base_s": 15, "cap_s": 600, "started": True}
    return plan_rerun(cause, **{**args, **kw})


def test_default_causes_are_rerun_while_retries_last() -> None:
    first = plan("runner_failed", retry=3)
    assert (first.number, first.allowed, first.delay_s, first.automatic) == (1, 3, 15, False)
    assert plan("timed_out", retry=3, retries_used=1).delay_s == 30
    assert plan("runner_failed", retry=3, retries_used=3) is None  # all used
    assert plan("runner_failed") is None  # no --retry
    assert plan("launch_failed", retry=3) is None  # not in the default retry_on
    assert plan("launch_failed", retry=3, retry_on=["launch_failed"]).number == 1
    assert plan("runner_failed", retry=3, retry_on=["budget"]) is None


def test_a_cancel_is_never_rerun() -> None:
    assert plan("cancelled", retry=5, retry_on=["cancelled"]) is None


def test_agent_lost_before_the_start_is_requeued_at_once_at_most_twice() -> None:
    auto = plan("agent_lost", started=False)
    assert auto.automatic and auto.delay_s == 0 and auto.label() == "re-queued"
    assert plan("agent_lost", started=False, requeues=MAX_REQUEUES) is None
    assert plan("agent_lost") is None  # a started run: only when retry_on names it
    assert plan("agent_lost", retry=1, retry_on=["agent_lost"]).automatic is False


def test_retry_reason_reads_as_documented() -> None:
    assert retry_reason(2, 3, 30, "runner_failed") == "retry 2/3 after 30 s (runner_failed)"


def test_run_cost_reads_what_runners_report_and_drops_nonsense() -> None:
    usage = {"input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 1}
    assert run_cost({"cost_usd": 0.25, "usage": usage}) == RunCost(0.25, 106, 20)
    assert run_cost({"total_cost_usd": 1}) == RunCost(1.0, None, None)
    assert run_cost({"cost_usd": -1, "usage": {"output_tokens": True}}) == RunCost()
    assert run_cost({"cost_usd": float("inf")}) == RunCost() and run_cost(None) == RunCost()
    assert not RunCost().known and RunCost(0.0).known


def item(agent: str, day: int, labels: tuple[str, ...], cost: float) -> CostItem:
    return CostItem(agent, datetime(2026, 12, day, 12, tzinfo=timezone.utc), labels, cost, 10, 2)


def test_sums_by_agent_day_and_label() -> None:
    sums = sum_costs([item("a", 5, ("gpu",), 1.0), item("a", 6, ("gpu", "web"), 2.0), item("b", 6, (), 4.0)])
    assert sums.total.cost_usd == 7.0 and sums.total.runs == 3 and sums.total.input_tokens == 30
    assert {k: v.cost_usd for k, v in sums.by_agent.items()} == {"a": 3.0, "b": 4.0}
    assert {k: v.cost_usd for k, v in sums.by_day.items()} == {"2026-12-05": 1.0, "2026-12-06": 6.0}
    assert {k: v.cost_usd for k, v in sums.by_label.items()} == {"gpu": 3.0, "web": 2.0}


def test_budget_holds() -> None:
    reached = reached_budgets({"": 50.0, "gpu": 10.0, "web": 5.0}, {"": 12.0, "gpu": 10.0, "web": 1.0})
    assert reached == {"gpu": 10.0}
    assert holding_budget(["web", "gpu"], reached) == "budget reached for label gpu ($10.00 today)"
    assert holding_budget(["web"], reached) is None and holding_budget(None, reached) is None
    assert holding_budget([], {"": 50.0}) == budget_reason("", 50) == "budget reached ($50.00 today)"
