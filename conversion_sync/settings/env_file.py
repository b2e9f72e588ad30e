"""An env file of SALESFORCE_* settings, read only when CONVERSION_SYNC_ENV_FILE names it (never a fallback)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from conversion_sync.errors import ConfigError

ENV_FILE_VARIABLE = "CONVERSION_SYNC_ENV_FILE"
DEMO_ENV_FILE = "data/sandbox/sandbox.env"   # what scripts/demo's sandbox org writes (named in messages only)


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines (blank lines and `#` comments skipped, quotes around a value removed)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def with_named_env_file(env: Mapping[str, str]) -> Mapping[str, str]:
    """`env` plus the SALESFORCE_* lines of the file CONVERSION_SYNC_ENV_FILE names, if it names one
    (a variable set in the environment wins over the file). Nothing is read from anywhere else."""
    named = env.get(ENV_FILE_VARIABLE, "").strip()
    if not named:
        return env
    path = Path(named).expanduser()
    try:
        values = read_env_file(path)
    except (OSError, UnicodeDecodeError):
        raise ConfigError(f"{ENV_FILE_VARIABLE} names {path}, which is not a readable env file (the demo's "
                          f"sandbox org writes {DEMO_ENV_FILE} when it starts).") from None
    from_file = {key: value for key, value in values.items() if key.startswith("SALESFORCE_")}
    return {**env, **{key: value for key, value in from_file.items() if not env.get(key, "").strip()}}
