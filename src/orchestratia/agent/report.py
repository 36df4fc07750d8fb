"""What the daemon tells the hub when a task's runner has ended: ``complete`` or ``fail`` with the
result its runner parses from the task's log.

A log can be gigabytes; the runners need only its first lines (claude's ``system/init``, codex's
``thread.started``, gemini's ``init``) and its end (claude's and gemini's ``result`` event is the
last line, codex's ``turn.*`` the last events, summaries are the last 20 lines). So
:func:`read_for_report` reads the whole log only when it is small (at most ``REPORT_HEAD +
REPORT_TAIL`` bytes), else its first ``REPORT_HEAD`` bytes and its last ``REPORT_TAIL`` bytes,
both cut to whole lines: memory stays bounded whatever the log's size.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestratia.protocol import FAIL_REASON_TIMEOUT, FAIL_REASON_USAGE_LIMIT

from .client import HubClient
from .runners import Runner
from .tasks import TaskRun

log = logging.getLogger("orchestratia.agent")

REPORT_HEAD = 1024 * 1024  #: bytes read from the start of a big log (its first events)
REPORT_TAIL = 8 * 1024 * 1024  #: bytes read from the end of a big log (its last events and lines)
REPORT_TAIL_MAX = 64 * 1024 * 1024  #: a last line longer than REPORT_TAIL is read whole up to this


def read_for_report(path: str | Path, head: int = REPORT_HEAD, tail: int = REPORT_TAIL,
                    tail_max: int = REPORT_TAIL_MAX) -> bytes:
    """The part of a task's log its runner parses: the whole log when it is at most ``head +
    tail`` bytes; else its first ``head`` bytes cut back to the end of a line, then its lines
    that start within the last ``tail`` bytes. When no line starts there (one last line longer
    than ``tail``), the window grows to ``tail_max`` so that the last line is read whole; past
    that, the end of the line is all that is read. A missing log is empty."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return b""
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size <= head + tail:
            return fh.read(size)
        first = fh.read(head)
        window = tail
        while True:
            start = max(head, size - window)
            if start == head:  # the window reaches the head: the log is read whole after all
                fh.seek(head)
                return first + fh.read(size - head)
            fh.seek(start - 1)  # one byte before: is `start` a line start?
            buf = fh.read(size - start + 1)
            body = len(buf)
            while body and buf[body - 1] == 0x0A:  # the last line's own newline(s) do not count
                body -= 1
            nl = buf.find(b"\n", 0, body)
            if nl >= 0 or window >= tail_max:
                head_lines = first[: first.rfind(b"\n") + 1]
                return b"".join((head_lines, memoryview(buf)[nl + 1 if nl >= 0 else 1:]))
            window = min(window * 2, tail_max)


@dataclass
class Outcome:
    """``complete`` (ok) or ``fail`` with these fields, as sent to the hub."""

    ok: bool
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    exit_code: int | None = None
    reason: str | None = None  # FAIL_REASON_TIMEOUT: the hub ends the task timed_out
    cause: str | None = None  # protocol.FAILURE_CAUSES: why, as far as the daemon knows
    resets_at: float | None = None  # with FAIL_REASON_USAGE_LIMIT: when the limit resets (epoch)


#: Claude Code's result subtypes that name a failure cause (AGENT_CLIS.md)
SUBTYPE_CAUSES = {"error_max_turns": "max_turns", "error_max_budget_usd": "budget"}


def runner_cause(result: dict[str, Any]) -> str:
    """The cause of a run whose runner ended with a failure: the CLI's own limit, else its error."""
    return SUBTYPE_CAUSES.get(str(result.get("subtype") or ""), "runner_failed")


def outcome(run: TaskRun, runner: Runner | None) -> Outcome:
    """What to report for a run whose runner ended (``run.exit`` holds the launcher's exit
    record, or the daemon's note that there is none). Blocking: reads the log."""
    exit_info = run.exit or {}
    code = exit_info.get("exit_code")
    ended = float(exit_info.get("ended_at_epoch") or time.time())
    duration = max(0.0, ended - run.started_at)
    rep = runner.report(code if code is not None else -1, read_for_report(run.files.log)) if runner else None
    result = rep.result(code if code is not None else -1, duration) if rep else {"exit_code": code}
    if code is None:
        result["exit_code"] = None
    said = f"; {run.runner} said: {rep.last_line}" if rep is not None and rep.last_line else ""
    if run.stop_kind:
        reason = FAIL_REASON_TIMEOUT if run.stop_kind == "timeout" or hub_timeout(run.stop_reason) else None
        cause = "timed_out" if reason else "cancelled"
        return Outcome(False, result, stop_error(run.stop_kind, run.stop_reason, code) + said, code, reason, cause)
    if code is None:  # no exit record: the session or the machine went away under the run
        return Outcome(False, result, (exit_info.get("error") or "no exit status") + said, None, cause="agent_lost")
    if rep is not None and rep.ok:
        return Outcome(True, result, exit_code=code)
    if rep is not None and rep.usage_limited:  # the hub parks the task until the reset
        return Outcome(False, result, rep.error, code, FAIL_REASON_USAGE_LIMIT, cause="usage_limit",
                       resets_at=rep.resets_at)
    return Outcome(False, result, rep.error if rep else f"exit status {code}", code, cause=runner_cause(result))


def hub_timeout(reason: str) -> bool:
    """Whether a cancel came from the hub's own timeout check (its reason reads "timed out
    after N minutes"): the task is ``timed_out`` there, and a ``fail`` with ``reason: timeout``
    adds the runner's account (exit status, last line) to it, where a plain one gets 409."""
    return reason.startswith("timed out after ")


def stop_error(kind: str, reason: str, code: int | None) -> str:
    """``timed out: REASON`` / ``cancelled: REASON``, without saying it twice when the reason
    already does (the hub's cancel for a timeout reads "timed out after N minutes")."""
    what = "cancelled" if kind == "cancel" else "timed out"
    head = reason if reason.startswith(("timed out", "cancelled")) else f"{what}: {reason}"
    return f"{head}; the runner was stopped (exit status {code})"


async def send_report(client: HubClient, run: TaskRun, runner: Runner | None) -> None:
    """Build the outcome (in a thread: it reads the log) and send it. Raises what the client
    raises (the caller retries, or accepts the hub's 409/404)."""
    out = await asyncio.to_thread(outcome, run, runner)
    if out.ok:
        await client.complete(run.id, out.result)
    else:
        await client.fail(run.id, out.error, exit_code=out.exit_code, result=out.result, reason=out.reason,
                          resets_at=out.resets_at, cause=out.cause)
    log.info("task %s reported: exit %s%s", run.id, out.exit_code, f" ({run.stop_kind})" if run.stop_kind else "")
