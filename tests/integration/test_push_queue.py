"""H2 on the push side: a contact's push state always agrees with its link, the push sensor asks
for a run only when some push can be done now, and a push with nothing to do spends no API call
(issue 8, finding 2: contacts stuck `queued` and a push run every few seconds reading `limits`)."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
from sqlalchemy import update

from conversion_sync.jobs.sensors import push_sensor
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.runner import run_job
from conversion_sync.store.identity import request_push
from conversion_sync.store.queries import status
from conversion_sync.store.schema import contacts
from conversion_sync.sync.ids import to_18

UTC = dt.UTC
EVALUATIONS = 200          # ~10 minutes of a sensor ticking every few seconds


def run_requests(instance: dg.DagsterInstance, times: int = EVALUATIONS) -> list[dg.RunRequest]:
    """Evaluate the real push_sensor `times` over the store, as the daemon does."""
    requests = []
    for _ in range(times):
        result = push_sensor(dg.build_sensor_context(instance=instance, resources={"database": ConversionDatabase()}))
        requests += [result] if isinstance(result, dg.RunRequest) else []
    return requests


def push_job(instance, contact_ids=()):
    """What `conversion-sync contacts push ID` and the UI launch (P3)."""
    result = run_job("push_job", instance=instance, run_config={"ops": {"salesforce_push": {"config": {
        "contact_ids": list(contact_ids), "all_skipped": False}}}})
    assert result.success, result.error
    return result.steps["salesforce_push"]


def queue(harness) -> dict[str, int]:
    with harness.engine.connect() as conn:
        return status(conn)["push_queue"]


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def test_h2_a_queued_contact_the_pull_links_by_email_leaves_the_queue(harness, org, instance):
    entered = harness.identify("appears@example.com", traits={"last_name": "A"}, sync="immediate")
    assert harness.contact(entered.contact_id).push_state == "queued"
    lead = org.create("Lead", {"LastName": "A", "Company": "X", "Email": "appears@example.com"})  # before our push
    harness.pull()
    row = harness.contact(entered.contact_id)
    assert row.salesforce_id == to_18(lead) and row.push_state == "pushed"
    assert "queued" not in queue(harness)
    assert run_requests(instance) == []
    cycle = harness.cycle(instance)
    assert cycle.steps["salesforce_push"]["api_calls"] == 0 and org.count("Lead") == 1


def test_h2_a_failed_create_the_pull_then_links_leaves_the_queue_and_its_warning_is_resolved(
        harness, org, sync_config, instance):
    sync_config("external_id_field: null\n")
    entered = harness.identify("lost@example.com", traits={"last_name": "Lost"}, sync="immediate")
    org.inject_fault("drop_after_write", path="/composite/sobjects", times=1)
    assert harness.push()["rejected"] == 1                  # created, but the answer was lost
    assert harness.contact(entered.contact_id).push_state == "failed"
    harness.pull()                                          # the pull finds the Lead by email (R4b)
    row = harness.contact(entered.contact_id)
    assert (row.push_state, row.push_error, row.push_next_attempt_at) == ("pushed", None, None)
    assert all(w.resolved_at is not None for w in harness.warnings() if w.kind == "push_error")
    assert run_requests(instance, 20) == []


def test_h2_pushing_a_linked_contact_with_nothing_to_send_spends_nothing_and_leaves_the_queue(harness, org, instance):
    lead = org.create("Lead", {"LastName": "L", "Company": "X", "Email": "linked@example.com"})
    harness.pull()
    contact = harness.contact_of(lead)
    with harness.engine.begin() as conn:
        request_push(conn, contact_ids=[contact.id])        # `contacts push ID`, queued for the sensor
    assert len(run_requests(instance, 1)) == 1
    org.reset_counters()
    counts = push_job(instance, [contact.id])               # `contacts push ID`, run now
    assert counts["api_calls"] == 0 and org.counters().get("total", 0) == 0
    assert harness.contact(contact.id).push_state == "pushed"
    assert run_requests(instance) == []


def test_h2_a_push_run_with_nothing_to_do_spends_no_api_call(harness, org, instance):
    org.create("Lead", {"LastName": "L", "Company": "X", "Email": "settled@example.com"})
    harness.identify("new@example.com", traits={"last_name": "N"}, sync="immediate")
    harness.cycle(instance)                                 # everything is in step now
    org.reset_counters()
    counts = push_job(instance)
    assert counts["api_calls"] == 0 and org.counters().get("total", 0) == 0
    assert run_requests(instance) == []


def test_h2_the_push_sensor_respects_backoff_and_contacts_given_up_on(harness, org, instance, sync_config):
    sync_config("push_max_attempts: 2\n")
    org.add_validation_rule("Lead", "LastName", "^Refused", "Last names may not start with Refused")
    entered = harness.identify("refused@example.com", traits={"last_name": "Refused"}, sync="immediate")
    assert len(run_requests(instance, 1)) == 1              # queued: a run, within seconds
    assert harness.push()["rejected"] == 1
    row = harness.contact(entered.contact_id)
    assert row.push_state == "failed" and row.push_next_attempt_at > dt.datetime.now(UTC)
    assert run_requests(instance) == []                     # waiting out its backoff
    with harness.engine.begin() as conn:                    # ...until the backoff is over
        conn.execute(update(contacts).where(contacts.c.id == entered.contact_id)
                     .values(push_next_attempt_at=dt.datetime.now(UTC) - dt.timedelta(seconds=1)))
    assert len(run_requests(instance, 1)) == 1
    assert harness.push()["rejected"] == 1
    assert harness.contact(entered.contact_id).push_state == "needs_attention"
    assert run_requests(instance) == []                     # given up: waits for a person
    org.reset_counters()
    assert push_job(instance)["api_calls"] == 0


def test_h2_with_writing_switched_off_the_push_sensor_asks_for_nothing(harness, instance, sync_config):
    sync_config("write_to_salesforce: false\n")
    harness.identify("off@example.com", traits={"last_name": "Off"}, sync="immediate")
    assert run_requests(instance, 20) == []


def test_h2_a_settled_store_gets_no_push_runs_over_many_sensor_ticks(harness, org, instance, sync_config):
    """The store as it is after weeks: contacts from Salesforce, pushed ones, skipped ones, one
    given up on, edits already sent: the sensor, evaluated many times, starts nothing."""
    sync_config("fields:\n  title: {salesforce: Title, preference: two_way}\n")
    for i in range(3):
        org.create("Lead", {"LastName": f"S{i}", "Company": "X", "Email": f"sf{i}@example.com"})
    harness.identify("pushed@example.com", traits={"last_name": "P"}, sync="immediate")
    harness.identify("skipped@example.com", traits={"last_name": "S"}, sync="skip")
    harness.cycle(instance)
    edited = harness.contact_of(org.query("SELECT Id FROM Lead WHERE Email = 'sf0@example.com'")[0]["Id"])
    from conversion_sync.config import load_sync_settings
    from conversion_sync.store.editing import set_contact_field

    with harness.engine.begin() as conn:
        set_contact_field(conn, load_sync_settings().custom_fields, edited.id, "title", "CTO", now=dt.datetime.now(UTC))
    assert len(run_requests(instance, 1)) == 1
    harness.cycle(instance)
    assert "queued" not in queue(harness) and "failed" not in queue(harness)
    assert run_requests(instance) == []
    org.reset_counters()
    assert push_job(instance)["api_calls"] == 0


def test_h2_after_a_failed_push_run_the_sensor_waits_before_trying_again(harness, instance):
    """A push that fails (Salesforce down) leaves its contacts queued: the sensor must not start
    a run every few seconds for them; it tries again after a pause that doubles per failure."""
    from conversion_sync.definitions import defs

    harness.identify("retry@example.com", traits={"last_name": "R"}, sync="immediate")
    job = defs().resolve_job_def("push_job")
    instance.create_run_for_job(job, status=dg.DagsterRunStatus.FAILURE, tags=job.tags)
    skips = [push_sensor(dg.build_sensor_context(instance=instance, resources={"database": ConversionDatabase()}))
             for _ in range(20)]
    assert all(isinstance(s, dg.SkipReason) and "last push run failed" in s.skip_message for s in skips)
    instance.create_run_for_job(job, status=dg.DagsterRunStatus.SUCCESS, tags=job.tags)
    assert len(run_requests(instance, 1)) == 1
