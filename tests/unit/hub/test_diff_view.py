"""The Changes tab's diff parser and renderer (hub/dashboard/diff_view.py): files as git shows
them (renames, binary, new and deleted files, no newline at the end, CRLF), hostile names and
lines inert, big files collapsed or left out, the highlight budget."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestratia.hub.dashboard import diff_view
from orchestratia.agent.workspaces.result import _DIFF, parse_numstat_z

HOSTILE = "<img src=x onerror=alert(1)>.py"


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x", "HOME": str(repo), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True).stdout.decode()


@pytest.fixture
def change(tmp_path: Path) -> tuple[list[dict], str]:
    """A real repository's change, diffed as the daemon diffs it (result.py's git arguments)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "app.py").write_text("def main():\n    '''Say hi.'''\n    return 1\n")
    (repo / "old_name.txt").write_text("".join(f"line {i}\n" for i in range(40)))
    (repo / "gone.md").write_text("# bye\n")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)))
    (repo / "win.txt").write_bytes(b"one\r\ntwo\r\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "app.py").write_text("def main():\n    '''Say hello.'''\n    return 2  # <b>&amp;</b>")
    (repo / "old_name.txt").rename(repo / "new name.txt")
    (repo / "gone.md").unlink()
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x01" + bytes(range(256)))
    (repo / "win.txt").write_bytes(b"one\r\nTWO\r\n")
    (repo / HOSTILE).write_text("x = '<script>alert(1)</script>'\n\x1b[31mred\r\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "change")
    spec = [f"{base}...HEAD"]
    files = [f.model_dump() for f in parse_numstat_z(_git(repo, *_DIFF, "--numstat", "-z", *spec))]
    return files, _git(repo, *_DIFF, *spec)


def _by_path(view: diff_view.ChangesView) -> dict[str, diff_view.FileView]:
    return {f.path: f for f in view.files}


def test_a_real_change_names_every_file_with_its_kind(change: tuple[list[dict], str]) -> None:
    files, diff = change
    view = diff_view.build(files, diff)
    got = _by_path(view)
    assert sorted(got) == sorted([HOSTILE, "app.py", "gone.md", "logo.png", "new name.txt", "win.txt"])
    assert got["new name.txt"].status == "renamed" and got["new name.txt"].old_path == "old_name.txt"
    assert got["new name.txt"].rows == [] and got["new name.txt"].omitted == "Renamed without changes."
    assert got["logo.png"].binary and got["logo.png"].rows == [] and "Binary" in got["logo.png"].omitted
    assert got["gone.md"].status == "deleted" and [r.kind for r in got["gone.md"].rows] == ["hunk", "del"]
    assert got[HOSTILE].status == "added" and got[HOSTILE].insertions == 2
    assert (view.insertions, view.deletions) == (sum(f["insertions"] or 0 for f in files),
                                                 sum(f["deletions"] or 0 for f in files))


def test_line_numbers_and_no_newline_at_end(change: tuple[list[dict], str]) -> None:
    app = _by_path(diff_view.build(*change))["app.py"]
    rows = [(r.kind, r.old, r.new, r.text) for r in app.rows]
    assert rows == [
        ("hunk", None, None, "@@ -1,3 +1,3 @@"),
        ("ctx", 1, 1, "def main():"),
        ("del", 2, None, "    '''Say hi.'''"),
        ("del", 3, None, "    return 1"),
        ("add", None, 2, "    '''Say hello.'''"),
        ("add", None, 3, "    return 2  # <b>&amp;</b>"),
        ("note", None, None, "No newline at end of file"),
    ]
    # highlighted (Python tokens) and escaped: the comment's markup is text
    assert '<span class="pg-k">def</span>' in app.rows[1].html
    assert "&lt;b&gt;&amp;amp;&lt;/b&gt;" in app.rows[5].html and "<b>" not in app.rows[5].html


def test_crlf_lines_lose_their_cr_and_the_file_says_so(change: tuple[list[dict], str]) -> None:
    win = _by_path(diff_view.build(*change))["win.txt"]
    assert win.crlf
    assert [(r.kind, r.text) for r in win.rows if r.kind != "hunk"] == [("ctx", "one"), ("del", "two"), ("add", "TWO")]


def test_hostile_name_and_lines_are_inert(change: tuple[list[dict], str]) -> None:
    evil = _by_path(diff_view.build(*change))[HOSTILE]
    html = "".join(r.html for r in evil.rows)
    assert "<script" not in html and "<img" not in html and "\x1b" not in html and "\r" not in html
    assert "&lt;script&gt;" in html
    assert "\u241b</span>" in html and "mred" in html  # the ESC shown as a picture; the CR before LF is a CRLF line end
    assert evil.crlf


def test_quoted_paths_and_tabs_after_names_with_spaces() -> None:
    diff = ('diff --git "a/t\\303\\251st \\"q\\".py" "b/t\\303\\251st \\"q\\".py"\n'
            "new file mode 100644\n--- /dev/null\n"
            '+++ "b/t\\303\\251st \\"q\\".py"\n@@ -0,0 +1 @@\n+x\n'
            "diff --git a/my file.txt b/my file.txt\n--- a/my file.txt\t\n+++ b/my file.txt\t\n"
            "@@ -1 +1 @@\n-a\n+b\n")
    view = diff_view.build([], diff)
    assert [(f.path, f.status, f.insertions, f.deletions) for f in view.files] == [
        ('t\u00e9st "q".py', "added", 1, 0), ("my file.txt", "modified", 1, 1)]


def test_a_line_that_looks_like_a_header_inside_a_hunk_is_content() -> None:
    diff = ("diff --git a/x.sql b/x.sql\n--- a/x.sql\n+++ b/x.sql\n@@ -1,2 +1,2 @@\n"
            "--- a comment\n"  # a deleted "-- a comment"
            "+++ b/evil\n"  # an added "++ b/evil"
            " diff --git a/a b/b\n")
    [f] = diff_view.build([{"path": "x.sql", "insertions": 1, "deletions": 1}], diff).files
    assert [(r.kind, r.text) for r in f.rows[1:]] == [("del", "-- a comment"), ("add", "++ b/evil"),
                                                     ("ctx", "diff --git a/a b/b")]


def test_form_feed_and_line_separator_stay_inside_their_line() -> None:
    diff = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1,2 @@\n-a\n+b\x0cc\u2028d\n+e\n"
    [f] = diff_view.build([], diff).files
    assert [r.new for r in f.rows if r.kind == "add"] == [1, 2]
    assert "\u240c" in f.rows[2].html and "\x0c" not in f.rows[2].html


def test_a_huge_file_is_collapsed_plain_and_the_page_capped() -> None:
    body = "".join(f"+x_{i} = {i}\n" for i in range(2000))
    big = f"diff --git a/big.py b/big.py\nnew file mode 100644\n--- /dev/null\n+++ b/big.py\n@@ -0,0 +1,2000 @@\n{body}"
    small = "diff --git a/s.py b/s.py\n--- a/s.py\n+++ b/s.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n"
    view = diff_view.build([], big + small, highlight_budget=1000)
    big_view, small_view = view.files
    assert big_view.collapsed and len(big_view.rows) == 2001 and "pg-" not in big_view.rows[1].html  # over budget
    assert not small_view.collapsed and "pg-" in small_view.rows[1].html  # the budget left serves the next
    capped = diff_view.build([], big + small, max_rows=100)
    assert capped.files[0].rows == [] and "Too large to show here (2,001 lines" in capped.files[0].omitted
    assert capped.files[1].rows and capped.rows_shown == 3


def test_truncated_diff_shows_the_stat_only() -> None:
    files = [{"path": "a.py", "insertions": 3, "deletions": 1}, {"path": "b.bin", "binary": True}]
    view = diff_view.build(files, "", truncated=True)
    assert view.truncated and [(f.path, f.rows, f.omitted) for f in view.files] == [
        ("a.py", [], ""), ("b.bin", [], "Binary file: not shown.")]
    assert (view.insertions, view.deletions) == (3, 1)


def test_unknown_extension_is_plain_text_and_escaped() -> None:
    diff = "diff --git a/notes.zzz b/notes.zzz\n--- a/notes.zzz\n+++ b/notes.zzz\n@@ -1 +1 @@\n-<i>\n+<b onclick=x>\n"
    [f] = diff_view.build([], diff).files
    assert [str(r.html) for r in f.rows[1:]] == ["&lt;i&gt;", "&lt;b onclick=x&gt;"]
