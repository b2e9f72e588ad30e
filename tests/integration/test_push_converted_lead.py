"""P5/R7: a converted Lead is never written. Here the push reaches the contact while it is still
linked to its Lead: the Lead's conversion is in the mirror (extracted) but not applied yet, as
when a cycle dies between its extract and its apply and a push run goes first, and a Conversion
edit is waiting. The push must leave the converted Lead alone (no write call, no error on the
contact); once the conversion is applied, the edit goes to the Contact."""

import datetime as dt

from sqlalchemy import select

from conversion_sync.config import load_sync_settings
from conversion_sync.store.editing import set_contact_field
from conversion_sync.store.schema import sync_warnings
from conversion_sync.sync.ids import to_18

WRITES = ("sobject_create", "sobject_update", "sobject_upsert", "collections_create", "collections_update",
          "collections_upsert", "bulk_ingest")


def test_a_push_that_runs_before_the_conversion_is_applied_leaves_the_converted_lead_alone(
        harness, org, sync_config):
    sync_config("fields:\n  title: {salesforce: Title, preference: two_way}\n")
    lead = org.create("Lead", {"LastName": "Conv", "Company": "X", "Email": "conv@example.com"})
    harness.pull()
    contact = harness.contact_of(lead)
    converted = org.convert_lead(lead)
    harness.pull(apply=False)                  # extracted, not applied (the cycle died there)
    assert harness.staged(lead).is_converted
    assert harness.contact(contact.id).salesforce_id == to_18(lead)    # still linked to the Lead
    with harness.engine.begin() as conn:
        set_contact_field(conn, load_sync_settings().custom_fields, contact.id, "title", "CEO", now=dt.datetime.now(dt.UTC))

    org.reset_counters()
    counts = harness.push()
    assert sum(org.counters().get(kind, 0) for kind in WRITES) == 0
    assert counts["updated_in_salesforce"] == 0 and counts["rejected"] == 0
    assert org.get("Lead", lead)["Title"] is None
    row = harness.contact(contact.id)
    assert row.push_error is None and row.push_attempts == 0
    with harness.engine.connect() as conn:
        assert conn.execute(select(sync_warnings.c.kind)).scalars().all() == []

    harness.pull()                             # the conversion applies: the contact follows (R7)
    assert harness.contact(contact.id).salesforce_id == to_18(converted["contact_id"])
    assert harness.push()["updated_in_salesforce"] == 1
    assert org.get("Contact", converted["contact_id"])["Title"] == "CEO"
    assert org.get("Lead", lead)["Title"] is None
