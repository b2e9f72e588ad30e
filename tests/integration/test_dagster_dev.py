"""Smoke test of the real deployment shape: `dagster dev -w workspace.yaml` serves the code
location, shows the asset graph over GraphQL, and its daemon's sensor runs a sync by itself."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]

ASSETS_QUERY = "{ assetNodes { assetKey { path } } }"
SENSOR_QUERY = """{ sensorsOrError(repositorySelector: {repositoryName: "__repository__", repositoryLocationName: "conversion_sync"})
  { ... on Sensors { results { name sensorState { status } } } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    response = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=10)
    response.raise_for_status()
    return response.json()["data"]


@pytest.mark.slow
def test_dagster_dev_serves_the_graph_and_its_sensor_syncs(harness, org, database_url, sandbox, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("one deployment smoke test is enough; the database paths are covered elsewhere")
    org.create("Account", {"Name": "Acme"})
    lead = org.create("Lead", {"LastName": "Smoke", "Company": "Acme", "Email": "smoke@example.com"})
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {**os.environ, **sandbox.env(), "DAGSTER_HOME": str(home), "CONVERSION_DATABASE_URL": database_url,
           "CONVERSION_SYNC_SETTLE_SECONDS": "0"}
    log = open(tmp_path / "dagster.log", "w")
    process = subprocess.Popen([str(Path(sys.executable).with_name("dagster")), "dev", "-w", str(ROOT / "workspace.yaml"),
                                "-h", "127.0.0.1", "-p", str(port)],
                               cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).raise_for_status()
                break
            except requests.RequestException:
                assert process.poll() is None, (tmp_path / "dagster.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "dagster dev did not serve within 120 s"
                time.sleep(1)
        keys = {"/".join(node["assetKey"]["path"]) for node in _graphql(port, ASSETS_QUERY)["assetNodes"]}
        assert {"salesforce_accounts", "salesforce_contacts", "salesforce_leads", "companies", "contacts"} <= keys
        sensors = {s["name"]: s["sensorState"]["status"] for s in _graphql(port, SENSOR_QUERY)["sensorsOrError"]["results"]}
        assert sensors["sync_sensor"] == "RUNNING"
        # The daemon evaluates the sensor, which launches the first sync run by itself.
        deadline = time.monotonic() + 150
        while harness.contact_of(lead) is None:
            assert process.poll() is None, (tmp_path / "dagster.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no sync run within 150 s: " + (tmp_path / "dagster.log").read_text()[-3000:]
            time.sleep(2)
        assert harness.contact_of(lead).email == "smoke@example.com"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
    assert process.returncode is not None
