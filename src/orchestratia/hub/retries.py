"""Retries by cause, the pure part: why a run failed (:func:`infer_cause`), whether the task runs
again (:func:`plan_rerun`), and how long it waits first (:func:`backoff_s`).

Causes (``protocol.FAILURE_CAUSES``, docs/scheduling.md "Retries"): our daemon says the one it
knows in the fail request's ``cause``; a v1 daemon says none, and the hub infers what it can from
what every daemon sends (the status the task had, ``reason: timeout``, the runner's result). The
hub decides ``timed_out`` (its own timeout) and ``agent_lost`` (no contact) itself.

Two kinds of rerun:

* an **infrastructure** cause before the run started (``agent_lost``: the task was assigned to
  an agent that went silent, or whose daemon crashed, before it started the task) re-queues the
  task at once, at most ``MAX_REQUEUES`` times, whatever the task asked. Once a run has started,
  ``agent_lost`` is an ordinary cause (``--retry-on agent_lost``): the run may have changed
  things, and a ``lost`` task still takes its agent's late report;
* any other cause in the task's ``retry_on`` reruns it while ``retry`` allows, after an
  exponential backoff (``base * 2**(n-1)``, capped).

A cancel is the user's decision: never rerun.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestratia.protocol import FAILURE_CAUSES, TaskStatus
from orchestratia.protocol.admin import DEFAULT_RETRY_ON

#: automatic re-queues after an infrastructure cause, per task
MAX_REQUEUES = 2
INFRASTRUCTURE_CAUSES = frozenset({"agent_lost"})
#: Claude Code's result subtypes that name a cause (AGENT_CLIS.md)
SUBTYPE_CAUSES = {"error_max_turns": "max_turns", "error_max_budget_usd": "budget"}


def infer_cause(prior_status: str, *, sent: str | None = None, reason: str | None = None,
                exit_code: int | None = None, result: dict[str, Any] | None = None) -> str:
    """The cause of a ``fail`` report on a task that was ``prior_status``.

    In order: the cause the daemon sent (when it is one we know); ``reason: timeout``; a result
    subtype that names one (max turns, max budget); a task that never started (the daemon could
    not launch it: no CLI, no repo); else the runner's own failure."""
    if sent in FAILURE_CAUSES:
        return sent  # type: ignore[return-value]
    if reason == "timeout":
        return "timed_out"
    subtype = (result or {}).get("subtype")
    if isinstance(subtype, str) and subtype in SUBTYPE_CAUSES:
        return SUBTYPE_CAUSES[subtype]
    if prior_status == TaskStatus.ASSIGNED.value:
        return "launch_failed"
    return "runner_failed"


def backoff_s(retry_number: int, base_s: float, cap_s: float) -> float:
    """The wait before rerun ``retry_number`` (1 for the first): ``base * 2**(n-1)``, capped."""
    if retry_number < 1 or base_s <= 0:
        return 0.0
    return float(min(cap_s, base_s * 2 ** min(retry_number - 1, 30)))


@dataclass(frozen=True)
class Rerun:
    """The task goes back to the queue: ``automatic`` (an infrastructure re-queue, no wait) or
    retry ``number`` of ``allowed`` after ``delay_s``."""

    cause: str
    automatic: bool
    number: int = 0
    allowed: int = 0
    delay_s: float = 0.0

    def label(self) -> str:
        """How ``queue_reason`` and the output's attempt line name it: "retry 2/3" / "re-queued"."""
        return f"retry {self.number}/{self.allowed}" if not self.automatic else "re-queued"


def plan_rerun(cause: str, *, retry: int, retry_on: list[str] | None, retries_used: int, requeues: int,
               base_s: float, cap_s: float, started: bool = True) -> Rerun | None:
    """Whether a run that ended for ``cause`` runs again, and how (None: the task ends).
    ``started``: whether the run had started (the daemon claimed the task)."""
    if cause == "cancelled":
        return None
    if cause in INFRASTRUCTURE_CAUSES and not started and requeues < MAX_REQUEUES:
        return Rerun(cause, automatic=True)
    wanted = DEFAULT_RETRY_ON if retry_on is None else retry_on
    if cause not in wanted or retries_used >= retry:
        return None
    number = retries_used + 1
    return Rerun(cause, automatic=False, number=number, allowed=retry, delay_s=backoff_s(number, base_s, cap_s))


def retry_reason(number: int, allowed: int, delay_s: float, cause: str | None) -> str:
    """``queue_reason`` while a rerun waits out its backoff: "retry 2/3 after 30 s (runner_failed)"."""
    return f"retry {number}/{allowed} after {delay_s:g} s ({cause or 'failed'})"
