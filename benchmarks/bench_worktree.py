"""What a task's own worktree adds to its start, against running in place, on a repository of
20,000 files: ``.venv/bin/python -m benchmarks.bench_worktree [FILES] [RUNS]``.

In-process, no hub or daemon: builds the repository in a temp dir (files of ~200 bytes in 200
directories, one commit, packed), then times ``prepare()`` RUNS times per kind: in place, a
fresh worktree (cold), and a worktree taken from a spare made by ``warm_spare()`` beforehand
(untimed: the daemon makes it while tasks run). Worktrees are kept until the end, as tasks'
are until pruned. Also times ``finish()`` where one file changed (``git add -A`` scans the
whole tree) and ``discard()``. Prints p50/p90 in milliseconds. Target: a
worktree adds at most 1 s at p50."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.common import pct
from orchestratia.agent.workspaces import WorkspaceSpec, commit_message, discard, finish, prepare, warm_spare

ENV = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
       "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}


def build_repo(path: Path, files: int) -> None:
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True)
    body = "".join(f"line {i} of a typical source file, about two hundred bytes\n" for i in range(3))
    for i in range(files):
        d = path / f"pkg{i % 200:03d}"
        d.mkdir(exist_ok=True)
        (d / f"mod{i:05d}.py").write_text(f"# file {i}\n{body}")
    subprocess.run(["git", "add", "-A"], cwd=path, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "initial"], cwd=path, check=True, env=ENV)
    # A real repository of this size came from a clone and is packed; 20,000 loose objects
    # would add 20,000 file opens to every checkout.
    subprocess.run(["git", "repack", "-adq"], cwd=path, check=True)
    subprocess.run(["git", "prune-packed"], cwd=path, check=True)


def timed(fn):  # noqa: ANN001, ANN201
    t0 = time.perf_counter()
    value = fn()
    return (time.perf_counter() - t0) * 1000, value


def main(files: int = 20000, runs: int = 20) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-worktree-") as tmp:
        repo, root = Path(tmp) / "repo", Path(tmp) / "state" / "workspaces"
        ms, _ = timed(lambda: build_repo(repo, files))
        print(f"repository: {files} files, built in {ms / 1000:.1f} s; git {_git_version()}; {runs} runs each")
        spec = WorkspaceSpec(repo=repo, root=root, branch="main")
        in_place, worktree, warm, finishing, made = [], [], [], [], []
        for _ in range(runs):
            ms, _ = timed(lambda: prepare(spec.model_copy(update={"kind": "in_place"}), str(uuid.uuid4()), "t"))
            in_place.append(ms)
            task = str(uuid.uuid4())
            ms, p = timed(lambda: prepare(spec, task, "Benchmark task"))
            worktree.append(ms)
            made.append(p)
            (p.path / "pkg000" / "mod00000.py").write_text("changed\n")
            ms, _ = timed(lambda: finish(p, commit_message("Benchmark task", task)))
            finishing.append(ms)
            warm_spare(spec)  # the daemon does this while the previous task runs: not timed
            ms, p = timed(lambda: prepare(spec, str(uuid.uuid4()), "Benchmark task"))
            warm.append(ms)
            made.append(p)
        # Tasks' worktrees accumulate until pruned; removing each one right before the next
        # creation measured the file system's delete cost (online discard here) instead.
        removing = [timed(lambda p=p: discard(p.path, p.branch, force=True))[0] for p in made]
        print(f"{'':28} {'p50 ms':>9} {'p90 ms':>9}")
        for name, values in (("prepare in place", in_place), ("prepare worktree (cold)", worktree),
                             ("prepare worktree (spare)", warm),
                             ("finish worktree (1 change)", finishing), ("discard worktree", removing)):
            print(f"{name:28} {pct(values, 50):9.1f} {pct(values, 90):9.1f}")
        for name, values in (("cold", worktree), ("from a spare", warm)):
            added = pct(values, 50) - pct(in_place, 50)
            print(f"a worktree ({name}) adds {added:.0f} ms at p50 (target <= 1000 ms): "
                  f"{'OK' if added <= 1000 else 'OVER'}")


def _git_version() -> str:
    return subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.split()[-1]


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
