"""schemathesis against the hub's own OpenAPI schema, on a real hub process on loopback: with no
credentials and with valid ones (the admin's bearer token and an agent's API key), no request
gets a 5xx, and no response breaks the schema the hub publishes for it.

Excluded: the endless SSE streams (``/events``, ``/tasks/{id}/stream``: they never finish a
response) and ``/logout`` in the authenticated run (it would end the session the run uses).

The hub's log (its stdout and stderr, uvicorn's access lines included) is kept in the run's
pytest tmp dir (``schemathesis-hub*/hub.log``); a failing case carries the log lines written
while it ran (the traceback of a 500), and the last test fails on any traceback in the log,
also one from a background task that no response shows."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

from hubapp import World, build_world  # noqa: E402
from integration_harness import ADMIN_PASSWORD, Hub  # noqa: E402

pytestmark = pytest.mark.timeout(300)

@schemathesis.check
def schema_conformance_except_422(ctx, response, case):
    """The published response schema, except for 422: the hub answers every error with
    ``{"detail": "<message>"}`` (docs/architecture.md) while FastAPI's generated schema says
    ``detail`` is a list. That one mismatch is asserted once, by
    ``test_validation_error_body_matches_the_published_schema``, instead of failing every
    operation here and hiding everything else."""
    if response.status_code == 422:
        return None
    return response_schema_conformance(ctx, response, case)


CHECKS = [not_a_server_error, schema_conformance_except_422, content_type_conformance]
EXAMPLES = 12
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def hub_log_since(hub: Hub, offset: int, what: str = "while this case ran", max_lines: int = 200) -> str:
    """What the hub logged from byte ``offset`` of its log on (its first ``max_lines`` lines: the
    first traceback is the one that says why), headed by the log's path."""
    try:
        with open(hub.log, "rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(the hub's log {hub.log} cannot be read: {exc})"
    lines = text.splitlines()
    shown = "\n".join(lines[:max_lines]) if lines else "(nothing)"
    more = f"\n... {len(lines) - max_lines} more lines in the file" if len(lines) > max_lines else ""
    return f"--- the hub's log {hub.log} {what}:\n{shown}{more}\n---"


def log_size(hub: Hub) -> int:
    try:
        return hub.log.stat().st_size
    except OSError:
        return 0


def call_and_validate(case, hub: Hub, **kwargs) -> None:
    """``case.call_and_validate`` against the live hub; a failure carries the hub's log of the
    call. The hub logs a 500's traceback before it answers, so the log is complete here."""
    offset = log_size(hub)
    try:
        case.call_and_validate(base_url=hub.url, checks=CHECKS, timeout=30, **kwargs)
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis: a FailureGroup; or a transport error
        exc.add_note(hub_log_since(hub, offset))
        raise


@pytest.fixture(scope="module")
def live_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, World]]:
    hub = Hub(tmp_path_factory.mktemp("schemathesis-hub"))
    hub.start()
    try:
        with httpx.Client(base_url=hub.url, timeout=30) as client:
            world = build_world(client, ADMIN_PASSWORD)  # type: ignore[arg-type]  # the same request API as TestClient
            yield hub, world
    finally:
        hub.stop()


def _hub_openapi() -> dict:
    """The hub's own OpenAPI document, from the app factory (no server, no store needed).
    ``test_served_schema_is_the_same`` checks that the live hub serves this very document."""
    import tempfile

    from orchestratia.hub.app import create_app
    from orchestratia.hub.settings import load_settings

    return create_app(load_settings(data_dir=tempfile.mkdtemp(prefix="orc-openapi-"))).openapi()


OPENAPI = _hub_openapi()
schema = schemathesis.openapi.from_dict(OPENAPI).exclude(path_regex=r"(/events$|/stream$)")


def test_served_schema_is_the_same(live_world) -> None:
    hub, _ = live_world
    served = httpx.get(hub.url + "/openapi.json", timeout=30).json()
    assert served["paths"].keys() == OPENAPI["paths"].keys()


@schema.parametrize()
@FUZZ
def test_no_credentials(case, live_world) -> None:
    hub, _ = live_world
    call_and_validate(case, hub)


@schema.exclude(path_regex=r"/logout$").parametrize()
@FUZZ
def test_valid_credentials(case, live_world) -> None:
    hub, world = live_world
    headers = {"Authorization": f"Bearer {world.admin_token}", "X-API-Key": world.keys["alice"]}
    call_and_validate(case, hub, headers=headers)


def test_validation_error_body_matches_the_published_schema(live_world) -> None:
    """A 422 body must validate against what /openapi.json says a 422 looks like."""
    import jsonschema

    hub, _ = live_world
    r = httpx.post(hub.url + "/api/v1/agents/register", json={}, timeout=30)
    assert r.status_code == 422
    op = OPENAPI["paths"]["/api/v1/agents/register"]["post"]
    published = op["responses"]["422"]["content"]["application/json"]["schema"]
    resolver_doc = {**published, "components": OPENAPI.get("components", {})}
    if "$ref" in published:
        resolver_doc = {"$ref": published["$ref"], "components": OPENAPI.get("components", {})}
    jsonschema.validate(r.json(), resolver_doc)


def test_the_hub_logged_no_traceback(live_world) -> None:
    """Runs last: no request, and no background task of the hub (the contact writer, the
    scheduler), failed with a traceback during the run, whether or not a response showed it."""
    hub, _ = live_world
    data = hub.log.read_bytes()
    first = data.find(b"Traceback (most recent call last)")
    start = data.rfind(b"\n", 0, max(0, first - 1)) + 1  # from the line that logged it
    assert first < 0, hub_log_since(hub, start, "from its first traceback on", max_lines=300)
