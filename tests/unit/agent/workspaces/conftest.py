"""Fixtures for the workspace engine's tests (defined in ws_helpers.py)."""

from ws_helpers import bare, repo, root, spec  # noqa: F401
