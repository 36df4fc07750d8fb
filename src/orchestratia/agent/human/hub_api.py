"""The relay's view of the hub: a small interface, plus an httpx implementation of it.

The daemon may pass its own hub client instead, as long as it has the two required coroutines
and raises :class:`HelpRefused` for answers that retrying cannot change (4xx). Any other
exception counts as transient: the relay retries with backoff (the hub may be restarting).
``request_approval`` and ``withdraw_intervention`` are optional (the relay checks for them).

``request_id`` (extension) is the help request's idempotency key: the relay generates one per
question and sends it on every retry, so a hub that knows it never makes a second intervention
for a retried request (an old hub ignores it and answers as before).
"""

from __future__ import annotations

import json
from typing import Any, Protocol, runtime_checkable

import httpx

from orchestratia.protocol import API_PREFIX
from orchestratia.protocol.shared import response_detail


#: Tool inputs larger than this are not sent as ``tool_input`` (hub bodies are capped at 1 MiB).
MAX_TOOL_INPUT_BYTES = 256 * 1024


class HelpRefused(Exception):
    """The hub refused for good (unknown task, task not running, intervention gone, ...)."""

    def __init__(self, detail: str, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code


@runtime_checkable
class HubHelpAPI(Protocol):
    async def request_help(
        self, task_id: str, question: str, context: str | None, *, request_id: str | None = None
    ) -> str:
        """Create an intervention for the task (or find the one ``request_id`` made); its id."""
        ...

    async def get_intervention(self, intervention_id: str) -> dict[str, Any]:
        """The intervention as ``GET /interventions/{id}`` returns it."""
        ...


def _check(response: httpx.Response) -> None:
    """Raise HelpRefused on a final 4xx, a transient error on 5xx / 408 / 429."""
    code = response.status_code
    if code < 400:
        return
    if 400 <= code < 500 and code not in (408, 425, 429):
        raise HelpRefused(response_detail(response), code)
    raise RuntimeError(f"hub answered HTTP {code}: {response_detail(response)}")


class HttpHubHelpAPI:
    """``POST /tasks/{id}/help`` and ``GET /interventions/{id}`` over httpx, ``X-API-Key``."""

    def __init__(
        self,
        hub_url: str,
        api_key: str,
        *,
        verify: bool | str = True,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=hub_url.rstrip("/") + API_PREFIX,
            headers={"X-API-Key": api_key},
            verify=verify,
            timeout=timeout,
            transport=transport,
        )

    async def request_help(
        self, task_id: str, question: str, context: str | None, *, request_id: str | None = None, **extra: Any
    ) -> str:
        """``POST /tasks/{id}/help``: 201 a new intervention, 200 the one ``request_id`` made."""
        body: dict[str, Any] = {"question": question}
        if request_id:
            body["request_id"] = request_id
        if context:
            body["context"] = context
        body.update({k: v for k, v in extra.items() if v is not None})
        response = await self._client.post(f"/tasks/{task_id}/help", json=body)
        _check(response)
        data = response.json()
        intervention_id = data.get("intervention_id") or data.get("id")
        if not intervention_id:
            raise RuntimeError(f"help response without an intervention id: {data!r}")
        return str(intervention_id)

    async def request_approval(
        self, task_id: str, question: str, context: str | None, tool_name: str, tool_input: Any,
        *, request_id: str | None = None,
    ) -> str:
        """A help request that says it is a tool-call approval. Extension fields (``kind``,
        ``tool_name``, ``tool_input``): a hub that does not know them ignores them and still
        shows the readable question and context."""
        try:
            small = len(json.dumps(tool_input, default=repr)) <= MAX_TOOL_INPUT_BYTES
        except (TypeError, ValueError):
            small = False
        return await self.request_help(  # a huge input (a big Write) is shown cut, in the context only
            task_id, question, context, request_id=request_id, kind="approval", tool_name=tool_name,
            tool_input=tool_input if small else None,
        )

    async def get_intervention(self, intervention_id: str) -> dict[str, Any]:
        return _intervention(await self._client.get(f"/interventions/{intervention_id}"))

    async def withdraw_intervention(self, intervention_id: str) -> dict[str, Any]:
        """Extension ``POST /interventions/{id}/withdraw``: the agent stopped waiting. Returns the
        intervention (status ``withdrawn``); HelpRefused 409 when it was answered or cancelled
        first, 404 from a hub without the extension."""
        return _intervention(await self._client.post(f"/interventions/{intervention_id}/withdraw"))

    async def aclose(self) -> None:
        await self._client.aclose()


def _intervention(response: httpx.Response) -> dict[str, Any]:
    """The intervention a successful response carries (errors raised as for every call)."""
    _check(response)
    data = response.json()
    if not isinstance(data, dict):
        raise RuntimeError(f"unexpected intervention body: {data!r}")
    return data
