"""CLI smoke test: `python -m sandbox_org` in a subprocess, used like the demo uses it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from sandbox_org.admin_client import SandboxAdminClient
from simple_salesforce import Salesforce


def _start(state_dir: Path, *extra: str) -> tuple[subprocess.Popen, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESFORCE_")}
    proc = subprocess.Popen([sys.executable, "-m", "sandbox_org", "--port", "0", "--state-dir",
                             str(state_dir), "--accounts", "5", "--contacts", "20", "--leads", "20", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("sandbox org ready at https://"):
            return proc, lines
    proc.kill()
    raise AssertionError("sandbox did not get ready:\n" + "".join(lines))


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    return out


def _env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def _client(env: dict[str, str]) -> Salesforce:
    session = requests.Session()
    session.verify = env["SALESFORCE_CA_BUNDLE"]
    session.trust_env = False
    token = session.post(f"{env['SALESFORCE_INSTANCE_URL']}/services/oauth2/token",
                         data={"grant_type": "client_credentials", "client_id": env["SALESFORCE_CLIENT_ID"],
                               "client_secret": env["SALESFORCE_CLIENT_SECRET"]}).json()["access_token"]
    return Salesforce(instance_url=env["SALESFORCE_INSTANCE_URL"], session_id=token, session=session)


def test_cli_serves_writes_env_file_and_stops_on_sigterm(tmp_path):
    proc, lines = _start(tmp_path / "state", "--persist")
    try:
        env = _env(tmp_path / "state" / "sandbox.env")
        assert set(env) == {"SALESFORCE_INSTANCE_URL", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET",
                            "SALESFORCE_CA_BUNDLE", "CONVERSION_SANDBOX_ADMIN_TOKEN"}
        assert lines[-1].strip() == f"sandbox org ready at {env['SALESFORCE_INSTANCE_URL']}"
        assert any(env["SALESFORCE_CLIENT_SECRET"] in line for line in lines)
        sf = _client(env)
        assert sf.query("SELECT COUNT() FROM Contact", include_deleted=True)["totalSize"] == 20
        created = sf.Lead.create({"LastName": "Persisted", "Company": "Disk"})["id"]
        admin = SandboxAdminClient(env["SALESFORCE_INSTANCE_URL"], env["CONVERSION_SANDBOX_ADMIN_TOKEN"],
                                   env["SALESFORCE_CA_BUNDLE"])
        assert admin.get("Lead", created)["Company"] == "Disk"
        assert admin.counters()["sobject_create"] == 1
    finally:
        out = _stop(proc)
    assert "sandbox org stopped" in out
    assert (tmp_path / "state" / "snapshot.json.gz").is_file()
    proc, _ = _start(tmp_path / "state", "--persist")  # the snapshot comes back, credentials included
    try:
        env2 = _env(tmp_path / "state" / "sandbox.env")
        assert env2["SALESFORCE_CLIENT_SECRET"] == env["SALESFORCE_CLIENT_SECRET"]
        assert _client(env2).Lead.get(created)["LastName"] == "Persisted"
    finally:
        _stop(proc)


def test_cli_refuses_a_busy_port(tmp_path):
    proc, _ = _start(tmp_path / "a")
    try:
        port = _env(tmp_path / "a" / "sandbox.env")["SALESFORCE_INSTANCE_URL"].rsplit(":", 1)[1]
        busy = subprocess.run([sys.executable, "-m", "sandbox_org", "--port", port, "--state-dir",
                               str(tmp_path / "b"), "--accounts", "1", "--contacts", "1", "--leads", "1"],
                              capture_output=True, text=True, timeout=30)
        assert busy.returncode == 2 and "choose another --port" in busy.stderr
    finally:
        _stop(proc)
