"""What this server can run: the agent CLIs found on PATH, for ``orchestratia agent register``.

The daemon itself looks each runner's binary up on *its* PATH when a task starts. Under
systemd that PATH is ``/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin``, so a CLI
installed in ``~/.local/bin`` or an npm prefix works in the shell that registered and not in the
service. Registration therefore writes the absolute path it found as ``<runner>.binary``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any

#: the agent CLIs looked for, in order of preference for ``default_runner``
AGENT_CLIS = ("claude", "codex", "gemini", "aider")


def find_runners(raw: Mapping[str, Any], path: str | None = None) -> dict[str, str]:
    """Runner name -> absolute path of its binary, for the agent CLIs on ``path`` (default:
    ``$PATH``). A section's own ``binary`` is looked up instead of the runner's name; a runner
    whose section says ``enabled: false`` is left out (the operator turned it off)."""
    found: dict[str, str] = {}
    for name in AGENT_CLIS:
        section = raw.get(name)
        section = section if isinstance(section, Mapping) else {}
        if section.get("enabled", True) is False:
            continue
        binary = str(section.get("binary") or name)
        if os.sep in binary:
            where = os.path.expanduser(binary)
            if os.path.isfile(where) and os.access(where, os.X_OK):
                found[name] = os.path.abspath(where)
            continue
        located = shutil.which(binary, path=path)
        if located:
            found[name] = os.path.abspath(located)
    return found


def runner_settings(raw: Mapping[str, Any], found: Mapping[str, str]) -> dict[str, Any]:
    """Config updates for the runners ``found``: each one's ``binary`` as an absolute path, and
    ``default_runner`` (the first found) when the config sets none."""
    updates: dict[str, Any] = {}
    for name, binary in found.items():
        section = raw.get(name)
        current = str(section.get("binary") or "") if isinstance(section, Mapping) else ""
        if current != binary:
            updates[name] = {"binary": binary}
    if found and not raw.get("default_runner"):
        updates["default_runner"] = next(iter(found))
    return updates
