"""A Redis and a PostgreSQL that belong to the test run, so fault tests may stop and restart them.

The machine's own PostgreSQL (5432) and Redis (6379) are shared with other test runs and must
never be stopped; these run on free loopback ports from a temporary directory, with durability
off (the data is thrown away), and are removed at the end of the session.

PostgreSQL refuses to run as root: when the tests run as root, ``initdb`` and ``postgres`` run as
the ``postgres`` user (``setpriv``), from a directory under /var/tmp that user can enter."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from integration_harness import free_port, tail, wait_for


def _fail_or_skip(message: str) -> None:
    import pytest

    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _stop(proc: subprocess.Popen | None, sig: int, grace: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _answers(port: int, request: bytes, expect: bytes) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            if not request:
                return True
            sock.sendall(request)
            return sock.recv(64).startswith(expect)
    except OSError:
        return False


@dataclass
class PrivateRedis:
    """``redis-server`` on a free port, no persistence; stop and start it again on the same port."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.workdir / "redis.log"

    def start(self) -> "PrivateRedis":
        binary = shutil.which("redis-server")
        if binary is None:
            _fail_or_skip("redis-server is not installed: sudo apt install -y redis-server")
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.workdir), "--logfile", str(self.log)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(self._ready, 15, f"the private redis-server on port {self.port} (log: {self.log})")
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"redis-server exited with {self.proc.returncode}:\n{tail(self.log)}")
        return _answers(self.port, b"PING\r\n", b"+PONG")

    def ensure_started(self) -> "PrivateRedis":
        """Started again if a failed test left it stopped."""
        return self if self.proc is not None and self.proc.poll() is None else self.start()

    def stop(self) -> None:
        _stop(self.proc, signal.SIGTERM)
        wait_for(lambda: not _answers(self.port, b"", b""), 10, "the private Redis port to close")


@dataclass
class PrivatePostgres:
    """A throw-away PostgreSQL cluster (``initdb``, trust auth, fsync off) on a free port."""

    bindir: Path
    base: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @classmethod
    def create(cls) -> "PrivatePostgres":
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name)
                       if p.parent.parent.name.isdigit() else 0)
        if not found:
            _fail_or_skip("PostgreSQL's server binaries are missing (/usr/lib/postgresql/*/bin): "
                          "sudo apt install -y postgresql")
        base = Path(tempfile.mkdtemp(prefix="orc-faults-pg-", dir="/var/tmp"))
        server = cls(found[-1].parent, base)
        if os.geteuid() == 0:
            shutil.chown(base, "postgres", "postgres")
        server._run([str(server.bindir / "initdb"), "-D", str(server.data), "-U", "postgres", "-A", "trust",
                     "-E", "UTF8", "--no-sync"])
        return server

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def log(self) -> Path:
        return self.base / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *argv]

    def _run(self, argv: list[str]) -> None:
        done = subprocess.run(self._as_owner(argv), capture_output=True, text=True, cwd=self.base, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"{argv[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def start(self) -> "PrivatePostgres":
        argv = [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.base),
                "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off",
                "-c", "synchronous_commit=off", "-c", "max_connections=200"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self._as_owner(argv), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.base, start_new_session=True)
        wait_for(self._ready, 30, f"the private PostgreSQL on port {self.port} (log: {self.log})", interval=0.1)
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"postgres exited with {self.proc.returncode}:\n{tail(self.log)}")
        done = subprocess.run([str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                              timeout=10)
        return done.returncode == 0

    def ensure_started(self) -> "PrivatePostgres":
        """Started again if a failed test left it stopped."""
        return self if self.proc is not None and self.proc.poll() is None else self.start()

    def stop(self) -> None:
        """A fast shutdown (SIGINT): open connections are terminated, as in a restart."""
        _stop(self.proc, signal.SIGINT, grace=30)
        wait_for(lambda: not _answers(self.port, b"", b""), 10, "the private PostgreSQL port to close")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
