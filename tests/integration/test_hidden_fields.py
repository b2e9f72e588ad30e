"""R5, issue 8 finding 8: a mapped field the integration user cannot see (field-level security)
never stops the sync. Through the real sync job against the sandbox org, on SQLite and PostgreSQL:
the field is hidden mid-life, after the describe was cached; the next cycle answers INVALID_FIELD
once, describes the org again and retries without the field, the rest syncs both ways, the run,
`status` and one `field_hidden` warning name the field; shown again, it syncs and the warning is
resolved."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

from sqlalchemy import update

from conversion_sync.cli_text import cycle_text, status_text
from conversion_sync.config import load_sync_settings
from conversion_sync.store.editing import set_contact_field
from conversion_sync.store.queries import status
from conversion_sync.store.schema import salesforce_fields

UTC = dt.UTC


def _edit(harness, contact_id, field, value):
    with harness.engine.begin() as conn:
        set_contact_field(conn, load_sync_settings().custom_fields, contact_id, field, value, now=dt.datetime.now(UTC))


def _hidden_warnings(harness, *, open_only=True):
    return [w for w in harness.warnings() if w.kind == "field_hidden" and (w.resolved_at is None or not open_only)]


def _status(harness):
    with harness.engine.connect() as conn:
        return status(conn)


def test_a_field_hidden_mid_life_is_left_out_named_once_and_synced_again_when_shown(harness, org):
    person = org.create("Contact", {"LastName": "Pia", "Email": "pia@example.com", "MailingCity": "Paris",
                                    "MailingCountry": "France"})
    harness.cycle()
    contact = harness.contact_of(person)
    assert contact.city == "Paris"

    org.hide_field("Contact", "MailingCity")      # the admin takes it away; our describe is cached
    org.update("Contact", person, {"FirstName": "Pia", "MailingCity": "Rome"})
    _edit(harness, contact.id, "title", "Buyer")   # Salesforce's Title is empty: pushed (R5 default)
    _edit(harness, contact.id, "city", "Berlin")   # hidden: never pushed
    org.reset_counters()
    result = harness.cycle()

    assert result.success, result.error
    after = harness.contact(contact.id)
    assert after.first_name == "Pia"                        # Salesforce -> Conversion still flows
    assert after.city == "Berlin"                            # the hidden field is not pulled
    record = org.get("Contact", person)
    assert record["Title"] == "Buyer"                        # Conversion -> Salesforce still flows
    assert record["MailingCity"] == "Rome"                   # the hidden field is never pushed
    assert org.counters()["describe"] == 1                   # INVALID_FIELD: described again, once
    assert result.steps["salesforce_contacts"]["hidden_fields"] == "Contact.MailingCity"
    assert "not visible to the integration user: Contact.MailingCity" in cycle_text(result)   # `sync` output
    warnings = _hidden_warnings(harness)
    assert [w.field for w in warnings] == ["Contact.MailingCity"]
    assert "Contact.MailingCity" in warnings[0].message and warnings[0].contact_id is None
    assert _status(harness)["hidden_fields"] == ["Contact.MailingCity"]
    assert "Contact.MailingCity" in status_text(_status(harness))
    recorded = _status(harness)["last_runs"][0]["steps"]["salesforce_contacts"]
    assert recorded["hidden_fields"] == ["MailingCity"]

    org.update("Contact", person, {"MailingCountry": "Italy"})
    org.reset_counters()
    harness.cycle()                                          # still hidden: one warning, not one per cycle
    assert harness.contact(contact.id).country == "Italy"
    assert org.counters().get("describe", 0) == 0            # the fresh describe is cached
    assert len(_hidden_warnings(harness, open_only=False)) == 1

    org.show_field("Contact", "MailingCity")
    with harness.engine.begin() as conn:                     # a day later: the cache is described again
        conn.execute(update(salesforce_fields).values(fetched_at=dt.datetime.now(UTC) - dt.timedelta(hours=25)))
    org.update("Contact", person, {"MailingCity": "Madrid"})
    harness.cycle()
    assert harness.contact(contact.id).city == "Madrid"      # syncs again
    assert _hidden_warnings(harness) == []                   # the warning is resolved
    assert len(_hidden_warnings(harness, open_only=False)) == 1
    assert _status(harness)["hidden_fields"] == []
    _edit(harness, contact.id, "title", None)
    _edit(harness, contact.id, "city", "Lisbon")
    harness.cycle()
    assert org.get("Contact", person)["MailingCity"] == "Madrid"   # default preference: Salesforce's value kept


def test_a_hidden_field_keeps_its_last_value_in_the_mirror_so_showing_it_reverts_nothing(harness, org):
    """While hidden, a re-pulled record cannot say the field's value; the mirror keeps what
    Salesforce last said, so once shown a value Salesforce did not change is not taken again."""
    person = org.create("Contact", {"LastName": "Ola", "Email": "ola@example.com", "MailingCity": "Oslo"})
    harness.cycle()
    contact = harness.contact_of(person)
    org.hide_field("Contact", "MailingCity")
    org.update("Contact", person, {"Title": "CFO"})
    harness.cycle()
    assert harness.staged(person).fields["MailingCity"] == "Oslo"
    _edit(harness, contact.id, "city", "Bergen")            # a Conversion edit while hidden
    org.show_field("Contact", "MailingCity")
    with harness.engine.begin() as conn:
        conn.execute(update(salesforce_fields).values(fetched_at=dt.datetime.now(UTC) - dt.timedelta(hours=25)))
    org.update("Contact", person, {"Title": "CEO"})           # touched for another field
    harness.cycle()
    assert harness.contact(contact.id).city == "Bergen"      # never reverted to Oslo


def test_a_push_alone_never_writes_a_hidden_field(harness, org):
    """The push reads the describe too: a field absent from it is neither created nor updated."""
    org.hide_field("Lead", "City")
    outcome = harness.identify("new@example.com", traits={"last_name": "New", "city": "Gent", "title": "Dr"},
                               sync="immediate")
    counts = harness.push()
    assert counts["created_in_salesforce"] == 1 and counts["rejected"] == 0
    lead = harness.contact(outcome.contact_id).salesforce_id
    record = org.get("Lead", lead)
    assert record["City"] is None and record["Title"] == "Dr"


def test_status_names_the_hidden_fields(harness, org, monkeypatch):
    org.create("Contact", {"LastName": "Sam", "Email": "sam@example.com"})
    org.hide_field("Contact", "MailingCity")
    harness.cycle()
    done = subprocess.run([sys.executable, "-m", "conversion_sync.cli", "--json", "status"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hidden_fields"] == ["Contact.MailingCity"]
    text = subprocess.run([sys.executable, "-m", "conversion_sync.cli", "status"],
                          capture_output=True, text=True, timeout=120).stdout
    assert "fields left out of the sync" in text and "Contact.MailingCity" in text


def test_a_bulk_query_naming_a_newly_hidden_field_is_retried_without_it(harness, org, sync_config):
    """Wide windows go through Bulk API 2.0: its INVALID_FIELD is handled the same way."""
    sync_config("bulk_query_threshold: 1\n")
    person = org.create("Contact", {"LastName": "Bo", "Email": "bo@example.com", "MailingCity": "Bonn"})
    first = harness.pull()                                   # the first sync: wide, through Bulk 2.0
    assert first["api_calls"]["bulk_query"] >= 1
    org.hide_field("Contact", "MailingCity")
    org.update("Contact", person, {"FirstName": "Bob"})
    again = harness.backfill()                               # today re-pulled whole: Bulk 2.0 again
    assert again["Contact"]["pulled"] == 1 and again["api_calls"]["describe"] == 1
    assert harness.contact_of(person).first_name == "Bob"
    assert [w.field for w in _hidden_warnings(harness)] == ["Contact.MailingCity"]
