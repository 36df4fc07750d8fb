"""The seed's entry point: `python3 daemon.py --config ...` runs the daemon from the clone and
exits 0 on SIGTERM / SIGINT; a bad config exits 2 with the key named."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .agent_helpers import ROOT

DAEMON = ROOT / "daemon.py"


def write_config(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"hub_url: http://127.0.0.1:9\napi_key: orc_test\nsession:\n  backend: direct\n"
                   f"  log_dir: {tmp_path}/log\n  pid_dir: {tmp_path}/run\n{extra}")
    return cfg


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_daemon_cleanly(tmp_path: Path, sig: int) -> None:
    proc = subprocess.Popen([sys.executable, str(DAEMON), "--config", str(write_config(tmp_path))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        seen = b""
        while b"running: hub" not in seen:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, seen
            seen += proc.stderr.readline()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert b"shutting down" in err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "claude:\n  max_turns: many\n")
    proc = subprocess.run([sys.executable, str(DAEMON), "--config", str(cfg)], capture_output=True, timeout=30)
    assert proc.returncode == 2 and b"claude.max_turns" in proc.stderr


def test_no_key_and_no_token_says_what_to_do(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("hub_url: http://127.0.0.1:9\n")
    proc = subprocess.run([sys.executable, str(DAEMON), "--config", str(cfg)], capture_output=True, timeout=30)
    assert proc.returncode == 2 and b"orchestratia agent register TOKEN" in proc.stderr
