"""Branch names from task titles: safe whatever the title, and accepted by git."""

from __future__ import annotations

import subprocess

import pytest

from orchestratia.agent.workspaces import WorkspaceError, branch_name, check_branch_name, slugify

TASK = "0ebf3038-b674-4629-b38b-6653db3cc843"


def git_accepts(name: str) -> bool:
    return subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True, cwd="/").returncode == 0


@pytest.mark.parametrize("title, expected", [
    ("Fix the login bug", "orchestratia/0ebf3038-fix-the-login-bug"),
    ("../../etc/passwd", "orchestratia/0ebf3038-etc-passwd"),
    ("-rf --force", "orchestratia/0ebf3038-rf-force"),
    ("@{-1}", "orchestratia/0ebf3038-1"),
    ("refs.lock", "orchestratia/0ebf3038-refs-lock"),
    ("a\x00b\x1b[31mc\nd\x7f", "orchestratia/0ebf3038-a-b-31mc-d"),
    ("Élan café naïve", "orchestratia/0ebf3038-elan-cafe-naive"),
    ("日本語のタイトル", "orchestratia/0ebf3038"),
    ("", "orchestratia/0ebf3038"),
    ("---", "orchestratia/0ebf3038"),
    ("a  --  b", "orchestratia/0ebf3038-a-b"),
    ("HEAD", "orchestratia/0ebf3038-head"),
    ("x~1^2:y?*[z] \\ w", "orchestratia/0ebf3038-x-1-2-y-z-w"),
])
def test_hostile_titles_give_plain_valid_names(title: str, expected: str) -> None:
    name = branch_name(TASK, title)
    assert name == expected
    assert git_accepts(name)


def test_a_long_title_is_cut_at_a_word_within_40_characters() -> None:
    slug = slugify("implement the new streaming protocol for very large repositories " * 5)
    assert len(slug) <= 40 and slug == "implement-the-new-streaming-protocol-for"
    assert slugify("x" * 500) == "x" * 40
    name = branch_name(TASK, "word " * 1000)
    assert git_accepts(name) and len(name) <= len("orchestratia/0ebf3038-") + 40


def test_the_slug_has_no_leading_trailing_or_double_hyphens() -> None:
    for title in ("--a--b--", " a - - b ", "a" * 39 + " b", "a" * 40 + "-" + "b"):
        slug = slugify(title)
        assert not slug.startswith("-") and not slug.endswith("-") and "--" not in slug
        assert set(slug) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


def test_a_task_id_that_is_not_a_uuid_is_refused() -> None:
    with pytest.raises(WorkspaceError, match="not a UUID"):
        branch_name("../../x", "title")


@pytest.mark.parametrize("name", ["-rf", "@{-1}", "a..b", "x.lock", "a b", "a\nb", "", "HEAD~1", "a:b", "/x",
                                  "refs/heads/x/", "-", "@"])
def test_user_given_branch_names_are_checked(name: str) -> None:
    with pytest.raises(WorkspaceError, match="not a valid git branch name"):
        check_branch_name(name)


def test_a_valid_user_branch_name_passes_unchanged() -> None:
    assert check_branch_name("feature/login-fix_2.0") == "feature/login-fix_2.0"
