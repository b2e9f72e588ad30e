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


# -- writes whose confirmation never came -------------------------------------------------------
# The push wrote a record but never read its stamps back (Salesforce unavailable for the
# read-back), or never recorded the write at all (the process died between the write and its
# commit). A later Salesforce edit of the field we wrote must still win, and our write must still
# never echo. The org's clock 5 minutes behind ours is what shows a stamp left on our clock: then
# every Salesforce edit within 5 minutes of a Conversion edit looks older than it.

TWO_WAY = "fields:\n  first_name: {salesforce: FirstName, preference: two_way}\n"


def linked_lead(harness, org, our_clock, skew, email):
    org.advance_clock(skew)
    lead_id = org.create("Lead", {"FirstName": "First", "LastName": "L", "Company": "X", "Email": email})
    our_clock.catch_up(skew)          # the Lead's creation is in the first pull's window
    harness.cycle()
    return lead_id, harness.contact_of(lead_id)


def read_back_unavailable(monkeypatch, org):
    """The org's request limit is reached right after our write: Salesforce refuses the push's
    read-back (and only it; REQUEST_LIMIT_EXCEEDED is not retried, so no test waits out backoffs)."""
    from conversion_sync.service import push as push_service

    read_back = push_service._read_back

    def unavailable(client, settings, sobject, ids):
        org.inject_fault("request_limit", path=r"/query", times=None)
        try:
            return read_back(client, settings, sobject, ids)
        finally:
            org.clear_faults()

    monkeypatch.setattr(push_service, "_read_back", unavailable)


def a_later_salesforce_edit_wins(harness, org, sobject, record_id, contact_id) -> None:
    org.update(sobject, record_id, {"FirstName": "After"})
    harness.cycle()
    assert harness.contact(contact_id).first_name == "After"         # the later Salesforce edit won
    assert org.get(sobject, record_id)["FirstName"] == "After"      # and no re-push overwrote it
    settled_and_silent(harness, org, contact_id, {"first_name": "After"})


@pytest.mark.parametrize("edit_first", [True, False], ids=["edit-before-next-cycle", "edit-after-next-cycle"])
@pytest.mark.parametrize("skew", SKEWS)
def test_r5_an_edit_after_our_update_wins_when_the_read_back_failed(
        harness, org, sync_config, monkeypatch, our_clock, skew, edit_first):
    """The push recorded what it wrote without Salesforce's stamps: the field kept our clock's
    stamp, and a Salesforce edit made after our write was kept out by the gate (org behind)."""
    sync_config(TWO_WAY)
    lead_id, contact = linked_lead(harness, org, our_clock, skew, "readback@example.com")
    with harness.engine.begin() as conn:
        set_contact_field(conn, load_sync_settings().custom_fields, contact.id, "first_name", "Before",
                          now=our_clock.now())
    with monkeypatch.context() as patched:
        read_back_unavailable(patched, org)
        org.reset_counters()
        pushed = harness.cycle().steps["salesforce_push"]
    assert pushed["updated_in_salesforce"] == 1 and writes(org) == {"collections_update": 1}
    assert org.get("Lead", lead_id)["FirstName"] == "Before"
    assert harness.contact(contact.id).push_state == "pushed"
    if not edit_first:
        settled_and_silent(harness, org, contact.id, {"first_name": "Before"})
    a_later_salesforce_edit_wins(harness, org, "Lead", lead_id, contact.id)


@pytest.mark.parametrize("skew", SKEWS)
def test_r5_an_edit_after_our_create_wins_when_the_read_back_failed(
        harness, org, sync_config, monkeypatch, our_clock, skew):
    """The same for a create: the new Lead's fields kept the entry's stamps on our clock."""
    sync_config(TWO_WAY)
    org.advance_clock(skew)
    entered = harness.identify("created@example.com", traits={"first_name": "Before"}, sync="immediate")
    with monkeypatch.context() as patched:
        read_back_unavailable(patched, org)
        assert harness.cycle().steps["salesforce_push"]["created_in_salesforce"] == 1
    lead_id = the_lead(org, "created@example.com")
    assert org.get("Lead", lead_id)["FirstName"] == "Before"
    our_clock.catch_up(skew)
    settled_and_silent(harness, org, entered.contact_id, {"first_name": "Before"})
    a_later_salesforce_edit_wins(harness, org, "Lead", lead_id, entered.contact_id)


@pytest.mark.parametrize("skew", SKEWS)
def test_r5_an_edit_after_our_update_wins_when_the_update_was_never_recorded(
        harness, org, sync_config, monkeypatch, our_clock, skew):
    """The process died after Salesforce took the update and before the push committed what it
    did (a SIGKILL at that line, as the soak does at random): Conversion knows nothing of the
    write. The next push finds Salesforce already holding the value and sends nothing; the field
    must then be on Salesforce's clock, or a later Salesforce edit loses to the gate."""
    from conversion_sync.service import push as push_service

    sync_config(TWO_WAY)
    lead_id, contact = linked_lead(harness, org, our_clock, skew, "killed@example.com")
    with harness.engine.begin() as conn:
        set_contact_field(conn, load_sync_settings().custom_fields, contact.id, "first_name", "Before",
                          now=our_clock.now())

    def killed(*args, **kwargs):
        raise SystemExit("killed between the write and its commit")

    with monkeypatch.context() as patched:      # the transaction recording the write rolls back
        patched.setattr(push_service.push_store, "record_pushed", killed)
        with pytest.raises(SystemExit):
            harness.push(now=our_clock.now())
    assert org.get("Lead", lead_id)["FirstName"] == "Before"
    assert harness.contact(contact.id).push_state == "queued"        # nothing of the write was recorded
    org.reset_counters()
    harness.cycle()                   # pulls our write, finds nothing left to send
    assert writes(org) == {}
    settled_and_silent(harness, org, contact.id, {"first_name": "Before"})
    a_later_salesforce_edit_wins(harness, org, "Lead", lead_id, contact.id)
