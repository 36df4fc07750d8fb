"""Shared test configuration: real PostgreSQL and Redis, never skipped silently under CI."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FAKES = ROOT / "tests" / "fakes"
POSTGRES_URL = os.environ.get("ORCHESTRATIA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ORCHESTRATIA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _need(host: str, port: int, what: str) -> None:
    if _reachable(host, port):
        return
    message = f"{what} is not reachable at {host}:{port}"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must have it (start the service, see README.md)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    _need("127.0.0.1", 5432, "PostgreSQL")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    _need("127.0.0.1", 6379, "Redis")
    return REDIS_URL


@pytest.fixture(scope="session")
def fakes_dir() -> Path:
    return FAKES


@pytest.fixture(scope="session")
def python_exe() -> str:
    return sys.executable


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running in the main
    thread for as long as its session-scoped browser lives, and asyncio tests that came after
    it would find a loop already running."""
    browser_dir = ROOT / "tests" / "browser"
    items.sort(key=lambda item: browser_dir in Path(str(item.fspath)).parents)
