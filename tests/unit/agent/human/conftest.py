"""Fixtures for the human-in-the-loop unit tests: a relay on a real Unix socket in front of a
fake hub (human_fakes.py)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from orchestratia.agent.human.relay import HelpRelay

from .human_fakes import FakeHub


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """Unix socket paths must stay under ~100 bytes: pytest's tmp_path can be too long."""
    path = Path(tempfile.mkdtemp(prefix="orh-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub()


@pytest.fixture
async def relay(hub: FakeHub, short_dir: Path) -> AsyncIterator[HelpRelay]:
    r = HelpRelay(hub, short_dir, poll_interval=0.05, keepalive_interval=0.2, retry_max=0.2)
    await r.start()
    try:
        yield r
    finally:
        await r.close()
