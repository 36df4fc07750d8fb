"""The child processes of ``up``: spawned in their own session with a log each, watched until
Ctrl+C / SIGTERM or one of them dies, stopped agent first."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from .. import render
from ..errors import CliError
from ..paths import ensure_private_dir
from .plan import STOP_GRACE_S, UpPlan


def _die_with_death_of_parent() -> None:  # pragma: no cover - runs in the child
    """Children get SIGTERM if ``up`` itself is killed (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except Exception:
        pass


def spawn(plan: UpPlan, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """``orchestratia ARGS`` as the child ``name``, its output appended to ``logs/NAME.log``."""
    ensure_private_dir(plan.log_dir)
    log = open(plan.log_dir / f"{name}.log", "ab")
    log.write(f"\n=== orchestratia up: starting {name} at {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
    log.flush()
    argv = [sys.executable, "-m", "orchestratia.cli", *args]
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
        start_new_session=True, preexec_fn=_die_with_death_of_parent if sys.platform.startswith("linux") else None,
    )
    log.close()
    plan.processes[name] = proc
    return proc


def log_tail(plan: UpPlan, name: str, lines: int = 15) -> str:
    try:
        text = (plan.log_dir / f"{name}.log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def child_died(plan: UpPlan, name: str, status: int | None) -> CliError:
    """Show the end of the child's log (stderr), then a one-line error."""
    tail = render.visible(log_tail(plan, name), multiline=True)
    sys.stderr.write(f"--- the end of {plan.log_dir / (name + '.log')} ---\n{tail}\n---\n")
    what = "the hub" if name == "hub" else "the local agent"
    return CliError(f"{what} exited at start (status {status}); see its log above and in {plan.log_dir / (name + '.log')}")


def stop_all(plan: UpPlan) -> None:
    """SIGTERM the agent, then the hub; SIGKILL whatever is still there after a grace period."""
    for name in ("agent", "hub"):
        proc = plan.processes.get(name)
        if proc is None or proc.poll() is not None:
            continue
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except ProcessLookupError:
            pass


def supervise(plan: UpPlan) -> int:
    """Wait until Ctrl+C / SIGTERM or a child dies; the exit status."""
    stop: dict[str, int | None] = {"signal": None}

    def on_signal(signum: int, _frame: Any) -> None:
        stop["signal"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while stop["signal"] is None:
        for name, proc in plan.processes.items():
            if proc.poll() is not None:
                render.info(f"the {name} exited (status {proc.returncode}); stopping. Its log: {plan.log_dir / (name + '.log')}")
                return 1
        time.sleep(0.2)
    render.info("stopping the agent and the hub...")
    return 0
