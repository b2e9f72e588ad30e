"""The freshness policy as the UI shows it (issue 11 #4): Dagster's freshness daemon evaluates
each asset from the time of its last materialization, and the UI's GraphQL reads the result:
fresh within 15 minutes of the last sync, a warning past 15 minutes, a failure past an hour."""

import time
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.freshness import FreshnessDaemon
from dagster_graphql.test.utils import execute_dagster_graphql

ROOT = Path(__file__).resolve().parents[2]
FRESHNESS = """{ assetNodes { assetKey { path } freshnessStatusInfo { freshnessStatus }
  internalFreshnessPolicy { ... on TimeWindowFreshnessPolicy { failWindowSeconds warnWindowSeconds } } } }"""


def _synced(instance: dg.DagsterInstance, asset: str, minutes_ago: float) -> None:
    """A materialization of `asset` stamped `minutes_ago` (the last sync's time, as stored)."""
    event = DagsterEvent(DagsterEventType.ASSET_MATERIALIZATION.value, RUNLESS_JOB_NAME,
                         event_specific_data=StepMaterializationData(dg.AssetMaterialization(asset_key=asset)))
    instance.report_dagster_event(event, RUNLESS_RUN_ID, timestamp=time.time() - minutes_ago * 60)


def test_freshness_warns_past_15_minutes_and_fails_past_an_hour():
    ages = {"contacts": 4, "companies": 20, "salesforce_push": 75}     # minutes since each last sync
    with dg.instance_for_test() as instance:
        for asset, minutes in ages.items():
            _synced(instance, asset, minutes)
        target = ModuleTarget(module_name="conversion_sync.definitions", attribute=None,
                              working_directory=str(ROOT), location_name="conversion_sync")
        with WorkspaceProcessContext(instance, target) as workspace:
            list(FreshnessDaemon().run_iteration(workspace))          # one evaluation of the daemon
            result = execute_dagster_graphql(workspace.create_request_context(), FRESHNESS)
    assert not result.errors, result.errors
    nodes = {"/".join(n["assetKey"]["path"]): n for n in result.data["assetNodes"]}
    status = {name: (nodes[name]["freshnessStatusInfo"] or {}).get("freshnessStatus") for name in nodes}
    assert status["contacts"] == "HEALTHY"
    assert status["companies"] == "WARNING"
    assert status["salesforce_push"] == "DEGRADED"
    assert status["salesforce_leads"] == "UNKNOWN"             # never synced: no age to judge
    assert {name: node["internalFreshnessPolicy"] for name, node in nodes.items()} == {
        name: {"failWindowSeconds": 3600, "warnWindowSeconds": 900} for name in nodes}
