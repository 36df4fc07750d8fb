"""Everything the CLI renders for a person, in one place.

- :mod:`.safe`: untrusted text made safe for a terminal (control characters visible).
- :mod:`.views`: Rich tables and detail views, JSON for ``--json``, notes on stderr.
- :mod:`.formats`: times, ages, one-line excerpts.
- :mod:`.stream`: ``tasks watch``'s output renderers (raw bytes, safe plain text, and the
  Claude Code transcript of :mod:`.transcript`).

The commands import what they print with from here (``from . import render``)."""

from .formats import ago, one_line, short_time
from .safe import SafeStream, visible
from .views import block, console, details, info, print_json, status_text, success, table, text, warn

__all__ = [
    "SafeStream", "ago", "block", "console", "details", "info", "one_line", "print_json", "short_time",
    "status_text", "success", "table", "text", "visible", "warn",
]
