"""The real agent CLIs for tests: Claude Code, Codex and Gemini CLI installed from npm into a
cache directory (``~/.cache/orchestratia-test/npm``, or ``$ORCHESTRATIA_TEST_NPM_DIR``), reused
when it holds all three. A first install takes about a minute (measured: 48 s, ~700 MB).

Each package ships its native program inside a registry package (``@openai/codex-linux-x64``,
``@anthropic-ai/claude-code-linux-x64``), so no postinstall script is needed; Claude Code's
``bin/claude.exe`` is that binary when npm links it, else the platform package's ``claude`` is.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("@anthropic-ai/claude-code", "@openai/codex", "@google/gemini-cli")
INSTALL_TIMEOUT_S = 900
NPM_HINT = ("npm is not installed: install Node.js 18+ with npm (Debian/Ubuntu: sudo apt install -y nodejs npm; "
            "or https://nodejs.org), then run the tests again")


class Unavailable(Exception):
    """The real CLIs cannot be installed or run here; the message says why and what to do."""


@dataclass
class RealClis:
    root: Path
    home: Path | None = None  # the empty HOME the tests run them with
    binaries: dict[str, str] = field(default_factory=dict)  # runner name -> path
    versions: dict[str, str] = field(default_factory=dict)  # runner name -> `--version` output

    def describe(self) -> str:
        return "real agent CLIs: " + ", ".join(f"{n} {v}" for n, v in self.versions.items()) + f" (from {self.root})"


def cache_dir() -> Path:
    given = os.environ.get("ORCHESTRATIA_TEST_NPM_DIR")
    return Path(given) if given else Path.home() / ".cache" / "orchestratia-test" / "npm"


def _candidates(root: Path) -> dict[str, list[Path]]:
    mods = root / "node_modules"
    return {
        "claude": [mods / ".bin" / "claude", *sorted(mods.glob("@anthropic-ai/claude-code-linux-*/claude"))],
        "codex": [mods / ".bin" / "codex"],
        "gemini": [mods / ".bin" / "gemini"],
    }


def _version(binary: Path, env: dict[str, str]) -> str | None:
    try:
        proc = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60, env=env,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
    return out[-1].strip() if proc.returncode == 0 and out else None


def _find(root: Path, env: dict[str, str]) -> RealClis | None:
    found = RealClis(root)
    for name, paths in _candidates(root).items():
        for path in paths:
            if path.exists() and (version := _version(path, env)):
                found.binaries[name], found.versions[name] = str(path), version
                break
        else:
            return None
    return found


def _install(root: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable(NPM_HINT)
    argv = [npm, "install", "--prefix", str(root), "--no-audit", "--no-fund", "--loglevel=error", *PACKAGES]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"`{' '.join(argv)}` took more than {INSTALL_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        last = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise Unavailable(f"`{' '.join(argv)}` exited with status {proc.returncode}:\n{last}")


def ensure(env: dict[str, str], root: Path | None = None) -> RealClis:
    """The three CLIs, installed into ``root`` unless already there (one installer at a time:
    another test run waits on the lock). Raises :class:`Unavailable`."""
    root = root or cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = open(root / ".install.lock", "w")
    except OSError as err:
        raise Unavailable(f"cannot use {root} for the npm install ({err}); set ORCHESTRATIA_TEST_NPM_DIR to a "
                          "writable directory") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _find(root, env)
        if found is None:
            _install(root)
            found = _find(root, env)
        if found is None:
            raise Unavailable(f"npm installed {', '.join(PACKAGES)} into {root}, but not every CLI runs "
                              f"(`<cli> --version` failed); remove {root} and run the tests again")
        return found
