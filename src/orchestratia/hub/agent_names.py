"""Who holds an agent name, for ``POST /register``.

A registration for an existing name rotates that agent's key: the new holder keeps its id, its
assigned tasks and their specs. That is right for a server re-registering itself, and wrong
when a second server picks a name already in use. So a name is **held**, and a registration
for it is refused (409) unless the request says ``"replace": true``, while its agent is:

* not revoked, and
* ONLINE (contact within ``offline_after_s``, also a contact not yet written to the store), or
  has unfinished tasks (``queued``, ``assigned`` or ``running`` with its id).

Anything else may be taken as before: a REVOKED agent, one never seen with no tasks, one
OFFLINE with no unfinished tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.hub.runtime import Runtime
from orchestratia.hub.states import push, transition
from orchestratia.hub.store.models import Agent, Task, utcnow
from orchestratia.hub.views import agent_status
from orchestratia.protocol import AgentStatus, TaskStatus, WsRevoked

UNFINISHED = (TaskStatus.QUEUED.value, TaskStatus.ASSIGNED.value, TaskStatus.RUNNING.value)
REPLACED_ERROR = ("agent replaced by a new registration (agent register --replace): the daemon that ran this "
                  "task can no longer report it")


@dataclass(frozen=True)
class NameHolder:
    """A live agent holding a name."""

    agent: Agent
    online: bool
    unfinished: int

    def refusal(self) -> str:
        """The 409 ``detail``: which agent holds the name, and what to do."""
        why = ["ONLINE" if self.online else "OFFLINE"]
        if self.unfinished:
            why.append(f"{self.unfinished} unfinished task{'s' if self.unfinished != 1 else ''}")
        host = f" on host {self.agent.hostname!r}" if self.agent.hostname else ""  # repr: no raw control chars
        return (f"agent name {self.agent.name!r} is held by agent {self.agent.id}{host} ({', '.join(why)}). "
                "Pick another name (agent_name in config.yaml, or `orchestratia agent register TOKEN --name NAME`), "
                "or replace that agent with `orchestratia agent register TOKEN --replace` (its key is revoked and "
                "this server takes its name and tasks). The registration token was not used: it still works.")


async def live_holder(session: AsyncSession, hub: Runtime, agent: Agent) -> NameHolder | None:
    """``agent`` as a :class:`NameHolder` when its name is held (see the module doc), else None."""
    if agent.revoked_at is not None:
        return None
    online = hub.liveness.has_unwritten_contact(agent.id) or (
        agent_status(agent, hub.settings.offline_after_s) == AgentStatus.ONLINE
    )
    count = select(func.count(Task.id)).where(Task.agent_id == agent.id, Task.status.in_(UNFINISHED))
    unfinished = int((await session.execute(count)).scalar_one())
    if not online and not unfinished:
        return None
    return NameHolder(agent, online, unfinished)


async def retire_key(session: AsyncSession, agent: Agent, now: datetime | None = None) -> int:
    """The key of ``agent`` is being replaced: close its connections (every hub process) and end
    its running tasks ``lost`` (nothing can report them with the old key; a late report from a
    daemon that adopts them with the new key is still accepted). Its assigned tasks stay: the
    new holder runs them. Returns how many tasks ended."""
    push(session, agent.id, WsRevoked())
    running = (await session.execute(
        select(Task).where(Task.agent_id == agent.id, Task.status == TaskStatus.RUNNING.value).with_for_update()
    )).scalars().all()
    for task in running:
        await transition(session, task, TaskStatus.LOST, now=now or utcnow(), error=REPLACED_ERROR)
    return len(running)
