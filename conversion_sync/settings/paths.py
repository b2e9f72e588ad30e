"""Where things live: the checkout, the data folder, the Dagster home and the database URL."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def project_root() -> Path | None:
    """The checkout this package runs from (an editable install), or None when installed elsewhere."""
    candidate = PACKAGE_DIR.parent
    return candidate if (candidate / "pyproject.toml").is_file() else None


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the embedded defaults live: CONVERSION_SYNC_DATA_DIR, else <checkout>/data."""
    env = os.environ if environ is None else environ
    explicit = env.get("CONVERSION_SYNC_DATA_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser().resolve()
    root = project_root()
    return (root / "data") if root else Path.home() / ".local" / "share" / "conversion-sync"


def default_dagster_home() -> Path:
    """The Dagster instance folder when DAGSTER_HOME is unset: <checkout>/.dagster_home, the one
    scripts/demo exports, so `conversion-sync sync`, the UI and the daemon share one instance;
    without a checkout, dagster_home under the data folder."""
    root = project_root()
    return (root / ".dagster_home") if root else data_dir() / "dagster_home"


def ensure_dagster_home(home: Path) -> Path:
    """Create the instance folder with the checkout's dagster.yaml in it (as scripts/demo does),
    leaving a dagster.yaml already there alone."""
    home.mkdir(parents=True, exist_ok=True)
    settings = PACKAGE_DIR.parent / "dagster.yaml"
    if settings.is_file() and not (home / "dagster.yaml").exists():
        shutil.copyfile(settings, home / "dagster.yaml")
    return home


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """CONVERSION_DATABASE_URL, or a SQLite file under the data folder."""
    env = os.environ if environ is None else environ
    url = env.get("CONVERSION_DATABASE_URL", "").strip()
    if url:
        return url
    return f"sqlite:///{data_dir(env) / 'conversion.db'}"
