"""R5 on the push side: Salesforce's timestamps are the only clock for Salesforce data. After our
write, a real Salesforce edit always wins and our own write never echoes, whatever the org's clock
says against ours — through the real sync job, for creates (upsert and plain create) and updates
(sObject Collections and Bulk API 2.0)."""

from __future__ import annotations

import datetime as dt

import pytest
from simple_salesforce import format_soql

from conversion_sync.config import load_sync_settings
from conversion_sync.store.editing import set_contact_field
from conversion_sync.sync.ids import to_18

UTC = dt.UTC
SKEWS = [-300, -5, 0, 5, 300]      # the org's clock against ours, in seconds
WRITE_CALLS = ("collections_", "sobject_create", "sobject_update", "sobject_upsert", "bulk_ingest")


def writes(org) -> dict[str, int]:
    """Write calls the org received since its counters were reset."""
    return {k: v for k, v in org.counters().items() if k.startswith(WRITE_CALLS) and v}


def the_lead(org, email):
    found = org.query(format_soql("SELECT Id FROM Lead WHERE Email = {}", email))
    assert len(found) == 1, found
    return found[0]["Id"]


class OurClock:
    """With the org's clock ahead of ours, a Salesforce edit is inside a pull window (R2: up to our
    `now - settle`) only once our clock has reached its SystemModstamp. Instead of waiting that
    long, the sync job's clock is moved on by the skew: what the sync does a few minutes later."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.ahead = dt.timedelta(0)

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC) + self.ahead

    def catch_up(self, skew: int) -> None:
        from conversion_sync.assets import runtime, salesforce

        if skew > 0 and not self.ahead:
            self.ahead = dt.timedelta(seconds=skew + 1)
            for module in (runtime, salesforce):
                self.monkeypatch.setattr(module, "utcnow", self.now)


@pytest.fixture
def our_clock(monkeypatch):
    return OurClock(monkeypatch)


def settled_and_silent(harness, org, contact_id, expected: dict[str, str | None]) -> None:
    """Another cycle writes nothing to Salesforce and changes nothing in Conversion (no echo)."""
    before = harness.snapshot()
    org.reset_counters()
    harness.cycle()
    assert writes(org) == {}
    assert harness.snapshot() == before
    row = harness.contact(contact_id)
    assert {name: getattr(row, name) for name in expected} == expected
    assert row.push_state == "pushed"


def edit_in_salesforce_then_sync(harness, org, lead_id, contact_id, clock, skew) -> None:
    org.update("Lead", lead_id, {"FirstName": "After", "Title": "CFO"})
    clock.catch_up(skew)
    harness.cycle()
    row = harness.contact(contact_id)
    assert (row.first_name, row.title) == ("After", "CFO")       # the later Salesforce edit won
    settled_and_silent(harness, org, contact_id, {"first_name": "After", "title": "CFO"})


@pytest.mark.parametrize("external_id", [True, False], ids=["upsert", "create"])
@pytest.mark.parametrize("skew", SKEWS)
def test_r5_p4_an_edit_just_after_our_create_wins_and_the_create_never_echoes(
        harness, org, sync_config, our_clock, skew, external_id):
    """Issue 8 finding 1: `contacts add --first-name Before --sync-to-salesforce`, `sync`, edit the
    Lead in Salesforce, `sync`: Conversion took the edit only when the org's clock was ahead."""
    sync_config("" if external_id else "external_id_field: null\n")
    org.advance_clock(skew)
    entered = harness.identify("clock@example.com", traits={"first_name": "Before"}, sync="immediate")
    created = harness.cycle()
    assert created.steps["salesforce_push"]["created_in_salesforce"] == 1
    lead_id = the_lead(org, "clock@example.com")
    assert harness.contact(entered.contact_id).salesforce_id == to_18(lead_id)
    settled_and_silent(harness, org, entered.contact_id, {"first_name": "Before", "title": None})
    edit_in_salesforce_then_sync(harness, org, lead_id, entered.contact_id, our_clock, skew)


@pytest.mark.parametrize("bulk", [False, True], ids=["collections", "bulk"])
@pytest.mark.parametrize("skew", SKEWS)
def test_r5_p5_an_edit_just_after_our_update_wins_and_the_update_never_echoes(
        harness, org, sync_config, our_clock, skew, bulk):
    sync_config(("bulk_ingest_threshold: 1\n" if bulk else "")       # Bulk API above one record
                + "fields:\n  first_name: {salesforce: FirstName, preference: two_way}\n")
    org.advance_clock(skew)
    lead_id, other_id = (org.create("Lead", {"FirstName": "First", "LastName": "L", "Company": "X",
                                             "Email": f"upd{i}@example.com"}) for i in range(2))
    our_clock.catch_up(skew)          # the Leads' creation is in the first pull's window
    harness.cycle()
    contact, other = harness.contact_of(lead_id), harness.contact_of(other_id)
    with harness.engine.begin() as conn:
        for row in (contact, other):
            set_contact_field(conn, load_sync_settings().custom_fields, row.id, "first_name", "Before", now=our_clock.now())
    org.reset_counters()
    pushed = harness.cycle()
    assert pushed.steps["salesforce_push"]["updated_in_salesforce"] == 2
    assert set(writes(org)) == {"bulk_ingest"} if bulk else writes(org) == {"collections_update": 1}
    assert org.get("Lead", lead_id)["FirstName"] == "Before"
    settled_and_silent(harness, org, contact.id, {"first_name": "Before", "title": None})
    edit_in_salesforce_then_sync(harness, org, lead_id, contact.id, our_clock, skew)
    assert harness.contact(other.id).first_name == "Before"


@pytest.mark.parametrize("skew", [-5, 5])
def test_r5_an_edit_between_our_write_and_its_read_back_is_not_swallowed(
        harness, org, monkeypatch, our_clock, skew):
    """Another user edits the Lead right after our write, before the push reads it back: the
    mirror must not record their values as already in Conversion."""
    from conversion_sync.service import push as push_service

    org.advance_clock(skew)
    entered = harness.identify("between@example.com", traits={"first_name": "Before"}, sync="immediate")
    read_back = push_service._read_back

    def someone_edits_first(client, settings, sobject, ids):
        for salesforce_id in ids:
            org.update(sobject, salesforce_id, {"FirstName": "Between", "Title": "COO"})
        return read_back(client, settings, sobject, ids)

    monkeypatch.setattr(push_service, "_read_back", someone_edits_first)
    harness.cycle()
    monkeypatch.setattr(push_service, "_read_back", read_back)
    our_clock.catch_up(skew)
    harness.cycle()
    row = harness.contact(entered.contact_id)
    assert (row.first_name, row.title) == ("Between", "COO")
    assert org.get("Lead", the_lead(org, "between@example.com"))["FirstName"] == "Between"
    settled_and_silent(harness, org, entered.contact_id, {"first_name": "Between", "title": "COO"})


def test_r5_an_edit_stamped_in_the_same_second_as_our_write_still_wins(harness, org, our_clock):
    """A real org stamps to the whole second: an edit in the same second as our write is a real
    edit, and wins (the exact tie is covered by tests/unit/test_push_rules.py)."""
    org.advance_clock(10)
    entered = harness.identify("tie@example.com", traits={"first_name": "Before"}, sync="immediate")
    harness.cycle()
    lead_id = the_lead(org, "tie@example.com")
    ours = org.get("Lead", lead_id)["LastModifiedDate"]
    org.advance_clock(-10)          # the org's stamps never go back: the next one is right after ours
    org.update("Lead", lead_id, {"FirstName": "After", "Title": "CFO"})
    assert org.get("Lead", lead_id)["LastModifiedDate"] - ours < dt.timedelta(seconds=1)
    our_clock.catch_up(10)
    harness.cycle()
    row = harness.contact(entered.contact_id)
    assert (row.first_name, row.title) == ("After", "CFO")
    settled_and_silent(harness, org, entered.contact_id, {"first_name": "After", "title": "CFO"})
