"""System information for register and heartbeats (psutil). Blocking: call it in a thread."""

from __future__ import annotations

import platform
import socket
import time
from typing import Any

import psutil

GB = 1024**3


def system_info(disk_path: str = "/") -> dict[str, Any]:
    """The v1 ``system_info`` keys (PROTOCOL.md). ``cpu_percent`` is since the previous call
    (``interval=None``: never sleeps; the first call reports 0.0)."""
    mem = psutil.virtual_memory()
    try:
        disk = psutil.disk_usage(disk_path)
        disk_info = {"disk_total_gb": round(disk.total / GB, 2), "disk_used_gb": round(disk.used / GB, 2),
                     "disk_percent": disk.percent}
    except OSError:
        disk_info = {"disk_total_gb": 0.0, "disk_used_gb": 0.0, "disk_percent": 0.0}
    return {
        "cpu_count": psutil.cpu_count() or 1,
        "cpu_percent": psutil.cpu_percent(interval=None),
        "memory_total_gb": round(mem.total / GB, 2),
        "memory_used_gb": round(mem.used / GB, 2),
        "memory_percent": mem.percent,
        **disk_info,
        "platform": platform.system(),
        "platform_release": platform.release(),
        "python_version": platform.python_version(),
        "uptime_seconds": int(time.time() - psutil.boot_time()),
    }


def host_identity() -> dict[str, str]:
    """``hostname``, ``ip`` (the address used to reach the outside, best effort), ``os``."""
    hostname = socket.gethostname()
    ip = ""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # no packet is sent for UDP connect
            ip = s.getsockname()[0]
    except OSError:
        try:
            ip = socket.gethostbyname(hostname)
        except OSError:
            ip = ""
    return {"hostname": hostname, "ip": ip, "os": f"{platform.system()} {platform.release()}"}
