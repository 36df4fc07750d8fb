"""The admin API's objects (prefix ``/api/admin``; docs/admin-api.md): request bodies with
their limits, and the objects it answers with, so the hub, the CLI and the dashboard share one
definition.

Bodies ignore unknown fields and keep the messages clients see today (pydantic's, e.g.
``title: String should have at least 1 character``). Read models ignore unknown fields too
(the API may add some); their JSON is exactly the API's: timestamps are ISO 8601 strings as
the hub writes them (``2025-01-02T03:04:05.123456+00:00``), whole ``timeout_minutes`` are
integers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from .events import TokenStatus
from .labels import TASK_LABELS_MAX, label_problem
from .policy import ApprovalPolicy as ApprovalPolicy  # stdlib only (see .policy); an admin object
from .wire import FAILURE_CAUSES, AgentStatus, InterventionStatus, Minutes, TaskStatus


#: retries: the most reruns a task may ask for, the causes that can be retried (a cancel is the
#: user's decision, never retried) and those retried when the task names none
RETRY_MAX = 10
RETRYABLE_CAUSES = tuple(c for c in FAILURE_CAUSES if c != "cancelled")
DEFAULT_RETRY_ON = ("runner_failed", "timed_out")

#: the longest task title, and the longest ``timeout_minutes`` (one week)
TASK_TITLE_MAX = 500
TASK_TIMEOUT_MAX_MINUTES = 7 * 24 * 60

#: a timestamp as the hub writes it: ``datetime.isoformat()`` (pydantic's own JSON form would
#: turn ``+00:00`` into ``Z``)
IsoTime = Annotated[datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str, when_used="json")]


def _label(value: str) -> str:
    if (problem := label_problem(value)) is not None:
        raise ValueError(problem)
    return value


#: a label or a group name (protocol/labels.py: 1-100 of letters, digits and ``. _ - : =``)
Label = Annotated[str, AfterValidator(_label)]
#: ``--priority``: the queue takes high before normal before low, then the oldest first
Priority = Literal["high", "normal", "low"]
PRIORITY_VALUES: dict[str, int] = {"high": 1, "normal": 0, "low": -1}
#: the largest ``groups set --max``
GROUP_MAX_ACTIVE = 10_000


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --------------------------------------------------------------------------- request bodies


class LoginRequest(_Body):
    """``POST /login``."""

    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class TokenCreate(_Body):
    """``POST /tokens``. ``expires_in`` is ``<n><unit>`` (s, m, h, d, w), at most 365 days:
    the hub checks it (its messages name the accepted forms)."""

    label: str = Field(default="", max_length=200)
    expires_in: str = "24h"


class TaskCreate(_Body):
    """``POST /tasks``. ``approval_policy`` is validated against :class:`ApprovalPolicy` and kept
    as its plain string value (what the store column and the task object hold); None: the
    agent's own default."""

    model_config = ConfigDict(extra="ignore", use_enum_values=True)

    title: str = Field(min_length=1, max_length=TASK_TITLE_MAX)
    spec: str = Field(min_length=1)
    target_repo: str | None = Field(default="", max_length=200)
    agent: str | None = Field(default=None, max_length=200)  # name or id
    runner: str | None = Field(default=None, max_length=50)
    timeout_minutes: float | None = Field(default=None, gt=0, le=TASK_TIMEOUT_MAX_MINUTES, allow_inf_nan=False)
    approval_policy: ApprovalPolicy | None = None
    #: where the task runs in a git repo: its own worktree and branch (the default), or the
    #: repo's checkout (``in_place``); ``base_ref``: the commit to branch from; ``branch``: an
    #: existing branch to continue. None: the agent's repo config decides.
    workspace: Literal["worktree", "in_place"] | None = None
    base_ref: str | None = Field(default=None, min_length=1, max_length=250)
    branch: str | None = Field(default=None, min_length=1, max_length=250)
    #: only an agent with all of these labels takes the task (docs/scheduling.md, "Labels")
    labels: list[Label] = Field(default_factory=list, max_length=TASK_LABELS_MAX)
    priority: Priority = "normal"
    #: the concurrency group (``groups set NAME --max N``): at most N of its tasks at once
    group: Label | None = None
    #: ids (or unique id prefixes) of tasks that must complete first (``tasks create --after``)
    after: list[Annotated[str, Field(min_length=1, max_length=36)]] = Field(default_factory=list, max_length=50)
    #: retries (docs/scheduling.md): reruns allowed after a failure whose cause is in
    #: ``retry_on`` (None: ``DEFAULT_RETRY_ON``); ``max_cost_usd``: the run's cost limit
    retry: int = Field(default=0, ge=0, le=RETRY_MAX)
    retry_on: list[str] | None = Field(default=None, max_length=len(FAILURE_CAUSES))
    max_cost_usd: float | None = Field(default=None, gt=0, le=1_000_000, allow_inf_nan=False)

    @field_validator("retry_on")
    @classmethod
    def _causes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        bad = [c for c in value if c not in RETRYABLE_CAUSES]
        if bad:
            raise ValueError(f"cannot retry on {', '.join(bad)}: the causes are {', '.join(RETRYABLE_CAUSES)}"
                             " (a cancel is never retried)")
        return list(dict.fromkeys(value))


class GroupSet(_Body):
    """``PUT /groups/{name}``: at most ``max_active`` tasks of the group assigned or running."""

    max_active: int = Field(ge=1, le=GROUP_MAX_ACTIVE)


class TaskReply(_Body):
    """``POST /tasks/{id}/replies``: a follow-up message continuing the task's conversation."""

    message: str = Field(min_length=1, max_length=1_000_000)

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the message is empty: write what the agent should do next")
        return value


class BudgetSet(_Body):
    """``PUT /budgets``: the daily limit in USD, hub-wide (``label`` empty) or for one label."""

    daily_usd: float = Field(gt=0, le=1_000_000_000, allow_inf_nan=False)
    label: str = Field(default="", max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")


class TaskCancel(_Body):
    """``POST /tasks/{id}/cancel`` (the body is optional)."""

    reason: str | None = Field(default=None, max_length=2000)


class InterventionAnswer(_Body):
    """``POST /interventions/{id}/answer``."""

    response: str = Field(min_length=1, max_length=100_000)


# --------------------------------------------------------------------------- responses


class LoginResponse(_Read):
    token: str
    username: str
    expires_at: IsoTime


class AttemptView(_Read):
    """One ended run of a task: its agent, timing, how and why it ended, the range of the task's
    output it wrote (``GET /tasks/{id}/output?offset=output_start``), its reported cost."""

    number: int
    agent: str | None
    agent_id: str | None
    status: str
    cause: str | None
    error: str | None
    exit_code: int | None
    assigned_at: IsoTime | None
    started_at: IsoTime | None
    finished_at: IsoTime | None
    output_start: int
    output_end: int
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


class BudgetView(_Read):
    """A daily budget with today's spend (UTC day)."""

    label: str  # '' for the hub-wide budget
    daily_usd: float
    spent_today_usd: float
    reached: bool


class CostRow(_Read):
    """Cost and tokens of one agent, day or label (``GET /costs``)."""

    key: str
    cost_usd: float
    input_tokens: int
    output_tokens: int
    runs: int


class CostsView(_Read):
    """``GET /costs?days=N``: sums of the runs that ended in the last N UTC days."""

    days: int
    total_usd: float
    by_agent: list[CostRow]
    by_day: list[CostRow]
    by_label: list[CostRow]


class TaskView(_Read):
    """A task as ``GET /tasks``, ``GET /tasks/{id}``, create and cancel return it."""

    id: str
    title: str
    spec: str
    status: TaskStatus
    agent: str | None  # the agent's name
    agent_id: str | None
    target_repo: str
    runner: str | None
    timeout_minutes: Minutes | None
    approval_policy: str | None  # an ApprovalPolicy value (a plain string: see wire.TaskPayload)
    result: dict[str, Any] | None
    error: str | None
    exit_code: int | None
    waiting_for_human: bool
    output_size: int
    cancel_reason: str | None
    created_at: IsoTime | None
    assigned_at: IsoTime | None
    started_at: IsoTime | None
    finished_at: IsoTime | None
    #: what the task asked for (``{"kind", "base_ref", "branch"}``, None when nothing) and, once
    #: the agent reported it, the result (``WorkspaceSummary``'s fields)
    workspace_request: dict[str, Any] | None = None
    workspace: dict[str, Any] | None = None
    #: why the run failed or ended (docs/scheduling.md), None while it has not or when it completed
    failure_cause: str | None = None
    #: the labels an agent must have to take the task
    labels: list[str] = []
    priority: Literal["high", "normal", "low"] = "normal"
    #: the task this one continues (a reply), None for a first task
    parent_id: str | None = None
    #: the CLI's conversation id of the task's run (Claude Code ``session_id``, Codex
    #: ``thread_id``), None until the agent reported one; a reply resumes it
    session_id: str | None = None
    #: a parked task (usage limit): when it resumes
    parked_until: IsoTime | None = None
    #: the pull / merge request opened for the task's branch (``tasks push --pr``)
    pr_url: str | None = None
    #: the task's latest push / discard and its outcome (``protocol.workspace_actions.ActionView``)
    workspace_action: dict[str, Any] | None = None
    #: the concurrency group, None when none
    group: str | None = None
    #: the tasks this one waits for (``--after``, a pipeline's ``needs``); its pipeline and its name there
    depends_on: list[str] = []
    pipeline_id: str | None = None
    pipeline_node: str | None = None
    #: retries and cost (migration 0011; docs/scheduling.md): the policy, when a rerun may start
    #: (its backoff), the ended runs (``GET /tasks/{id}`` only; lists leave it empty), the cost
    #: limit and what the runs reported (sums)
    retry: int = 0
    retry_on: list[str] = list(DEFAULT_RETRY_ON)
    retry_at: IsoTime | None = None
    attempts: list[AttemptView] = []
    max_cost_usd: float | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


class AgentView(_Read):
    """An agent as ``GET /agents``, ``GET /agents/{id_or_name}`` and revoke return it."""

    id: str
    name: str
    hostname: str
    ip: str
    os: str
    status: AgentStatus
    last_seen_at: IsoTime | None  # None: registered, never made contact
    created_at: IsoTime | None
    system_info: dict[str, Any]
    repos: dict[str, Any]
    runners: list[str] | None
    labels: list[str]
    agent_version: str | None
    max_concurrent_tasks: int
    running_tasks: list[str]
    #: what the daemon said it can do beyond v1 (capabilities report), e.g. ``workspace_actions``
    features: list[str] = []
    #: disk used by its task worktrees (``WorkspaceDisk``), None until its daemon reports it
    workspace_disk: dict[str, Any] | None = None
    #: the automatic labels the hub computed (``os:``, ``runner:``, ``repo:``); the agent's
    #: configured ones are ``labels``
    auto_labels: list[str] = []


class GroupView(_Read):
    """A concurrency group as ``GET /groups`` and ``PUT /groups/{name}`` return it."""

    name: str
    max_active: int | None  # None: tasks name the group but no limit was set
    active: int  # its tasks assigned or running now
    queued: int  # its tasks waiting in the queue
    created_at: IsoTime | None = None
    updated_at: IsoTime | None = None


class InterventionView(_Read):
    """A question or approval as ``GET /interventions`` and answer return it."""

    id: str
    task_id: str
    task_title: str | None
    agent: str | None  # the agent's name
    status: InterventionStatus
    question: str
    context: str | None
    response: str | None
    answered_by: str | None
    created_at: IsoTime | None
    answered_at: IsoTime | None
    kind: Literal["question", "approval"]
    tool_name: str | None
    tool_input: Any
    withdrawn_at: IsoTime | None


class TokenView(_Read):
    """A registration token as ``GET /tokens`` and revoke return it (never the secret)."""

    id: str
    label: str
    created_at: IsoTime | None
    expires_at: IsoTime
    used_at: IsoTime | None
    status: TokenStatus
    agent_id: str | None


class TokenCreated(TokenView):
    """``POST /tokens``: the token object plus the secret, shown only here."""

    token: str
    hub_url: str
    config_snippet: str
    register_command: str
