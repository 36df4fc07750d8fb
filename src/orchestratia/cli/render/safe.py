"""Text from an agent or the hub made safe for a terminal: control characters made visible.

Anything an agent sends is hostile: a task error, a help question, an agent's name or hostname
can carry OSC 52 (writes the admin's clipboard), OSC 0 (the window title) or ``ESC[2J``
(clears the screen). Printed raw, the terminal obeys them. So every such field is printed
through :func:`visible`, one scheme everywhere (docs/cli.md, "Untrusted text"):

- C0 controls and DEL become their Unicode Control Pictures, one character for one, so the
  text keeps its length and stays readable: ESC → ``␛``, BEL → ``␇``, CR → ``␍``, DEL → ``␡``.
  Newline and tab are kept where a field may span lines (``multiline=True``) and shown as
  ``␊`` / ``␉`` in single-line cells.
- C1 controls (U+0080–U+009F: some terminals obey U+009B as CSI and U+009D as OSC) and the
  bidirectional overrides (U+202A–U+202E, U+2066–U+2069: they reorder what is shown) become
  escapes such as ``\\x9b`` and ``\\u202e``.

Task *output* is the exception in two ways: ``tasks output`` stays byte-exact (it is for files
and pipes), and ``tasks watch`` passes colour (SGR, ``ESC[...m``) through :class:`SafeStream`
while every other sequence is made visible.
"""

from __future__ import annotations

import re

_BIDI = {*range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def _picture(code: int) -> str:
    if code == 0x7F:
        return "\u2421"
    if code < 0x20:
        return chr(0x2400 + code)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def _table(keep: str) -> dict[int, str]:
    codes = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *_BIDI]
    return {code: _picture(code) for code in codes if chr(code) not in keep}


_MULTILINE = _table("\n\t")
_ONE_LINE = _table("")
_STREAM = _table("\n\t\r")
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(value: object, multiline: bool = False) -> str:
    """``value`` as text with every control character made visible (see the module doc).
    ``multiline`` keeps newlines and tabs; ``None`` is the empty string."""
    text = "" if value is None else str(value)
    if not _UNSAFE.search(text):
        return text
    return text.translate(_MULTILINE if multiline else _ONE_LINE)


def is_safe(text: str, multiline: bool = False) -> bool:
    """True when :func:`visible` would leave ``text`` as it is."""
    return visible(text, multiline) == text


#: colour and style only: ``ESC [`` digits / ``;`` / ``:`` ``m`` (no cursor moves, no erase)
_SGR = re.compile(r"\x1b\[[0-9;:]{0,64}m")
#: the longest unfinished sequence we hold back for the next chunk
_HOLD_MAX = 70


class SafeStream:
    """Live output for a person: SGR colour passes, newline, tab and CR (progress bars) pass,
    every other control character is made visible. Chunks may split a colour sequence, so an
    unfinished ``ESC[...`` at the end of a chunk waits for the next one (at most 70 characters,
    then it is shown as text)."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, chunk: str) -> str:
        text = self._held + chunk
        self._held = ""
        cut = text.rfind("\x1b")
        if cut >= 0 and len(text) - cut < _HOLD_MAX and _unfinished_sgr(text[cut:]):
            text, self._held = text[:cut], text[cut:]
        return self._render(text)

    def flush(self) -> str:
        text, self._held = self._held, ""
        return self._render(text)

    @staticmethod
    def _render(text: str) -> str:
        parts: list[str] = []
        last = 0
        for match in _SGR.finditer(text):
            parts.append(text[last:match.start()].translate(_STREAM))
            parts.append(match.group())
            last = match.end()
        parts.append(text[last:].translate(_STREAM))
        return "".join(parts)


def _unfinished_sgr(tail: str) -> bool:
    """``tail`` (starting with ESC) could still become an SGR sequence."""
    return tail == "\x1b" or re.fullmatch(r"\x1b\[[0-9;:]*", tail) is not None
