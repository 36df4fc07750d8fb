"""The task page's Changes tab: a task's unified diff (``git diff -M``, as the daemon sends it)
parsed per file and highlighted with Pygments on the server.

Pure: no FastAPI, no store. Everything in the diff comes from an agent and is hostile: paths
and lines reach the page only as Jinja-escaped text or as Pygments' HTML formatter output
(which escapes ``& < > " '``); control characters (a CR, an ESC, ...) are made visible
(U+2400 pictures) before lexing, so they cannot shift lines or hide text.

Cost (measured on the shared dev server, 2 cores, Pygments 2.21, highlighting 1 MB of this
repository's Python / JavaScript in one call): 3.5 / 2.3 s per MB at load 7, 11.6 / 8.8 s per
MB at load 13; the HTML is 5-9x the text; plain text (escaped, no lexer) 0.02 s per MB. So a
page highlights at most ``HIGHLIGHT_BUDGET`` bytes (0.9 s at load 7, 3 s at load 13; a typical
agent change is far smaller) and shows the rest as plain text, and shows at most ``MAX_ROWS``
diff lines (a 5 MB diff is ~125,000 lines: tens of MB of HTML); the files beyond are named with
their counts and a pointer to the raw diff. A 5 MB diff of 1,032 files builds in 1.2 s without
highlighting and 4.3 s with the budget at load 12 (a throwaway script diffing this repository's
files as new files).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from markupsafe import Markup, escape

#: bytes of diff text a page highlights (~0.9 s at 3.5 s/MB, measured above); the rest is plain
HIGHLIGHT_BUDGET = 256 * 1024
#: diff lines a page shows in all; the files beyond are named, not inlined
MAX_ROWS = 20_000
#: a file with more diff lines than this starts collapsed (one click shows it)
COLLAPSE_ROWS = 300

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_OCTAL = re.compile(rb"\\([0-7]{3}|.)", re.S)
_ESCAPES = {b"n": b"\n", b"t": b"\t", b'"': b'"', b"\\": b"\\", b"a": b"\a", b"b": b"\b", b"f": b"\f",
            b"r": b"\r", b"v": b"\v"}


@dataclass
class Row:
    """One line of a file's diff: ``kind`` add / del / ctx / hunk (the ``@@`` line) / note
    (``\\ No newline at end of file``); ``old``/``new`` its line numbers."""

    kind: str
    old: int | None = None
    new: int | None = None
    text: str = ""
    html: Markup = Markup("")


@dataclass
class FileView:
    """A changed file: what the stat says and, when shown, its rows."""

    path: str
    old_path: str | None = None
    status: str = "modified"
    insertions: int | None = None
    deletions: int | None = None
    binary: bool = False
    rows: list[Row] = field(default_factory=list)
    collapsed: bool = False
    crlf: bool = False
    #: why the lines are not shown ("" when they are)
    omitted: str = ""


@dataclass
class ChangesView:
    files: list[FileView]
    insertions: int = 0
    deletions: int = 0
    truncated: bool = False
    rows_shown: int = 0
    highlighted_bytes: int = 0


@dataclass
class _Section:
    path: str | None = None
    old_path: str | None = None
    status: str = "modified"
    binary: bool = False
    rows: list[Row] = field(default_factory=list)
    crlf: bool = False
    #: its diff lines, also those not kept (``partial``) past parse's ``row_limit``
    count: int = 0
    partial: bool = False
    added: int = 0
    removed: int = 0

    def add(self, row: Row | None, room: bool) -> None:
        self.count += 1
        if room and row is not None:
            self.rows.append(row)
        else:
            self.partial = True


def visible(text: str) -> str:
    """Control characters (not TAB) as their U+2400 pictures: a CR or an ESC from an agent is
    shown, never interpreted (and cannot split a line for the lexer)."""
    return _CONTROL.sub(lambda m: chr(0x2421) if m.group() == "\x7f" else chr(0x2400 + ord(m.group())), text)


def unquote_path(raw: str) -> str:
    """A path as git prints it: plain, or C-quoted (``"a/t\\303\\251st\\tx"``) when it holds a
    quote, a backslash, a control character (or non-ASCII without core.quotepath=false)."""
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        body = raw[1:-1].encode("utf-8", "surrogateescape")
        out = _OCTAL.sub(lambda m: bytes([int(m.group(1), 8)]) if len(m.group(1)) == 3
                         else _ESCAPES.get(m.group(1), m.group(1)), body)
        return out.decode("utf-8", "replace")
    return raw


def _strip_prefix(path: str, prefix: str) -> str | None:
    if path == "/dev/null":
        return None
    return path[len(prefix):] if path.startswith(prefix) else path


def _header_paths(line: str) -> tuple[str | None, str | None]:
    """``diff --git a/X b/Y``: the paths when unambiguous (quoted, or the same name twice)."""
    rest = line[len("diff --git "):]
    if rest.startswith('"'):
        end = rest.find('" ', 1)
        while end != -1 and rest[end - 1] == "\\":
            end = rest.find('" ', end + 1)
        if end != -1:
            return (_strip_prefix(unquote_path(rest[:end + 1]), "a/"), _strip_prefix(unquote_path(rest[end + 2:]), "b/"))
    half = (len(rest) - 1) // 2
    if len(rest) % 2 == 1 and rest[half] == " " and rest[2:half] == rest[half + 3:]:
        return rest[2:half], rest[half + 3:]
    return None, None


def _side_path(line: str, prefix: str) -> str | None:
    raw = line[4:]
    if raw.endswith("\t"):  # git adds a TAB after a name with a space in it
        raw = raw[:-1]
    return _strip_prefix(unquote_path(raw), prefix)


def _meta(section: _Section, line: str) -> None:
    """One extended-header line of a file's section."""
    if line.startswith("new file mode"):
        section.status = "added"
    elif line.startswith("deleted file mode"):
        section.status = "deleted"
    elif line.startswith("rename from "):
        section.old_path, section.status = unquote_path(line[12:]), "renamed"
    elif line.startswith("rename to "):
        section.path = unquote_path(line[10:])
    elif line.startswith("copy from "):
        section.old_path, section.status = unquote_path(line[10:]), "copied"
    elif line.startswith("copy to "):
        section.path = unquote_path(line[8:])
    elif line.startswith("Binary files ") or line == "GIT binary patch":
        section.binary = True
    elif line.startswith("+++ "):
        new = _side_path(line, "b/")
        if new is not None:
            section.path = new


def parse(diff: str, row_limit: int | None = None) -> list[_Section]:
    """The files of a unified git diff, in order, each with its rows. Lines split on LF only
    (a CR, form feed or U+2028 inside a line stays in it). With ``row_limit``, a file whose
    rows would pass it (with the files kept before it) keeps none and is only counted
    (``partial``): a 5 MB diff's 125,000 Row objects took seconds to make, and later small
    files still fit."""
    sections: list[_Section] = []
    kept = 0
    current: _Section | None = None
    old_left = new_left = old_no = new_no = 0

    def room() -> bool:
        return row_limit is None or (current is not None and not current.partial and kept + current.count < row_limit)

    for raw in diff.split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw
        if current is not None and (old_left > 0 or new_left > 0) and raw[:1] in (" ", "+", "-", ""):
            kind = {"+": "add", "-": "del"}.get(raw[:1], "ctx")
            current.crlf = current.crlf or raw.endswith("\r")
            current.added += kind == "add"
            current.removed += kind == "del"
            fits = room()
            current.add(Row(kind, old_no if kind != "add" else None, new_no if kind != "del" else None, line[1:])
                        if fits else None, fits)
            old_no, old_left = (old_no + 1, old_left - 1) if kind != "add" else (old_no, old_left)
            new_no, new_left = (new_no + 1, new_left - 1) if kind != "del" else (new_no, new_left)
            continue
        if line.startswith("diff --git "):
            kept += _close(current)
            current = _Section()
            old, new = _header_paths(line)
            current.path, current.old_path = new, (old if old != new else None)
            sections.append(current)
            old_left = new_left = 0
        elif current is None:
            continue
        elif (hunk := _HUNK.match(line)) is not None:
            old_no, new_no = int(hunk.group(1)), int(hunk.group(3))
            old_left = int(hunk.group(2)) if hunk.group(2) is not None else 1
            new_left = int(hunk.group(4)) if hunk.group(4) is not None else 1
            current.add(Row("hunk", text=line), room())
        elif line.startswith("\\"):
            current.add(Row("note", text=line[1:].strip()), room())
        elif not current.count:
            _meta(current, line)
    _close(current)
    return sections


def _close(section: _Section | None) -> int:
    """The rows a finished section keeps (none when it did not fit)."""
    if section is None:
        return 0
    if section.partial:
        section.rows = []
    return len(section.rows)


_LEXER_OPTIONS = {"stripnl": False, "ensurenl": False, "tabsize": 0}


@functools.lru_cache(maxsize=512)
def _lexer_class(name: str) -> Any:
    """The lexer class for a file name (Pygments tries every lexer's name patterns: ~10 ms a
    call; 1,000 files called it 1,000 times), cached by the name's extensions."""
    from pygments.lexers import TextLexer, get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        return type(get_lexer_for_filename(name, **_LEXER_OPTIONS))
    except (ClassNotFound, ValueError):
        return TextLexer


def _lexer(path: str) -> Any:
    base = path.rsplit("/", 1)[-1]
    key = "x" + base[base.index("."):] if "." in base[1:] else base  # "a.test.js" -> "x.test.js"
    return _lexer_class(key)(**_LEXER_OPTIONS)


def _highlight_side(rows: list[Row], lexer: Any) -> None:
    """Highlight one side's rows (old: context + deletions, new: context + additions) as one
    text, so a construct over several lines (a docstring) is coloured as a whole; each
    formatted line goes back to its row. A line count that does not match leaves them plain."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter

    if not rows:
        return
    text = "".join(visible(row.text) + "\n" for row in rows)
    try:
        lines = highlight(text, lexer, HtmlFormatter(nowrap=True, classprefix="pg-")).split("\n")
    except Exception:  # noqa: BLE001 - a lexer bug on odd input: the rows stay plain (escaped)
        return
    if len(lines) - 1 != len(rows) or lines[-1]:
        return
    for row, html in zip(rows, lines):
        row.html = Markup(html)  # Pygments' HTML formatter output: every token escaped


def _render_rows(view: FileView, highlight: bool) -> None:
    for row in view.rows:
        row.html = escape(visible(row.text))
    if not highlight:
        return
    lexer = _lexer(view.path)
    if type(lexer).__name__ == "TextLexer":
        return
    _highlight_side([r for r in view.rows if r.kind in ("ctx", "del")], lexer)
    _highlight_side([r for r in view.rows if r.kind in ("ctx", "add")], lexer)


def _match(files: Iterable[dict[str, Any]], sections: list[_Section]) -> list[tuple[dict[str, Any], _Section | None]]:
    """The stat's files (the authoritative list, from numstat) each with its diff section."""
    by_path: dict[str, _Section] = {}
    for section in sections:
        for key in (section.path, section.old_path if section.status == "deleted" else None):
            if key is not None:
                by_path.setdefault(key, section)
    out: list[tuple[dict[str, Any], _Section | None]] = []
    used: set[int] = set()
    for item in files:
        section = by_path.get(str(item.get("path") or ""))
        if section is not None:
            used.add(id(section))
        out.append((item, section))
    for section in sections:  # in the diff but not in the stat: shown all the same
        if id(section) not in used and section.path:
            out.append(({"path": section.path, "old_path": section.old_path, "status": section.status}, section))
    return out


def _file_view(item: dict[str, Any], section: _Section | None) -> FileView:
    binary = bool(item.get("binary")) or bool(section and section.binary)
    status = str(item.get("status") or "modified")
    if section is not None and section.status != "modified":
        status = section.status
    old_path = item.get("old_path") or (section.old_path if section else None)
    if old_path is not None and status == "modified":
        status = "renamed"
    rows = section.rows if section is not None else []
    ins = item.get("insertions")
    dels = item.get("deletions")
    if ins is None and not binary and section is not None:
        ins, dels = section.added, section.removed
    return FileView(path=str(item.get("path") or (section.path if section else "") or "?"),
                    old_path=str(old_path) if old_path else None, status=status, insertions=ins,
                    deletions=dels, binary=binary, rows=[] if binary else rows,
                    crlf=bool(section and section.crlf))


def _omitted(view: FileView, truncated: bool, has_section: bool) -> str:
    if view.binary:
        return "Binary file: not shown."
    if truncated:
        return ""
    if not view.rows and view.status in ("renamed", "copied"):
        return f"{view.status.capitalize()} without changes."
    if not view.rows and not has_section:
        return "Not in the stored diff."
    if not view.rows:
        return "Empty file." if view.status in ("added", "deleted") else "Mode change only."
    return ""


def build(files: list[dict[str, Any]], diff: str, truncated: bool = False, *,
          highlight_budget: int = HIGHLIGHT_BUDGET, max_rows: int = MAX_ROWS,
          collapse_rows: int = COLLAPSE_ROWS) -> ChangesView:
    """The Changes tab's model from the stat's ``files`` and the unified ``diff`` (empty when
    ``truncated``: the stat only). Blocking (Pygments): call it in a worker thread."""
    view = ChangesView(files=[], truncated=truncated)
    budget, rows_left = highlight_budget, max_rows
    for item, section in _match(files, [] if truncated else parse(diff, max_rows)):
        fv = _file_view(item, section)
        count = section.count if section is not None else 0
        fv.omitted = _omitted(fv, truncated, section is not None)
        view.insertions += fv.insertions or 0
        view.deletions += fv.deletions or 0
        if section is not None and (section.partial or (fv.rows and count > rows_left)):
            fv.omitted = (f"Too large to show here ({count:,} lines; the page shows {max_rows:,} in all): "
                          "download the diff.")
            fv.rows = []
        if fv.rows:
            size = sum(len(r.text) + 1 for r in fv.rows)
            highlighted = size <= budget
            _render_rows(fv, highlight=highlighted)
            if highlighted:
                budget -= size
                view.highlighted_bytes += size
            rows_left -= len(fv.rows)
            view.rows_shown += len(fv.rows)
            fv.collapsed = len(fv.rows) > collapse_rows
        view.files.append(fv)
    return view
