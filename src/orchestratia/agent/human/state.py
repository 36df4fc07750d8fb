"""Per-task help state in the pid dir: ``task-<id>.help.json`` (mode 0600, written atomically).

It holds the SHA-256 of the task's credential (never the credential) and, per request id, the
question and what became of it, so a daemon restart neither loses a question nor asks twice::

    {"task_id", "credential_sha256", "approval_policy",
     "requests": {"<request id>": {"kind", "question", "context", "tool_name", "tool_input",
                                   "hub_request_id", "intervention_id", "status", "response",
                                   "reason", "withdraw", "created_at", "deadline"}}}

``status`` is ``pending``, ``answered``, ``cancelled``, ``timeout`` or ``error``; times are
seconds since the epoch. ``hub_request_id`` is the idempotency key of ``POST /help`` (a uuid4
made with the record, so it is on disk before the first attempt and the same on every retry);
``withdraw`` is ``pending`` from a timeout until the hub heard that no one waits any more,
then ``done``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

from orchestratia.agent.human import wire
from orchestratia.protocol.shared import write_atomic

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^task-(?P<id>[A-Za-z0-9_.-]+)\.help\.json$")
SUFFIX = ".help.json"


def new_credential() -> str:
    return "orctask_" + secrets.token_urlsafe(32)


def credential_hash(credential: str) -> str:
    return hashlib.sha256(credential.encode("utf-8")).hexdigest()


def state_path(state_dir: Path, task_id: str) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", task_id) or task_id in (".", ".."):
        raise ValueError(f"not a valid task id: {task_id!r}")
    return state_dir / f"task-{task_id}{SUFFIX}"


def write_state(state_dir: Path, task_id: str, state: dict[str, Any]) -> None:
    """Write atomically (temp file + rename), mode 0600."""
    data = json.dumps(state, ensure_ascii=False, sort_keys=True).encode("utf-8")
    write_atomic(str(state_path(state_dir, task_id)), data, 0o600)


def remove_state(state_dir: Path, task_id: str) -> None:
    try:
        state_path(state_dir, task_id).unlink()
    except FileNotFoundError:
        pass


def load_all(state_dir: Path) -> dict[str, dict[str, Any]]:
    """Every readable state file in the dir, by task id. Unreadable files are logged, skipped."""
    states: dict[str, dict[str, Any]] = {}
    if not state_dir.is_dir():
        return states
    for path in sorted(state_dir.iterdir()):
        match = _FILE_RE.match(path.name)
        if not match:
            continue
        try:
            state = json.loads(path.read_text("utf-8"))
            if not isinstance(state, dict) or not isinstance(state.get("credential_sha256"), str):
                raise ValueError("not a help state object")
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable help state %s: %s", path, exc)
            continue
        state.setdefault("requests", {})
        states[match.group("id")] = state
    return states


def new_hub_request_id() -> str:
    """The idempotency key sent with ``POST /help`` (and again on every retry of it)."""
    return str(uuid.uuid4())


def new_record(message: dict[str, Any]) -> dict[str, Any] | str:
    """A validated record for a new request, or the reason it is invalid."""
    kind = message.get("kind") or wire.KIND_QUESTION
    question = message.get("question")
    context = message.get("context")
    timeout_s = message.get("timeout_s")
    tool_name = message.get("tool_name")
    if kind not in wire.KINDS:
        return f"kind must be one of {', '.join(wire.KINDS)}"
    if kind == wire.KIND_QUESTION and (not isinstance(question, str) or not question.strip()):
        return "question must be a non-empty string"
    if question is not None and (not isinstance(question, str) or len(question) > 100_000):
        return "question must be a string of at most 100000 characters"
    if context is not None and (not isinstance(context, str) or len(context) > 1_000_000):
        return "context must be a string of at most 1000000 characters"
    if kind == wire.KIND_APPROVAL and (not isinstance(tool_name, str) or not tool_name):
        return "an approval needs tool_name"
    if timeout_s is not None and (isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or timeout_s <= 0):
        return "timeout_s must be a positive number"
    now = time.time()
    return {
        "kind": kind,
        "question": question or "",
        "context": context,
        "tool_name": tool_name if kind == wire.KIND_APPROVAL else None,
        "tool_input": message.get("tool_input") if kind == wire.KIND_APPROVAL else None,
        "hub_request_id": new_hub_request_id(),
        "intervention_id": None,
        "status": "pending",
        "response": None,
        "reason": None,
        "created_at": now,
        "deadline": now + float(timeout_s) if timeout_s is not None else None,
    }
