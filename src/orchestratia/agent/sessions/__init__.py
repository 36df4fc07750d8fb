"""Session backends: where a task's launcher runs.

Every backend runs the same command (``python launcher.py SPEC.json``) detached from the
daemon, so the task survives a daemon restart:

- ``screen`` (default): ``screen -dmS orc-<task id> ...``; attach with ``screen -r orc-<task id>``.
- ``tmux``: ``tmux new-session -d -s orc-<task id> ...``; attach with ``tmux attach -t orc-<task id>``.
- ``direct``: no multiplexer, a child in its own session (``start_new_session``).
"""

from __future__ import annotations

from .base import SessionBackend, SessionError, session_name
from .direct import DirectBackend
from .screen import ScreenBackend
from .tmux import TmuxBackend

__all__ = ["SessionBackend", "SessionError", "session_name", "get_backend", "ScreenBackend", "TmuxBackend", "DirectBackend"]


def get_backend(name: str, tmux_socket: str = "") -> SessionBackend:
    if name == "screen":
        return ScreenBackend()
    if name == "tmux":
        return TmuxBackend(socket=tmux_socket)
    if name == "direct":
        return DirectBackend()
    raise SessionError(f"session.backend: unknown backend {name!r} (screen, tmux or direct)")
