"""Fixtures for the agent's unit tests (defined in agent_helpers.py)."""

from .agent_helpers import cleanup_sessions, dirs, task_id  # noqa: F401
