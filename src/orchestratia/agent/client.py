"""The hub's v1 agent API over HTTP (httpx), as PROTOCOL.md describes it.

- ``X-API-Key`` on every call but register; TLS verified (``ca_bundle`` names a PEM file), with
  the same CAs for HTTP and the WebSocket; a certificate that does not verify raises
  :class:`TLSVerifyError` (never retried, never skipped).
- Transient failures (connection errors, timeouts, 502/503/504) are retried with exponential
  backoff and jitter (tenacity); anything else is raised at once.
- 401 raises :class:`AuthError` saying the key was rejected (revoked or wrong).
"""

from __future__ import annotations

import logging
import ssl
from datetime import datetime, timezone
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from orchestratia import __version__
from orchestratia.protocol import API_PREFIX, TaskPayload
from orchestratia.protocol.shared import response_detail

log = logging.getLogger(__name__)
TRANSIENT_STATUS = {502, 503, 504}


class HubError(Exception):
    """The hub answered with an error (``status`` and the hub's ``detail``)."""

    def __init__(self, message: str, status: int | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class AuthError(HubError):
    """401: the hub does not accept the API key (revoked, or not the key it issued)."""


class ConflictError(HubError):
    """409: the task's state does not allow the transition (e.g. it was cancelled)."""


class NotFoundError(HubError):
    """404: unknown task or intervention (or not this agent's)."""


class TransientError(HubError):
    """502/503/504: worth retrying."""


class TLSVerifyError(HubError):
    """The hub's TLS certificate did not verify (unknown CA, wrong host name, expired)."""


def ssl_context(ca_bundle: str = "") -> ssl.SSLContext:
    """The one TLS context for HTTP and the WebSocket: the CAs in ``ca_bundle``, else httpx's
    defaults (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set, else certifi's bundle)."""
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    return httpx.create_ssl_context(verify=True)


def cert_failure(exc: BaseException | None) -> ssl.SSLCertVerificationError | None:
    """The certificate verification error behind ``exc`` (httpx wraps it), if any."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def tls_failure_message(hub_url: str, err: ssl.SSLCertVerificationError, ca_bundle: str = "") -> str:
    reason = err.verify_message or str(err)
    trust = (f"its CA must be in ca_bundle ({ca_bundle})" if ca_bundle else
             "for a hub with a private CA, set ca_bundle in config.yaml to that CA's PEM file")
    return (f"cannot verify the TLS certificate of the hub at {hub_url}: {reason}; {trust}, and hub_url must use a "
            "host name or IP the certificate was issued for (the agent never turns verification off)")


def raise_for(resp: httpx.Response, what: str) -> None:
    if resp.status_code < 400:
        return
    detail = response_detail(resp)
    status = resp.status_code
    if status == 401:
        raise AuthError(
            f"{what}: the hub rejected this agent's API key (401: {detail}). The key was revoked or is wrong; "
            "get a new registration token from the hub and run `orchestratia agent register TOKEN`.",
            status, detail,
        )
    if status == 409:
        raise ConflictError(f"{what}: {detail}", status, detail)
    if status == 404:
        raise NotFoundError(f"{what}: not found ({detail})", status, detail)
    if status in TRANSIENT_STATUS:
        raise TransientError(f"{what}: hub unavailable ({status})", status, detail)
    raise HubError(f"{what}: hub answered {status}: {detail}", status, detail)


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, (httpx.TransportError, TransientError))


class HubClient:
    """Async client of the agent API. Use as ``async with HubClient(...) as c``."""

    def __init__(self, hub_url: str, api_key: str = "", ca_bundle: str = "", timeout: float = 30.0,
                 attempts: int = 5, transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = {"User-Agent": f"orchestratia-agent/{__version__}"}
        if api_key:
            headers["X-API-Key"] = api_key
        self.hub_url = hub_url.rstrip("/")
        self.ca_bundle = ca_bundle
        self.attempts = attempts
        self._http = httpx.AsyncClient(base_url=self.hub_url + API_PREFIX, headers=headers, timeout=timeout,
                                       verify=ssl_context(ca_bundle), transport=transport)

    async def __aenter__(self) -> HubClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, what: str, json: Any = None, attempts: int | None = None) -> Any:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(attempts or self.attempts),
            wait=wait_random_exponential(multiplier=0.5, max=10),  # exponential, full jitter
            retry=retry_if_exception(_transient),
            reraise=True,
        ):
            with attempt:
                try:
                    resp = await self._http.request(method, path, json=json)
                except httpx.ConnectError as err:
                    failure = cert_failure(err)
                    if failure is None:
                        raise
                    raise TLSVerifyError(tls_failure_message(self.hub_url, failure, self.ca_bundle)) from err
                raise_for(resp, what)
                if not resp.content:
                    return None
                try:
                    return resp.json()
                except ValueError:
                    return resp.text
        return None  # pragma: no cover

    # ------------------------------------------------------------------ v1 endpoints
    async def register(self, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/register", "register", json=payload, attempts=3)

    async def heartbeat(self, system_info: dict[str, Any], active_tasks: list[str] | None = None,
                        workspace_disk: dict[str, Any] | None = None) -> None:
        body: dict[str, Any] = {"system_info": system_info, "agent_version": __version__}
        if active_tasks is not None:
            body["active_tasks"] = active_tasks
        if workspace_disk is not None:
            body["workspace_disk"] = workspace_disk
        await self._call("POST", "/heartbeat", "heartbeat", json=body, attempts=2)

    async def capabilities(self, body: dict[str, Any]) -> None:
        """Extension: runners, repos and labels as they are now (404 from an older hub)."""
        await self._call("POST", "/capabilities", "capabilities", json=body, attempts=2)

    async def poll(self) -> list[TaskPayload]:
        data = await self._call("GET", "/tasks/poll", "poll", attempts=2)
        tasks = []
        for item in data or []:
            try:
                tasks.append(TaskPayload.model_validate(item))
            except ValueError as err:
                log.warning("poll: ignoring a task the agent cannot read: %s", err)
        return tasks

    async def start(self, task_id: str) -> None:
        await self._call("POST", f"/tasks/{task_id}/start", "start", json={})

    async def complete(self, task_id: str, result: dict[str, Any]) -> None:
        await self._call("POST", f"/tasks/{task_id}/complete", "complete", json={"result": result})

    async def fail(self, task_id: str, error: str, exit_code: int | None = None,
                   result: dict[str, Any] | None = None, reason: str | None = None,
                   resets_at: float | None = None, cause: str | None = None) -> None:
        body: dict[str, Any] = {"error": error}
        if cause is not None:  # extension (a failure cause); old hubs ignore it
            body["cause"] = cause
        if exit_code is not None:
            body["exit_code"] = exit_code
        if result is not None:
            body["result"] = result
        if reason is not None:  # extension (e.g. "timeout"); old hubs ignore it
            body["reason"] = reason
        if resets_at is not None:  # extension, with reason "usage_limit": when it resets
            body["resets_at"] = datetime.fromtimestamp(resets_at, timezone.utc).isoformat()
        await self._call("POST", f"/tasks/{task_id}/fail", "fail", json=body)

    async def workspace(self, task_id: str, report: dict[str, Any]) -> None:
        """Extension: the task's workspace result (summary, files, diff); older hubs answer 404."""
        await self._call("POST", f"/tasks/{task_id}/workspace", "workspace", json=report)

    async def workspace_actions(self) -> list[dict[str, Any]]:
        """Extension: this agent's pending workspace actions (404 from an older hub)."""
        data = await self._call("GET", "/workspace-actions", "workspace actions", attempts=2)
        return list((data or {}).get("actions") or [])

    async def workspace_action_result(self, action_id: str, result: dict[str, Any]) -> None:
        """Extension: the outcome of one workspace action."""
        await self._call("POST", f"/workspace-actions/{action_id}", "workspace action result", json=result)

    async def help(self, task_id: str, question: str, context: str | None = None) -> dict[str, Any]:
        body = {"question": question}
        if context is not None:
            body["context"] = context
        return await self._call("POST", f"/tasks/{task_id}/help", "help", json=body)

    async def intervention(self, intervention_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/interventions/{intervention_id}", "intervention")
