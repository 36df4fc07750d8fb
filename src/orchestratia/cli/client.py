"""The admin API (docs/architecture.md, "Admin API") over httpx. Every failure becomes a
:class:`CliError` whose message says what was wrong and what to do."""

from __future__ import annotations

import re
import ssl
from typing import Any, BinaryIO, Iterator
from urllib.parse import quote

import httpx

from .errors import CliError
from .settings import LOGIN_HINT, Connection
from .sse import SseEvent, iter_sse

ADMIN = "/api/admin"


def tls_verify(ca_bundle: str | None) -> ssl.SSLContext | bool:
    """Verification is always on. A CA bundle names the CAs to trust; without one httpx trusts
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set, else certifi's bundle."""
    if not ca_bundle:
        return True
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise CliError(f"cannot use the CA bundle {ca_bundle}: {exc}") from exc


#: API routes the hub's messages point at, and the command that shows the same thing
CLI_FOR_ROUTE = {
    "/login": "orchestratia login",
    "/agents": "orchestratia agents list",
    "/tasks": "orchestratia tasks list",
    "/tokens": "orchestratia tokens list",
    "/interventions": "orchestratia interventions list",
    "/pipelines": "orchestratia pipelines list",
}
_ROUTE = re.compile(r"\b(?:GET|POST|PUT|PATCH|DELETE) /api/admin(/[a-z]+)\b")


def cli_words(detail: str) -> str:
    """The hub's message with its pointers at API routes ("see GET /api/admin/agents") turned
    into the CLI command a person types instead (`orchestratia agents list`)."""
    return _ROUTE.sub(lambda m: f"`{CLI_FOR_ROUTE[m.group(1)]}`" if m.group(1) in CLI_FOR_ROUTE else m.group(0), detail)


def refusal_reason(detail: str) -> str:
    """What was wrong, without the hub's advice on how to log in (the CLI gives its own): the
    hub's 401 details are ``what: advice``."""
    return detail.split(":", 1)[0].strip() or detail


class HubClient:
    """A thin client: one method per admin endpoint, JSON in and out."""

    def __init__(
        self, hub_url: str, token: str | None = None, ca_bundle: str | None = None, timeout: float = 30.0
    ) -> None:
        self.hub_url = hub_url.rstrip("/")
        self.ca_bundle = ca_bundle
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.hub_url, headers=headers, verify=tls_verify(ca_bundle), timeout=timeout
        )

    @classmethod
    def from_connection(cls, conn: Connection, timeout: float = 30.0) -> "HubClient":
        return cls(conn.hub_url, conn.token, conn.ca_bundle, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "HubClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _transport_error(self, exc: httpx.HTTPError) -> CliError:
        if isinstance(exc, httpx.TimeoutException):
            return CliError(f"the hub at {self.hub_url} did not answer in time ({type(exc).__name__}); is it overloaded or hung?")
        reason = str(exc) or type(exc).__name__
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            trust = (f"is the hub's CA in the CA bundle {self.ca_bundle}?" if self.ca_bundle else
                     "pass --ca-bundle PEM (or set ORCHESTRATIA_CA_BUNDLE) to trust its CA")
            return CliError(
                f"cannot verify the TLS certificate of {self.hub_url}: {reason}; {trust} "
                "(and the URL's host must be a name or IP the certificate was issued for)"
            )
        return CliError(
            f"cannot reach the hub at {self.hub_url}: {reason}; is it running "
            "(`orchestratia hub serve` or `orchestratia up`) and is the URL right?"
        )

    def check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code < 400:
            return response
        from orchestratia.protocol.shared import response_detail  # only on errors: see common.is_uuid

        detail = cli_words(response_detail(response))
        status = response.status_code
        if status == 401 and response.request.url.path.endswith(f"{ADMIN}/login"):
            message = f"the hub at {self.hub_url} refused the credentials ({detail}): check the user name and password"
        elif status == 401:
            message = f"the hub at {self.hub_url} refused the credentials ({refusal_reason(detail)}): {LOGIN_HINT}"
        elif status == 404:
            message = f"not found: {detail}"
        elif status == 409:
            message = f"conflict: {detail}"
        elif status == 422:
            message = f"the hub rejected the request: {detail}"
        elif status == 429:
            message = f"too many attempts: {detail}; wait a minute and try again"
        else:
            message = f"the hub answered {status}: {detail}"
        raise CliError(message, status=status)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc
        return self.check(response)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise CliError(f"the hub at {self.hub_url} sent something that is not JSON for {path}") from exc

    # ------------------------------------------------------------------ endpoints

    def health(self) -> dict[str, Any]:
        return self.json("GET", "/health")

    def login(self, username: str, password: str) -> dict[str, Any]:
        return self.json("POST", f"{ADMIN}/login", json={"username": username, "password": password})

    def logout(self) -> None:
        self.request("POST", f"{ADMIN}/logout")

    def me(self) -> dict[str, Any]:
        return self.json("GET", f"{ADMIN}/me")

    def create_token(self, label: str, expires_in: str = "24h") -> dict[str, Any]:
        return self.json("POST", f"{ADMIN}/tokens", json={"label": label, "expires_in": expires_in})

    def list_tokens(self) -> list[dict[str, Any]]:
        return self.json("GET", f"{ADMIN}/tokens")

    def revoke_token(self, token_id: str) -> dict[str, Any]:
        return self.json("POST", f"{ADMIN}/tokens/{token_id}/revoke")

    def list_agents(self) -> list[dict[str, Any]]:
        return self.json("GET", f"{ADMIN}/agents")

    def get_agent(self, id_or_name: str) -> dict[str, Any]:
        return self.json("GET", f"{ADMIN}/agents/{id_or_name}")

    def revoke_agent(self, agent_id: str) -> dict[str, Any]:
        return self.json("POST", f"{ADMIN}/agents/{agent_id}/revoke")

    def delete_agent(self, agent_id: str) -> None:
        self.request("DELETE", f"{ADMIN}/agents/{agent_id}")

    def list_groups(self) -> list[dict[str, Any]]:
        return self.json("GET", f"{ADMIN}/groups")

    def set_group(self, name: str, max_active: int) -> dict[str, Any]:
        return self.json("PUT", f"{ADMIN}/groups/{quote(name, safe='')}", json={"max_active": max_active})

    def delete_group(self, name: str) -> None:
        self.request("DELETE", f"{ADMIN}/groups/{quote(name, safe='')}")

    def create_task(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.json("POST", f"{ADMIN}/tasks", json=body)

    def list_tasks(self, status: str | None = None, agent: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        if agent:
            params["agent"] = agent
        return self.json("GET", f"{ADMIN}/tasks", params=params)

    def get_task(self, task_id: str) -> dict[str, Any]:
        return self.json("GET", f"{ADMIN}/tasks/{task_id}")

    def task_output(self, task_id: str, out: BinaryIO, offset: int = 0) -> tuple[int, int | None]:
        """Copy the stored output from ``offset`` to ``out`` as it arrives (never all of it in
        memory); returns (bytes written, the ``X-Next-Offset`` the hub reported)."""
        written = 0
        try:
            with self._http.stream("GET", f"{ADMIN}/tasks/{task_id}/output", params={"offset": offset}) as response:
                if response.status_code >= 400:
                    response.read()
                    self.check(response)
                header = response.headers.get("X-Next-Offset")
                for piece in response.iter_bytes():
                    out.write(piece)
                    written += len(piece)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc
        out.flush()
        return written, int(header) if header and header.isdigit() else None

    def task_diff(self, task_id: str) -> bytes:
        """The task's unified diff as the hub stored it (bytes: agent-controlled text)."""
        return self.request("GET", f"{ADMIN}/tasks/{task_id}/diff").content

    def task_diff_stat(self, task_id: str) -> dict[str, Any]:
        return self.json("GET", f"{ADMIN}/tasks/{task_id}/diff", params={"stat": 1})

    def reply_task(self, task_id: str, message: str) -> dict[str, Any]:
        return self.json("POST", f"{ADMIN}/tasks/{task_id}/replies", json={"message": message})

    def cancel_task(self, task_id: str, reason: str | None = None) -> dict[str, Any]:
        body = {"reason": reason} if reason else {}
        return self.json("POST", f"{ADMIN}/tasks/{task_id}/cancel", json=body)

    def create_pipeline(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.json("POST", f"{ADMIN}/pipelines", json=body)

    def list_pipelines(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.json("GET", f"{ADMIN}/pipelines", params={"limit": limit})

    def get_pipeline(self, pipeline_id: str) -> dict[str, Any]:
        return self.json("GET", f"{ADMIN}/pipelines/{pipeline_id}")

    def cancel_pipeline(self, pipeline_id: str, reason: str | None = None) -> dict[str, Any]:
        return self.json("POST", f"{ADMIN}/pipelines/{pipeline_id}/cancel", json={"reason": reason} if reason else {})

    def stream_task(self, task_id: str, offset: int = 0) -> Iterator[SseEvent]:
        """Server-Sent Events of ``/tasks/{id}/stream`` from ``offset`` (no read timeout:
        the hub sends keep-alive comments)."""
        url = f"{ADMIN}/tasks/{task_id}/stream"
        timeout = httpx.Timeout(10.0, read=None)
        try:
            with self._http.stream(
                "GET", url, params={"offset": offset}, headers={"Accept": "text/event-stream"}, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    self.check(response)
                yield from iter_sse(response.iter_lines())
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc

    def list_interventions(self, status: str | None = None) -> list[dict[str, Any]]:
        params = {"status": status} if status else None
        return self.json("GET", f"{ADMIN}/interventions", params=params)

    def answer_intervention(self, intervention_id: str, response: str) -> dict[str, Any]:
        return self.json("POST", f"{ADMIN}/interventions/{intervention_id}/answer", json={"response": response})
