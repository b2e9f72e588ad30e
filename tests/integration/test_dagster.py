"""The real Dagster path: the sync job (H1 metadata), the 5-minute sensor's evaluation (R1), two
syncs started at once (R1), and a 3-day backfill run twice (R2)."""

import datetime as dt
import itertools
import json
import os
import subprocess
import sys

import dagster as dg
from sqlalchemy import select

from conversion_sync.definitions import defs
from conversion_sync.jobs.sensors import sync_sensor
from conversion_sync.partitions import MODE_TAG, RANGE_END_TAG, RANGE_START_TAG
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.runner import run_job
from conversion_sync.store.schema import sync_runs

UTC = dt.UTC


def test_definitions_load_with_the_graph_the_ui_shows():
    dg.Definitions.validate_loadable(defs())
    graph = defs().resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"salesforce_accounts", "salesforce_contacts", "salesforce_leads", "companies", "contacts"} <= keys
    job = defs().resolve_job_def("sync_job")
    assert job.tags["conversion_sync/sync"] == "true"
    assert defs().resolve_sensor_def("sync_sensor").default_status == dg.DefaultSensorStatus.RUNNING


def test_a_sync_cycle_reports_h1_counts_on_each_materialization(harness, org):
    org.create("Account", {"Name": "Acme"})
    org.create("Lead", {"LastName": "A", "Company": "X", "Email": "a@example.com"})
    org.create("Lead", {"LastName": "B", "Company": "X"})
    with dg.instance_for_test() as instance:
        result = harness.cycle(instance)
        assert result.steps["salesforce_leads"]["pulled"] == 2
        assert result.steps["salesforce_leads"]["api_calls"] >= 1
        assert result.steps["contacts"]["created"] == 1
        assert result.steps["contacts"]["skipped_no_email"] == 1
        assert result.steps["companies"]["created"] == 1
        assert isinstance(result.steps["salesforce_leads"]["watermark_after"], float)
        # The first sync covers every partition (it pulls the whole org): none looks missing.
        from conversion_sync.partitions import sync_partitions
        for asset in ("salesforce_leads", "companies", "contacts"):
            assert instance.get_materialized_partitions(dg.AssetKey(asset)) == set(sync_partitions().get_partition_keys())
        assert result.steps["salesforce_leads"]["dagster/row_count"] == 2      # the mirror's Leads
        assert result.steps["contacts"]["dagster/row_count"] == 1              # the contacts table
        assert result.steps["companies"]["dagster/row_count"] == 1
        assert result.steps["salesforce_leads"]["api_limit"] > 0
        assert 0 <= result.steps["salesforce_leads"]["api_share"] < 1
        assert result.checks == {"salesforce_id_linked_once": True, "linked_contacts_have_email": True,
                                 "contacts_in_their_account_company": True, "duplicate_emails": True,
                                 "backlog_not_growing": True, "push_errors": True, "pulled_all_records": True}
    with harness.engine.connect() as conn:
        steps = conn.execute(select(sync_runs.c.step).where(sync_runs.c.run_id == result.run_id)).scalars().all()
    assert set(steps) == {"salesforce_accounts", "salesforce_contacts", "salesforce_leads", "companies", "contacts",
                          "salesforce_push"}


def test_the_duplicate_email_check_warns_without_failing_the_run(harness, org):
    org.create("Lead", {"LastName": "A", "Company": "X", "Email": "same@example.com"})
    org.create("Contact", {"LastName": "B", "Email": "same@example.com"})
    result = harness.cycle()
    assert result.checks["duplicate_emails"] is False and result.success
    assert result.checks["salesforce_id_linked_once"] is True


def _sensor(instance):
    context = dg.build_sensor_context(instance=instance, resources={"database": ConversionDatabase()})
    return sync_sensor(context)


def test_r1_the_sensor_starts_a_sync_and_skips_while_one_is_in_progress(harness, org):
    with dg.instance_for_test() as instance:
        request = _sensor(instance)
        assert isinstance(request, dg.RunRequest)
        assert request.tags[MODE_TAG] == "incremental"
        today = dt.datetime.now(UTC).strftime("%Y-%m-%d")
        from conversion_sync.partitions import first_partition_key
        assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (first_partition_key(), today)

        job = defs().resolve_job_def("sync_job")
        running = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED, tags=job.tags)
        skip = _sensor(instance)
        assert isinstance(skip, dg.SkipReason) and running.run_id[:8] in skip.skip_message
        instance.report_run_canceled(running)

        waiting = instance.create_run_for_job(job, status=dg.DagsterRunStatus.NOT_STARTED)
        assert isinstance(_sensor(instance), dg.SkipReason)
        instance.report_run_canceled(waiting)

        harness.cycle(instance)                       # a sync just finished: next one in 5 minutes
        skip = _sensor(instance)
        assert isinstance(skip, dg.SkipReason) and "next in" in skip.skip_message


def test_r1_after_midnight_the_incremental_range_also_closes_yesterday(harness, org):
    from conversion_sync.store.schema import sync_watermarks
    harness.pull()
    yesterday = dt.datetime.now(UTC) - dt.timedelta(days=1)
    with harness.engine.begin() as conn:
        conn.execute(sync_watermarks.update().where(sync_watermarks.c.sobject == "Lead").values(watermark=yesterday))
    with dg.instance_for_test() as instance:
        request = _sensor(instance)
    assert request.tags[RANGE_START_TAG] == yesterday.strftime("%Y-%m-%d")
    assert request.tags[RANGE_END_TAG] == dt.datetime.now(UTC).strftime("%Y-%m-%d")


def test_r1_two_syncs_started_at_once_never_write_at_the_same_time(harness, org, database_url, sandbox):
    org.seed("Lead", [{"LastName": f"L{i}", "Company": "X", "Email": f"c{i}@example.com"} for i in range(3000)])
    env = {**os.environ, **sandbox.env(), "CONVERSION_DATABASE_URL": database_url,
           "CONVERSION_SYNC_SETTLE_SECONDS": "0"}
    command = [sys.executable, "-m", "conversion_sync.cli", "--json", "sync"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    with harness.engine.connect() as conn:
        rows = conn.execute(select(sync_runs.c.run_id, sync_runs.c.started_at, sync_runs.c.finished_at)
                            .order_by(sync_runs.c.started_at)).all()
    assert len({r.run_id for r in rows}) == 2 and len(rows) == 12     # six steps each
    for earlier, later in itertools.pairwise(rows):
        assert earlier.finished_at <= later.started_at, "two sync steps wrote at the same time"
    assert len(harness.contacts()) == 3000                # and nothing was created twice


def test_a_three_day_backfill_twice_gives_the_same_store(harness, org):
    now = dt.datetime.now(UTC).replace(microsecond=0)
    days = [(now - dt.timedelta(days=n)) for n in (3, 2, 1)]
    records = []
    for n, day in enumerate(days):
        stamp = day.isoformat()
        records += [{"LastName": f"D{n}-{i}", "Company": "X", "Email": f"d{n}-{i}@example.com",
                     "CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp} for i in range(5)]
    org.seed("Lead", records)
    org.create("Lead", {"LastName": "Today", "Company": "X", "Email": "today@example.com"})  # outside the range
    tags = {RANGE_START_TAG: days[0].strftime("%Y-%m-%d"), RANGE_END_TAG: days[-1].strftime("%Y-%m-%d")}
    with dg.instance_for_test() as instance:
        first = run_job("sync_job", tags=tags, instance=instance)
        assert first.success, first.error
        after_first = harness.snapshot()
        second = run_job("sync_job", tags=tags, instance=instance)
        assert second.success, second.error
        partitions = instance.get_materialized_partitions(dg.AssetKey("salesforce_leads"))
    assert {c.email for c in harness.contacts()} == {r["Email"] for r in records}
    assert second.steps["salesforce_leads"]["window_pulled"] == 15 and second.steps["contacts"]["run_applied"] == 0
    assert second.steps["salesforce_leads"]["pulled"] == 15          # the run's total, as `sync` prints it
    assert harness.snapshot() == after_first
    assert {d.strftime("%Y-%m-%d") for d in days} <= partitions
    # Each day has its own counts, not the range's total (5 Leads a day).
    for asset, key in (("salesforce_leads", "pulled"), ("contacts", "created")):
        by_day = first.partitions[asset]
        assert {day: by_day[day.strftime("%Y-%m-%d")][key] for day in days} == dict.fromkeys(days, 5), asset


def test_the_push_sensor_requests_a_push_only_when_something_is_queued_and_no_sync_runs(harness, org):
    from conversion_sync.jobs.sensors import push_sensor

    def evaluate(instance):
        return push_sensor(dg.build_sensor_context(instance=instance, resources={"database": ConversionDatabase()}))

    with dg.instance_for_test() as instance:
        assert "nothing queued" in evaluate(instance).skip_message
        harness.identify("queued@example.com", traits={"last_name": "Q"}, sync="immediate")
        assert isinstance(evaluate(instance), dg.RunRequest)
        job = defs().resolve_job_def("sync_job")
        running = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED, tags=job.tags)
        assert "pushes at its end" in evaluate(instance).skip_message
        instance.report_run_canceled(running)


def test_push_job_pushes_skipped_contacts_by_id_from_the_cli(harness, org, database_url, sandbox):
    entered = harness.identify("skipped@example.com", traits={"last_name": "S"}, sync="skip")
    env = {**os.environ, **sandbox.env(), "CONVERSION_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "conversion_sync.cli", "contacts", "push", str(entered.contact_id)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "created_in_salesforce=1" in done.stdout
    assert harness.contact(entered.contact_id).salesforce_object == "Lead"
    refused = subprocess.run([sys.executable, "-m", "conversion_sync.cli", "contacts", "merge", "1", "1"],
                             env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "cannot be merged into itself" in refused.stderr


def test_the_sync_job_pulls_then_pushes(harness, org):
    harness.identify("entered@example.com", traits={"last_name": "E"}, sync="immediate")
    org.create("Lead", {"LastName": "SF", "Company": "X", "Email": "sf@example.com"})
    result = harness.cycle()
    assert result.steps["salesforce_push"]["created_in_salesforce"] == 1
    assert result.steps["contacts"]["created"] == 1


def test_status_reports_watermarks_last_runs_and_warnings(harness, org, database_url, sandbox):
    org.create("Lead", {"LastName": "A", "Company": "X", "Email": "same@example.com"})
    org.create("Contact", {"LastName": "B", "Email": "same@example.com"})
    harness.cycle()
    env = {**os.environ, **sandbox.env(), "CONVERSION_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "conversion_sync.cli", "status", "--json"], env=env,
                          capture_output=True, text=True, timeout=120)
    status = json.loads(done.stdout)
    assert {w["object"] for w in status["watermarks"] if w["live"]} == {"Account", "Contact", "Lead"}
    assert status["open_warnings"] == {"duplicate_email": 1}
    latest = status["last_runs"][0]["steps"]
    assert latest["salesforce_leads"]["pulled"] == 1 and latest["contacts"]["created"] == 2
    assert latest["salesforce_leads"]["watermark_after"] is not None
    text = subprocess.run([sys.executable, "-m", "conversion_sync.cli", "status"], env=env,
                          capture_output=True, text=True, timeout=120).stdout
    assert "open warnings: 1" in text and "latest sync run, in full:" in text and "created=2" in text


def test_a_failed_step_shows_its_sentence_in_the_run_and_in_status(harness, org, sync_config):
    from conversion_sync.runner import run_sync_cycle
    from conversion_sync.store.queries import status

    org.hide_field("Contact", "Email")          # the sync cannot match Contacts without it
    result = run_sync_cycle(instance=dg.DagsterInstance.ephemeral())
    assert not result.success
    assert result.error.startswith("Salesforce does not show Contact.Email to the integration user")
    assert "give the user read access" in result.error
    with harness.engine.connect() as conn:
        latest = status(conn)["last_runs"][0]
    assert latest["status"] == "failure"


def test_h2_the_backlog_check_warns_when_failing_records_grow_between_syncs(harness, org):
    """Issue 11: backlog not growing; a WARN, and the run still succeeds."""
    with dg.instance_for_test() as instance:
        assert harness.cycle(instance).checks["backlog_not_growing"] is True
        org.seed("Lead", [{"LastName": "Bad", "Company": "X", "Email": "not-an-email"}])
        grown = harness.cycle(instance)
        assert grown.success and grown.checks["backlog_not_growing"] is False
        assert grown.steps["contacts"]["records_failed"] == 1
        key = dg.AssetCheckKey(dg.AssetKey("contacts"), "backlog_not_growing")
        latest = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)[0]
        assert latest.event.dagster_event.event_specific_data.severity == dg.AssetCheckSeverity.WARN
