"""Hub settings: flags > environment (``ORCHESTRATIA_*``) > defaults.

Built by :func:`load_settings`, never at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/orchestratia`` or ``~/.local/share/orchestratia``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "orchestratia"


class HubSettings(BaseSettings):
    """Every knob of the hub. Environment variables: ``ORCHESTRATIA_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="ORCHESTRATIA_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    #: serve HTTPS/WSS with this PEM certificate (chain); ``hub serve`` passes it to uvicorn.
    ssl_certfile: Path | None = None
    #: the certificate's private key (PEM, unencrypted); omit when the certfile holds the key too.
    ssl_keyfile: Path | None = None
    data_dir: Path = Field(default_factory=default_data_dir)
    #: default: SQLite (WAL) at ``data_dir/orchestratia.db``; or ``postgresql+asyncpg://...``
    database_url: str | None = None
    #: PostgreSQL only: put the tables in this schema (created when missing).
    database_schema: str | None = None
    #: when set, events go through Redis pub/sub (several hub replicas); else in-process.
    redis_url: str | None = None
    #: the URL written into registration tokens, snippets and the guide.
    public_url: str | None = None
    #: the first admin's password (only used when the admin table is empty).
    admin_password: SecretStr | None = None
    #: outgoing webhooks: a JSON list of ``{url, secret, events}`` (``hub/webhooks.py``); it
    #: holds the signing secrets, so it is kept out of reprs and logs like a password
    webhooks: SecretStr | None = None
    offline_after_s: float = Field(default=90.0, gt=0)
    #: running tasks of an agent with no contact for this long end ``lost``.
    lost_grace_s: float = Field(default=300.0, gt=0)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: how often the scheduler checks timeouts, liveness and queued tasks.
    check_interval_s: float = Field(default=5.0, gt=0)
    #: a retried task waits ``retry_backoff_s * 2**(n-1)`` before rerun n, at most the max
    #: (docs/scheduling.md, "Retries")
    retry_backoff_s: float = Field(default=15.0, ge=0)
    retry_backoff_max_s: float = Field(default=600.0, ge=0)
    session_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)
    login_failures_per_minute: int = Field(default=5, ge=1)
    sse_keepalive_s: float = Field(default=15.0, gt=0)
    ws_auth_timeout_s: float = Field(default=10.0, gt=0)
    log_level: str = "info"
    #: "text" (one readable line per record) or "json" (one JSON object per line: time, level,
    #: logger, message and the record's extra fields; secrets masked as in text)
    log_format: Literal["text", "json"] = "text"
    #: serve ``GET /metrics`` (Prometheus text format; no secrets, no task content); false: 404
    metrics_enabled: bool = True
    #: when set, ``GET /metrics`` needs ``Authorization: Bearer <this>`` (else 401)
    metrics_token: SecretStr | None = None
    #: log successful heartbeats and polls in the access log too (off: ~250 lines/s at 5,000 agents)
    log_liveness: bool = False
    #: garbage collection on a clock (hub/gc_pacer.py); false: CPython's own, with tuned thresholds
    gc_pacing: bool = True
    #: argon2id cost for admin passwords (verification cost follows the stored hash's own).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=1024)
    argon2_parallelism: int = Field(default=4, ge=1)

    @field_validator("ssl_certfile", "ssl_keyfile", "metrics_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'orchestratia.db'}"

    def effective_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        scheme = "https" if self.ssl_certfile else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url().startswith("sqlite")


def load_settings(**overrides: Any) -> HubSettings:
    """Settings from the environment, with ``overrides`` (e.g. CLI flags) on top.

    ``None`` values are ignored, so a CLI can pass every flag through unchanged."""
    given = {key: value for key, value in overrides.items() if value is not None}
    return HubSettings(**given)
