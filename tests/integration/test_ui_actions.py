"""What a person starts from the UI (issue 11 #5): "sync now" (no partition to pick) and a resync
of given records or contacts, through the real jobs, sensor evaluation and the sandbox org."""

import time

import dagster as dg
import pytest

from conversion_sync.jobs.sensors import REQUESTED_TAG, sync_sensor
from conversion_sync.partitions import MODE_TAG
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.runner import run_job


def _sensor(instance):
    return sync_sensor(dg.build_sensor_context(instance=instance, resources={"database": ConversionDatabase()}))


def test_sync_now_starts_the_incremental_cycle_at_once_instead_of_in_five_minutes(harness, org):
    with dg.instance_for_test() as instance:
        harness.cycle(instance)
        skip = _sensor(instance)
        assert isinstance(skip, dg.SkipReason) and "next in" in skip.skip_message
        asked = run_job("sync_now_job", instance=instance)
        assert asked.success, asked.error
        request = _sensor(instance)
        assert isinstance(request, dg.RunRequest)
        assert request.tags[MODE_TAG] == "incremental" and request.tags[REQUESTED_TAG] == asked.run_id
        harness.cycle(instance)                      # the cycle it asked for has run: back to the grid
        assert isinstance(_sensor(instance), dg.SkipReason)


def test_resync_pulls_a_record_the_incremental_sync_missed_and_applies_it(harness, org):
    """A Lead committed two days late (older than any lookback) is invisible to incremental cycles;
    a resync by its 15-character id pulls it, and the cycle it asks for creates its contact."""
    org.create("Lead", {"LastName": "On time", "Company": "X", "Email": "ontime@example.com"})
    with dg.instance_for_test() as instance:
        harness.cycle(instance)
        late = org.late_commit("Lead", fields={"LastName": "Late", "Company": "X", "Email": "late@example.com"},
                               seconds_ago=2 * 86400)
        harness.cycle(instance)
        assert harness.contact_of(late) is None
        result = run_job("resync_job", instance=instance,
                         run_config={"ops": {"resync": {"config": {"salesforce_ids": [late[:15]]}}}})
        assert result.success, result.error
        request = _sensor(instance)
        assert isinstance(request, dg.RunRequest) and request.tags[REQUESTED_TAG] == result.run_id
        harness.cycle(instance)
        assert harness.contact_of(late).email == "late@example.com"


def test_resync_of_contacts_pulls_their_records_again(harness, org, monkeypatch):
    """An edit Salesforce stamped between the contact's last pull and the watermark (a transaction
    that committed late, past the lookback) is missed by incremental cycles; a resync of the
    contact pulls its record again and applies the edit."""
    monkeypatch.setenv("CONVERSION_SYNC_LOOKBACK_SECONDS", "0")
    lead = org.create("Lead", {"LastName": "Kept", "Company": "X", "Email": "kept@example.com"})
    with dg.instance_for_test() as instance:
        harness.cycle(instance)
        contact = harness.contact_of(lead)
        stamped = org.query(f"SELECT SystemModstamp FROM Lead WHERE Id = '{lead}'")[0]["SystemModstamp"]
        time.sleep(2)
        ago = (org.now() - stamped).total_seconds() - 1          # after its last pull, before the watermark
        org.late_commit("Lead", id=lead, fields={"LastName": "Renamed"}, seconds_ago=ago)
        harness.cycle(instance)
        assert harness.contact(contact.id).last_name == "Kept"
        result = run_job("resync_job", instance=instance,
                         run_config={"ops": {"resync": {"config": {"contact_ids": [contact.id, 999999]}}}})
        assert result.success, result.error
        harness.cycle(instance)
        assert harness.contact(contact.id).last_name == "Renamed"


def test_resync_asks_salesforce_once_per_200_ids(harness, org):
    ids = org.seed("Lead", [{"LastName": f"L{i}", "Company": "X", "Email": f"r{i}@example.com"} for i in range(450)])
    harness.cycle()
    org.reset_counters()
    with dg.instance_for_test() as instance:
        result = run_job("resync_job", instance=instance,
                         run_config={"ops": {"resync": {"config": {"salesforce_ids": ids}}}})
    assert result.success, result.error
    assert org.counters()["query_all"] == 3                     # 200 + 200 + 50 ids, deleted ones included


@pytest.mark.parametrize("ids, said", [
    (["not-an-id"], "is not a Salesforce id"),
    (["0015e00000AbCdEFGH' OR Name != '"], "is not a Salesforce id"),
    (["5005e00000AbCdE"], "only Account (001...), Contact (003...), Lead (00Q...) ids can be resynced"),
])
def test_resync_refuses_what_is_not_an_account_contact_or_lead_id_in_one_sentence(harness, org, ids, said):
    with dg.instance_for_test() as instance:
        result = run_job("resync_job", instance=instance,
                         run_config={"ops": {"resync": {"config": {"salesforce_ids": ids}}}})
        assert not result.success and said in result.error, result.error
        assert not isinstance(_sensor(instance), dg.RunRequest) or REQUESTED_TAG not in _sensor(instance).tags


def test_the_launchpad_shows_how_to_pass_ids():
    from conversion_sync.definitions import defs

    for job, op, field, example in [("resync_job", "resync", "contact_ids", "contact_ids: [12, 57]"),
                                    ("resync_job", "resync", "salesforce_ids", "salesforce_ids: ["),
                                    ("push_job", "salesforce_push", "contact_ids", "contact_ids: [12, 57]")]:
        schema = defs().resolve_job_def(job).run_config_schema.config_type
        ops = schema.fields["ops"].config_type
        config = ops.fields[op].config_type.fields["config"].config_type
        assert example in config.fields[field].description, (job, field)
        assert not config.fields[field].is_required
