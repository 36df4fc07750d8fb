"""Branch names for tasks: ``orchestratia/<short-id>-<slug>``, never raw user text.

The slug keeps only lowercase ASCII letters, digits and single hyphens (accents are folded,
everything else becomes a separator), so a title such as ``../../x``, ``-rf``, ``@{-1}``,
``a.lock`` or one with control characters yields a plain, valid name; git itself then confirms
it with ``git check-ref-format --branch``.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
import uuid

from . import _git
from .errors import WorkspaceError

PREFIX = "orchestratia"
SLUG_MAX = 40
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def canonical_task_id(task_id: str) -> str:
    """The task id in its canonical UUID spelling; the worktree directory is named after it, so
    anything else (a path, ``..``) is refused here."""
    try:
        return str(uuid.UUID(str(task_id)))
    except (ValueError, AttributeError, TypeError):
        raise WorkspaceError(f"task id {task_id!r} is not a UUID") from None


def short_id(task_id: str) -> str:
    """The first 8 hex digits of the task's UUID."""
    return uuid.UUID(canonical_task_id(task_id)).hex[:8]


def slugify(title: str, max_len: int = SLUG_MAX) -> str:
    """Lowercase ASCII letters, digits and single inner hyphens, at most ``max_len`` long
    (cut at a word boundary when there is one); ``""`` when nothing usable is left."""
    folded = unicodedata.normalize("NFKD", str(title or "")).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", folded.lower()).strip("-")
    if len(slug) > max_len:
        cut = slug[:max_len + 1]
        slug = cut.rsplit("-", 1)[0] if "-" in cut[max_len // 2:] else slug[:max_len]
    return slug.strip("-")


def branch_name(task_id: str, title: str) -> str:
    """``orchestratia/<short-id>-<slug>`` (just the short id when the title has no usable slug),
    confirmed valid by git."""
    slug = slugify(title)
    name = f"{PREFIX}/{short_id(task_id)}-{slug}" if slug else f"{PREFIX}/{short_id(task_id)}"
    return check_branch_name(name)


def check_branch_name(name: str) -> str:
    """Return ``name`` when git accepts it as a new branch name, else raise a clear error.

    Used for names users type (``--branch NAME``) too. ``@{...}`` is refused before asking git:
    inside a repository ``check-ref-format --branch @{-1}`` expands to the previous branch
    instead of refusing it; the output must also equal the input for the same reason. ``@``,
    which git accepts, is refused too: in a revision it means HEAD."""
    text = str(name or "")
    bad = (not text or text.startswith("-") or "@{" in text or text == "@" or text != text.strip()
           or any(ord(c) < 32 or ord(c) == 127 for c in text))
    if not bad:
        try:
            proc = subprocess.run(["git", "check-ref-format", "--branch", text], cwd="/",
                                  env=_git.git_env(), capture_output=True, text=True,
                                  timeout=_git.LOCAL_TIMEOUT, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise WorkspaceError("git is not installed on this server (no `git` on PATH); install it") from None
        bad = proc.returncode != 0 or proc.stdout.strip() != text
    if bad:
        raise WorkspaceError(f"{text!r} is not a valid git branch name: use letters, digits, '/', '-', "
                             "'_' or '.', not starting with '-' and without '..', '@{', '~', '^', ':', "
                             "spaces or a trailing '.lock'")
    return text
