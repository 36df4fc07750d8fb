"""``wait_until`` for test_human_webhooks.py (the hub's webhooks), the one test left here: the
agent-side human tests and their fakes moved to tests/unit/agent/human/. Remove this file when
that test moves to tests/unit/hub/."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
