"""The task page's Changes tab: a real git change (renames, binary, new/deleted files, a long
file, a hostile file name and lines) reported for a task the way its agent reports it, shown
per file with syntax colour; comments on lines composed into a reply; a running task, an empty
change and a task with no repository say so."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from browser_helpers import PHONE, SHOTS, create_task, finished_task, report_workspace, shoot
from orchestratia.agent.workspaces.result import parse_numstat_z

HOSTILE = '<img src=x onerror="window.__xss=1">.py'
AGENT_FLAGS = ["-c", "core.quotepath=false", "diff", "--no-color", "--no-ext-diff", "--no-textconv", "-M",
               "--src-prefix=a/", "--dst-prefix=b/"]  # the daemon's (agent/workspaces/result.py)


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x", "HOME": str(repo), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True).stdout.decode()


def _real_change(tmp: Path) -> dict[str, Any]:
    """A change made with git, as the workspace report the daemon sends."""
    repo = tmp / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text('import os\n\n\ndef main():\n    """Say hi."""\n    name = os.getenv("USER")\n'
                                        '    print("hi", name)\n    return 1\n')
    (repo / "old_name.txt").write_text("".join(f"line {i}\n" for i in range(40)))
    (repo / "gone.md").write_text("# Obsolete\n")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00" + bytes(range(256)))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "src" / "app.py").write_text('import os\n\n\ndef main():\n    """Greet the user."""\n'
                                        '    user = os.getenv("USER", "you")\n    print("hello", user)\n    return 0\n')
    (repo / "old_name.txt").rename(repo / "new name.txt")
    (repo / "gone.md").unlink()
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x01" + bytes(range(256)))
    (repo / HOSTILE).write_text("x = '<script>window.__xss=2</script>'\n# \x1b[31mred\n")
    (repo / "data.json").write_text("[\n" + ",\n".join(f'  {{"id": {i}, "ok": true}}' for i in range(400)) + "\n]\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "work")
    head = _git(repo, "rev-parse", "HEAD").strip()
    spec = f"{base}...{head}"
    files = [f.model_dump(mode="json") for f in parse_numstat_z(_git(repo, *AGENT_FLAGS, "--numstat", "-z", spec))]
    return {"kind": "worktree", "branch": "orc/task-demo", "base_ref": "main", "base_commit": base, "head_commit": head,
            "files_changed": len(files), "insertions": sum(f["insertions"] or 0 for f in files),
            "deletions": sum(f["deletions"] or 0 for f in files), "committed": True,
            "files": files, "diff": _git(repo, *AGENT_FLAGS, spec)}


def _snap(target: Any, name: str, tmp: Path) -> None:
    """A screenshot of what is on screen (a page) or of one element, in the test's tmp dir and
    artifacts/screenshots/ (full-page shots of a long diff are too tall to look at)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for folder in (tmp, SHOTS):
        target.screenshot(path=str(folder / f"{name}.png"))


def _comment(page: Any, file: Any, line: Any, text: str, shift_to: Any = None) -> None:
    line.locator("td.ln").first.click()
    if shift_to is not None:
        shift_to.locator("td.ln").first.click(modifiers=["Shift"])
    box = file.locator("tr.c-form textarea")
    expect(box).to_be_focused()
    box.fill(text)
    file.get_by_role("button", name="Add comment").click()
    expect(file.locator("tr.c-form")).to_have_count(0)


def test_changes_tab_files_colour_comments_and_reply(page: Any, hub: Any, agent: Any, tmp_path: Path) -> None:
    task = finished_task(hub, "Greet better")
    change = _real_change(tmp_path)
    report_workspace(hub, agent, task["id"], change)

    page.goto(f"/tasks/{task['id']}")
    tab = page.get_by_role("tab", name=re.compile(r"^Changes"))
    ins, dels = change["insertions"], change["deletions"]
    expect(tab).to_have_text(f"Changes (6 files +{ins:,} \u2212{dels:,})")
    expect(page.locator("#raw-output")).to_contain_text("done")  # Output is the first tab
    tab.click()
    expect(page).to_have_url(re.compile(r"#changes$"))
    panel = page.get_by_role("tabpanel", name=re.compile("^Changes"))
    expect(panel).to_be_visible()
    expect(page.locator(".task-grid")).to_be_hidden()
    _snap(page, "changes-top", tmp_path)

    index = panel.get_by_role("list", name="Changed files")
    expect(index.get_by_role("listitem")).to_have_count(6)
    expect(index).to_contain_text("old_name.txt → new name.txt")
    expect(index).to_contain_text(HOSTILE)
    renamed = panel.get_by_role("article", name="new name.txt")
    expect(renamed).to_contain_text("Renamed without changes.")
    expect(panel.get_by_role("article", name="logo.png")).to_contain_text("Binary file: not shown.")
    expect(panel.get_by_role("article", name="gone.md").locator("tr.d-del td.dl-code")).to_have_text(["# Obsolete"])

    app = panel.get_by_role("article", name="src/app.py")
    expect(app.locator(".pg-k", has_text="def")).to_have_count(1)  # Python, coloured by the server
    expect(app.locator(".pg-s2, .pg-sd").first).to_be_visible()
    assert app.locator(".pg-k").first.evaluate("n => getComputedStyle(n).color") != \
        app.locator(".pg-n").first.evaluate("n => getComputedStyle(n).color")

    data = panel.get_by_role("article", name="data.json")  # 402 lines: collapsed, one click shows them
    expect(data.locator(".dfile-body")).to_be_hidden()
    _snap(evil, "changes-hostile", tmp_path) if (evil := panel.get_by_role("article", name=HOSTILE)) else None
    _snap(data, "changes-collapsed", tmp_path)
    data.get_by_role("button", name="Show 403 lines").click()
    expect(data.locator("tr[data-new='402']")).to_be_visible()

    evil = panel.get_by_role("article", name=HOSTILE)
    expect(evil.locator("tr.d-add td.dl-code").first).to_have_text("x = '<script>window.__xss=2</script>'")
    expect(evil.locator("tr.d-add td.dl-code").nth(1)).to_have_text("# \u241b[31mred")
    assert page.locator("main img, #changes-panel script").count() == 0
    assert page.evaluate("window.__xss") is None

    # comments: one line, a range (shift-click), a deleted line, and one in the hostile file
    _comment(page, app, app.locator("tr[data-new='5']"), "say what it greets")
    _comment(page, app, app.locator("tr[data-new='6']"), "keep the name\nuser is vague", shift_to=app.locator("tr[data-new='7']"))
    _comment(page, app, app.locator("tr.d-del[data-old='8']"), "why not 1?")
    _comment(page, evil, evil.locator("tr[data-new='1']"), "drop this file")
    # by keyboard: one line number per file is in the tab order; the arrows move, Enter comments
    start = app.locator("td.ln[tabindex='0']")
    expect(start).to_have_count(1)
    start.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(app.locator("tr[data-new='4'] td.ln").first).to_be_focused()
    page.keyboard.press("Enter")
    box = app.get_by_role("textbox", name="Comment on src/app.py:4")
    expect(box).to_be_focused()
    page.keyboard.type("add a docstring?")
    expect(app.locator("tr.sel")).to_have_count(1)
    _snap(app, "changes-comment-form", tmp_path)
    page.keyboard.press("Control+Enter")
    expect(panel.locator("#review-count")).to_have_text("5 comments")
    panel.get_by_label("Overall note").fill("Nice start; a few things.")
    shoot(page, "task-changes")
    app.scroll_into_view_if_needed()
    _snap(app, "changes-comments", tmp_path)
    page.emulate_media(color_scheme="dark")
    _snap(app, "changes-comments-dark", tmp_path)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(PHONE)
    app.scroll_into_view_if_needed()
    _snap(page, "changes-phone", tmp_path)
    page.set_viewport_size({"width": 1366, "height": 900})

    expected = ("Nice start; a few things.\n\n"  # the note, then the comments in page order (git's file order)
                f"{HOSTILE}:1: drop this file\n"
                "src/app.py:4: add a docstring?\n"
                "src/app.py:8 (old): why not 1?\n"
                "src/app.py:5: say what it greets\n"
                "src/app.py:6-7: keep the name\n  user is vague")
    # the hub is unreachable for a moment (a restart: the request dies at the proxy): the page says
    # so and keeps everything
    replies_url = f"**/api/admin/tasks/{task['id']}/replies"
    page.route(replies_url, lambda route: route.fulfill(status=503, content_type="application/json",
                                                        body='{"detail": "the hub is restarting"}'))
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith(f"/api/admin/tasks/{task['id']}/replies")) as sent:
        panel.get_by_role("button", name="Send as reply").click()
    assert sent.value.post_data_json == {"message": expected}
    assert sent.value.headers.get("x-csrf-token")
    error = panel.get_by_role("alert")
    expect(error).to_contain_text(re.compile(r"The reply was not sent \(HTTP 503\): the hub is restarting\. Your comments are kept"))
    expect(panel.locator("tr.c-saved")).to_have_count(5)
    expect(panel.get_by_label("Overall note")).to_have_value("Nice start; a few things.")
    expect(panel.get_by_role("button", name="Send as reply")).to_be_enabled()
    expect(page).to_have_url(re.compile(rf"/tasks/{task['id']}#changes$"))
    shoot(page, "task-changes-refused")
    _snap(panel.locator("#review"), "changes-refused", tmp_path)

    page.reload()  # the draft survives a reload (sessionStorage) until it is sent
    expect(page.get_by_role("tabpanel", name=re.compile("^Changes"))).to_be_visible()
    expect(panel.locator("tr.c-saved")).to_have_count(5)
    expect(panel.locator("tr.c-saved", has_text="keep the name")).to_contain_text("src/app.py:6-7")
    panel.locator("tr.c-saved", has_text="drop this file").get_by_role("button", name=re.compile("^Delete")).click()
    expect(panel.locator("#review-count")).to_have_text("4 comments")
    assert page.evaluate("window.__xss") is None

    # with the hub back, Send as reply makes the reply and opens its page
    page.unroute(replies_url)
    panel.get_by_role("button", name="Send as reply").click()
    expect(page).not_to_have_url(re.compile(rf"/tasks/{task['id']}"), timeout=30_000)
    reply_id = page.url.rstrip("/").rsplit("/", 1)[-1].split("#")[0]
    reply = hub.api("GET", f"/tasks/{reply_id}").json()
    assert reply["parent_id"] == task["id"]
    assert reply["spec"] == expected.replace(f"{HOSTILE}:1: drop this file\n", "")


def test_a_running_task_an_empty_change_and_no_repository(page: Any, hub: Any, agent: Any) -> None:
    running = create_task(hub, title="Still going", spec="sleep 60", agent="web-1", target_repo="api", runner="shell")
    hub.wait_status(running["id"], "running", timeout=60)
    page.goto(f"/tasks/{running['id']}#changes")
    panel = page.get_by_role("tabpanel", name="Changes")
    expect(panel).to_contain_text("The task is still running: its change shows here when it ends.")
    shoot(page, "task-changes-running")
    assert hub.api("POST", f"/tasks/{running['id']}/cancel").status_code in (200, 202)
    expect(panel.get_by_role("link", name="Reload to see its change")).to_be_visible(timeout=60_000)

    empty = finished_task(hub, "Nothing to do")
    report_workspace(hub, agent, empty["id"], {"kind": "worktree", "branch": "orc/x", "base_commit": "a" * 40,
                                      "head_commit": "a" * 40, "files": [], "diff": ""})
    page.goto(f"/tasks/{empty['id']}")
    page.get_by_role("tab", name="Changes (none)").click()
    expect(page.get_by_role("tabpanel", name=re.compile("^Changes"))).to_contain_text("No changes")

    plain = finished_task(hub, "No repo here")  # "api" is not a git checkout: the daemon says so
    page.goto(f"/tasks/{plain['id']}#changes")
    expect(page.get_by_role("tabpanel", name="Changes")).to_contain_text(re.compile(r"No change recorded: .*git"))
