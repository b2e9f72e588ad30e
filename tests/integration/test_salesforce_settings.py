"""Where the product finds Salesforce (issue 9): the environment, or an env file the user names in
CONVERSION_SYNC_ENV_FILE, never the sandbox org's files by itself; and `conversion-sync sandbox`
runs the separately installed sandbox org as a program."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conversion_sync import cli

ROOT = Path(__file__).resolve().parents[2]
SYNC = [sys.executable, "-m", "conversion_sync.cli", "sync"]


def _env_without_salesforce(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESFORCE_")}
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    return {**env, "CONVERSION_SYNC_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(home),
            "CONVERSION_DATABASE_URL": database_url, "CONVERSION_SYNC_SETTLE_SECONDS": "0"}


def test_the_sandbox_orgs_env_file_is_used_only_when_named(sandbox, org, sqlite_url, tmp_path):
    org.create("Lead", {"LastName": "Ada", "Company": "Analytical", "Email": "ada@example.com"})
    env = _env_without_salesforce(tmp_path, sqlite_url)
    # The demo's sandbox org has written its settings where it always does.
    env_file = tmp_path / "data" / "sandbox" / "sandbox.env"
    env_file.parent.mkdir(parents=True)
    env_file.write_text("".join(f"{name}={value}\n" for name, value in sandbox.env().items()), encoding="utf-8")

    refused = subprocess.run(SYNC, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == (
        "conversion-sync: Salesforce is not configured: set SALESFORCE_INSTANCE_URL to your org's URL and its login "
        "(SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET, SALESFORCE_USERNAME and SALESFORCE_PASSWORD, or "
        "SALESFORCE_ACCESS_TOKEN), or name an env file of them in CONVERSION_SYNC_ENV_FILE (for the demo's "
        "sandbox org: data/sandbox/sandbox.env).")

    synced = subprocess.run(SYNC, env={**env, "CONVERSION_SYNC_ENV_FILE": str(env_file)}, capture_output=True,
                            text=True, timeout=600)
    assert synced.returncode == 0, synced.stderr
    listed = subprocess.run([sys.executable, "-m", "conversion_sync.cli", "contacts", "list"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert "ada@example.com" in listed.stdout, listed.stdout + listed.stderr


def test_conversion_sync_sandbox_runs_the_installed_sandbox_org():
    done = subprocess.run([sys.executable, "-m", "conversion_sync.cli", "sandbox", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--activity" in done.stdout and "--state-dir" in done.stdout


def test_conversion_sync_sandbox_without_the_sandbox_org_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sandbox_org", None)   # as if not installed

    def no_exec(*args):
        raise AssertionError("the sandbox org was started although it is not installed")

    monkeypatch.setattr(os, "execv", no_exec)
    assert cli.main(["sandbox", "--port", "0"]) == 2
    assert capsys.readouterr().err.strip() == (
        "conversion-sync: the sandbox org is not installed; install it with `pip install -e sandbox` from the "
        "checkout (scripts/demo and scripts/test do).")
