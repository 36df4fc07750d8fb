"""The SQLite store's guards, with real processes:

* a second ``hub serve`` on the same SQLite store is refused before it binds its port, naming
  the first hub's pid and PostgreSQL (before: it started silently and its tasks never ran);
  ``orchestratia up`` on a data dir a hub serves, or run twice on one HOME, is refused too;
* the store is private: data dir 0700, the database, its -wal, -shm and lock 0600, also a store
  an older version left world-readable;
* a read-only store (a user who can read the database but not write it) stops the hub at start
  with the file and the cause (before: it started, then every write was an opaque 500)."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from integration_harness import ORCHESTRATIA, Hub, base_env, free_port, stop_process, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

STORE_FILES = ("orchestratia.db", "orchestratia.db-wal", "orchestratia.db-shm", "orchestratia.db.lock")


def serve(data: Path, home: Path, port: int, *, user: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """``hub serve`` that is expected to stop by itself (as ``user`` when given)."""
    argv = [ORCHESTRATIA, "hub", "serve", "--port", str(port), "--data-dir", str(data)]
    if user:
        argv = ["setpriv", f"--reuid={user}", f"--regid={pwd.getpwnam(user).pw_gid}", "--clear-groups", *argv]
    env = {**base_env(home), "ORCHESTRATIA_ADMIN_PASSWORD": "guard-test-pw-1"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, cwd=home,
                          stdin=subprocess.DEVNULL)


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def test_a_second_hub_on_one_sqlite_store_is_refused(tmp_path: Path) -> None:
    hub = Hub(tmp_path / "hub").start()
    data = hub.workdir / "data"
    try:
        port = free_port()
        second = serve(data, tmp_path, port)
        text = second.stdout + second.stderr
        assert second.returncode != 0, text
        assert f"another hub (process {hub.proc.pid}) already serves the SQLite store {data / 'orchestratia.db'}" in text
        assert "PostgreSQL" in text and f"kill {hub.proc.pid}" in text
        assert "Uvicorn running" not in text and "Traceback" not in text  # refused before binding, one line
        # `up` on that data dir: refused as well, naming the running hub
        up = subprocess.run([ORCHESTRATIA, "up", "--data-dir", str(data), "--port", str(free_port())],
                            capture_output=True, text=True, env=base_env(tmp_path / "uphome"), timeout=60)
        assert up.returncode == 1, up.stdout + up.stderr
        assert f"a hub is already running on {data} (pid {hub.proc.pid})" in up.stderr
        assert hub.api("GET", "/tasks").status_code == 200  # the first one is untouched
    finally:
        hub.stop()
    # the lock died with the first hub: the store opens again at once
    again = Hub(tmp_path / "hub").start()
    again.stop()


def test_up_twice_on_one_home_is_refused(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "project"
    cwd.mkdir()
    env = base_env(home)
    env.pop("ORCHESTRATIA_ADMIN_PASSWORD", None)
    first = subprocess.Popen([ORCHESTRATIA, "up", "--port", str(free_port())], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd, start_new_session=True)
    out: list[str] = []
    threading.Thread(target=lambda: out.extend(first.stdout or []), daemon=True).start()
    try:
        wait_for(lambda: "Orchestratia is up" in "".join(out) or first.poll() is not None, 90, "the first `up`")
        assert first.poll() is None, "".join(out)
        # what the first-time user did: the same command in another terminal (another port even)
        second = subprocess.run([ORCHESTRATIA, "up", "--port", str(free_port())], capture_output=True, text=True,
                                env=env, cwd=cwd, timeout=60)
        assert second.returncode == 1, second.stdout + second.stderr
        assert (f"already running for {home / 'data' / 'orchestratia'} (pid {first.pid}); stop it with Ctrl+C "
                f"in its terminal or kill {first.pid}") in second.stderr
        assert "Orchestratia is up" not in second.stdout
        assert first.poll() is None  # the first one runs on
    finally:
        stop_process(first, grace=40)
    assert first.returncode == 0, "".join(out)


def test_the_store_is_private(tmp_path: Path) -> None:
    hub = Hub(tmp_path / "hub").start()
    data = hub.workdir / "data"
    try:
        r = hub.api("POST", "/tasks", json={"title": "t", "spec": "echo secret-ish output"})
        assert r.status_code == 201, r.text
        assert mode(data) == "0o700"
        present = [name for name in STORE_FILES if (data / name).exists()]
        assert {"orchestratia.db", "orchestratia.db-wal", "orchestratia.db.lock"} <= set(present), present
        assert {name: mode(data / name) for name in present} == {name: "0o600" for name in present}
    finally:
        hub.stop()
    # a store an older version made world-readable is tightened at the next start, and says so
    os.chmod(data, 0o755)
    for name in STORE_FILES:
        if (data / name).exists():
            os.chmod(data / name, 0o644)
    again = Hub(tmp_path / "hub").start()
    try:
        assert mode(data) == "0o700"
        assert all(mode(data / name) == "0o600" for name in STORE_FILES if (data / name).exists())
        assert "made the store private" in again.log.read_text()
    finally:
        again.stop()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory user ``nobody`` can reach (pytest's tmp dirs live under root-only /tmp)."""
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to run the hub as another user")
    path = Path(tempfile.mkdtemp(prefix="orc-ro-", dir="/var/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _nobody_can_run_the_cli() -> bool:
    """Whether user ``nobody`` can read this checkout's CLI (not when it lives under a
    root-only directory, such as /tmp or /root here)."""
    nobody = pwd.getpwnam("nobody")
    probe = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
             "test", "-r", ORCHESTRATIA]
    return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0


def test_a_read_only_store_stops_the_hub_at_start_naming_the_cause(shared_dir: Path) -> None:
    """As user ``nobody`` on root's 0644 database (readable, not writable) when ``nobody`` can
    run this checkout's CLI; otherwise as root on a database made immutable (``chattr +i``:
    not even root may write it). Either way the store cannot be written, and the hub says so."""
    assert os.geteuid() == 0, "the test makes a store the hub can read but not write"
    hub = Hub(shared_dir / "made-by-root").start()
    hub.stop()
    data = hub.workdir / "data"
    db = data / "orchestratia.db"
    port = free_port()
    if _nobody_can_run_the_cli():
        nobody = pwd.getpwnam("nobody")
        # the data dir and the side files are nobody's, the database stays root's 0644
        for path in [shared_dir, hub.workdir, data, *(data / n for n in STORE_FILES[1:])]:
            if path.exists():
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
        os.chmod(db, 0o644)
        result = serve(data, hub.workdir, port, user="nobody")
        facts = [f"this process runs as uid {nobody.pw_uid}", "owner uid 0"]
    else:
        subprocess.run(["chattr", "+i", str(db)], check=True, timeout=30)
        try:
            result = serve(data, hub.workdir, port)
        finally:
            subprocess.run(["chattr", "-i", str(db)], check=False, timeout=30)
        facts = ["this process runs as uid 0", "owner uid 0"]
    text = result.stdout + result.stderr
    assert result.returncode == 1, text
    assert f"the SQLite store {db} cannot be written" in result.stderr, text
    assert "readonly" in result.stderr and "read-only" in result.stderr, text
    assert all(fact in result.stderr for fact in facts), text
    with pytest.raises(httpx.HTTPError):  # it never served
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
