"""The errors of the workspace engine: each message says what went wrong and what to do."""

from __future__ import annotations


class WorkspaceError(Exception):
    """A workspace could not be prepared, finished, pushed or removed; the message is for a human."""


class GitError(WorkspaceError):
    """A git command failed; ``argv`` and ``stderr`` are kept for logs."""

    def __init__(self, message: str, argv: list[str] | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.argv = argv or []
        self.stderr = stderr


class PushError(WorkspaceError):
    """A push was refused (no remote, credentials, non-fast-forward, ...). The branch is kept."""


class PullRequestError(WorkspaceError):
    """No pull/merge request could be opened (no gh/glab, not authenticated, ...)."""


class DiscardRefused(WorkspaceError):
    """A discard would lose work (commits on no remote, uncommitted files) and was not forced."""
