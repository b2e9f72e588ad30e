"""The sandbox org's env file under the data folder, and the fallback that reads it when no
SALESFORCE_INSTANCE_URL is set (kept here, in one place, so it can be removed in one place)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from conversion_sync.settings.paths import data_dir


def sandbox_env_file(environ: Mapping[str, str] | None = None) -> Path:
    """Where `conversion-sync sandbox` writes the settings of the sandbox org by default."""
    return data_dir(environ) / "sandbox" / "sandbox.env"


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def with_sandbox_env(env: Mapping[str, str]) -> Mapping[str, str]:
    """With no SALESFORCE_INSTANCE_URL at all, the settings the sandbox org wrote under the data
    folder, when that file exists (the embedded demo needs nothing set); else `env` unchanged."""
    if not env.get("SALESFORCE_INSTANCE_URL", "").strip() and sandbox_env_file(env).is_file():
        return {**env, **read_env_file(sandbox_env_file(env))}
    return env
