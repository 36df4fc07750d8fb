"""schemathesis against the hub's own OpenAPI schema, on a real hub process on loopback: with no
credentials and with valid ones (the admin's bearer token and an agent's API key), no request
gets a 5xx, and no response breaks the schema the hub publishes for it.

Excluded: the endless SSE streams (``/events``, ``/tasks/{id}/stream``: they never finish a
response) and ``/logout`` in the authenticated run (it would end the session the run uses)."""

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
from integration_harness import Hub  # noqa: E402

pytestmark = pytest.mark.timeout(300)

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES = 12
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@pytest.fixture(scope="module")
def live_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, World]]:
    hub = Hub(tmp_path_factory.mktemp("schemathesis-hub"))
    hub.start()
    try:
        with httpx.Client(base_url=hub.url, timeout=30) as client:
            world = build_world(client)  # type: ignore[arg-type]  # the same request API as TestClient
            yield hub, world
    finally:
        hub.stop()


@pytest.fixture(scope="module")
def hub_schema(live_world):
    hub, _ = live_world
    loaded = schemathesis.openapi.from_url(hub.url + "/openapi.json")
    return loaded.exclude(path_regex=r"(/events$|/stream$)")


schema = schemathesis.pytest.from_fixture("hub_schema")


@schema.parametrize()
@FUZZ
def test_no_credentials(case, live_world) -> None:
    hub, _ = live_world
    case.call_and_validate(base_url=hub.url, checks=CHECKS, timeout=30)


@schema.exclude(path_regex=r"/logout$").parametrize()
@FUZZ
def test_valid_credentials(case, live_world) -> None:
    hub, world = live_world
    headers = {"Authorization": f"Bearer {world.admin_token}", "X-API-Key": world.keys["alice"]}
    case.call_and_validate(base_url=hub.url, headers=headers, checks=CHECKS, timeout=30)
