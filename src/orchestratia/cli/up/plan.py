"""What one ``up`` run works with: where things live, the address, the children."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import config_dir

ADMIN_USER = "admin"
HUB_START_DEADLINE_S = 60.0
AGENT_ONLINE_DEADLINE_S = 30.0
STOP_GRACE_S = 15.0


@dataclass
class UpPlan:
    data_dir: Path
    host: str
    port: int
    state_dir: Path
    hub_url: str = ""
    password: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def credentials_file(self) -> Path:
        return self.state_dir / "credentials.json"

    @property
    def agent_config(self) -> Path:
        return self.state_dir / "agent.yaml"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"


def state_dir_for(data: Path) -> Path:
    """``up``'s state for the data dir ``data``, in the user's config dir (one per data dir)."""
    digest = hashlib.sha256(str(data).encode()).hexdigest()[:12]
    return config_dir() / "up" / digest
