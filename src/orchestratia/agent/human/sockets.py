"""The relay's Unix socket: where it lives and how it is bound (private from the first moment)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import stat
import tempfile
from pathlib import Path

from orchestratia.agent.human import wire

MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux; keep room for the temp name


def default_socket_path(state_dir: Path) -> Path:
    """``state_dir/orchestratia.sock``; when that is too long for a Unix socket, a socket in a
    private (0700, ours) dir under the temp dir, named after the state dir."""
    path = state_dir / wire.SOCKET_NAME
    if len(str(path).encode()) <= MAX_SOCKET_PATH:
        return path
    private = Path(tempfile.gettempdir()) / f"orchestratia-{os.getuid()}"
    private.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(private)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise RuntimeError(f"{private} is not a private directory of this user; set a shorter pid_dir")
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:20]
    return private / f"{digest}.sock"


def bind_private(socket_path: Path) -> socket.socket:
    """A listening, non-blocking Unix socket at ``socket_path``, mode 0600 before anyone can
    connect. A stale socket (its daemon died) is replaced; a live one raises RuntimeError."""
    path = str(socket_path)
    if len(path.encode()) > MAX_SOCKET_PATH:
        raise ValueError(f"socket path too long for a Unix socket ({len(path)} bytes): {path}")
    if socket_path.exists():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            socket_path.unlink()  # stale, from a daemon that died
        else:
            raise RuntimeError(f"another daemon is already serving {path}")
        finally:
            probe.close()
    tmp = socket_path.with_name(f".osock-{secrets.token_hex(4)}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(tmp))
        os.chmod(tmp, 0o600)  # before anyone can connect: listen() comes after
        os.replace(tmp, path)
        sock.listen(64)
    except BaseException:
        sock.close()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    sock.setblocking(False)
    return sock
