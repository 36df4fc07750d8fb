"""Where the CLI keeps its files: the user's config dir (XDG) and data dir, written 0600;
JSON and YAML (ruamel.yaml, the one YAML library of the project) in and out."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

APP = "orchestratia"


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/orchestratia`` (default ``~/.config/orchestratia``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP


def data_dir() -> Path:
    """``$XDG_DATA_HOME/orchestratia`` (default ``~/.local/share/orchestratia``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / APP


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 for the last component."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600 (never readable by others,
    not even for a moment), its folder 0700."""
    from orchestratia.protocol.shared import write_atomic  # lazily: see common.is_uuid

    ensure_private_dir(path.parent)
    write_atomic(path, text.encode("utf-8"), 0o600)


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``, or ``{}`` when the file does not exist."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        from .errors import CliError

        raise CliError(f"cannot read {path}: {exc}; fix or delete the file") from exc
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_private(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_yaml(path: Path) -> dict[str, Any]:
    """The YAML mapping in ``path``; ``{}`` when the file is missing, unreadable or not a
    mapping (callers rewrite such a file rather than stop)."""
    from ruamel.yaml import YAML, YAMLError

    try:
        data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError):
        return {}
    return dict(data) if isinstance(data, dict) else {}


def write_yaml(path: Path, data: dict[str, Any]) -> None:
    """``data`` as block-style YAML, keys in their order, written like :func:`write_private`."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # keep the keys' order: people read this file
    buf = io.StringIO()
    yaml.dump(data, buf)
    write_private(path, buf.getvalue())
