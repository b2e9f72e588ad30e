"""Smoke test of the real deployment shape: `dagster dev -w workspace.yaml` serves the code
location, shows the asset graph over GraphQL, and its daemon's sensor runs a sync by itself."""

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]

ASSETS_QUERY = "{ assetNodes { assetKey { path } } }"
BACKFILL_MUTATION = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
BACKFILL_STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill { status } } }"""
PARTITION_STATS = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  partitionStats { numMaterialized numPartitions numFailed numMaterializing }
  metadataEntries { label __typename }
  assetChecksOrError { ... on AssetChecks { checks { name
    executionForLatestMaterialization { status evaluation { severity success } } } } } } } }"""
PARTITION_METADATA = """query($key: AssetKeyInput!, $partitions: [String!]) { assetOrError(assetKey: $key) {
  ... on Asset { assetMaterializations(partitions: $partitions) { partition runId
    metadataEntries { label __typename ... on IntMetadataEntry { intValue } ... on FloatMetadataEntry { floatValue } } } } } }"""
BACKFILL_RUNS = """query($id: String!) { runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
  ... on Runs { results { runId status } } } }"""
LAUNCH_RUN = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""
RUNS_TAGGED = """query($key: String!, $value: String!) { runsOrError(filter: {tags: [{key: $key, value: $value}]}) {
  ... on Runs { results { runId status jobName } } } }"""
SENSOR_QUERY = """{ sensorsOrError(repositorySelector: {repositoryName: "__repository__", repositoryLocationName: "conversion_sync"})
  { ... on Sensors { results { name sensorState { id status ticks(limit: 1) { status } } } } } }"""
STOP_SENSOR = """mutation($id: String!) { stopSensor(id: $id) { __typename ... on PythonError { message } } }"""
ACTIVE_RUNS = """{ runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED, CANCELING]}) {
  ... on Runs { results { runId status jobName } } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    response = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": query, "variables": variables or {}},
                             timeout=10)
    assert response.ok and not response.json().get("errors"), response.text[:2000]
    return response.json()["data"]


@pytest.mark.slow
def test_dagster_dev_serves_the_graph_and_its_sensor_syncs(harness, org, database_url, sandbox, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("one deployment smoke test is enough; the database paths are covered elsewhere")
    org.create("Account", {"Name": "Acme"})
    lead = org.create("Lead", {"LastName": "Smoke", "Company": "Acme", "Email": "smoke@example.com"})
    org.create("Contact", {"LastName": "Twin", "Email": "smoke@example.com"})     # a duplicate email: a WARN check
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {**os.environ, **sandbox.env(), "DAGSTER_HOME": str(home), "CONVERSION_DATABASE_URL": database_url,
           "CONVERSION_SYNC_SETTLE_SECONDS": "0",
           "CONVERSION_SYNC_PARTITIONS_START": str(dt.date.today() - dt.timedelta(days=5))}
    log = open(tmp_path / "dagster.log", "w")  # noqa: SIM115 (dagster dev's output while it runs; closed below)
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
            time.sleep(0.5)
        assert harness.contact_of(lead).email == "smoke@example.com"

        # A change that committed two days late, older than any lookback: only a backfill of its
        # days finds it. Launched as the UI does, run by the daemon, one run for the range.
        late = org.late_commit("Lead", fields={"LastName": "Late", "Company": "X", "Email": "late@example.com"},
                               seconds_ago=2 * 86400)
        today = dt.datetime.now(dt.UTC).date()
        days = {"start": str(today - dt.timedelta(days=3)), "end": str(today - dt.timedelta(days=1))}
        assets = ["salesforce_accounts", "salesforce_contacts", "salesforce_leads", "companies", "contacts"]
        launched = _graphql(port, BACKFILL_MUTATION, {"params": {"partitionsByAssets": [
            {"assetKey": {"path": [name]}, "partitions": {"range": days}} for name in assets]}})
        backfill_id = launched["launchPartitionBackfill"]["backfillId"]
        deadline = time.monotonic() + 150
        while True:
            status = _graphql(port, BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]
            if status in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
                break
            assert time.monotonic() < deadline, f"backfill still {status} after 150 s"
            time.sleep(0.5)
        assert status in ("COMPLETED", "COMPLETED_SUCCESS"), status
        assert harness.contact_of(late) is not None
        _ui_checks(harness, org, port, backfill_id, days)
        _sync_now(port)
    finally:
        stopped, leftover = _stop(process, port)
        log.close()
    if not stopped:   # not what this test is about; what was left is in the warning for the next look
        warnings.warn(f"dagster dev did not stop within 90 s of SIGTERM and was killed; left running:\n{leftover}",
                      stacklevel=2)


def _group(pgid: int) -> list[str]:
    """The processes of a process group: "pid command line" each."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")[:160].decode(errors="replace")
                found.append(f"{stat.parent.name} {command}")
        except (OSError, IndexError, ValueError):
            continue
    return found


def _quiet(port: int, pgid: int) -> bool:
    """No run queued or running, no run worker process, no sensor tick being evaluated."""
    if _graphql(port, ACTIVE_RUNS)["runsOrError"]["results"]:
        return False
    if any("spawn_main" in line for line in _group(pgid)):     # a run's worker, still exiting
        return False
    sensors = _graphql(port, SENSOR_QUERY)["sensorsOrError"]["results"]
    return not any(tick["status"] == "STARTED" for s in sensors for tick in s["sensorState"]["ticks"])


def _stop(process: subprocess.Popen, port: int) -> tuple[bool, str]:
    """Stop dagster dev as scripts/demo does (SIGTERM to its process group), once it is quiet:
    sensors off so that no run starts during the shutdown, every run finished and its worker
    process gone. SIGTERM in the middle of a run's end (~1 s after its RUN_SUCCESS) is what
    left dagster dev hanging now and then; that is Dagster's shutdown, not the code location's."""
    try:
        if process.poll() is None:
            for sensor in _graphql(port, SENSOR_QUERY)["sensorsOrError"]["results"]:
                _graphql(port, STOP_SENSOR, {"id": sensor["sensorState"]["id"]})
            deadline = time.monotonic() + 60
            while not _quiet(port, process.pid) and time.monotonic() < deadline:
                time.sleep(0.5)
    except (requests.RequestException, AssertionError):
        pass                  # dagster dev no longer answers: stop it all the same
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(90)       # quiet, it stops in ~4 s; on a loaded 2-core machine it can take a minute
        return True, ""
    except subprocess.TimeoutExpired:
        leftover = "\n".join(_group(process.pid))
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
        return False, leftover


def _node(port: int, name: str) -> dict:
    return _graphql(port, PARTITION_STATS, {"key": {"path": [name]}})["assetNodeOrError"]


def _ui_checks(harness, org, port: int, backfill_id: str, days: dict) -> None:
    """What the UI shows (issue 11): partitions, per-day counts, one run, check severities, types."""
    partitioned = ["salesforce_accounts", "salesforce_contacts", "salesforce_leads", "companies", "contacts"]
    for name in partitioned:
        stats = _node(port, name)["partitionStats"]
        # After the first sync every partition it covered is materialized: nothing looks missing.
        assert stats["numMaterialized"] == stats["numPartitions"] > 1, (name, stats)
        assert stats["numFailed"] == 0
    types = {entry["label"]: entry["__typename"] for entry in _node(port, "contacts")["metadataEntries"]}
    assert types["dagster/column_schema"] == "TableSchemaMetadataEntry"
    assert types["dagster/table_name"] == "TextMetadataEntry"
    # The 3-day UI backfill was one run, and each day got its own counts (the late Lead is on its day).
    runs = _graphql(port, BACKFILL_RUNS, {"id": backfill_id})["runsOrError"]["results"]
    assert len(runs) == 1, runs
    today = dt.datetime.now(dt.UTC).date()
    keys = [str(today - dt.timedelta(days=n)) for n in (3, 2, 1)]
    events = _graphql(port, PARTITION_METADATA, {"key": {"path": ["salesforce_leads"]}, "partitions": keys}
                      )["assetOrError"]["assetMaterializations"]
    from_backfill = {e["partition"]: e for e in events if e["runId"] == runs[0]["runId"]}
    assert set(from_backfill) == set(keys)
    pulled = {key: next(m["intValue"] for m in from_backfill[key]["metadataEntries"] if m["label"] == "pulled")
              for key in keys}
    assert pulled == {keys[0]: 0, keys[1]: 1, keys[2]: 0}, pulled
    entries = {m["label"]: m for m in from_backfill[keys[1]]["metadataEntries"]}
    assert entries["dagster/row_count"]["__typename"] == "IntMetadataEntry"
    assert entries["dagster/row_count"]["intValue"] == 2          # the mirror's Leads, not the window's
    assert entries["api_share"]["__typename"] == "FloatMetadataEntry"
    assert entries["api_used"]["__typename"] == "IntMetadataEntry" and entries["api_limit"]["intValue"] > 0
    # A warning check reads as a warning (severity WARN), not as an error.
    checks = {c["name"]: c["executionForLatestMaterialization"]
              for c in _node(port, "contacts")["assetChecksOrError"]["checks"]}
    duplicate = checks["duplicate_emails"]
    assert duplicate["evaluation"] == {"severity": "WARN", "success": False}, duplicate
    assert checks["salesforce_id_linked_once"]["evaluation"]["success"] is True


def _sync_now(port: int) -> None:
    """Sync now from the UI (issue 11 #5): sync_now_job, launched with an empty config as the
    launchpad does, makes the sensor start the incremental sync run within seconds, though the
    5-minute mark is minutes away."""
    launched = _graphql(port, LAUNCH_RUN, {"params": {"selector": {
        "repositoryLocationName": "conversion_sync", "repositoryName": "__repository__", "jobName": "sync_now_job"},
        "runConfigData": {}}})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    asked = launched["run"]["runId"]
    deadline = time.monotonic() + 150
    while True:
        runs = _graphql(port, RUNS_TAGGED, {"key": "conversion_sync/requested_by", "value": asked}
                        )["runsOrError"]["results"]
        if runs and runs[0]["status"] == "SUCCESS":
            break
        assert not runs or runs[0]["status"] not in ("FAILURE", "CANCELED"), runs
        assert time.monotonic() < deadline, f"no sync run for the sync-now request within 150 s: {runs}"
        time.sleep(0.5)
    assert runs[0]["jobName"] == "sync_job" and len(runs) == 1
